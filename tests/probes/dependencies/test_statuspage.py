"""deps.statuspage: the summary.json variants through ``responses``, and one real page."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import responses

from diagnostics import ErrorKind, Severity, Status
from diagnostics.testing import ProbeRun, run_probe
from probes.dependencies.statuspage import StatuspageProbe
from tests.support.http_servers import (
    OTHER_SCHEMA,
    STATUSPAGE_DEGRADED,
    STATUSPAGE_MAJOR_OUTAGE,
    STATUSPAGE_OPERATIONAL,
    HttpServers,
)

BASE = "https://status.acme.test"
SUMMARY = BASE + "/api/v2/summary.json"


@pytest.fixture
def pages() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def check(*entries: dict[str, Any]) -> ProbeRun:
    return run_probe(StatuspageProbe, config={"dependencies": list(entries)})


def acme() -> dict[str, Any]:
    return {"name": "acme", "statuspage": BASE}


def test_all_operational_finds_nothing(pages: responses.RequestsMock) -> None:
    pages.get(SUMMARY, json=STATUSPAGE_OPERATIONAL)
    result = check(acme())
    assert result.outcome.status is Status.OK
    assert result.findings == ()
    assert pages.calls[0].request.headers["Accept"] == "application/json"


def test_degraded_component_and_minor_indicator(pages: responses.RequestsMock) -> None:
    pages.get(SUMMARY, json=STATUSPAGE_DEGRADED)
    result = check(acme())
    kinds = {f.kind: f for f in result.findings}
    assert set(kinds) == {"statuspage_degraded", "statuspage_component"}
    indicator = kinds["statuspage_degraded"]
    assert indicator.severity is Severity.WARNING
    assert indicator.title == "acme status page: 'Minor Service Outage' (indicator minor)"
    component = kinds["statuspage_component"]
    assert component.severity is Severity.WARNING
    # the group "Payments" only summarizes its members: the member is reported, once
    assert component.title == "acme: 1 component not operational: Payments / Webhooks (degraded performance)"
    assert component.evidence.details["components"] == [
        {"name": "Webhooks", "group": "Payments", "status": "degraded_performance"}
    ]
    assert component.entity.name == "acme" and component.entity.attributes == {"url": BASE}


def test_major_outage_with_incidents(pages: responses.RequestsMock) -> None:
    pages.get(SUMMARY, json=STATUSPAGE_MAJOR_OUTAGE)
    result = check(acme())
    assert result.outcome.status is Status.CRITICAL
    kinds = {f.kind: f for f in result.findings}
    assert kinds["statuspage_degraded"].severity is Severity.CRITICAL
    components = kinds["statuspage_component"]
    assert components.severity is Severity.CRITICAL
    assert "2 components not operational: API (major outage), Dashboard (partial outage)" in components.title
    incident = kinds["statuspage_incident"]
    assert incident.severity is Severity.CRITICAL
    assert incident.title == (
        "acme: incident 'Elevated API error rates' (major, identified) since 2026-11-27 08:10Z (+1 more)"
    )
    assert incident.onset == datetime(2026, 11, 27, 8, 10, tzinfo=UTC)
    listed = incident.evidence.details["incidents"]
    assert [i["name"] for i in listed] == ["Elevated API error rates", "Delayed webhooks"]
    assert listed[1]["started_at"] == "2026-11-27T08:40:00Z"
    assert "rolling back" in incident.summary


def test_unknown_schema_is_a_clear_protocol_error(pages: responses.RequestsMock) -> None:
    pages.get(SUMMARY, json=OTHER_SCHEMA)
    result = check(acme())
    assert result.outcome.status is Status.ERROR
    assert result.outcome.error_kind is ErrorKind.PROTOCOL
    assert result.outcome.error == (
        f"acme: {SUMMARY}: unknown status page schema, expected Atlassian Statuspage's "
        "summary.json (page: Field required)"
    )


def test_html_instead_of_json_is_a_clear_error(pages: responses.RequestsMock) -> None:
    pages.get(SUMMARY, body="<html>status</html>", content_type="text/html")
    result = check(acme())
    assert result.outcome.error_kind is ErrorKind.PROTOCOL
    assert "not JSON" in (result.outcome.error or "")


def test_missing_summary_is_not_a_statuspage(pages: responses.RequestsMock) -> None:
    pages.get(SUMMARY, status=404)
    result = check(acme())
    assert "HTTP 404: not a Statuspage-style page" in (result.outcome.error or "")


def test_unknown_indicator_value_fails_the_schema(pages: responses.RequestsMock) -> None:
    pages.get(SUMMARY, json={**STATUSPAGE_OPERATIONAL, "status": {"indicator": "purple"}})
    result = check(acme())
    assert "status.indicator" in (result.outcome.error or "")


def test_one_unreadable_page_among_others_is_a_warning(pages: responses.RequestsMock) -> None:
    pages.get(SUMMARY, json=STATUSPAGE_MAJOR_OUTAGE)
    pages.get("https://status.other.test/api/v2/summary.json", json=OTHER_SCHEMA)
    result = check(acme(), {"name": "other", "statuspage": "https://status.other.test"})
    unreadable = [f for f in result.findings if f.kind == "statuspage_unreadable"]
    assert [f.entity.name for f in unreadable] == ["other"]
    assert unreadable[0].severity is Severity.WARNING
    assert "unknown status page schema" in unreadable[0].title
    assert any(f.kind == "statuspage_incident" and f.entity.name == "acme" for f in result.findings)


@pytest.mark.integration
def test_real_status_page_over_http(http_servers: HttpServers) -> None:
    result = check({"name": "acme", "statuspage": http_servers.url("/statuspage/major-outage")})
    assert {f.kind for f in result.findings} == {
        "statuspage_degraded",
        "statuspage_component",
        "statuspage_incident",
    }


@pytest.mark.integration
def test_unreachable_status_page_is_a_connect_error(http_servers: HttpServers) -> None:
    result = check({"name": "acme", "statuspage": http_servers.closed_port_url.rsplit("/", 1)[0]})
    assert result.outcome.status is Status.ERROR
    assert result.outcome.error_kind is ErrorKind.CONNECT
    assert "connection refused" in (result.outcome.error or "")
