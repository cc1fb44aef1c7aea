"""deps.tcp against real listeners on 127.0.0.1: open, closed, unanswered, unresolvable."""

from __future__ import annotations

from typing import Any

import pytest

from diagnostics import Finding, Severity, Status
from diagnostics.testing import ProbeRun, run_probe
from probes.dependencies.tcp import TcpProbe
from tests.support.http_servers import HttpServers

pytestmark = pytest.mark.integration


def check(*entries: dict[str, Any], options: dict[str, Any] | None = None) -> ProbeRun:
    return run_probe(TcpProbe, config={"dependencies": list(entries)}, options=options)


def only(result: ProbeRun, kind: str) -> Finding:
    assert [f.kind for f in result.findings] == [kind], [f.title for f in result.findings]
    return result.findings[0]


def value(finding: Finding, name: str) -> Any:
    return next(m.value for m in finding.evidence.values if m.name == name)


def address_of(url: str) -> str:
    return url.split("//")[1].split("/")[0]


def test_listening_port_finds_nothing(http_servers: HttpServers) -> None:
    result = check({"name": "orders-db-tcp", "tcp": address_of(http_servers.base_url)})
    assert result.outcome.status is Status.OK
    assert result.findings == ()


def test_closed_port_is_refused_on_every_attempt(http_servers: HttpServers) -> None:
    address = address_of(http_servers.closed_port_url)
    result = check({"name": "orders-db-tcp", "tcp": address})
    finding = only(result, "tcp_refused")
    assert finding.severity is Severity.CRITICAL
    assert finding.title.startswith(f"orders-db-tcp: connection refused by {address} on 3/3 attempts")
    assert finding.entity.attributes == {"address": address}
    assert value(finding, "failed attempts") == 3
    assert finding.onset is None and finding.seen_at == result.report.at  # seen now, onset unknown


def test_full_accept_queue_is_a_connect_timeout(http_servers: HttpServers) -> None:
    host, port = http_servers.connect_timeout_address
    result = check({"name": "queue", "tcp": f"{host}:{port}", "timeout": "200ms", "attempts": 2})
    finding = only(result, "tcp_timeout")
    assert f"connect to {host}:{port} timed out after 200ms on 2/2 attempts" in finding.title
    assert value(finding, "connect (median)") >= 0.19


def test_unresolvable_host_is_a_dns_failure() -> None:
    result = check({"name": "cache", "tcp": "no-such-cache.invalid:6379"})
    finding = only(result, "dns_failure")
    assert "DNS lookup of no-such-cache.invalid failed" in finding.title
    assert "dig +short no-such-cache.invalid" in finding.next_steps[0]


def test_connect_latency_thresholds_apply(http_servers: HttpServers) -> None:
    # a loopback connect takes microseconds: a 1 microsecond threshold makes it "slow"
    result = check(
        {
            "name": "orders-db-tcp",
            "tcp": address_of(http_servers.base_url),
            "latency_warning": 0.000001,
            "latency_critical": 10,
        }
    )
    finding = only(result, "tcp_latency")
    assert finding.severity is Severity.WARNING
    assert value(finding, "latency warning") == 0.000001


def test_a_probe_with_no_tcp_entry_is_skipped_with_a_hint() -> None:
    result = run_probe(TcpProbe, config={"dependencies": [{"name": "api", "url": "http://127.0.0.1:1/"}]})
    assert result.outcome.status is Status.SKIPPED
    assert result.outcome.error == "no tcp entry in the dependencies section"
    assert result.outcome.hint == "dependencies: [{name: orders-db-tcp, tcp: orders-db.internal:5432}]"
    assert result.findings == ()
