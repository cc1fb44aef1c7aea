"""traces.errors and traces.latency against a real Jaeger fed by a real traced service chain."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from diagnostics import Finding, Severity, Status
from diagnostics.testing import ProbeRun
from probes.traces.errors import ErrorsProbe
from probes.traces.latency import LatencyProbe
from tests.probes.traces.conftest import FAULTY_REQUESTS, StagedTraces
from tests.support.traced_chain import DECLINED

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ONSET_TOLERANCE = timedelta(milliseconds=500)


def jaeger_section(staged: StagedTraces) -> dict[str, Any]:
    return {"jaeger": {"url": staged.jaeger.query_url}}


def only(result: ProbeRun) -> Finding:
    assert result.outcome.error is None, result.outcome.error
    assert len(result.findings) == 1, [f.title for f in result.findings]
    return result.findings[0]


def value(finding: Finding, name: str) -> Any:
    return next(m.value for m in finding.evidence.values if m.name == name)


def test_healthy_noisy_chain_is_silent(staged_traces: StagedTraces) -> None:
    scenario = staged_traces["healthy"]
    for probe in (ErrorsProbe, LatencyProbe):
        result = scenario.run(probe, jaeger_section(staged_traces))
        assert result.outcome.status is Status.OK, result.outcome.error
        assert result.findings == (), [f.title for f in result.findings]


def test_failing_payments_is_named_as_origin_with_path_and_onset(staged_traces: StagedTraces) -> None:
    scenario = staged_traces["failure"]
    finding = only(scenario.run(ErrorsProbe, jaeger_section(staged_traces)))
    assert finding.kind == "trace_errors"
    assert (finding.entity.kind, finding.entity.name) == ("service", "payments")
    details = finding.evidence.details
    assert details["entry_service"] == "frontend"
    assert details["origin_operation"] == "POST /charge"
    assert details["path"] == ["frontend", "checkout", "payments"]
    assert details["message"] == DECLINED
    assert details["status"] == "500"
    assert details["unreachable"] is None
    assert str(details["example_link"]).startswith(f"{staged_traces.jaeger.query_url}/trace/")
    assert value(finding, "origin_share") >= 0.9
    assert value(finding, "failing_traces_examined") >= FAULTY_REQUESTS * 0.8 * 0.7
    assert value(finding, "error_ratio") > 0.4 > value(finding, "baseline_error_ratio")
    assert finding.severity is Severity.CRITICAL
    assert finding.onset is not None
    assert abs(finding.onset - scenario.fault_start) <= ONSET_TOLERANCE
    assert (
        "errors of frontend originate in payments POST /charge (via frontend -> checkout -> payments)"
        in finding.title
    )
    bounds = details["bounds"]
    assert isinstance(bounds, dict) and bounds["spans_walked"] > 0 and bounds["requests"] >= 3


def test_payments_down_is_an_unreachable_dependency_of_checkout(staged_traces: StagedTraces) -> None:
    scenario = staged_traces["unreachable"]
    finding = only(scenario.run(ErrorsProbe, jaeger_section(staged_traces)))
    assert (finding.entity.kind, finding.entity.name) == ("service", "payments")
    assert finding.entity.attributes["called_by"] == "checkout"
    details = finding.evidence.details
    assert details["origin_service"] == "checkout"
    assert details["unreachable"] == "payments"
    assert details["path"] == ["frontend", "checkout", "payments"]
    assert "Connection refused" in str(details["message"])
    assert finding.onset is not None
    assert abs(finding.onset - scenario.fault_start) <= ONSET_TOLERANCE


def test_slow_payments_is_named_by_self_time(staged_traces: StagedTraces) -> None:
    scenario = staged_traces["slowdown"]
    finding = only(scenario.run(LatencyProbe, jaeger_section(staged_traces)))
    assert finding.kind == "trace_latency"
    assert (finding.entity.kind, finding.entity.name) == ("service", "payments")
    details = finding.evidence.details
    assert (details["entry_service"], details["entry_operation"]) == ("frontend", "GET /buy")
    assert details["operation"] == "POST /charge"
    assert details["path"] == ["frontend", "checkout", "payments"]
    # 50 of 70 window traces are 60 ms slower in payments itself
    growth = value(finding, "self_time_after") - value(finding, "self_time_before")
    assert 30 <= growth <= 75
    assert value(finding, "p95_after") >= value(finding, "p95_before") + 50
    assert finding.onset is not None
    assert abs(finding.onset - scenario.fault_start) <= ONSET_TOLERANCE


def test_a_failure_is_not_mistaken_for_a_slowdown(staged_traces: StagedTraces) -> None:
    result = staged_traces["failure"].run(LatencyProbe, jaeger_section(staged_traces))
    assert result.outcome.error is None
    assert [f.entity.name for f in result.findings] in ([], ["payments"])


def test_sample_bounds_the_traces_fetched(staged_traces: StagedTraces) -> None:
    scenario = staged_traces["failure"]
    result = scenario.run(
        ErrorsProbe, {**jaeger_section(staged_traces), "services": ["frontend"], "sample": 30}
    )
    finding = only(result)
    bounds = finding.evidence.details["bounds"]
    assert isinstance(bounds, dict)
    assert bounds["requests"] == 3 and bounds["traces_fetched"] <= 90
