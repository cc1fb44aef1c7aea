"""Lock judging with plain values: severities, titles, next steps, deadlocks."""

from __future__ import annotations

from datetime import timedelta

from diagnostics import Severity
from probes.postgres.judge_locks import LockThresholds, judge_locks
from probes.postgres.snapshot import CounterSample, LocksSnapshot, LockTarget, PreparedTransaction
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
    assert 'GRANT pg_monitor TO "diag";' in finding.summary


def awaiting(xid: int | None, locktype: str = "transactionid") -> LockTarget:
    return LockTarget(locktype=locktype, mode="ShareLock", relation=None, transaction_id=xid)


def test_prepared_transaction_root_names_the_one_the_waiter_queues_behind() -> None:
    prepared = (
        PreparedTransaction(gid="tx-oldest", xid=700, owner="app", database="orders", age_s=900),
        PreparedTransaction(gid="tx-42", xid=742, owner="app", database="orders", age_s=300),
    )
    waiter = session(5, blocked_by=(0,), wait_s=20, lock=awaiting(742))
    [finding] = judge(snapshot(waiter, prepared=prepared))

    assert finding.title == "1 session waiting up to 20s behind a prepared transaction"
    assert finding.next_steps[1:] == (
        "ROLLBACK PREPARED 'tx-42';  -- or COMMIT PREPARED, once its owner agrees",
    )
    assert "pg_prepared_xacts gid tx-42)" in finding.summary
    assert [p["gid"] for p in finding.evidence.details["root"]["prepared_transactions"]] == ["tx-42"]
    assert finding.evidence.details["waiters"][0]["lock"]["transaction_id"] == 742


def test_prepared_gid_is_quoted_as_a_literal() -> None:
    prepared = (
        PreparedTransaction(gid="it's'; DROP TABLE orders; --", xid=9, owner=None, database=None, age_s=1),
    )
    [finding] = judge(snapshot(session(5, blocked_by=(0,), wait_s=20, lock=awaiting(9)), prepared=prepared))

    assert finding.next_steps[1].startswith("ROLLBACK PREPARED 'it''s''; DROP TABLE orders; --';")


def test_no_gid_is_suggested_when_none_matches_the_awaited_lock() -> None:
    prepared = (PreparedTransaction(gid="tx-1", xid=700, owner="app", database="orders", age_s=900),)
    on_relation = session(5, blocked_by=(0,), wait_s=20, lock=awaiting(None, locktype="relation"))
    [finding] = judge(snapshot(on_relation, prepared=prepared))

    assert finding.next_steps == (
        "SELECT gid, prepared, owner, database FROM pg_prepared_xacts ORDER BY prepared;",
    )
    assert "one of the 1 prepared transactions" in finding.summary


def test_cycle_is_titled_as_such() -> None:
    [finding] = judge(
        snapshot(session(7, blocked_by=(8,), wait_s=15), session(8, blocked_by=(7,), wait_s=15))
    )

    assert finding.title.startswith("Lock cycle: 1 session waiting")
    assert finding.evidence.details["cycle"] is True


def test_max_trees_bounds_the_findings_and_says_how_many_more() -> None:
    sessions = [
        s
        for root in range(1, 40, 2)
        for s in (session(root), session(root + 1, blocked_by=(root,), wait_s=20))
    ]
    findings = judge(snapshot(*sessions))

    assert len(findings) == 5
    assert all(f.evidence.details["trees_total"] == 20 for f in findings)
    assert all(f.evidence.details["trees_not_reported"] == 15 for f in findings)
    assert findings[-1].summary.endswith(
        " 15 more blocking trees over the thresholds not reported (max_trees)."
    )
    assert "more blocking trees" not in findings[0].summary


def test_a_critical_narrow_tree_is_not_cut_for_wider_quiet_ones() -> None:
    wide_but_short = [
        s
        for root in range(100, 150, 10)
        for s in (session(root), *(session(root + i, blocked_by=(root,), wait_s=1) for i in (1, 2)))
    ]
    critical = [session(1), session(2, blocked_by=(1,), wait_s=300)]

    [finding] = judge(snapshot(*wide_but_short, *critical))

    assert finding.severity is Severity.CRITICAL
    assert finding.title.startswith("1 session waiting up to 5m behind pid 1")
    assert finding.evidence.details["trees_total"] == 6


def test_trees_are_ordered_by_severity_then_wait_then_width() -> None:
    sessions = [
        session(1), session(2, blocked_by=(1,), wait_s=15),                   # warning, 15 s
        session(3), session(4, blocked_by=(3,), wait_s=61),                   # critical by wait
        session(5), *(session(p, blocked_by=(5,), wait_s=2) for p in range(6, 16)),  # critical by width
        session(20), session(21, blocked_by=(20,), wait_s=30),                # warning, 30 s
        session(30), *(session(p, blocked_by=(30,), wait_s=15) for p in (31, 32)),   # warning, 15 s, 2
    ]  # fmt: skip
    limits = LockThresholds(wait_warning_s=10, wait_critical_s=60, wide_tree=10, max_trees=4)

    findings = judge(snapshot(*sessions), limits)

    assert [f.key for f in findings] == ["pid 3", "pid 5", "pid 20", "pid 30"]
    assert findings[-1].summary.endswith(
        " 1 more blocking tree over the thresholds not reported (max_trees)."
    )


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


def test_diag_sessions_are_not_listed_as_waiters_but_link_the_chain() -> None:
    [finding] = judge(
        snapshot(
            session(1),
            session(2, blocked_by=(1,), wait_s=30, application="diag"),
            session(3, blocked_by=(2,), wait_s=20),
        )
    )

    assert finding.title.startswith("1 session waiting up to 20s behind pid 1")
    assert [(w["pid"], w["depth"]) for w in finding.evidence.details["waiters"]] == [(3, 2)]
    assert judge(snapshot(session(1), session(2, blocked_by=(1,), wait_s=30, application="diag"))) == []
