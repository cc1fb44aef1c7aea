"""Lock judging with plain values: severities, titles, next steps, deadlocks."""

from __future__ import annotations

from datetime import timedelta

from diagnostics import Severity
from probes.postgres.judge_locks import LockThresholds, judge_locks
from probes.postgres.snapshot import CounterSample, LocksSnapshot, PreparedTransaction
from tests.probes.postgres.factories import ENTITY, NOW, make_finding, server, session

LIMITS = LockThresholds(wait_warning_s=10, wait_critical_s=60, wide_tree=10, max_trees=5)
WINDOW_START = NOW - timedelta(hours=1)


def snapshot(*sessions: object, deadlocks: CounterSample | None = None, **changes: object) -> LocksSnapshot:
    values: dict[str, object] = {
        "server": server(),
        "sessions": tuple(sessions),
        "prepared": (),
        "deadlocks": deadlocks or CounterSample(total=0, since=None),
        "hidden_sessions": 0,
    }
    values.update(changes)
    return LocksSnapshot(**values)  # type: ignore[arg-type]


def judge(snap: LocksSnapshot, limits: LockThresholds = LIMITS) -> list:  # type: ignore[type-arg]
    return judge_locks(snap, limits, make_finding, ENTITY, window_start=WINDOW_START)


def test_waits_under_the_warning_are_silent() -> None:
    assert judge(snapshot(session(1), session(2, blocked_by=(1,), wait_s=9.9))) == []


def test_idle_root_blocker_warning_names_pid_state_and_terminate() -> None:
    root = session(8123, state="idle in transaction", state_age_s=45, xact_age_s=50, application="billing")
    [finding] = judge(
        snapshot(root, session(9, blocked_by=(8123,), wait_s=41), session(10, blocked_by=(8123,), wait_s=12))
    )

    assert finding.severity is Severity.WARNING
    assert (
        finding.title
        == "2 sessions waiting up to 41s behind pid 8123 (idle in transaction 45s, application billing)"
    )
    assert finding.onset == NOW - timedelta(seconds=41)
    assert "it last ran: UPDATE orders" in finding.summary
    assert finding.next_steps[-1].startswith("SELECT pg_terminate_backend(8123);")
    assert not any("pg_cancel_backend" in step for step in finding.next_steps)


def test_long_wait_or_wide_tree_is_critical() -> None:
    long_wait = judge(snapshot(session(1), session(2, blocked_by=(1,), wait_s=61)))
    wide = judge(snapshot(session(1), *(session(p, blocked_by=(1,), wait_s=1) for p in range(2, 12))))

    assert long_wait[0].severity is Severity.CRITICAL
    assert wide[0].severity is Severity.CRITICAL and wide[0].title.startswith(
        "10 sessions waiting up to 1.0s"
    )
    assert "SELECT pg_cancel_backend(1);" in wide[0].next_steps[1]


def test_hidden_root_query_names_the_grant() -> None:
    hidden = session(1, state=None, query="<insufficient privilege>", client=None)
    [finding] = judge(snapshot(hidden, session(2, blocked_by=(1,), wait_s=30)))

    assert "Its query is hidden (<insufficient privilege>)" in finding.summary
    assert "GRANT pg_monitor TO diag;" in finding.summary


def test_prepared_transaction_root_suggests_rollback_prepared() -> None:
    prepared = (PreparedTransaction(gid="tx-42", owner="app", database="orders", age_s=300),)
    [finding] = judge(snapshot(session(5, blocked_by=(0,), wait_s=20), prepared=prepared))

    assert finding.title == "1 session waiting up to 20s behind a prepared transaction"
    assert "ROLLBACK PREPARED 'tx-42';" in finding.next_steps[1]


def test_cycle_is_titled_as_such() -> None:
    [finding] = judge(
        snapshot(session(7, blocked_by=(8,), wait_s=15), session(8, blocked_by=(7,), wait_s=15))
    )

    assert finding.title.startswith("Lock cycle: 1 session waiting")
    assert finding.evidence.details["cycle"] is True


def test_max_trees_bounds_the_findings() -> None:
    sessions = [
        s
        for root in range(1, 40, 2)
        for s in (session(root), session(root + 1, blocked_by=(root,), wait_s=20))
    ]
    findings = judge(snapshot(*sessions))

    assert len(findings) == 5
    assert all(f.evidence.details["trees_total"] == 20 for f in findings)


def test_deadlocks_are_reported_only_where_measurable() -> None:
    grew = CounterSample(total=7, since=None, growth=2, interval_s=1.0)
    reset_recently = CounterSample(total=3, since=NOW - timedelta(minutes=5))
    long_ago = CounterSample(total=3000, since=NOW - timedelta(days=30))

    assert judge(snapshot(deadlocks=grew))[0].title == "2 deadlocks in database orders in the last 1.0s"
    assert judge(snapshot(deadlocks=reset_recently))[0].title.startswith(
        "3 deadlocks in database orders since statistics were reset"
    )
    assert judge(snapshot(deadlocks=long_ago)) == []
    assert judge(snapshot(deadlocks=CounterSample(total=7, since=None, growth=0, interval_s=1.0))) == []
