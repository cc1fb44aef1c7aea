"""deps.http against real servers on 127.0.0.1 staging each kind of dependency failure."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from diagnostics import Finding, Severity, Status
from diagnostics.testing import ProbeRun, run_probe
from probes.dependencies.http import HttpProbe
from tests.support.http_servers import HttpServers

pytestmark = pytest.mark.integration

FAST = {"timeout": "300ms"}
"""Per-attempt timeout for the staged hangs: three attempts stay under a second."""


def check(*entries: dict[str, Any], options: dict[str, Any] | None = None, **kwargs: Any) -> ProbeRun:
    return run_probe(HttpProbe, config={"dependencies": list(entries)}, options=options, **kwargs)


def only(result: ProbeRun, kind: str) -> Finding:
    assert [f.kind for f in result.findings] == [kind], [f.title for f in result.findings]
    return result.findings[0]


def value(finding: Finding, name: str) -> Any:
    return next(m.value for m in finding.evidence.values if m.name == name)


def test_healthy_endpoint_with_expected_body_finds_nothing(http_servers: HttpServers) -> None:
    result = check(
        {"name": "payments-api", "url": http_servers.url("/healthz"), "expect_body": '"status":"ok"'}
    )
    assert result.outcome.status is Status.OK
    assert result.findings == ()


def test_redirects_within_the_limit_are_followed_silently(http_servers: HttpServers) -> None:
    result = check({"name": "payments-api", "url": http_servers.url("/redirect/3")})
    assert result.outcome.status is Status.OK
    assert result.findings == ()


def test_body_expectation_may_be_a_regular_expression(http_servers: HttpServers) -> None:
    result = check(
        {
            "name": "payments-api",
            "url": http_servers.url("/healthz"),
            "expect_body": r'"status"\s*:\s*"(ok|up)"',
        }
    )
    assert result.findings == ()


def test_expected_non_2xx_status_is_not_a_failure(http_servers: HttpServers) -> None:
    result = check({"name": "teapot", "url": http_servers.url("/status/503"), "expect_status": [503]})
    assert result.findings == ()


def test_503_on_every_attempt_is_critical_with_count_and_latency(http_servers: HttpServers) -> None:
    result = check({"name": "payments-api", "url": http_servers.url("/status/503")})
    finding = only(result, "http_status")
    assert finding.severity is Severity.CRITICAL
    assert finding.title.startswith("payments-api: HTTP 503 on 3/3 attempts, ")
    assert finding.entity.kind == "dependency" and finding.entity.name == "payments-api"
    assert finding.entity.attributes["url"] == http_servers.url("/status/503")
    assert value(finding, "failed attempts") == 3
    assert value(finding, "status") == 503
    assert 0 < value(finding, "latency (median)") <= value(finding, "latency (worst)")
    assert finding.onset is None and finding.seen_at == result.report.at  # seen now, onset unknown
    attempts = finding.evidence.details["attempts"]
    assert [a["status"] for a in attempts] == [503, 503, 503]
    assert all(a["connect_s"] is not None for a in attempts)  # each attempt on a fresh connection


def test_one_failed_attempt_of_three_is_only_a_warning(http_servers: HttpServers) -> None:
    result = check({"name": "ledger", "url": http_servers.url("/flaky/one-of-three/3")})
    finding = only(result, "http_status")
    assert finding.severity is Severity.WARNING
    assert "HTTP 503 on 1/3 attempts" in finding.title
    assert "flaky" in finding.summary


def test_response_slower_than_critical_latency(http_servers: HttpServers) -> None:
    result = check(
        {
            "name": "search",
            "url": http_servers.url("/slow/300"),
            "latency_warning": "100ms",
            "latency_critical": "200ms",
        }
    )
    finding = only(result, "http_latency")
    assert finding.severity is Severity.CRITICAL
    assert finding.title.startswith("search: median response ")
    assert value(finding, "latency (median)") >= 0.3
    assert value(finding, "latency (worst)") >= value(finding, "latency (median)")
    assert value(finding, "latency critical") == 0.2
    assert value(finding, "processing (median)") >= 0.29  # the server's time, not the network's
    assert "most of the time is processing" in finding.summary


def test_wrong_body_names_the_expectation_and_shows_what_came(http_servers: HttpServers) -> None:
    result = check(
        {"name": "inventory", "url": http_servers.url("/degraded"), "expect_body": '"status":"ok"'}
    )
    finding = only(result, "http_body")
    assert finding.severity is Severity.CRITICAL
    assert 'body does not contain \'"status":"ok"\' on 3/3 attempts' in finding.title
    assert "degraded" in finding.evidence.details["body_excerpt"]
    assert value(finding, "status") == 200


def test_redirect_loop_is_named_with_its_cycle(http_servers: HttpServers) -> None:
    result = check({"name": "sso", "url": http_servers.url("/loop/a")})
    finding = only(result, "redirect_loop")
    assert finding.severity is Severity.CRITICAL
    assert "redirect loop /loop/a → /loop/b → /loop/a on 3/3 attempts" in finding.title
    assert len(finding.evidence.details["redirects"]) == 6  # the request and the 5 redirects allowed


def test_too_many_redirects_without_a_loop(http_servers: HttpServers) -> None:
    result = check({"name": "sso", "url": http_servers.url("/redirect/4"), "max_redirects": 2})
    finding = only(result, "redirect_loop")
    assert "more than 2 redirects on 3/3 attempts" in finding.title


def test_accepted_but_never_answered_is_a_read_timeout(http_servers: HttpServers) -> None:
    result = check({"name": "reports", "url": http_servers.hang_url, **FAST})
    finding = only(result, "read_timeout")
    assert finding.severity is Severity.CRITICAL
    assert "no response within 300ms (read timeout) on 3/3 attempts" in finding.title
    assert 0.3 <= value(finding, "latency (median)") < 1.0
    assert value(finding, "connect (median)") < 0.3  # connected fine: the server is what hangs


def test_full_accept_queue_is_a_connect_timeout(http_servers: HttpServers) -> None:
    result = check({"name": "billing", "url": http_servers.connect_timeout_url, **FAST})
    finding = only(result, "connect_timeout")
    host, port = http_servers.connect_timeout_address
    assert f"connect to {host}:{port} timed out after 300ms on 3/3 attempts" in finding.title
    assert value(finding, "connect (median)") >= 0.29


def test_closed_port_is_connection_refused(http_servers: HttpServers) -> None:
    result = check({"name": "cache-api", "url": http_servers.closed_port_url})
    finding = only(result, "connect_refused")
    assert finding.severity is Severity.CRITICAL
    port = http_servers.closed_port_url.split(":")[2].split("/")[0]
    assert f"connection refused by 127.0.0.1:{port} on 3/3 attempts" in finding.title
    assert "nc -vz 127.0.0.1" in finding.next_steps[0]


def test_unresolvable_name_is_a_dns_failure(http_servers: HttpServers) -> None:
    result = check({"name": "geo", "url": "http://does-not-exist.invalid/healthz"})
    finding = only(result, "dns_failure")
    assert finding.severity is Severity.CRITICAL
    assert "DNS lookup of does-not-exist.invalid failed" in finding.title
    assert "on 3/3 attempts" in finding.title
    assert value(finding, "dns (median)") is not None
    assert all(a["failure"] == "dns_failure" for a in finding.evidence.details["attempts"])


def test_certificate_expiring_in_two_days_is_critical(http_servers: HttpServers) -> None:
    tls = http_servers.tls
    result = check({"name": "partner-api", "url": tls.expiring_url, "ca_bundle": tls.ca_bundle})
    finding = only(result, "tls_expiry")
    assert finding.severity is Severity.CRITICAL
    assert "partner-api: TLS certificate of 127.0.0.1 expires in 2.0 days" in finding.title
    assert 1.9 < value(finding, "days left") <= 2.0
    assert finding.evidence.details["not_after"] == tls.expiring_not_after.isoformat().replace("+00:00", "Z")


def test_certificate_expiry_warning_threshold_is_configurable(http_servers: HttpServers) -> None:
    tls = http_servers.tls
    result = check(
        {"name": "partner-api", "url": tls.expiring_url, "ca_bundle": tls.ca_bundle},
        options={"cert_expiry_warning": "30d", "cert_expiry_critical": "1d"},
    )
    assert only(result, "tls_expiry").severity is Severity.WARNING


def test_expired_certificate_is_a_tls_error_dated_by_its_expiry(http_servers: HttpServers) -> None:
    tls = http_servers.tls
    result = check({"name": "partner-api", "url": tls.expired_url, "ca_bundle": tls.ca_bundle})
    finding = only(result, "tls_error")
    assert finding.severity is Severity.CRITICAL
    assert "TLS verification failed: certificate of 127.0.0.1 expired 3.0 days ago" in finding.title
    assert finding.evidence.details["tls_problem"] == "certificate expired"
    assert finding.onset == tls.expired_not_after


def test_certificate_for_another_host_is_a_hostname_mismatch(http_servers: HttpServers) -> None:
    tls = http_servers.tls
    result = check({"name": "partner-api", "url": tls.wrong_host_url, "ca_bundle": tls.ca_bundle})
    finding = only(result, "tls_error")
    assert "IP address mismatch" in finding.title
    assert finding.evidence.details["tls_problem"] == "hostname mismatch"


def test_certificate_from_an_unknown_ca_is_untrusted(http_servers: HttpServers) -> None:
    result = check({"name": "partner-api", "url": http_servers.tls.expiring_url})
    finding = only(result, "tls_error")
    assert "unable to get local issuer certificate" in finding.title
    assert finding.evidence.details["tls_problem"] == "untrusted certificate"
    assert value(finding, "tls (median)") is not None


def test_verify_tls_false_still_reports_an_expired_certificate(http_servers: HttpServers) -> None:
    result = check({"name": "legacy", "url": http_servers.tls.expired_url, "verify_tls": False})
    finding = only(result, "tls_expiry")
    assert finding.severity is Severity.CRITICAL
    assert "expired 3.0 days ago" in finding.title


def test_http_proxy_from_the_environment_is_used(
    http_servers: HttpServers, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", http_servers.proxy_url)
    url = "http://only-the-proxy-knows.invalid/healthz"
    result = check({"name": "partner", "url": url})
    assert result.findings == ()  # the name is resolved by the proxy, not here
    assert http_servers.proxied().count(url) == 3


def test_no_proxy_bypasses_the_proxy(http_servers: HttpServers, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", http_servers.proxy_url)
    monkeypatch.setenv("NO_PROXY", "bypassed.invalid")
    result = check({"name": "partner", "url": "http://bypassed.invalid/healthz"})
    assert only(result, "dns_failure").entity.name == "partner"
    assert "http://bypassed.invalid/healthz" not in http_servers.proxied()


def test_checks_never_exceed_the_concurrency_bound(http_servers: HttpServers) -> None:
    entries = [
        {"name": f"shard-{n}", "url": http_servers.url("/track/bounded/50"), "attempts": 1} for n in range(24)
    ]
    result = check(*entries, options={"concurrency": 4})
    assert result.findings == ()
    assert 2 <= http_servers.peak_in_flight("bounded") <= 4


def test_dependencies_left_when_the_deadline_comes_are_reported(http_servers: HttpServers) -> None:
    entries = [{"name": f"hung-{n}", "url": http_servers.hang_url, "timeout": "1s"} for n in range(3)]
    result = check(*entries, options={"concurrency": 1, "timeout": "2s"})
    assert result.outcome.status is Status.CRITICAL  # judged, not timed out
    kinds = {f.kind: f for f in result.findings}
    assert kinds["read_timeout"].entity.name == "hung-0"
    # the other entries' attempts would have had their 1s timeout cut short: not made at all
    assert "on 1/1 attempts" in kinds["read_timeout"].title
    unchecked = kinds["not_checked"]
    assert unchecked.severity is Severity.WARNING
    assert unchecked.evidence.details["not_checked"] == ["hung-1", "hung-2"]


def test_a_past_at_says_the_check_reflects_the_run(http_servers: HttpServers) -> None:
    result = check({"name": "payments-api", "url": http_servers.url("/status/503")}, at="-2h")
    finding = only(result, "http_status")
    assert finding.onset is None and finding.seen_at == result.report.at  # seen now, onset unknown
    assert result.report.at < result.report.started_at - timedelta(hours=1)
    assert "the time of the run" in finding.summary


def test_a_probe_with_no_url_entry_is_skipped_with_a_hint(http_servers: HttpServers) -> None:
    result = run_probe(HttpProbe, config={"dependencies": [{"name": "db", "tcp": "127.0.0.1:1"}]})
    assert result.outcome.status is Status.SKIPPED
    assert result.outcome.error == "no url entry in the dependencies section"
    assert result.outcome.hint is not None and result.outcome.hint.startswith(
        "dependencies: [{name: payments-api, url:"
    )
    assert result.findings == ()
