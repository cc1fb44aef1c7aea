"""db.replication against a real primary and standby: a stale slot, paused replay, all caught up."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from diagnostics import Severity, Status
from diagnostics.testing import run_probe
from probes.postgres.replication import ReplicationProbe
from tests.support.postgres import MONITOR_PASSWORD, MONITOR_USER, PostgresServer

pytestmark = pytest.mark.integration

SMALL = {"lag_bytes_warning": 64 * 1024, "slot_retained_warning": 1024 * 1024}


def write_wal(server: PostgresServer, rows: int = 20000) -> None:
    server.execute("CREATE TABLE IF NOT EXISTS wal_filler (id int, payload text)")
    server.execute("INSERT INTO wal_filler SELECT g, repeat('x', 100) FROM generate_series(1, %s) g", (rows,))
    server.execute("DELETE FROM wal_filler")


@pytest.fixture
def stale_slot(postgres_server: PostgresServer) -> Iterator[str]:
    postgres_server.execute("SELECT pg_create_physical_replication_slot('stale_standby', true)")
    try:
        write_wal(postgres_server)
        postgres_server.execute("SELECT pg_switch_wal()")
        yield "stale_standby"
    finally:
        postgres_server.execute("SELECT pg_drop_replication_slot('stale_standby')")


def test_inactive_slot_retaining_wal(stale_slot: str, postgres_config: dict[str, Any]) -> None:
    result = run_probe(ReplicationProbe, config=postgres_config, options=SMALL)

    [finding] = result.of_kind("inactive_replication_slot")
    assert finding.severity is Severity.WARNING
    assert finding.title.startswith(f"Inactive physical replication slot {stale_slot} retains ")
    assert finding.title.endswith("of WAL, wal_status reserved")
    retained = {m.name: m.value for m in finding.evidence.values}["retained WAL"]
    assert retained >= 1024 * 1024
    assert f"SELECT pg_drop_replication_slot('{stale_slot}');" in finding.next_steps[1]


def standby_config(standby: PostgresServer) -> dict[str, Any]:
    return {"postgres": [{"name": "orders-replica", "dsn": standby.dsn(MONITOR_USER, MONITOR_PASSWORD)}]}


def test_standby_with_paused_replay_lags(
    postgres_server: PostgresServer, postgres_standby: PostgresServer, postgres_config: dict[str, Any]
) -> None:
    postgres_standby.execute("SELECT pg_wal_replay_pause()")
    try:
        write_wal(postgres_server)
        postgres_server.wait_until(
            "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn) > 65536 "
            "AND write_lsn = pg_current_wal_lsn() FROM pg_stat_replication"
        )

        primary = run_probe(ReplicationProbe, config=postgres_config, options=SMALL)
        standby = run_probe(ReplicationProbe, config=standby_config(postgres_standby), options=SMALL)
    finally:
        postgres_standby.execute("SELECT pg_wal_replay_resume()")

    [lag] = primary.of_kind("replication_lag")
    assert lag.severity is Severity.WARNING
    assert lag.title.startswith("Standby standby1 replays ")  # over the unix socket: no client address
    assert lag.evidence.details["state"] == "streaming"
    assert {m.name: m.value for m in lag.evidence.values}["replay lag size"] > 65536

    [behind] = standby.of_kind("standby_replay_lag")
    assert behind.entity.name == "orders-replica"
    assert behind.title.startswith("This standby replays ")
    assert {m.name: m.value for m in behind.evidence.values}["replay backlog"] > 65536


def test_caught_up_standby_and_primary_yield_nothing(
    postgres_server: PostgresServer, postgres_standby: PostgresServer, postgres_config: dict[str, Any]
) -> None:
    postgres_server.wait_until("SELECT replay_lsn = pg_current_wal_lsn() FROM pg_stat_replication")

    primary = run_probe(ReplicationProbe, config=postgres_config)
    standby = run_probe(ReplicationProbe, config=standby_config(postgres_standby))

    assert primary.outcome.status is Status.OK and primary.findings == ()
    assert standby.outcome.status is Status.OK and standby.findings == ()


def test_standby_checked_without_pg_monitor_is_limited_visibility_not_a_false_critical(
    postgres_server: PostgresServer, postgres_standby: PostgresServer
) -> None:
    postgres_server.wait_until("SELECT state = 'streaming' FROM pg_stat_replication")
    config = {"postgres": [{"name": "orders-replica", "dsn": postgres_standby.nopriv_dsn}]}

    result = run_probe(ReplicationProbe, config=config)

    assert result.outcome.status is Status.OK
    assert result.of_kind("wal_receiver_down") == []
    [finding] = result.findings
    assert finding.kind == "limited_visibility" and finding.severity is Severity.INFO
    assert finding.title == "Replication status is hidden from role nopriv"
    assert "pg_stat_wal_receiver" in finding.summary
    assert finding.next_steps == ('GRANT pg_monitor TO "nopriv";',)


def test_primary_checked_without_pg_monitor_says_standby_lag_is_hidden(
    postgres_server: PostgresServer, postgres_standby: PostgresServer
) -> None:
    config = {"postgres": [{"name": "orders", "dsn": postgres_server.nopriv_dsn}]}

    result = run_probe(ReplicationProbe, config=config)

    [finding] = result.findings
    assert finding.kind == "limited_visibility" and "pg_stat_replication" in finding.summary
