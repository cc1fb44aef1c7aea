"""Tempo and Zipkin: the same staged traces, served in their APIs' shapes, give the same findings."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from diagnostics import Finding, Probe
from probes.traces.errors import ErrorsProbe
from probes.traces.latency import LatencyProbe
from tests.probes.traces.conftest import StagedTraces
from tests.support.trace_apis import StoredTraces, serve_traces

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CASES = [
    ("healthy", ErrorsProbe),
    ("healthy", LatencyProbe),
    ("failure", ErrorsProbe),
    ("unreachable", ErrorsProbe),
    ("slowdown", LatencyProbe),
]


@pytest.fixture(scope="module")
def stored(staged_traces: StagedTraces) -> StoredTraces:
    return StoredTraces(traces=staged_traces.raw)


@pytest.fixture(scope="module")
def apis_url(stored: StoredTraces) -> Iterator[str]:
    with serve_traces(stored) as url:
        yield url


def essence(finding: Finding) -> dict[str, Any]:
    """What must not depend on the store: where, what, when, and the figures."""
    details = finding.evidence.details
    kept = ("entry_service", "entry_operation", "origin_service", "origin_operation", "operation",
            "unreachable", "path", "message", "status", "example_trace_id")  # fmt: skip
    return {
        "kind": finding.kind,
        "severity": finding.severity,
        "entity": finding.entity,
        "onset": finding.onset,
        "details": {k: details.get(k) for k in kept},
    }


def figures(finding: Finding) -> dict[str, Any]:
    return {m.name: m.value for m in finding.evidence.values}


@pytest.mark.parametrize("store", ["tempo", "zipkin"])
@pytest.mark.parametrize(("scenario", "probe"), CASES, ids=[f"{s}-{p.id}" for s, p in CASES])
def test_store_gives_the_same_findings_as_jaeger(
    staged_traces: StagedTraces, apis_url: str, store: str, scenario: str, probe: type[Probe]
) -> None:
    staged = staged_traces[scenario]
    # time enough that neither run is cut short by its time bound on a loaded machine (a cut run
    # judges fewer traces, and the two would then differ for that reason alone)
    jaeger = {"jaeger": {"url": staged_traces.jaeger.query_url}}
    expected = staged.run(probe, jaeger, timeout="120s", deadline=150.0)
    got = staged.run(probe, {store: {"url": apis_url}}, timeout="120s", deadline=150.0)
    assert got.outcome.error is None, got.outcome.error
    assert [essence(f) for f in got.findings] == [essence(f) for f in expected.findings]
    # Zipkin's API bounds a query in milliseconds, Jaeger's in microseconds: a trace that began
    # within a millisecond of the window's edge may fall on either side, so the figures agree to
    # within that one trace (a count off by one, a percentile a few percent apart)
    for other, reference in zip(got.findings, expected.findings, strict=True):
        theirs, ours = figures(other), figures(reference)
        assert theirs.keys() == ours.keys()
        for name, value in ours.items():
            numeric = isinstance(value, int | float) and not isinstance(value, bool)
            assert theirs[name] == (pytest.approx(value, rel=0.05, abs=1) if numeric else value), name
    assert (scenario == "healthy") == (got.findings == ())


def test_zipkin_and_tempo_links_point_at_their_own_ui(staged_traces: StagedTraces, apis_url: str) -> None:
    staged = staged_traces["failure"]
    for store, route in (("zipkin", "/zipkin/traces/"), ("tempo", "/api/traces/")):
        (finding,) = staged.run(
            ErrorsProbe, {store: {"url": apis_url, "ui_url": "https://ui.example"}}
        ).findings
        assert str(finding.evidence.details["example_link"]).startswith(f"https://ui.example{route}")


def test_tempo_fetches_each_trace_by_id_within_the_sample(
    staged_traces: StagedTraces, stored: StoredTraces, apis_url: str
) -> None:
    stored.requests.clear()
    staged_traces["failure"].run(
        ErrorsProbe, {"tempo": {"url": apis_url}, "services": ["frontend"], "sample": 25}
    )
    searches = [r for r in stored.requests if r.startswith("/api/search")]
    fetches = [r for r in stored.requests if r.startswith("/api/traces/")]
    assert len(searches) == 3
    assert 0 < len(fetches) <= 3 * 25


def test_max_spans_leaves_out_the_services_after_it_is_reached(
    staged_traces: StagedTraces, stored: StoredTraces, apis_url: str
) -> None:
    staged = staged_traces["failure"]
    everything_before = staged.window.start - staged_traces["healthy"].baseline.start
    stored.requests.clear()
    section = {"zipkin": {"url": apis_url}, "services": ["frontend", "checkout"], "max_spans": 1000}
    result = staged.run(ErrorsProbe, section, baseline=everything_before)
    (finding,) = result.findings
    bounds = finding.evidence.details["bounds"]
    assert isinstance(bounds, dict)
    assert bounds["spans_walked"] >= 1000 and bounds["services_not_fetched"] == ["checkout"]
    assert not any("serviceName=checkout" in request for request in stored.requests)
