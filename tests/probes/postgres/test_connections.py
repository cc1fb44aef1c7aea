"""db.connections against a real server: a pool of idle transactions, refusal, a quiet server."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from diagnostics import ErrorKind, Severity, Status
from diagnostics.api import diagnose
from diagnostics.registry import Registry
from diagnostics.report.serialize import report_to_dict
from diagnostics.report.text import render_text
from diagnostics.testing import run_probe
from probes.postgres.connections import ConnectionsProbe
from probes.postgres.locks import LocksProbe
from probes.postgres.queries import QueriesProbe
from probes.postgres.replication import ReplicationProbe
from tests.support.postgres import (
    MONITOR_PASSWORD,
    NOPRIV_PASSWORD,
    NOPRIV_USER,
    PGBOUNCER_STATS_PASSWORD,
    PgBouncer,
    PostgresServer,
    SessionPool,
)

pytestmark = pytest.mark.integration


def test_healthy_server_yields_no_finding(pg_sessions: SessionPool, postgres_config: dict[str, Any]) -> None:
    for _ in range(3):
        pg_sessions.open("web").execute("SELECT 1")

    result = run_probe(ConnectionsProbe, config=postgres_config)

    assert result.outcome.status is Status.OK
    assert result.findings == ()


def test_pool_full_of_idle_transactions_from_one_application(
    pg_sessions: SessionPool, postgres_config: dict[str, Any], postgres_server: PostgresServer
) -> None:
    usable = postgres_server.usable_connections  # 27
    for _ in range(usable - 4):
        conn = pg_sessions.open("billing-worker")
        conn.execute("BEGIN")
        conn.execute("SELECT id FROM orders WHERE id = 7")
    pg_sessions.open("web").execute("SELECT 1")
    began = datetime.now(UTC)
    time.sleep(0.6)

    result = run_probe(
        ConnectionsProbe, config=postgres_config, options={"idle_in_transaction_warning": "0.5s"}
    )

    assert result.outcome.status is Status.CRITICAL
    [saturation] = result.of_kind("connection_saturation")
    assert saturation.severity is Severity.WARNING
    assert saturation.title == f"{usable - 3} of {usable} usable connections in use (89 %)"
    values = {m.name: m.value for m in saturation.evidence.values}
    assert values["connections used"] == usable - 3
    assert values["max_connections"] == postgres_server.max_connections
    assert values["idle in transaction"] == usable - 4
    leader = saturation.evidence.details["by_application"][0]
    assert leader == {
        "name": "staged-billing-worker",
        "sessions": usable - 4,
        "states": {"idle in transaction": usable - 4},
    }
    assert "diag" not in {row["name"] for row in saturation.evidence.details["by_application"]}

    [idle] = result.of_kind("idle_in_transaction")
    assert idle.severity is Severity.CRITICAL  # they hold >= 80 % of the usable connections
    assert idle.title.startswith(f"{usable - 4} sessions idle in transaction for up to ")
    assert idle.title.endswith(f", {usable - 4} from application staged-billing-worker")
    assert idle.evidence.details["sessions"][0]["query"] == "SELECT id FROM orders WHERE id = 7"
    assert idle.evidence.details["sessions"][0]["idle_s"] >= 0.5
    assert idle.onset is not None and began - timedelta(seconds=10) < idle.onset <= began + timedelta(
        seconds=1
    )
    assert any("application_name = 'staged-billing-worker'" in step for step in idle.next_steps)
    assert any('ALTER ROLE "app" SET idle_in_transaction_session_timeout' in step for step in idle.next_steps)


def test_password_in_a_session_query_is_masked(
    pg_sessions: SessionPool, postgres_config: dict[str, Any], postgres_server: PostgresServer
) -> None:
    admin = pg_sessions.open("admin-console", dsn=postgres_server.superuser_dsn)
    admin.execute("BEGIN")
    # the same password again: the role keeps working for the other tests
    admin.execute(f"ALTER ROLE {NOPRIV_USER} WITH ENCRYPTED PASSWORD '{NOPRIV_PASSWORD}'")
    time.sleep(0.3)

    result = run_probe(
        ConnectionsProbe, config=postgres_config, options={"idle_in_transaction_warning": "0.2s"}
    )

    [idle] = result.of_kind("idle_in_transaction")
    [session] = idle.evidence.details["sessions"]
    assert session["query"] == f"ALTER ROLE {NOPRIV_USER} WITH ENCRYPTED PASSWORD '***'"
    assert NOPRIV_PASSWORD not in render_text(result.report)
    assert NOPRIV_PASSWORD not in json.dumps(report_to_dict(result.report))


def test_too_many_clients_is_a_finding_not_an_error(
    pg_sessions: SessionPool, postgres_config: dict[str, Any], postgres_server: PostgresServer
) -> None:
    for _ in range(postgres_server.usable_connections):
        pg_sessions.open("leaky")

    result = run_probe(ConnectionsProbe, config=postgres_config)

    assert result.outcome.status is Status.CRITICAL
    [finding] = result.findings
    assert finding.kind == "connections_exhausted"
    assert finding.title == (
        "Connections refused: remaining connection slots are reserved for non-replication superuser connections"
    )
    assert finding.entity.name == "orders"

    locks = run_probe(LocksProbe, config=postgres_config)
    assert locks.outcome.status is Status.ERROR
    assert locks.outcome.error_kind is ErrorKind.CONNECT
    assert "refused the connection: remaining connection slots are reserved" in (locks.outcome.error or "")
    for text in (render_text(result.report), render_text(locks.report)):
        assert MONITOR_PASSWORD not in text


def test_clients_queueing_in_pgbouncer(
    pg_sessions: SessionPool, postgres_server: PostgresServer, pgbouncer: PgBouncer
) -> None:
    for _ in range(pgbouncer.pool_size):  # hold every server connection of the pool
        busy = pg_sessions.open("batch", dsn=pgbouncer.app_dsn)
        busy.execute("BEGIN")
        busy.execute("SELECT 1")
    queued = [pg_sessions.open("checkout", dsn=pgbouncer.app_dsn) for _ in range(3)]
    for conn in queued:
        pg_sessions.in_background(conn, "SELECT 1")
    pgbouncer.wait_for_waiting_clients("shop", 3, min_wait_s=1.1)
    config = {
        "postgres": [
            {"name": "orders", "dsn": postgres_server.monitor_dsn, "pgbouncer_dsn": pgbouncer.admin_dsn}
        ]
    }

    result = run_probe(ConnectionsProbe, config=config, options={"pgbouncer_wait_warning": "1s"})

    [finding] = result.of_kind("pgbouncer_clients_waiting")
    assert finding.severity is Severity.WARNING
    assert finding.title.startswith("3 clients waiting in PgBouncer pool shop/app for up to ")
    values = {m.name: m.value for m in finding.evidence.values}
    assert values["clients waiting"] == 3
    assert 1.0 <= values["longest client wait"] < 10
    assert values["server connections active"] == pgbouncer.pool_size
    assert finding.evidence.details == {"pool_mode": "transaction"}
    assert PGBOUNCER_STATS_PASSWORD not in render_text(result.report)


def test_pgbouncer_without_queue_yields_no_finding(
    postgres_server: PostgresServer, pgbouncer: PgBouncer
) -> None:
    config = {
        "postgres": [
            {"name": "orders", "dsn": postgres_server.monitor_dsn, "pgbouncer_dsn": pgbouncer.admin_dsn}
        ]
    }

    result = run_probe(ConnectionsProbe, config=config)

    assert result.outcome.status is Status.OK and result.findings == ()


def test_all_db_probes_together_hold_one_connection(
    pg_sessions: SessionPool, postgres_config: dict[str, Any], postgres_server: PostgresServer
) -> None:
    # 3 slots left: four probes connecting at once would take them all and be refused
    for _ in range(postgres_server.usable_connections - 3):
        pg_sessions.open("web").execute("SELECT 1")
    probes = (ConnectionsProbe, LocksProbe, QueriesProbe, ReplicationProbe)
    registry = Registry(probes={p.id: p for p in probes}, broken={})

    report = diagnose(probes=[p.id for p in probes], config=postgres_config, env={}, registry=registry).report

    assert {o.probe: o.status for o in report.probes} == {
        "db.connections": Status.WARNING,  # 24 of 27
        "db.locks": Status.OK,
        "db.queries": Status.OK,
        "db.replication": Status.OK,
    }
    assert [f.kind for f in report.findings] == ["connection_saturation"]
    usable = postgres_server.usable_connections
    assert report.findings[0].title == f"{usable - 3} of {usable} usable connections in use (89 %)"
