"""The pure judging of attempts, latency, certificates and status pages, with plain values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from diagnostics import Entity, Finding, ProbeContext, Severity
from probes.dependencies.attempts import (
    attempts_text,
    dominant,
    failure_severity,
    latency_severity,
    present_note,
)
from probes.dependencies.client_http import BodyExpectation, HttpAttempt, HttpCheck, HttpTarget
from probes.dependencies.client_statuspage import StatuspageCheck, StatuspageTarget
from probes.dependencies.failures import Failure, TlsProblem, TransportFailure
from probes.dependencies.http import HttpOptions
from probes.dependencies.judge_http import judge_failures, judge_http, judge_latency, redirect_loop
from probes.dependencies.judge_statuspage import judge_statuspage
from probes.dependencies.judge_tls import CertificateLimits, judge_certificate
from probes.dependencies.statuspage_schema import SchemaError, parse_summary
from probes.dependencies.tls import CertificateInfo
from tests.support.http_servers import STATUSPAGE_MAJOR_OUTAGE, STATUSPAGE_OPERATIONAL

AT = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
LIMITS = CertificateLimits(warning_days=14, critical_days=3)
make = ProbeContext(probe_id="deps.http", at=AT, window=timedelta(hours=1), options=HttpOptions()).finding


def target(**overrides: Any) -> HttpTarget:
    values: dict[str, Any] = {
        "name": "payments-api",
        "entity": Entity(
            kind="dependency", name="payments-api", attributes={"url": "https://pay.test/healthz"}
        ),
        "url": "https://pay.test/healthz",
        "headers": {},
        "attempts": 3,
        "timeout_s": 5.0,
        "verify": True,
        "max_redirects": 5,
        "max_body_bytes": 1024,
        "expect_status": None,
        "expect_body": None,
        "latency_warning_s": 1.0,
        "latency_critical_s": 3.0,
        "proxies": {},
        "user_agent": "test",
    }
    return HttpTarget(**{**values, **overrides})


def attempt(
    status: int | None = 200,
    elapsed: float = 0.05,
    failure: TransportFailure | None = None,
    body_matched: bool | None = None,
    certificates: tuple[CertificateInfo, ...] = (),
    redirects: tuple[str, ...] = (),
    started_at: datetime = AT,
    peer_certificate: CertificateInfo | None = None,
) -> HttpAttempt:
    return HttpAttempt(
        started_at=started_at,
        timeout_s=5.0,
        peer_certificate=peer_certificate,
        failure=failure,
        status=status,
        elapsed_s=elapsed,
        dns_s=0.001,
        connect_s=0.002,
        tls_s=0.01 if status else None,
        processing_s=elapsed - 0.013 if status else None,
        transfer_s=0.0 if status else None,
        redirects=redirects,
        body_bytes=15 if status else None,
        body_matched=body_matched,
        body_excerpt='{"status":"degraded"}' if body_matched is False else None,
        connections=(),
        certificates=certificates,
    )


def check(*attempts: HttpAttempt, **target_overrides: Any) -> HttpCheck:
    return HttpCheck(target=target(**target_overrides), attempts=attempts)


TIMEOUT = TransportFailure(kind=Failure.READ_TIMEOUT, reason="no response before the read timeout")


@pytest.mark.parametrize(
    ("failed", "total", "severity"),
    [
        (1, 3, Severity.WARNING),
        (2, 3, Severity.CRITICAL),
        (3, 3, Severity.CRITICAL),
        (1, 2, Severity.WARNING),
        (1, 1, Severity.CRITICAL),
        (2, 5, Severity.WARNING),
    ],
)
def test_one_failed_attempt_is_not_an_outage(failed: int, total: int, severity: Severity) -> None:
    assert failure_severity(failed, total) is severity


@pytest.mark.parametrize(
    ("median", "worst", "severity"),
    [
        (0.5, 0.6, None),
        (1.2, 1.3, Severity.WARNING),
        (3.0, 3.1, Severity.CRITICAL),
        (0.4, 3.5, Severity.WARNING),
    ],
)
def test_latency_is_judged_on_the_median_and_an_outlier_warns(
    median: float, worst: float, severity: Severity | None
) -> None:
    assert latency_severity(median, worst, 1.0, 3.0) is severity


def test_dominant_kind_breaks_ties_by_order() -> None:
    assert dominant([Failure.STATUS, Failure.DNS], [Failure.DNS, Failure.STATUS]) is Failure.DNS
    assert (
        dominant([Failure.STATUS, Failure.STATUS, Failure.DNS], [Failure.DNS, Failure.STATUS])
        is Failure.STATUS
    )


def test_attempts_text_mentions_other_failures() -> None:
    assert attempts_text(3, 3, 3) == "on 3/3 attempts"
    assert attempts_text(2, 3, 3) == "on 2/3 attempts (+1 other failure)"


def test_healthy_attempts_give_no_finding() -> None:
    assert judge_http(check(attempt(), attempt(), attempt()), LIMITS, at=AT, make=make) == []


def test_status_failure_title_follows_the_issue_example() -> None:
    (finding,) = judge_failures(check(*(attempt(503, 2.1) for _ in range(3))), at=AT, make=make)
    assert finding.title == "payments-api: HTTP 503 on 3/3 attempts, 2.1s"
    assert finding.severity is Severity.CRITICAL
    assert finding.onset is None and finding.seen_at == AT  # seen now, onset unknown


def test_mixed_failures_are_named_by_the_most_frequent() -> None:
    result = check(attempt(None, 5.0, TIMEOUT), attempt(None, 5.0, TIMEOUT), attempt(503, 0.1))
    (finding,) = judge_failures(result, at=AT, make=make)
    assert finding.kind == "read_timeout"
    assert (
        finding.title
        == "payments-api: no response within 5.0s (read timeout) on 2/3 attempts (+1 other failure), 5.0s"
    )
    assert finding.evidence.details["failures_by_kind"] == {"read_timeout": 2, "http_status": 1}
    assert finding.severity is Severity.CRITICAL


def test_expected_status_list_replaces_the_2xx_3xx_default() -> None:
    assert judge_failures(check(attempt(404), expect_status=(404,)), at=AT, make=make) == []
    (finding,) = judge_failures(check(attempt(200), expect_status=(204,)), at=AT, make=make)
    assert finding.kind == "http_status"


def test_body_mismatch_only_counts_when_the_status_was_right() -> None:
    body = BodyExpectation(text='"status":"ok"')
    (finding,) = judge_failures(check(attempt(200, body_matched=False), expect_body=body), at=AT, make=make)
    assert finding.kind == "http_body"
    assert finding.severity is Severity.CRITICAL  # 1/1
    assert finding.evidence.details["body_excerpt"] == '{"status":"degraded"}'


def test_latency_ignores_failed_attempts() -> None:
    result = check(attempt(200, 1.5), attempt(200, 1.6), attempt(None, 5.0, TIMEOUT))
    (finding,) = judge_latency(result, at=AT, make=make)
    assert finding.severity is Severity.WARNING
    assert finding.title == "payments-api: median response 1.6s over 2 attempts (worst 1.6s)"


def test_a_past_at_is_said_in_the_summary() -> None:
    later = AT + timedelta(hours=2)
    (finding,) = judge_failures(check(attempt(503, started_at=later)), at=AT, make=make)
    assert (
        "Checked at 2026-11-27T12:00:00Z, the time of the run, not at 2026-11-27T10:00:00Z" in finding.summary
    )
    assert present_note(AT, AT + timedelta(seconds=30)) == ""


def certificate(days: float) -> CertificateInfo:
    return CertificateInfo(
        host="pay.test", subject="pay.test", issuer="Test CA", not_after=AT + timedelta(days=days)
    )


@pytest.mark.parametrize(
    ("days", "severity"),
    [(20, None), (10, Severity.WARNING), (2, Severity.CRITICAL), (-1, Severity.CRITICAL)],
)
def test_certificate_thresholds(days: float, severity: Severity | None) -> None:
    findings = judge_certificate(check(attempt(certificates=(certificate(days),))), LIMITS, make=make)
    assert [f.severity for f in findings] == ([severity] if severity else [])


def test_the_soonest_expiring_certificate_is_judged() -> None:
    result = check(attempt(certificates=(certificate(30), certificate(2.5))))
    (finding,) = judge_certificate(result, LIMITS, make=make)
    assert finding.title.startswith("payments-api: TLS certificate of pay.test expires in 2.5 days")
    assert finding.evidence.details["days_left"] == 2.5


def test_expired_certificate_behind_a_tls_error_dates_the_onset() -> None:
    failure = TransportFailure(
        kind=Failure.TLS, reason="certificate has expired", tls_problem=TlsProblem.EXPIRED
    )
    expired = CertificateInfo(
        host="pay.test", subject="pay.test", issuer="CA", not_after=AT - timedelta(days=3)
    )
    result = check(attempt(None, 0.03, failure, peer_certificate=expired))
    (finding,) = judge_failures(result, at=AT, make=make)
    assert finding.onset == AT - timedelta(days=3)
    assert "expired 3.0 days ago" in finding.title


def test_redirect_loop_finds_the_cycle() -> None:
    assert redirect_loop(("/a", "/b", "/c", "/b")) == ("/b", "/c", "/b")
    assert redirect_loop(("/1", "/2", "/3")) == ()


def test_body_expectation_substring_then_regex() -> None:
    assert BodyExpectation(text='"status":"ok"').matches('{"status":"ok"}')
    assert BodyExpectation(text=r"ok|up").matches("all up")
    assert not BodyExpectation(text="[unclosed").matches("nothing")
    assert BodyExpectation(text="[unclosed").matches("a [unclosed bracket")


def statuspage_check(document: dict[str, Any]) -> StatuspageCheck:
    page_target = StatuspageTarget(
        name="acme",
        entity=Entity(kind="dependency", name="acme"),
        base_url="https://status.acme.test",
        headers={},
        timeout_s=5,
        verify=True,
        proxies={},
        max_body_bytes=1024,
        user_agent="test",
    )
    return StatuspageCheck(target=page_target, summary=parse_summary(document), observed_at=AT)


def kinds(findings: list[Finding]) -> dict[str, Finding]:
    return {f.kind: f for f in findings}


def test_operational_page_gives_no_finding() -> None:
    assert judge_statuspage(statuspage_check(STATUSPAGE_OPERATIONAL), at=AT, make=make) == []


def test_resolved_incidents_are_ignored_and_impact_sets_severity() -> None:
    document = {
        **STATUSPAGE_OPERATIONAL,
        "incidents": [
            {"name": "Old", "status": "resolved", "impact": "critical", "started_at": "2026-11-27T07:00:00Z"},
            {
                "name": "Slow search",
                "status": "monitoring",
                "impact": "none",
                "started_at": "2026-11-27T09:00:00Z",
            },
        ],
    }
    found = kinds(judge_statuspage(statuspage_check(document), at=AT, make=make))
    incident = found["statuspage_incident"]
    assert incident.severity is Severity.INFO
    assert incident.title == "acme: incident 'Slow search' (none, monitoring) since 2026-11-27 09:00Z"


def test_incidents_rank_worst_first_and_onset_is_the_earliest() -> None:
    found = kinds(judge_statuspage(statuspage_check(STATUSPAGE_MAJOR_OUTAGE), at=AT, make=make))
    incident = found["statuspage_incident"]
    assert incident.onset == datetime(2026, 11, 27, 8, 10, tzinfo=UTC)
    assert [i["impact"] for i in incident.evidence.details["incidents"]] == ["major", "minor"]


def test_unknown_component_status_is_a_schema_error() -> None:
    document = {**STATUSPAGE_OPERATIONAL, "components": [{"name": "API", "status": "on_fire"}]}
    with pytest.raises(SchemaError, match=r"components\.0\.status"):
        parse_summary(document)


def test_a_list_is_not_a_summary() -> None:
    with pytest.raises(SchemaError, match="expected a JSON object, got list"):
        parse_summary([])
