"""logs.* against the Loki-shaped server (real HTTP, Loki's JSON, LogQL evaluated as Loki does)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from diagnostics import Status
from diagnostics.testing import ProbeRun, run_probe
from probes.logs.errors import ErrorsProbe
from probes.logs.patterns import PatternsProbe
from tests.probes.logs.staging import AT, NEW_PATTERN_AFTER, RISE_AFTER, SPAN, WINDOW, close_to, one, silent
from tests.support.log_scenarios import Line, app_lines
from tests.support.loki_api import LokiServer, LokiState, Stream

pytestmark = pytest.mark.integration
TOKEN = "loki-test-token-51d0"


def logfmt(line: Line) -> str:
    stamp = line.time.isoformat().replace("+00:00", "Z")
    return f'ts={stamp} level={line.level.lower()} logger={line.logger} msg="{line.message}"'


def stream(app: str, seed: int, **incident: object) -> Stream:
    lines = app_lines(at=AT, span=SPAN, seed=seed, info_per_minute=20.0, **incident)  # type: ignore[arg-type]
    return Stream(
        labels={"app": app, "env": "prod"},
        entries=[(int(line.time.timestamp() * 1e9), logfmt(line)) for line in lines],
    )


@pytest.fixture
def loki(loki_api: LokiServer) -> Iterator[LokiServer]:
    yield loki_api
    loki_api.load(LokiState())


def stage(loki: LokiServer, *, retain_for_s: float = 3 * 3600, patterns: bool = True) -> None:
    loki.load(
        LokiState(
            streams=[
                stream("payments", 41, new_pattern_at=AT - NEW_PATTERN_AFTER),
                stream("billing", 42, rise_at=AT - RISE_AFTER),
                stream("catalog", 43),
            ],
            token=TOKEN,
            retain_for_s=retain_for_s,
            patterns=patterns,
        )
    )


def run(probe: type, loki: LokiServer, app: str) -> ProbeRun:
    source = {"url": loki.url, "query": f'{{app="{app}"}}', "bearer_token": "${LOKI_TOKEN}"}
    return run_probe(
        probe,
        config={"logs": [{"name": app, "loki": source}]},
        at=AT,
        window=WINDOW,
        env={"LOKI_TOKEN": TOKEN},
    )


def test_new_error_pattern_and_spike(loki: LokiServer) -> None:
    stage(loki)
    new = one(run(PatternsProbe, loki, "payments"), "log_new_pattern", "orders-db")
    assert close_to(new.onset, AT - NEW_PATTERN_AFTER), new.onset
    assert TOKEN not in repr(new)
    rise = one(run(ErrorsProbe, loki, "payments"), "log_error_rate")
    assert close_to(rise.onset, AT - NEW_PATTERN_AFTER), rise.onset
    assert any("count_over_time" in q for q in rise.evidence.queries)


def test_rise_of_a_known_error(loki: LokiServer) -> None:
    stage(loki)
    risen = one(run(PatternsProbe, loki, "billing"), "log_pattern_rise", "payment gateway timeout")
    assert close_to(risen.onset, AT - RISE_AFTER), risen.onset


def test_healthy_stream_is_silent(loki: LokiServer) -> None:
    stage(loki)
    for probe in (ErrorsProbe, PatternsProbe):
        result = run(probe, loki, "catalog")
        assert silent(result), [f.title for f in result.findings]


def test_lokis_own_patterns_used_when_they_cover_the_baseline(loki: LokiServer) -> None:
    stage(loki, retain_for_s=8 * 3600)
    new = one(run(PatternsProbe, loki, "payments"), "log_new_pattern", "orders-db")
    assert "<_>" in str(new.evidence.details["template"])  # Loki's pattern syntax: mined by the server
    assert "could not connect to database orders-db at 10.0.4." in str(new.evidence.details["example"])
    assert close_to(new.onset, AT - NEW_PATTERN_AFTER), new.onset
    assert any("/loki/api/v1/patterns" in path for path, _ in loki.requests)


def test_without_pattern_ingester_templates_are_mined_locally(loki: LokiServer) -> None:
    stage(loki, patterns=False)
    new = one(run(PatternsProbe, loki, "payments"), "log_new_pattern", "orders-db")
    assert "<_>" not in str(new.evidence.details["template"])


def test_wrong_token_is_an_auth_error(loki: LokiServer) -> None:
    stage(loki)
    source = {"url": loki.url, "query": '{app="payments"}', "bearer_token": "wrong-token-1234"}
    result = run_probe(
        ErrorsProbe, config={"logs": [{"name": "payments", "loki": source}]}, at=AT, window=WINDOW
    )
    assert result.outcome.status is Status.ERROR
    assert result.outcome.error_kind is not None and result.outcome.error_kind.value == "auth"
    assert "wrong-token-1234" not in str(result.outcome.error)
