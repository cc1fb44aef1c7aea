"""logs.* against the Elasticsearch/OpenSearch-shaped server (real HTTP, the _search API)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from diagnostics import Status
from diagnostics.testing import ProbeRun, run_probe
from probes.logs.errors import ErrorsProbe
from probes.logs.patterns import PatternsProbe
from tests.probes.logs.staging import AT, NEW_PATTERN_AFTER, SPAN, WINDOW, close_to, one, silent
from tests.support.elasticsearch_api import ElasticsearchServer, EsState
from tests.support.log_scenarios import app_lines

pytestmark = pytest.mark.integration
PASSWORD = "es-secret-pass-77"


def documents(service: str, seed: int, **incident: object) -> list[dict[str, object]]:
    lines = app_lines(at=AT, span=SPAN, seed=seed, info_per_minute=15.0, **incident)  # type: ignore[arg-type]
    return [
        {"@timestamp": line.time.isoformat().replace("+00:00", "Z"), "log": {"level": line.level.lower(), "logger": line.logger},
         "message": line.message, "service": {"name": service}}
        for line in lines
    ]  # fmt: skip


@pytest.fixture
def es(elasticsearch_api: ElasticsearchServer) -> Iterator[ElasticsearchServer]:
    elasticsearch_api.load(
        EsState(
            indices={
                "logs-2026.12.06": documents("api", 51, new_pattern_at=AT - NEW_PATTERN_AFTER)[:5000],
                "logs-2026.12.07": documents("api", 51, new_pattern_at=AT - NEW_PATTERN_AFTER)[5000:]
                + documents("web", 52),
            },
            basic_auth=("diag", PASSWORD),
        )
    )
    yield elasticsearch_api
    elasticsearch_api.load(EsState())


def run(probe: type, es: ElasticsearchServer, service: str, index: str = "logs-*") -> ProbeRun:
    source = {
        "url": es.url,
        "index": index,
        "query": f"service.name:{service}",
        "basic_auth": {"username": "diag", "password": "${ES_PASSWORD}"},
    }
    return run_probe(
        probe, config={"logs": [{"name": service, "elasticsearch": source}]}, at=AT, window=WINDOW,
        env={"ES_PASSWORD": PASSWORD},
    )  # fmt: skip


def test_new_error_pattern_and_spike(es: ElasticsearchServer) -> None:
    new = one(run(PatternsProbe, es, "api"), "log_new_pattern", "orders-db")
    assert close_to(new.onset, AT - NEW_PATTERN_AFTER), new.onset
    rise = one(run(ErrorsProbe, es, "api"), "log_error_rate")
    assert close_to(rise.onset, AT - NEW_PATTERN_AFTER), rise.onset
    assert PASSWORD not in repr(rise)
    histogram = es.bodies[0]["aggs"]["per_minute"]["date_histogram"]
    assert histogram["fixed_interval"] == "1m"


def test_healthy_service_is_silent(es: ElasticsearchServer) -> None:
    for probe in (ErrorsProbe, PatternsProbe):
        result = run(probe, es, "web")
        assert silent(result), [f.title for f in result.findings]


def test_error_lines_are_capped(es: ElasticsearchServer) -> None:
    config_run = run_probe(
        PatternsProbe,
        config={"logs": [{"name": "api", "elasticsearch": {"url": es.url, "index": "logs-*", "query": "service.name:api",
                 "basic_auth": {"username": "diag", "password": PASSWORD}}}]},
        options={"max_samples": 100},
        at=AT,
        window=WINDOW,
    )  # fmt: skip
    assert config_run.outcome.status.checked
    assert all(body.get("size", 0) <= 100 for body in es.bodies)


def test_missing_index_is_a_query_error(es: ElasticsearchServer) -> None:
    result = run(ErrorsProbe, es, "api", index="nothing-here")
    assert result.outcome.status is Status.ERROR
    assert "index_not_found_exception" in str(result.outcome.error)
