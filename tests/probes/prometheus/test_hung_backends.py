"""A sick Prometheus, for real over HTTP: the right error kind, and nothing left behind.

Issue 12: malformed JSON was reported as ``connect``, a server that never answers as "cannot
reach", a 200 MB answer read for 20 s; six ``diagnostics.run(..., timeout=3)`` calls against a
server sending one byte a second left 12 threads and 12 sockets behind.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil
import pytest
from click.testing import CliRunner

import diagnostics
from diagnostics import ErrorKind, ProbeError, ProbeTimeout
from diagnostics.cli import cli
from probes.prometheus.client import MAX_RESPONSE_BYTES, PrometheusClient
from probes.prometheus.config import PrometheusConfig
from tests.support.hung_http import hung_server

pytestmark = pytest.mark.integration

PROMETHEUS_PROBES = ["metrics.alerts", "metrics.anomalies", "metrics.scrape", "resources.nodes"]


def query_once(url: str, deadline_s: float = 4.0) -> ProbeError:
    with (
        PrometheusClient(
            PrometheusConfig(url=url, timeout="2s"), deadline=time.monotonic() + deadline_s
        ) as client,
        pytest.raises(ProbeError) as raised,
    ):
        client.query("up", datetime.now(UTC))
    return raised.value


def test_malformed_json_is_a_bad_response_quoting_its_first_bytes() -> None:
    with hung_server("malformed") as server:
        error = query_once(server.url)
    assert error.kind is ErrorKind.PROTOCOL
    assert 'not JSON; it began \'{"status":"success","data":{"resultType":<html>oops</html>\'' in str(error)


def test_a_server_that_accepts_and_never_answers_is_a_read_timeout() -> None:
    with hung_server("silent") as server:
        began = time.monotonic()
        error = query_once(server.url)
    assert isinstance(error, ProbeTimeout)
    assert "accepted the connection but did not answer query up" in str(error)
    assert str(error).endswith("(read timeout)")
    assert "cannot reach" not in str(error)
    assert time.monotonic() - began < 3


def test_a_huge_answer_stops_at_the_bound_and_is_too_large() -> None:
    with hung_server("huge") as server:
        began = time.monotonic()
        error = query_once(server.url, deadline_s=20)
    assert error.kind is ErrorKind.TOO_LARGE
    assert f"more than {MAX_RESPONSE_BYTES} bytes" in str(error)
    assert time.monotonic() - began < 10


def test_a_trickling_answer_ends_at_the_probe_deadline() -> None:
    with hung_server("trickle") as server:
        began = time.monotonic()
        error = query_once(server.url, deadline_s=2.5)
    assert isinstance(error, ProbeTimeout)
    assert "was still sending its answer at the deadline" in str(error)
    assert time.monotonic() - began < 4


def probe_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name.startswith("diag-probe:"))


def sockets_to(port: int) -> int:
    return sum(1 for c in psutil.Process().net_connections(kind="tcp") if c.raddr and c.raddr.port == port)


def test_repeated_runs_against_a_trickling_prometheus_leave_no_thread_or_socket() -> None:
    with hung_server("trickle") as server:
        before = probe_threads()
        for _ in range(6):
            began = time.monotonic()
            report = diagnostics.run(
                probes=PROMETHEUS_PROBES, config={"prometheus": {"url": server.url}}, timeout=3, env={}
            )
            assert time.monotonic() - began < 5
            assert {o.status.value for o in report.probes} <= {"timeout", "error"}
        settle = time.monotonic() + 5
        while (probe_threads() > before or sockets_to(server.port)) and time.monotonic() < settle:
            time.sleep(0.1)
        assert probe_threads() == before, "probe threads outlived their runs"
        assert sockets_to(server.port) == 0, "sockets to the hung server outlived their runs"


def test_a_silent_prometheus_is_unknown_never_healthy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # every metrics probe ends `timeout`, deps.tcp is fine (the port accepts): this exited 0
    monkeypatch.chdir(tmp_path)
    with hung_server("silent") as server:
        Path("diag.yaml").write_text(
            f"prometheus: {{url: '{server.url}', timeout: 1s}}\n"
            f"dependencies: [{{name: prometheus-port, tcp: '127.0.0.1:{server.port}'}}]\n"
        )
        result = CliRunner().invoke(
            cli,
            ["run", "--config", "diag.yaml", "--probe", "deps.tcp", "--probe", "metrics.scrape",
             "--probe", "metrics.alerts", "--format", "json", "--timeout", "5"],
        )  # fmt: skip
    report = json.loads(result.stdout)
    statuses = {p["id"]: p["status"] for p in report["probes"]}
    assert statuses == {"deps.tcp": "ok", "metrics.scrape": "timeout", "metrics.alerts": "timeout"}
    assert result.exit_code == 3
    assert report["headline"].endswith("2 probes could not check: metrics.scrape, metrics.alerts.")
