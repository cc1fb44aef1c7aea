"""Judging query load: long-running queries, statements slower than usual, cache hits,
transaction-id wraparound (pure). What changed between two samples of pg_stat_statements is
judged in :mod:`probes.postgres.judge_statement_changes`."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from diagnostics import SYMPTOM_OF, Entity, Finding, Measurement, Severity
from diagnostics.units import format_duration
from probes.postgres.judge_locks import lock_tree_fingerprint, lock_tree_key
from probes.postgres.judge_scans import ScanSurge, ScanThresholds, judge_scans, missing_index, scan_surges
from probes.postgres.judge_statement_changes import (
    MAX_LISTED,
    STATEMENTS_QUERY,
    StatementChange,
    judge_changes,
    statement_changes,
)
from probes.postgres.judge_visibility import MakeFinding, grant_hint, judge_visibility
from probes.postgres.snapshot import QueriesSnapshot, Session, Statement, StatementStats, TableIndex

WRAPAROUND_LIMIT = 2**31
"""Transaction-id age at which PostgreSQL would wrap around (it stops writes before)."""
ACTIVE_QUERY = "probes/postgres/sql/active_queries.sql: pg_stat_activity (state = 'active')"


@dataclass(frozen=True, slots=True, kw_only=True)
class QueryThresholds:
    long_running_warning_s: float
    long_running_critical_s: float
    slowdown_factor: float
    slowdown_min_s: float
    slowdown_min_calls: int
    slowdown_min_mean_s: float
    call_surge_factor: float
    call_surge_min_rate: float
    cache_hit_warning: float
    cache_hit_min_blocks: int
    wraparound_warning: float
    wraparound_critical: float
    scans: ScanThresholds


def judge_queries(
    snapshot: QueriesSnapshot,
    limits: QueryThresholds,
    make: MakeFinding,
    entity: Entity,
    *,
    texts: dict[int, str] | None = None,
    indexes: tuple[TableIndex, ...] = (),
) -> list[Finding]:
    texts = texts or {}
    changes = statement_changes(snapshot, limits)
    surges = _surges(snapshot, limits, changes, texts)
    slowed_first = [c.statement.query_id for c in changes if c.slowed] + sorted(texts)
    missing = {
        surge.table.relid: found
        for surge in surges
        if (found := missing_index(surge.table, texts, dict.fromkeys(slowed_first), indexes)) is not None
    }
    return [
        *judge_long_running(snapshot, limits, make, entity, texts),
        *judge_active_slowdowns(snapshot, limits, make, entity, texts),
        *judge_lock_waits(snapshot, limits, make, entity),
        *judge_changes(changes, snapshot, make, entity, texts, scanned=(surges, missing)),
        *judge_scans(surges, missing, make, entity),
        *judge_cache_hits(snapshot, limits, make, entity),
        *judge_wraparound(snapshot, limits, make, entity),
        *judge_statements_unavailable(snapshot.statements, make, entity),
        *judge_visibility(snapshot.server, snapshot.hidden_sessions, make, entity),
    ]


def statements_to_describe(snapshot: QueriesSnapshot, limits: QueryThresholds) -> set[int]:
    """The statements whose text the findings will show (none when nothing is reported)."""
    wanted = {change.statement.query_id for change in statement_changes(snapshot, limits)}
    wanted.update(query_id for query_id, _, _ in active_slowdowns(snapshot, limits))
    surges = scan_surges(snapshot.tables_before, snapshot.tables_after, limits.scans)
    if _long_running(snapshot, limits) or surges:
        wanted.update(s.query_id for s in snapshot.statements.top)
    return wanted


def tables_to_describe(snapshot: QueriesSnapshot, limits: QueryThresholds, texts: dict[int, str]) -> set[int]:
    """The tables whose indexes the findings will name (those read by sequential scans far
    above their usual rate, or by a statement that slowed down)."""
    return {s.table.relid for s in _surges(snapshot, limits, statement_changes(snapshot, limits), texts)}


def _surges(
    snapshot: QueriesSnapshot, limits: QueryThresholds, changes: list[StatementChange], texts: dict[int, str]
) -> list[ScanSurge]:
    slowed = [texts[c.statement.query_id] for c in changes if c.slowed and c.statement.query_id in texts]
    return scan_surges(snapshot.tables_before, snapshot.tables_after, limits.scans, slowed=slowed)


def _long_running(snapshot: QueriesSnapshot, limits: QueryThresholds) -> list[Session]:
    slow = [s for s in snapshot.active if (s.query_age_s or 0.0) >= limits.long_running_warning_s]
    return sorted(slow, key=lambda s: s.query_age_s or 0.0, reverse=True)


def _top_statements(stats: StatementStats, texts: dict[int, str]) -> list[dict[str, object]]:
    return [
        {
            "query_id": s.query_id,
            "role": s.role,
            "calls": s.calls,
            "total_ms": round(s.total_ms, 1),
            "mean_ms": round(s.mean_ms, 3),
            "query": texts.get(s.query_id),
        }
        for s in stats.top
    ]


def _query_detail(session: Session) -> dict[str, object]:
    wait = f"{session.wait_event_type}/{session.wait_event}" if session.wait_event_type else None
    return {**session.describe(), "running_s": round(session.query_age_s or 0.0, 3), "waiting_on": wait}


def judge_long_running(
    snapshot: QueriesSnapshot,
    limits: QueryThresholds,
    make: MakeFinding,
    entity: Entity,
    texts: dict[int, str],
) -> list[Finding]:
    slow = _long_running(snapshot, limits)
    if not slow:
        return []
    longest = slow[0]
    running = longest.query_age_s or 0.0
    noun = "query" if len(slow) == 1 else "queries"
    summary = f"The longest, pid {longest.pid} ({longest.application or longest.user}), runs: {longest.query}"
    if not longest.visible:
        summary = f"Their text is hidden: the probe's role lacks pg_monitor ({grant_hint(snapshot.server)})."
    waiting = sum(1 for s in slow if waits_on_lock(s))
    if waiting:
        summary = summary.rstrip(".;") + f". {waiting} of them wait on locks (see db.locks)."
    root = snapshot.lock_roots.get(longest.pid) if waiting == len(slow) else None
    link = (
        {SYMPTOM_OF: lock_tree_fingerprint(entity, root), "lock_root_pid": root} if root is not None else {}
    )
    starts = [s.query_start for s in slow if s.query_start is not None]
    return [
        make(
            kind="long_running_queries",
            severity=Severity.CRITICAL if running >= limits.long_running_critical_s else Severity.WARNING,
            title=(
                f"{len(slow)} {noun} running longer than {format_duration(limits.long_running_warning_s)}, "
                f"the longest {format_duration(running)} (pid {longest.pid})"
            ),
            entity=entity,
            summary=summary,
            values=[
                Measurement(name="long-running queries", value=len(slow), unit="count"),
                Measurement(name="longest", value=round(running, 3), unit="s"),
            ],
            queries=[ACTIVE_QUERY],
            details={
                "queries": [_query_detail(s) for s in slow[:MAX_LISTED]],
                "top_statements_by_total_time": _top_statements(snapshot.statements, texts),
                **link,
            },
            onset=min(starts, default=None),
            next_steps=[
                f"SELECT pg_cancel_backend({longest.pid});  -- cancels the query, the session stays",
                f"Resolve the lock tree behind pid {root} (see db.locks): these queries wait on it."
                if root is not None
                else "EXPLAIN the query (without ANALYZE) to see its plan.",
            ],
        )
    ]


def waits_on_lock(session: Session) -> bool:
    """The session waits on a heavyweight lock: its run time says nothing of its plan."""
    return session.wait_event_type == "Lock"


def _far_over_mean(sessions: list[Session], statement: Statement | None, limits: QueryThresholds) -> bool:
    if statement is None or statement.calls < limits.slowdown_min_calls or statement.mean_ms <= 0:
        return False
    longest = max(s.query_age_s or 0.0 for s in sessions)
    return longest >= limits.slowdown_factor * statement.mean_ms / 1000


def _runs_by_statement(
    snapshot: QueriesSnapshot, limits: QueryThresholds, *, locked: bool
) -> dict[int, list[Session]]:
    runs: dict[int, list[Session]] = defaultdict(list)
    for session in snapshot.active:
        if session.query_id is None or waits_on_lock(session) is not locked:
            continue
        if (session.query_age_s or 0.0) >= limits.slowdown_min_s:
            runs[session.query_id].append(session)
    return runs


def active_slowdowns(
    snapshot: QueriesSnapshot, limits: QueryThresholds
) -> list[tuple[int, Statement, list[Session]]]:
    """Statements running now far longer than their cumulative mean (query_id: 14+), not
    counting executions that wait on a lock (see :func:`lock_waits`)."""
    usual = {s.query_id: s for s in snapshot.statements.active}
    return [
        (query_id, usual[query_id], sessions)
        for query_id, sessions in _runs_by_statement(snapshot, limits, locked=False).items()
        if _far_over_mean(sessions, usual.get(query_id), limits)
    ]


def lock_waits(snapshot: QueriesSnapshot, limits: QueryThresholds) -> dict[int | None, list[Session]]:
    """Executions that would read as slowdowns (far over their mean, or long-running) but wait
    on a lock, by the root blocker of their tree (None: the root was not seen)."""
    usual = {s.query_id: s for s in snapshot.statements.active}
    by_root: dict[int | None, list[Session]] = defaultdict(list)
    for query_id, sessions in _runs_by_statement(snapshot, limits, locked=True).items():
        for session in sessions:
            long_running = (session.query_age_s or 0.0) >= limits.long_running_warning_s
            if long_running or _far_over_mean([session], usual.get(query_id), limits):
                by_root[snapshot.lock_roots.get(session.pid)].append(session)
    return dict(by_root)


def judge_lock_waits(
    snapshot: QueriesSnapshot, limits: QueryThresholds, make: MakeFinding, entity: Entity
) -> list[Finding]:
    """One finding per root blocker for the statements slow only because they wait behind it:
    a symptom of that lock tree (linked to db.locks' finding), not a plan regression."""
    findings = []
    for root, sessions in sorted(lock_waits(snapshot, limits).items(), key=lambda item: item[0] or 0):
        longest = max(s.query_age_s or 0.0 for s in sessions)
        count = len(sessions)
        behind = f"behind pid {root}" if root is not None else "behind a blocker that has since ended"
        statement_ids = sorted({s.query_id for s in sessions if s.query_id is not None})
        details: dict[str, object] = {
            "lock_root_pid": root,
            "pids": sorted(s.pid for s in sessions),
            "query_ids": statement_ids,
            "queries": [_query_detail(s) for s in sessions[:MAX_LISTED]],
        }
        if root is not None:
            details[SYMPTOM_OF] = lock_tree_fingerprint(entity, root)
        findings.append(
            make(
                kind="statement_lock_wait",
                severity=Severity.WARNING,
                title=(
                    f"{count} statement{'s' if count != 1 else ''} waiting on a lock for up to "
                    f"{format_duration(longest)} {behind}"
                ),
                entity=entity,
                summary=(
                    "Slow because they wait on a lock, not because of their plan: they finish when the "
                    "lock tree is resolved (see db.locks)."
                ),
                values=[
                    Measurement(name="waiting statements", value=count, unit="count"),
                    Measurement(name="longest", value=round(longest, 3), unit="s"),
                ],
                queries=[ACTIVE_QUERY],
                details=details,
                onset=min((s.query_start for s in sessions if s.query_start), default=None),
                next_steps=[
                    f"Resolve the lock tree {behind} (see db.locks): these statements finish once it is gone; their plans are not the problem."
                ],
                key=lock_tree_key(root) if root is not None else "pid unknown",
            )
        )
    return findings


def running_statement_key(query_id: int) -> str:
    """The key of a finding about the executions of one statement running now."""
    return f"queryid {query_id} running"


def judge_active_slowdowns(
    snapshot: QueriesSnapshot,
    limits: QueryThresholds,
    make: MakeFinding,
    entity: Entity,
    texts: dict[int, str],
) -> list[Finding]:
    findings = []
    for query_id, statement, sessions in active_slowdowns(snapshot, limits):
        longest = max(s.query_age_s or 0.0 for s in sessions)
        mean_s = statement.mean_ms / 1000
        text = texts.get(query_id)
        findings.append(
            make(
                kind="statement_slowdown",
                severity=Severity.WARNING,
                title=(
                    f"Statement {query_id} running {format_duration(longest)} now, {longest / mean_s:.0f}x its mean "
                    f"of {format_duration(mean_s)} ({len(sessions)} running)"
                ),
                entity=entity,
                summary=f"Usually {format_duration(mean_s)} over {statement.calls} calls: {text or '(text unavailable)'}",
                values=[
                    Measurement(name="running now", value=round(longest, 3), unit="s"),
                    Measurement(name="cumulative mean", value=round(mean_s, 6), unit="s"),
                    Measurement(name="calls", value=statement.calls, unit="count"),
                    Measurement(name="executions running", value=len(sessions), unit="count"),
                ],
                queries=[ACTIVE_QUERY, STATEMENTS_QUERY],
                details={"query_id": query_id, "query": text, "pids": [s.pid for s in sessions]},
                onset=min((s.query_start for s in sessions if s.query_start), default=None),
                next_steps=[
                    "EXPLAIN the statement: a changed plan (statistics, parameters) is the usual cause."
                ],
                key=running_statement_key(query_id),
            )
        )
    return findings


def judge_cache_hits(
    snapshot: QueriesSnapshot, limits: QueryThresholds, make: MakeFinding, entity: Entity
) -> list[Finding]:
    """The buffer cache hit ratio over the sample only: the cumulative ratio since the
    statistics reset stays low for weeks after a cold start, whatever happens now."""
    stats = snapshot.database
    hit, read = stats.blocks_hit_growth, stats.blocks_read_growth
    if hit is None or read is None:
        return []
    total = hit + read
    if total < max(limits.cache_hit_min_blocks, 1):
        return []
    ratio = hit / total
    if ratio >= limits.cache_hit_warning:
        return []
    span = f"over the last {format_duration(snapshot.statements.sample_s or 0.0)}"
    return [
        make(
            kind="cache_hit_ratio",
            severity=Severity.WARNING,
            title=f"Buffer cache hit ratio {ratio * 100:.1f} % in database {snapshot.server.database} {span}",
            entity=entity,
            summary="Reads go to disk (or the OS cache) instead of shared_buffers: queries slow down with I/O.",
            values=[
                Measurement(name="cache hit ratio", value=round(ratio, 4), unit="ratio"),
                Measurement(name="blocks read", value=read, unit="count"),
                Measurement(name="blocks hit", value=hit, unit="count"),
            ],
            queries=["probes/postgres/sql/database_stats.sql: pg_stat_database blks_hit, blks_read"],
            next_steps=[
                "Look for sequential scans of large tables: SELECT relname, seq_scan, seq_tup_read FROM pg_stat_user_tables ORDER BY seq_tup_read DESC LIMIT 10;"
            ],
        )
    ]


def judge_wraparound(
    snapshot: QueriesSnapshot, limits: QueryThresholds, make: MakeFinding, entity: Entity
) -> list[Finding]:
    stats = snapshot.database
    share = max(stats.xid_age, stats.mxid_age) / WRAPAROUND_LIMIT
    if share >= limits.wraparound_critical:
        severity = Severity.CRITICAL
    elif share >= limits.wraparound_warning:
        severity = Severity.WARNING
    else:
        return []
    which = "Multixact IDs" if stats.mxid_age > stats.xid_age else "Transaction IDs"
    holder = stats.oldest_xmin_session
    details: dict[str, object] = {"oldest_database": stats.oldest_database}
    if holder is not None:
        details["oldest_snapshot_session"] = {**holder.describe(), "xmin_age": stats.oldest_xmin_age}
    return [
        make(
            kind="xid_wraparound",
            severity=severity,
            title=f"{which} {share * 100:.0f} % of the way to wraparound (database {stats.oldest_database})",
            entity=entity,
            summary=(
                "Vacuum is not freezing old rows fast enough; near the limit PostgreSQL stops "
                "accepting writes. Long transactions, stale replication slots and prepared "
                "transactions hold it back."
            ),
            values=[
                Measurement(name="xid age", value=stats.xid_age, unit="count"),
                Measurement(name="multixact age", value=stats.mxid_age, unit="count"),
                Measurement(name="autovacuum_freeze_max_age", value=stats.freeze_max_age, unit="count"),
            ],
            queries=["probes/postgres/sql/database_stats.sql: age(datfrozenxid), mxid_age(datminmxid)"],
            details=details,
            next_steps=[
                "SELECT relname, age(relfrozenxid) FROM pg_class WHERE relkind IN ('r', 'm', 't') ORDER BY 2 DESC LIMIT 10;",
                "VACUUM (FREEZE, VERBOSE) the oldest tables; end the session holding the oldest snapshot.",
            ],
        )
    ]


def judge_statements_unavailable(stats: StatementStats, make: MakeFinding, entity: Entity) -> list[Finding]:
    if stats.available:
        return []
    return [
        make(
            kind="statements_unavailable",
            severity=Severity.INFO,
            title=stats.reason or "pg_stat_statements is not available",
            entity=entity,
            summary="Without it slow statements are judged only by the queries running now.",
            queries=["probes/postgres/sql/statements_extension.sql"],
            next_steps=[
                "CREATE EXTENSION pg_stat_statements;  -- with shared_preload_libraries = 'pg_stat_statements'"
            ],
        )
    ]
