"""db.queries against a real server: a long pg_sleep, a statement slower than its mean,
a database without pg_stat_statements, and a quiet database."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from diagnostics import Severity, Status
from diagnostics.testing import run_probe
from probes.postgres.queries import QueriesProbe
from tests.support.postgres import MONITOR_PASSWORD, MONITOR_USER, PostgresServer, SessionPool

pytestmark = pytest.mark.integration


def running(pool: SessionPool, sql: str, application: str = "reports") -> int:
    conn = pool.open(application)
    pid = pool.pid(conn)
    pool.in_background(conn, sql)
    pool.server.wait_until("SELECT state = 'active' FROM pg_stat_activity WHERE pid = %s", (pid,))
    return pid


def test_pg_sleep_over_the_threshold_is_a_long_running_query(
    pg_sessions: SessionPool, postgres_config: dict[str, Any]
) -> None:
    began = datetime.now(UTC)
    pid = running(pg_sessions, "SELECT pg_sleep(30) /* nightly report */")
    time.sleep(0.5)

    result = run_probe(QueriesProbe, config=postgres_config, options={"long_running_warning": "0.3s"})

    assert result.outcome.status is Status.WARNING
    [finding] = result.of_kind("long_running_queries")
    assert finding.severity is Severity.WARNING
    assert finding.title.startswith("1 query running longer than 300ms, the longest ")
    assert finding.title.endswith(f"(pid {pid})")
    [query] = finding.evidence.details["queries"]
    assert query["pid"] == pid
    assert query["application"] == "staged-reports"
    assert query["query"] == "SELECT pg_sleep(30) /* nightly report */"
    assert query["running_s"] >= 0.5
    assert query["waiting_on"] == "Timeout/PgSleep"
    assert finding.onset is not None and began - timedelta(seconds=1) < finding.onset < began + timedelta(
        seconds=5
    )
    assert f"SELECT pg_cancel_backend({pid});" in finding.next_steps[0]
    top = finding.evidence.details["top_statements_by_total_time"]
    assert 1 <= len(top) <= 5  # top_statements
    assert [s["total_ms"] for s in top] == sorted((s["total_ms"] for s in top), reverse=True)
    for statement in top:
        assert set(statement) == {"query_id", "role", "calls", "total_ms", "mean_ms", "query"}
        assert statement["calls"] >= 1 and statement["total_ms"] > 0 and statement["mean_ms"] > 0
        assert isinstance(statement["query"], str) and statement["query"]  # its text, fetched


def test_statement_running_far_longer_than_its_mean(
    pg_sessions: SessionPool, postgres_config: dict[str, Any]
) -> None:
    conn = pg_sessions.open("checkout")
    for _ in range(25):
        conn.execute("SELECT pg_sleep(0.001), 'price lookup'")
    # 20.0, not 20: a numeric constant like 0.001, or it would be another query_id
    pid = running(pg_sessions, "SELECT pg_sleep(20.0), 'price lookup'")
    time.sleep(0.8)

    result = run_probe(QueriesProbe, config=postgres_config, options={"slowdown_min_runtime": "0.5s"})

    [finding] = result.of_kind("statement_slowdown")
    assert finding.severity is Severity.WARNING
    assert "x its mean of " in finding.title and finding.title.endswith("(1 running)")
    assert finding.evidence.details["pids"] == [pid]
    assert "pg_sleep($1), $2" in finding.evidence.details["query"]
    values = {m.name: m.value for m in finding.evidence.values}
    assert values["calls"] >= 25
    assert values["cumulative mean"] < 0.05
    assert values["running now"] >= 0.8
    assert result.of_kind("long_running_queries") == []  # 30 s by default


def test_statement_slower_between_two_samples(
    pg_sessions: SessionPool, postgres_config: dict[str, Any]
) -> None:
    conn = pg_sessions.open("search")
    for _ in range(200):  # a mean the slow calls made before the first sample barely move
        conn.execute("SELECT 'catalog search', pg_sleep(0.001)")
    slow = pg_sessions.open("search")
    stop = threading.Event()

    def keep_calling() -> None:
        # slow calls only between the probe's two samples: before them they would raise the mean
        pg_sessions.server.wait_for_probe_pause()
        while not stop.is_set():
            slow.execute("SELECT 'catalog search', pg_sleep(0.05)")

    worker = threading.Thread(target=keep_calling, daemon=True)
    worker.start()
    try:
        result = run_probe(QueriesProbe, config=postgres_config, options={"sample_interval": "1s"})
    finally:
        stop.set()
        worker.join(timeout=5)

    [finding] = result.of_kind("statement_slowdown")
    assert "per call over the last 1.0s" in finding.title
    assert "'catalog search'" not in finding.summary and "pg_sleep($2)" in finding.summary
    values = {m.name: m.value for m in finding.evidence.values}
    assert values["calls in sample"] >= 5
    assert finding.evidence.details["role"] == "app"
    assert values["mean in sample"] >= 0.05
    assert values["mean before"] < 0.01


def test_without_pg_stat_statements_the_report_says_so(postgres_server: PostgresServer) -> None:
    dsn = postgres_server.dsn(MONITOR_USER, MONITOR_PASSWORD, database="postgres")

    result = run_probe(QueriesProbe, config={"postgres": [{"name": "ops", "dsn": dsn}]})

    assert result.outcome.status is Status.OK
    [finding] = result.findings
    assert finding.kind == "statements_unavailable" and finding.severity is Severity.INFO
    assert (
        finding.title
        == "pg_stat_statements is not installed in this database (CREATE EXTENSION pg_stat_statements)"
    )


def test_quiet_database_yields_no_finding(pg_sessions: SessionPool, postgres_config: dict[str, Any]) -> None:
    conn = pg_sessions.open("web")
    for _ in range(5):
        conn.execute("SELECT count(*) FROM orders")

    result = run_probe(QueriesProbe, config=postgres_config)

    assert result.outcome.status is Status.OK
    assert result.findings == ()
