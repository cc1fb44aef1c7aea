"""logs.* against a real VictoriaLogs (built from the Go module proxy, fed by its JSON-lines API)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from diagnostics import Status
from diagnostics.testing import ProbeRun, run_probe
from probes.logs.errors import ErrorsProbe
from probes.logs.patterns import PatternsProbe
from tests.probes.logs.staging import NEW_PATTERN_AFTER, RISE_AFTER, SPAN, WINDOW, close_to, one, silent
from tests.support.log_scenarios import app_lines, minute_now
from tests.support.victorialogs import VictoriaLogs

pytestmark = [pytest.mark.integration, pytest.mark.slow]
AT = minute_now()  # VictoriaLogs refuses lines outside its retention: the staging is recent


@pytest.fixture(scope="module")
def staged(victorialogs: VictoriaLogs) -> VictoriaLogs:
    records = []
    for service, seed, incident in (
        ("orders", 31, {"new_pattern_at": AT - NEW_PATTERN_AFTER}),
        ("billing", 32, {"rise_at": AT - RISE_AFTER}),
        ("catalog", 33, {}),
    ):
        for line in app_lines(at=AT, span=SPAN, seed=seed, info_per_minute=20.0, **incident):  # type: ignore[arg-type]
            records.append(
                {"_time": line.time.isoformat(), "_msg": line.message, "level": line.level.lower(),
                 "service": service, "logger": line.logger}
            )  # fmt: skip
    victorialogs.ingest(records)
    return victorialogs


def run(probe: type, staged: VictoriaLogs, service: str) -> ProbeRun:
    config = {"logs": [{"name": service, "victorialogs": {"url": staged.url, "query": f"service:{service}"}}]}
    return run_probe(probe, config=config, at=AT + timedelta(seconds=30), window=WINDOW)


def test_new_error_pattern(staged: VictoriaLogs) -> None:
    patterns = run(PatternsProbe, staged, "orders")
    new = one(patterns, "log_new_pattern", "orders-db")
    assert close_to(new.onset, AT - NEW_PATTERN_AFTER), new.onset
    assert any("/select/logsql/hits" in q for q in new.evidence.queries)
    errors = run(ErrorsProbe, staged, "orders")
    rise = one(errors, "log_error_rate")
    assert close_to(rise.onset, AT - NEW_PATTERN_AFTER), rise.onset
    assert "orders-db" in rise.evidence.details["top_templates"][0]["template"]


def test_rise_of_a_known_error(staged: VictoriaLogs) -> None:
    patterns = run(PatternsProbe, staged, "billing")
    assert close_to(one(patterns, "log_pattern_rise", "payment gateway timeout").onset, AT - RISE_AFTER)
    assert close_to(one(run(ErrorsProbe, staged, "billing"), "log_error_rate").onset, AT - RISE_AFTER)


def test_healthy_service_is_silent(staged: VictoriaLogs) -> None:
    for probe in (ErrorsProbe, PatternsProbe):
        result = run(probe, staged, "catalog")
        assert silent(result), [f.title for f in result.findings]
        assert result.outcome.status is Status.OK


def test_bad_logsql_is_a_query_error(staged: VictoriaLogs) -> None:
    result = run(ErrorsProbe, staged, "orders AND (")
    assert result.outcome.status is Status.ERROR
    assert result.outcome.error_kind is not None and result.outcome.error_kind.value == "query"
