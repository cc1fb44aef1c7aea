"""db.locks against a real server: staged row-lock trees, chains, and a quiet database."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from diagnostics import Severity, Status
from diagnostics.testing import run_probe
from probes.postgres.locks import LocksProbe
from tests.support.postgres import PostgresServer, SessionPool

pytestmark = pytest.mark.integration

FAST = {"wait_warning": "0.3s", "wait_critical": "30s"}


def hold_rows(pool: SessionPool, ids: str, application: str = "billing") -> int:
    """A session that updated rows ``ids`` and keeps its transaction open (idle in transaction)."""
    root = pool.open(application)
    root.execute("BEGIN")
    root.execute(f"UPDATE orders SET status = 'held' WHERE id IN ({ids})")
    return pool.pid(root)


def waiter(pool: SessionPool, sql: str, application: str = "web") -> int:
    conn = pool.open(application)
    pid = pool.pid(conn)
    pool.in_background(conn, sql)
    return pid


def test_root_blocker_with_two_waiters(
    pg_sessions: SessionPool, postgres_config: dict[str, Any], postgres_server: PostgresServer
) -> None:
    root = hold_rows(pg_sessions, "1, 2")
    first = waiter(pg_sessions, "UPDATE orders SET status = 'a' WHERE id = 1")
    second = waiter(pg_sessions, "UPDATE orders SET status = 'b' WHERE id = 2")
    pg_sessions.wait_for_lock_waiters([first, second])
    time.sleep(0.4)

    before = datetime.now(UTC)
    result = run_probe(LocksProbe, config=postgres_config, options=FAST)

    assert result.outcome.status is Status.WARNING
    [finding] = result.of_kind("lock_blocking")
    assert finding.severity is Severity.WARNING
    assert finding.entity.kind == "database" and finding.entity.name == "orders"
    assert finding.entity.attributes == {"host": f"127.0.0.1:{postgres_server.port}", "database": "shop"}
    assert finding.title.startswith("2 sessions waiting up to ")
    assert f"behind pid {root} (idle in transaction" in finding.title
    assert "application staged-billing" in finding.title
    details = finding.evidence.details
    assert details["root"]["pid"] == root
    assert details["root"]["user"] == "app"
    assert details["root"]["client"] == "127.0.0.1"
    assert details["root"]["state"] == "idle in transaction"
    assert details["root"]["transaction_age_s"] >= 0.4
    assert "UPDATE orders SET status = 'held'" in details["root"]["query"]
    waiters = {w["pid"]: w for w in details["waiters"]}
    assert set(waiters) == {first, second}
    for pid in (first, second):
        assert waiters[pid]["depth"] == 1
        assert waiters[pid]["blocked_by"] == [root]
        assert 0.4 <= waiters[pid]["waiting_s"] < 10
        assert waiters[pid]["lock"]["locktype"] == "transactionid"
    values = {m.name: m.value for m in finding.evidence.values}
    assert values["waiting sessions"] == 2
    assert 0.4 <= values["longest wait"] < 10
    assert finding.onset is not None and before - timedelta(seconds=10) < finding.onset < before
    assert any(f"pg_terminate_backend({root})" in step for step in finding.next_steps)
    assert "it last ran: UPDATE orders SET status = 'held'" in finding.summary


def test_chain_blocker_waiter_waiter(pg_sessions: SessionPool, postgres_config: dict[str, Any]) -> None:
    root = hold_rows(pg_sessions, "3")
    middle = waiter(pg_sessions, "UPDATE orders SET status = 'm' WHERE id = 3")
    pg_sessions.wait_for_lock_waiters([middle])
    last = waiter(pg_sessions, "UPDATE orders SET status = 'l' WHERE id = 3")
    pg_sessions.wait_for_lock_waiters([middle, last])
    time.sleep(0.4)

    result = run_probe(LocksProbe, config=postgres_config, options=FAST)

    [finding] = result.of_kind("lock_blocking")
    assert f"behind pid {root}" in finding.title
    waiters = {w["pid"]: w for w in finding.evidence.details["waiters"]}
    assert waiters[middle]["depth"] == 1 and waiters[middle]["blocked_by"] == [root]
    assert waiters[last]["depth"] == 2 and waiters[last]["blocked_by"] == [middle]
    assert {m.name: m.value for m in finding.evidence.values}["tree depth"] == 2


def test_wide_tree_is_critical_and_running_root_can_be_cancelled(
    pg_sessions: SessionPool, postgres_config: dict[str, Any]
) -> None:
    root = pg_sessions.open("batch")
    root.execute("BEGIN")
    root.execute("UPDATE orders SET status = 'batch' WHERE id = 4")
    pg_sessions.in_background(root, "SELECT pg_sleep(30)")
    pids = [waiter(pg_sessions, "UPDATE orders SET status = 'w' WHERE id = 4") for _ in range(3)]
    pg_sessions.wait_for_lock_waiters(pids)

    result = run_probe(
        LocksProbe, config=postgres_config, options={**FAST, "wait_warning": "10s", "wide_tree": 3}
    )

    [finding] = result.of_kind("lock_blocking")
    assert finding.severity is Severity.CRITICAL
    assert finding.title.startswith("3 sessions waiting")
    assert finding.evidence.details["root"]["state"] == "active"
    assert "pg_sleep(30)" in finding.evidence.details["root"]["query"]
    assert any(f"pg_cancel_backend({pg_sessions.pid(root)})" in step for step in finding.next_steps)


def test_short_waits_and_quiet_database_yield_nothing(
    pg_sessions: SessionPool, postgres_config: dict[str, Any]
) -> None:
    hold_rows(pg_sessions, "5")
    pid = waiter(pg_sessions, "UPDATE orders SET status = 'x' WHERE id = 5")
    pg_sessions.wait_for_lock_waiters([pid])

    result = run_probe(LocksProbe, config=postgres_config)  # default thresholds: 10 s

    assert result.outcome.status is Status.OK
    assert result.findings == ()


def test_without_pg_monitor_the_probe_says_what_it_cannot_see(
    pg_sessions: SessionPool, postgres_server: PostgresServer
) -> None:
    hold_rows(pg_sessions, "6")
    pid = waiter(pg_sessions, "UPDATE orders SET status = 'x' WHERE id = 6")
    pg_sessions.wait_for_lock_waiters([pid])

    config = {"postgres": [{"name": "orders", "dsn": postgres_server.nopriv_dsn}]}
    result = run_probe(LocksProbe, config=config, options=FAST)

    [finding] = result.findings
    assert finding.kind == "limited_visibility" and finding.severity is Severity.INFO
    assert "hidden from role nopriv" in finding.title
    assert "<insufficient privilege>" in finding.summary
    assert finding.next_steps == ('GRANT pg_monitor TO "nopriv";',)


def prepare(pool: SessionPool, row: int, gid: str) -> None:
    holder = pool.open("payments")
    holder.execute("BEGIN")
    holder.execute(f"UPDATE orders SET status = 'prepared' WHERE id = {row}")
    holder.execute(f"PREPARE TRANSACTION '{gid}'")


def test_prepared_transaction_as_root_blocker_names_the_one_waited_for(
    pg_sessions: SessionPool, postgres_config: dict[str, Any], postgres_server: PostgresServer
) -> None:
    prepare(pg_sessions, 9, "pay-9-older")  # older, but nobody waits for it
    prepare(pg_sessions, 8, "pay-8")
    try:
        pid = waiter(pg_sessions, "UPDATE orders SET status = 'x' WHERE id = 8")
        pg_sessions.wait_for_lock_waiters([pid])
        time.sleep(0.4)

        result = run_probe(LocksProbe, config=postgres_config, options=FAST)
    finally:
        postgres_server.execute("ROLLBACK PREPARED 'pay-8'")
        postgres_server.execute("ROLLBACK PREPARED 'pay-9-older'")

    [finding] = result.of_kind("lock_blocking")
    assert finding.title.startswith("1 session waiting up to ")
    assert finding.title.endswith("behind a prepared transaction")
    [prepared] = finding.evidence.details["root"]["prepared_transactions"]
    assert prepared["gid"] == "pay-8" and prepared["owner"] == "app"
    [waiting] = finding.evidence.details["waiters"]
    assert waiting["blocked_by"] == [0]
    assert waiting["lock"]["locktype"] == "transactionid"
    assert waiting["lock"]["transaction_id"] == prepared["xid"]
    assert finding.next_steps[1:] == (
        "ROLLBACK PREPARED 'pay-8';  -- or COMMIT PREPARED, once its owner agrees",
    )


def test_diag_sessions_are_never_judged_as_waiters(
    pg_sessions: SessionPool, postgres_config: dict[str, Any], postgres_server: PostgresServer
) -> None:
    # another diag (a parallel run, another host) queued behind an application's lock
    root = hold_rows(pg_sessions, "13")
    other_diag = pg_sessions.open("unused")
    other_diag.execute("SET application_name = 'diag'")
    other_pid = pg_sessions.pid(other_diag)
    pg_sessions.in_background(other_diag, "UPDATE orders SET status = 'diag' WHERE id = 13")
    app_waiter = waiter(pg_sessions, "UPDATE orders SET status = 'w' WHERE id = 13")
    pg_sessions.wait_for_lock_waiters([other_pid, app_waiter])
    time.sleep(0.4)

    result = run_probe(LocksProbe, config=postgres_config, options=FAST)

    [finding] = result.of_kind("lock_blocking")
    assert f"behind pid {root}" in finding.title
    [listed] = finding.evidence.details["waiters"]
    assert listed["pid"] == app_waiter and listed["depth"] == 2  # behind root, through the diag session


def test_deadlock_during_the_sample_is_counted(
    pg_sessions: SessionPool, postgres_config: dict[str, Any]
) -> None:
    first, second = pg_sessions.open("transfers"), pg_sessions.open("transfers")
    for conn, row in ((first, 11), (second, 12)):
        conn.execute("BEGIN")
        conn.execute(f"UPDATE orders SET status = 'moving' WHERE id = {row}")

    def transfer(conn: Any, row: int) -> None:
        # the victim's session ends, which flushes its statistics at once (an idle session
        # flushes within PGSTAT_IDLE_INTERVAL, 10 s, on PostgreSQL 15+)
        try:
            conn.execute(f"UPDATE orders SET status = 'moved' WHERE id = {row}")
        except psycopg.errors.DeadlockDetected:
            conn.close()

    results = []
    probe = threading.Thread(
        target=lambda: results.append(
            run_probe(LocksProbe, config=postgres_config, options={"sample_interval": "2s"})
        )
    )
    probe.start()
    pg_sessions.server.wait_for_probe_pause()  # the first sample is taken
    movers = [threading.Thread(target=transfer, args=args) for args in ((first, 12), (second, 11))]
    for mover in movers:
        mover.start()
    probe.join(timeout=10)
    pg_sessions.server.terminate("staged-transfers")
    for mover in movers:
        mover.join(timeout=5)

    [result] = results
    [finding] = result.of_kind("deadlocks")
    assert finding.severity is Severity.WARNING
    assert finding.title == "1 deadlock in database shop in the last 2.0s"
    assert {m.name: m.value for m in finding.evidence.values}["deadlocks"] == 1
