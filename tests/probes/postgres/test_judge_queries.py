"""Query judging with plain values: long-running, slowdowns, samples, cache, wraparound."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from diagnostics import Severity
from diagnostics.model import fingerprint_of
from probes.postgres.judge_queries import (
    QueryThresholds,
    judge_queries,
    statement_changes,
    statements_to_describe,
)
from probes.postgres.judge_scans import ScanThresholds
from probes.postgres.snapshot import DatabaseStats, QueriesSnapshot, Statement, StatementStats
from tests.probes.postgres.factories import ENTITY, NOW, make_finding, server, session

LIMITS = QueryThresholds(
    long_running_warning_s=30,
    long_running_critical_s=300,
    slowdown_factor=10,
    slowdown_min_s=1,
    slowdown_min_calls=20,
    slowdown_min_mean_s=0.01,
    call_surge_factor=5,
    call_surge_min_rate=10,
    cache_hit_warning=0.9,
    cache_hit_min_blocks=1000,
    wraparound_warning=0.5,
    wraparound_critical=0.75,
    scans=ScanThresholds(factor=10, min_rows_per_s=10_000, min_rows_per_scan=1000),
)


def database(**changes: Any) -> DatabaseStats:
    values: dict[str, Any] = {
        "blocks_hit": 990_000,
        "blocks_read": 10_000,
        "blocks_hit_growth": None,
        "blocks_read_growth": None,
        "oldest_database": "orders",
        "xid_age": 50_000_000,
        "mxid_age": 1_000,
        "freeze_max_age": 200_000_000,
        "oldest_xmin_session": None,
        "oldest_xmin_age": None,
    }
    values.update(changes)
    return DatabaseStats(**values)


def statement(query_id: int, calls: int, mean_ms: float, role: str = "app") -> Statement:
    return Statement(
        query_id=query_id, role=role, calls=calls, total_ms=calls * mean_ms, mean_ms=mean_ms, rows=calls
    )


def snapshot(active: tuple = (), stats: StatementStats | None = None, **changes: Any) -> QueriesSnapshot:  # type: ignore[type-arg]
    values: dict[str, Any] = {
        "server": server(),
        "active": active,
        "statements": stats or StatementStats(available=True),
        "database": database(),
        "hidden_sessions": 0,
    }
    values.update(changes)
    return QueriesSnapshot(**values)


def judge(snap: QueriesSnapshot, texts: dict[int, str] | None = None) -> list:  # type: ignore[type-arg]
    return judge_queries(snap, LIMITS, make_finding, ENTITY, texts=texts)


def test_healthy_is_silent() -> None:
    assert judge(snapshot(active=(session(1, query_age_s=2),))) == []


def test_long_running_warning_and_critical() -> None:
    started = NOW - timedelta(seconds=400)
    [warning] = judge(snapshot(active=(session(1, query_age_s=31), session(2, query_age_s=5))))
    [critical] = judge(
        snapshot(
            active=(
                session(3, query_age_s=400, query_start=started, wait_event_type="Lock", wait_event="tuple"),
            )
        )
    )

    assert warning.severity is Severity.WARNING
    assert warning.title == "1 query running longer than 30s, the longest 31s (pid 1)"
    assert critical.severity is Severity.CRITICAL and critical.onset == started
    assert critical.summary.endswith(". 1 of them wait on locks (see db.locks).")
    assert critical.evidence.details["queries"][0]["waiting_on"] == "Lock/tuple"


def test_running_far_beyond_the_cumulative_mean_is_a_slowdown() -> None:
    stats = StatementStats(available=True, active=(statement(77, calls=500, mean_ms=20),))
    active = (
        session(1, query_age_s=4, query_id=77),
        session(2, query_age_s=3, query_id=77),
        session(3, query_age_s=9, query_id=78),
    )
    [finding] = judge(snapshot(active=active, stats=stats))

    assert finding.kind == "statement_slowdown"
    assert finding.title == "Statement 77 running 4.0s now, 200x its mean of 20ms (2 running)"
    assert finding.evidence.details["pids"] == [1, 2]


def test_few_calls_or_modest_slowdown_is_not_judged() -> None:
    few = StatementStats(available=True, active=(statement(77, calls=5, mean_ms=1),))
    modest = StatementStats(available=True, active=(statement(77, calls=500, mean_ms=500),))
    active = (session(1, query_age_s=4, query_id=77),)

    assert judge(snapshot(active=active, stats=few)) == []
    assert judge(snapshot(active=active, stats=modest)) == []


def sampled(before: tuple[Statement, ...], after: tuple[Statement, ...], **changes: Any) -> StatementStats:
    values: dict[str, Any] = {
        "available": True,
        "before": before,
        "after": after,
        "sample_s": 2.0,
        "since": NOW - timedelta(hours=1),
    }
    values.update(changes)
    return StatementStats(**values)


def test_sampled_slowdown_and_call_surge() -> None:
    before = (
        statement(1, calls=1000, mean_ms=2),
        statement(2, calls=3600, mean_ms=1),
        statement(3, calls=100, mean_ms=5),
    )
    after = (
        Statement(
            query_id=1, role="app", calls=1010, total_ms=2000 + 10 * 80, mean_ms=2.8, rows=0
        ),  # 80 ms per call now
        Statement(query_id=2, role="app", calls=3700, total_ms=3700, mean_ms=1, rows=0),  # 50/s, usually 1/s
        Statement(query_id=3, role="app", calls=101, total_ms=505, mean_ms=5, rows=0),
    )
    findings = judge(snapshot(stats=sampled(before, after)), texts={1: "SELECT * FROM orders WHERE id = $1"})

    by_kind = {f.kind: f for f in findings}
    slow = by_kind["statement_slowdown"]
    assert slow.title == "Statement 1 took 80ms per call over the last 2.0s, 40x its mean of 2ms"
    assert slow.summary == "SELECT * FROM orders WHERE id = $1"
    assert (
        by_kind["statement_call_surge"].title == "Statement 2 called 50/s over the last 2.0s, usually 1.0/s"
    )
    assert len(findings) == 2


def test_samples_across_a_reset_are_not_compared() -> None:
    before = (statement(1, calls=1000, mean_ms=2),)
    after = (Statement(query_id=1, role="app", calls=1010, total_ms=2800, mean_ms=2.8, rows=0),)
    snap = snapshot(
        stats=sampled(before, after, deltas_invalid="pg_stat_statements was reset between the two samples")
    )

    assert statement_changes(snap, LIMITS) == []


def test_cache_hit_ratio_is_judged_over_the_sample_only() -> None:
    # a cold big database: 80 % since the reset, but nothing says it is collapsing now
    cumulative = judge(snapshot(database=database(blocks_hit=800_000, blocks_read=200_000)))
    too_few = judge(
        snapshot(
            stats=StatementStats(available=True, sample_s=1.0),
            database=database(blocks_hit_growth=50, blocks_read_growth=900),
        )
    )
    sampled_drop = judge(
        snapshot(
            stats=StatementStats(available=True, sample_s=1.0),
            database=database(blocks_hit_growth=500, blocks_read_growth=1500),
        )
    )

    assert cumulative == []
    assert too_few == []
    [finding] = sampled_drop
    assert finding.title == "Buffer cache hit ratio 25.0 % in database orders over the last 1.0s"
    values = {m.name: m.value for m in finding.evidence.values}
    assert values == {"cache hit ratio": 0.25, "blocks read": 1500, "blocks hit": 500}


def test_wraparound_risk() -> None:
    holder = session(66, state="idle in transaction")
    [warning] = judge(
        snapshot(database=database(xid_age=1_200_000_000, oldest_xmin_session=holder, oldest_xmin_age=900))
    )
    [critical] = judge(snapshot(database=database(mxid_age=1_700_000_000)))

    assert warning.severity is Severity.WARNING
    assert warning.title == "Transaction IDs 56 % of the way to wraparound (database orders)"
    assert warning.evidence.details["oldest_snapshot_session"]["pid"] == 66
    assert critical.severity is Severity.CRITICAL and critical.title.startswith("Multixact IDs 79 %")


def test_missing_extension_is_an_info_finding() -> None:
    stats = StatementStats(available=False, reason="pg_stat_statements is not installed in this database")
    [finding] = judge(snapshot(stats=stats))

    assert finding.severity is Severity.INFO and finding.title == stats.reason


def test_statement_text_is_read_only_for_what_is_reported() -> None:
    top = (statement(5, calls=10, mean_ms=1), statement(6, calls=10, mean_ms=1))
    quiet = snapshot(active=(session(1, query_age_s=2),), stats=StatementStats(available=True, top=top))
    slow = snapshot(active=(session(1, query_age_s=40),), stats=StatementStats(available=True, top=top))
    regressed = snapshot(
        active=(session(1, query_age_s=4, query_id=77),),
        stats=StatementStats(available=True, top=top, active=(statement(77, calls=500, mean_ms=20),)),
    )

    assert statements_to_describe(quiet, LIMITS) == set()
    assert statements_to_describe(slow, LIMITS) == {5, 6}
    assert statements_to_describe(regressed, LIMITS) == {77}
    [finding] = judge(slow, texts={5: "SELECT 5", 6: "SELECT 6"})
    assert [s["query"] for s in finding.evidence.details["top_statements_by_total_time"]] == [
        "SELECT 5",
        "SELECT 6",
    ]


def test_two_statements_slower_over_the_sample_have_distinct_stable_fingerprints() -> None:
    before = (statement(1, calls=1000, mean_ms=2), statement(4, calls=1000, mean_ms=2))
    after = tuple(
        Statement(query_id=q, role="app", calls=1010, total_ms=2000 + 10 * 80, mean_ms=2.8, rows=0)
        for q in (1, 4)
    )
    first, second = (judge(snapshot(stats=sampled(before, after))) for _ in range(2))

    assert [f.kind for f in first] == ["statement_slowdown", "statement_slowdown"]
    assert [f.key for f in first] == ["queryid 1 role app", "queryid 4 role app"]
    assert len({f.fingerprint for f in first}) == 2
    assert [f.fingerprint for f in first] == [f.fingerprint for f in second]


def test_statements_waiting_on_a_lock_are_linked_to_the_root_blocker_not_called_slowdowns() -> None:
    stats = StatementStats(available=True, active=(statement(77, calls=500, mean_ms=20),))
    locked = {"wait_event_type": "Lock", "wait_event": "transactionid", "query_id": 77}
    active = (
        session(1, query_age_s=71, **locked),
        session(2, query_age_s=65, **locked),
        session(3, query_age_s=4, query_id=77),  # slow on its own: a real slowdown
    )
    findings = judge(snapshot(active=active, stats=stats, lock_roots={1: 8123, 2: 8123}))
    by_kind = {f.kind: f for f in findings}
    tree = fingerprint_of("db.locks", "lock_blocking", ENTITY.kind, ENTITY.name, "pid 8123")

    assert sorted(by_kind) == ["long_running_queries", "statement_lock_wait", "statement_slowdown"]
    waiting = by_kind["statement_lock_wait"]
    assert waiting.title == "2 statements waiting on a lock for up to 1m11s behind pid 8123"
    assert waiting.evidence.details["symptom_of"] == tree
    assert waiting.evidence.details["pids"] == [1, 2]
    assert not any("EXPLAIN" in step for step in waiting.next_steps)
    assert (
        by_kind["statement_slowdown"].title
        == "Statement 77 running 4.0s now, 200x its mean of 20ms (1 running)"
    )
    assert by_kind["long_running_queries"].evidence.details["symptom_of"] == tree
    assert len({f.fingerprint for f in findings}) == 3


def test_the_lock_tree_fingerprint_is_the_one_db_locks_gives_its_finding() -> None:
    from probes.postgres.judge_locks import LOCKS_PROBE_ID, lock_tree_fingerprint
    from probes.postgres.locks import LocksProbe

    assert LocksProbe.id == LOCKS_PROBE_ID
    assert lock_tree_fingerprint(ENTITY, 8123) == fingerprint_of(
        "db.locks", "lock_blocking", ENTITY.kind, ENTITY.name, "pid 8123"
    )
