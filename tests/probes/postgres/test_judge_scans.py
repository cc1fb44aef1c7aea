"""Sequential scans far above a table's usual rate, and the index its slow statements miss."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from diagnostics import Severity
from probes.postgres.judge_queries import judge_queries
from probes.postgres.judge_scans import (
    filtered_columns,
    missing_index,
    scan_surges,
    unindexed_columns,
)
from probes.postgres.snapshot import Statement, StatementStats, TableIndex, TableSample, TableScans
from tests.probes.postgres.factories import ENTITY, NOW, make_finding
from tests.probes.postgres.test_judge_queries import LIMITS, snapshot, statement

LOOKUP = "SELECT abalance FROM pgbench_accounts WHERE aid = $1"
ACCOUNTS, BRANCHES = 16400, 16390


def table(relid: int, name: str, seq_scan: int, seq_tup_read: int, live: int) -> TableScans:
    return TableScans(
        relid=relid,
        table_name=name,
        relname=name,
        seq_scan=seq_scan,
        seq_tup_read=seq_tup_read,
        idx_scan=None,
        n_live_tup=live,
    )


def samples(*pairs: tuple[TableScans, TableScans], seconds: float = 2.0) -> tuple[TableSample, TableSample]:
    since = NOW - timedelta(hours=1)
    before = TableSample(at=NOW, since=since, tables=tuple(b for b, _ in pairs))
    after = TableSample(at=NOW + timedelta(seconds=seconds), since=since, tables=tuple(a for _, a in pairs))
    return before, after


# pgbench_accounts (500 000 rows): scanned twice in an hour before, 40 times in the 2 s sample.
# pgbench_branches (5 rows): always scanned, far too small to judge.
DROPPED = samples(
    (table(ACCOUNTS, "pgbench_accounts", 2, 1_000_000, 500_000), table(ACCOUNTS, "pgbench_accounts", 42, 21_000_000, 500_000)),
    (table(BRANCHES, "pgbench_branches", 90_000, 450_000, 5), table(BRANCHES, "pgbench_branches", 90_400, 452_000, 5)),
)  # fmt: skip
THRESHOLDS = LIMITS.scans


def test_a_table_suddenly_read_by_sequential_scans_is_a_surge() -> None:
    [surge] = scan_surges(*DROPPED, THRESHOLDS)
    assert surge.table.table_name == "pgbench_accounts"
    assert (surge.scans, surge.rows, surge.rows_per_scan) == (40, 20_000_000, 500_000)
    assert surge.rows_per_s == 10_000_000
    assert round(surge.usual_rows_per_s) == round(1_000_000 / 3600)


def test_a_table_always_scanned_at_this_rate_is_its_normal() -> None:
    # 100 scans/s of a 5 000-row table for the whole hour, and over the sample too
    steady = samples(
        (
            table(1, "settings", 360_000, 1_800_000_000, 5000),
            table(1, "settings", 360_200, 1_801_000_000, 5000),
        )
    )
    assert scan_surges(*steady, THRESHOLDS) == []


def test_samples_across_a_statistics_reset_are_not_compared() -> None:
    before, after = DROPPED
    reset = TableSample(at=after.at, since=after.at - timedelta(seconds=1), tables=after.tables)
    assert scan_surges(before, reset, THRESHOLDS) == []


def test_the_columns_a_statement_filters_on() -> None:
    assert filtered_columns(LOOKUP) == ["aid"]
    assert filtered_columns("UPDATE t SET x = $1 WHERE t.tenant = $2 AND created_at >= $3 ORDER BY id") == [
        "tenant",
        "created_at",
    ]
    assert filtered_columns("SELECT count(*) FROM t") == []


def test_a_column_leading_no_valid_index_is_unindexed() -> None:
    indexes = [
        TableIndex(relid=1, index_name="t_pkey", columns=("id",), valid=True),
        TableIndex(relid=1, index_name="t_tenant_idx", columns=("tenant", "id"), valid=False),
        TableIndex(relid=1, index_name="t_created_idx", columns=("day", "created_at"), valid=True),
    ]
    assert unindexed_columns(["id", "tenant", "created_at"], indexes) == ["tenant", "created_at"]


def test_the_missing_index_is_named_from_the_statement_reading_the_table() -> None:
    [surge] = scan_surges(*DROPPED, THRESHOLDS)
    found = missing_index(surge.table, {7: LOOKUP, 8: "SELECT 1"}, [8, 7], ())
    assert found is not None
    assert (found.table, found.columns, found.indexes, found.statement_ids) == (
        "pgbench_accounts",
        ("aid",),
        (),
        (7,),
    )
    assert found.create_statement() == "CREATE INDEX CONCURRENTLY ON pgbench_accounts (aid);"
    with_pkey = (
        TableIndex(relid=ACCOUNTS, index_name="pgbench_accounts_pkey", columns=("aid",), valid=True),
    )
    assert missing_index(surge.table, {7: LOOKUP}, [7], with_pkey) is None


def test_a_dropped_index_names_the_table_and_the_index_in_both_findings() -> None:
    before, after = DROPPED
    stats = StatementStats(
        available=True,
        before=(statement(7, calls=100_000, mean_ms=0.05),),
        after=(_grown(statement(7, calls=100_000, mean_ms=0.05), 30, 130.0),),
        sample_s=2.0,
    )
    findings = judge_queries(
        snapshot(stats=stats, tables_before=before, tables_after=after),
        LIMITS,
        make_finding,
        ENTITY,
        texts={7: LOOKUP},
    )
    slow, scans = findings
    assert (slow.kind, scans.kind) == ("statement_slowdown", "sequential_scans")
    assert scans.severity is Severity.WARNING and scans.key == "pgbench_accounts"
    assert scans.title == (
        "Table pgbench_accounts: 40 sequential scans in 2.0s read 20,000,000 rows "
        "(10,000,000/s, 36000x its usual rate); no index on (aid)"
    )
    assert scans.evidence.details["missing_index_columns"] == ["aid"]
    assert scans.next_steps[0].startswith("CREATE INDEX CONCURRENTLY ON pgbench_accounts (aid);")
    assert slow.title.endswith(
        "2600x its mean of 0ms: sequential scans of pgbench_accounts, no index on (aid)"
    )
    assert "no index of pgbench_accounts leads with aid (its indexes now: none)" in slow.summary
    assert slow.evidence.details["sequential_scans"] == {
        "table": "pgbench_accounts",
        "scans": 40,
        "rows": 20_000_000,
    }
    assert slow.next_steps[0].startswith("CREATE INDEX CONCURRENTLY ON pgbench_accounts (aid);")


def _grown(before: Statement, calls: int, mean_ms: float) -> Statement:
    """``before`` after ``calls`` more calls of ``mean_ms`` each."""
    return replace(before, calls=before.calls + calls, total_ms=before.total_ms + calls * mean_ms)
