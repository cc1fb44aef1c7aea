"""``db.queries``: queries running too long, statements slower or busier than usual, and the
database-wide signs behind slow queries (cache hit ratio, transaction-id wraparound).

Signals: pg_stat_activity (active client queries and, from 14, their query_id),
pg_stat_statements without text (pg_stat_statements(false); text only for the few reported;
total_exec_time from 1.8, total_time before; pg_stat_statements_info from 1.9 to detect resets
and evictions), pg_stat_database (blks_hit, blks_read), age(datfrozenxid), mxid_age(datminmxid).

Default thresholds:

- an active query running >= 30 s: warning; >= 5 min: critical;
- a statement running now >= 10x its cumulative mean (and >= 1 s, mean over >= 20 calls):
  warning. Executions that wait on a lock are not slowdowns: they are reported once per root
  blocker (``statement_lock_wait``) and linked to db.locks' finding on that tree.
  pg_stat_statements and pg_stat_user_tables are sampled twice ``sample_interval``
  apart (default 2 s, never more than half the time left; 0: one snapshot): a statement whose
  mean over the sample is >= 10x its mean before (and >= 10 ms), or whose call rate is >= 5x its
  usual rate since the pg_stat_statements reset (14+; and >= 10/s), is a warning;
- a table read by sequential scans over the sample (>= 10 000 rows/s, >= 1 000 rows per scan)
  at >= 10x its rate since the statistics began, or read by a statement that slowed: warning
  (``sequential_scans``). The column the slow statements reading it filter on (their ``WHERE``)
  that leads no valid index of the table (pg_index) is named as the likely missing index, in
  the table's finding and in the statement's;
- buffer cache hit ratio < 90 % over the sample (``sample_interval`` > 0 only, >= 1 000 blocks
  accessed in it): warning. The cumulative ratio since the statistics reset is not judged: it
  stays low long after a big database's cold start, whatever happens now;
- transaction or multixact ID age >= 50 % of the wraparound limit (2^31): warning; >= 75 %: critical.

Without pg_stat_statements an info finding says so; the probe still checks running queries.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from pydantic import Field

from diagnostics import Duration, Finding, ProbeContext, ProbeOptions
from probes.postgres.base import PostgresProbe
from probes.postgres.config import PostgresTarget, database_entity

if TYPE_CHECKING:
    from probes.postgres.judge_queries import QueryThresholds

MAX_ACTIVE = 200


class QueriesOptions(ProbeOptions):
    """Thresholds of ``db.queries``."""

    long_running_warning: Duration = timedelta(seconds=30)
    """An active query running this long makes a warning."""
    long_running_critical: Duration = timedelta(minutes=5)
    """An active query running this long makes a critical finding."""
    slowdown_factor: float = Field(10.0, gt=1)
    """A statement running this many times its usual mean execution time is a slowdown."""
    slowdown_min_runtime: Duration = timedelta(seconds=1)
    """Statements running now for less than this are not judged as slowdowns."""
    slowdown_min_calls: int = Field(20, ge=1)
    """Calls a statement needs in pg_stat_statements before its mean counts as usual."""
    slowdown_min_mean: Duration = timedelta(milliseconds=10)
    """Mean execution time over the sample below which a statement is not judged slower."""
    call_surge_factor: float = Field(5.0, gt=1)
    """Call rate over the sample, as a multiple of the usual rate, that makes a surge (14+)."""
    call_surge_min_rate: float = Field(10.0, ge=0)
    """Calls per second below which a surge is not reported."""
    sample_interval: Duration = timedelta(seconds=2)
    """Sample pg_stat_statements, pg_stat_database and pg_stat_user_tables twice this far apart
    (0: one snapshot); never more than half the time left."""
    seq_scan_factor: float = Field(10.0, gt=1)
    """Rows read by sequential scans per second over the sample vs. the table's usual rate."""
    seq_scan_min_rows_per_s: float = Field(10_000.0, ge=0)
    """Rows per second read by sequential scans over the sample below which a table is not judged."""
    seq_scan_min_rows_per_scan: float = Field(1000.0, ge=0)
    """Smaller tables are always read whole: not judged."""
    top_statements: int = Field(5, ge=1, le=50)
    """Statements with the most total execution time shown as evidence."""
    cache_hit_warning: float = Field(0.90, gt=0, le=1)
    """Buffer cache hit ratio over the sample (0..1) below which a warning is made."""
    cache_hit_min_blocks: int = Field(1000, ge=1)
    """Blocks accessed over the sample before its hit ratio is judged."""
    wraparound_warning: float = Field(0.50, gt=0, le=1)
    """Transaction or multixact ID age, as a share of the wraparound limit (0..1), that makes a warning."""
    wraparound_critical: float = Field(0.75, gt=0, le=1)
    """Transaction or multixact ID age, as a share of the wraparound limit (0..1), that makes a critical finding."""


class QueriesProbe(PostgresProbe):
    """``db.queries``: long-running queries, statement slowdowns and surges, cache, wraparound."""

    id = "db.queries"
    description = "PostgreSQL queries: long-running, slower or busier than usual, cache hits, xid wraparound"
    options_model = QueriesOptions

    def check(self, ctx: ProbeContext[QueriesOptions], target: PostgresTarget, label: str) -> list[Finding]:
        from probes.postgres.client import (
            database_stats,
            read_active_queries,
            read_database_counters,
            read_hidden_sessions,
            read_lock_waits,
            read_oldest_xmin,
            read_server,
            read_table_indexes,
            read_table_scans,
        )
        from probes.postgres.client_session import open_session
        from probes.postgres.client_statements import fetch_statement_texts, read_statements
        from probes.postgres.judge_queries import judge_queries, statements_to_describe, tables_to_describe
        from probes.postgres.snapshot import QueriesSnapshot
        from probes.postgres.trees import root_blockers

        options = ctx.options
        limits = self.thresholds(options)
        floor = min(limits.long_running_warning_s, limits.slowdown_min_s)
        sample_s = options.sample_interval.total_seconds()
        with open_session(target.dsn, label, ctx) as conn:
            server = read_server(conn, label)
            active = read_active_queries(conn, server, floor_s=floor, limit=MAX_ACTIVE)
            first = read_database_counters(conn)
            tables_before = read_table_scans(conn) if sample_s > 0 else None
            active_ids = tuple(sorted({s.query_id for s in active if s.query_id is not None}))
            statements = read_statements(
                conn, ctx, active_ids=active_ids, top=options.top_statements, sample_s=sample_s
            )
            second = read_database_counters(conn) if statements.sample_s else None
            tables_after = read_table_scans(conn) if statements.sample_s else None
            # statements slow only because they wait on a lock belong to that lock's tree
            waiting = any(s.wait_event_type == "Lock" for s in active)
            roots = root_blockers(read_lock_waits(conn, server)) if waiting else {}
            oldest = read_oldest_xmin(conn)
            hidden = 0 if server.can_read_all_stats else read_hidden_sessions(conn)
            snapshot = QueriesSnapshot(
                server=server,
                active=active,
                statements=statements,
                database=database_stats(first, second, oldest),
                hidden_sessions=hidden,
                tables_before=tables_before,
                tables_after=tables_after,
                lock_roots=roots,
            )
            described = statements_to_describe(snapshot, limits) if statements.available else set()
            texts = fetch_statement_texts(conn, described) if described else {}
            indexes = read_table_indexes(conn, tables_to_describe(snapshot, limits, texts))
        return judge_queries(
            snapshot, limits, ctx.finding, database_entity(target, label), texts=texts, indexes=indexes
        )

    @staticmethod
    def thresholds(options: QueriesOptions) -> QueryThresholds:
        """The options as the plain thresholds the judging takes."""
        from probes.postgres.judge_queries import QueryThresholds
        from probes.postgres.judge_scans import ScanThresholds

        return QueryThresholds(
            long_running_warning_s=options.long_running_warning.total_seconds(),
            long_running_critical_s=options.long_running_critical.total_seconds(),
            slowdown_factor=options.slowdown_factor,
            slowdown_min_s=options.slowdown_min_runtime.total_seconds(),
            slowdown_min_calls=options.slowdown_min_calls,
            slowdown_min_mean_s=options.slowdown_min_mean.total_seconds(),
            call_surge_factor=options.call_surge_factor,
            call_surge_min_rate=options.call_surge_min_rate,
            cache_hit_warning=options.cache_hit_warning,
            cache_hit_min_blocks=options.cache_hit_min_blocks,
            wraparound_warning=options.wraparound_warning,
            wraparound_critical=options.wraparound_critical,
            scans=ScanThresholds(
                factor=options.seq_scan_factor,
                min_rows_per_s=options.seq_scan_min_rows_per_s,
                min_rows_per_scan=options.seq_scan_min_rows_per_scan,
            ),
        )
