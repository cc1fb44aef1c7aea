"""Statements that slowed down or surged between two samples of pg_stat_statements, and the
table they read by sequential scans when that explains the slowdown (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from diagnostics import Entity, Finding, Measurement, Severity
from diagnostics.units import format_duration
from probes.postgres.judge_scans import (
    TABLE_SCANS_QUERY,
    MissingIndex,
    ScanSurge,
    describe_index,
    reads_table,
)
from probes.postgres.judge_visibility import MakeFinding
from probes.postgres.snapshot import QueriesSnapshot, Statement

if TYPE_CHECKING:
    from probes.postgres.judge_queries import QueryThresholds

STATEMENTS_QUERY = "probes/postgres/sql/statements.sql: pg_stat_statements(false)"
MAX_LISTED = 10


@dataclass(frozen=True, slots=True, kw_only=True)
class StatementChange:
    """How a statement moved between two samples of pg_stat_statements."""

    statement: Statement
    calls: int
    mean_ms: float
    previous_mean_ms: float
    calls_per_s: float
    usual_calls_per_s: float | None
    slowed: bool
    surged: bool


def sampled_statement_key(query_id: int, role: str | None) -> str:
    """The key of a finding about one statement over the sample (pg_stat_statements keeps a row
    per role, database and queryid; one database is judged at a time)."""
    return f"queryid {query_id} role {role or '?'}"


def statement_changes(snapshot: QueriesSnapshot, limits: QueryThresholds) -> list[StatementChange]:
    """Statements whose mean time or call rate rose between the two samples, most changed first."""
    stats = snapshot.statements
    if not stats.before or not stats.after or not stats.sample_s or stats.deltas_invalid:
        return []
    before = {(s.query_id, s.role): s for s in stats.before}
    since_s = (snapshot.server.now - stats.since).total_seconds() if stats.since else None
    changes = []
    for after in stats.after:
        previous = before.get((after.query_id, after.role))
        if previous is None or after.calls <= previous.calls:
            continue
        calls = after.calls - previous.calls
        mean_ms = (after.total_ms - previous.total_ms) / calls
        rate = calls / stats.sample_s
        usual_rate = previous.calls / since_s if since_s and since_s > stats.sample_s else None
        slowed = (
            previous.calls >= limits.slowdown_min_calls
            and mean_ms >= limits.slowdown_factor * previous.mean_ms
            and mean_ms / 1000 >= limits.slowdown_min_mean_s
        )
        surged = (
            usual_rate is not None
            and rate >= limits.call_surge_min_rate
            and rate >= limits.call_surge_factor * usual_rate
        )
        if slowed or surged:
            changes.append(
                StatementChange(
                    statement=after,
                    calls=calls,
                    mean_ms=mean_ms,
                    previous_mean_ms=previous.mean_ms,
                    calls_per_s=rate,
                    usual_calls_per_s=usual_rate,
                    slowed=slowed,
                    surged=surged,
                )
            )
    changes.sort(key=lambda c: c.calls * c.mean_ms, reverse=True)
    return changes[:MAX_LISTED]


def _scans_read_by(
    text: str | None, scanned: tuple[list[ScanSurge], dict[int, MissingIndex]]
) -> tuple[ScanSurge, MissingIndex | None] | None:
    """The table this statement reads by sequential scans far above their usual rate."""
    surges, missing = scanned
    for surge in surges if text else ():
        if text and reads_table(text, surge.table):
            return surge, missing.get(surge.table.relid)
    return None


def judge_changes(
    changes: list[StatementChange],
    snapshot: QueriesSnapshot,
    make: MakeFinding,
    entity: Entity,
    texts: dict[int, str],
    *,
    scanned: tuple[list[ScanSurge], dict[int, MissingIndex]] = ([], {}),
) -> list[Finding]:
    sample = format_duration(snapshot.statements.sample_s or 0.0)
    findings = []
    for change in changes:
        query_id = change.statement.query_id
        scan = _scans_read_by(texts.get(query_id), scanned) if change.slowed else None
        if change.slowed:
            kind = "statement_slowdown"
            title = (
                f"Statement {query_id} took {format_duration(change.mean_ms / 1000)} per call over the last "
                f"{sample}, {change.mean_ms / max(change.previous_mean_ms, 1e-9):.0f}x its mean of "
                f"{format_duration(change.previous_mean_ms / 1000)}"
            )
            if scan is not None:
                title += f": sequential scans of {scan[0].table.table_name}" + (
                    f", no index on ({scan[1].columns[0]})" if scan[1] else ""
                )
        else:
            kind = "statement_call_surge"
            title = (
                f"Statement {query_id} called {change.calls_per_s:.0f}/s over the last {sample}, "
                f"usually {change.usual_calls_per_s or 0:.1f}/s"
            )
        findings.append(
            make(
                kind=kind,
                severity=Severity.WARNING,
                title=title,
                entity=entity,
                summary=_change_summary(texts.get(query_id), scan),
                values=[
                    Measurement(name="calls in sample", value=change.calls, unit="count"),
                    Measurement(name="mean in sample", value=round(change.mean_ms / 1000, 6), unit="s"),
                    Measurement(name="mean before", value=round(change.previous_mean_ms / 1000, 6), unit="s"),
                    Measurement(name="calls per second", value=round(change.calls_per_s, 2), unit="1/s"),
                ],
                queries=[STATEMENTS_QUERY + " (two samples)", *([TABLE_SCANS_QUERY] if scan else [])],
                details={
                    "query_id": query_id,
                    "role": change.statement.role,
                    "query": texts.get(query_id),
                    **_scan_details(scan),
                },
                next_steps=_change_steps(scan),
                key=sampled_statement_key(query_id, change.statement.role),
            )
        )
    return findings


def _change_summary(text: str | None, scan: tuple[ScanSurge, MissingIndex | None] | None) -> str:
    summary = text or "(statement text unavailable)"
    if scan is None:
        return summary
    surge, found = scan
    read = (
        f"It reads {surge.table.table_name}, scanned sequentially {surge.scans} times in "
        f"{format_duration(surge.seconds)} ({surge.rows_per_scan:,.0f} rows each)"
    )
    return f"{read}" + (f": {describe_index(found)}." if found else ".") + f" The statement: {summary}"


def _scan_details(scan: tuple[ScanSurge, MissingIndex | None] | None) -> dict[str, object]:
    if scan is None:
        return {}
    surge, found = scan
    return {
        "sequential_scans": {"table": surge.table.table_name, "scans": surge.scans, "rows": surge.rows},
        "missing_index_columns": list(found.columns) if found else None,
    }


def _change_steps(scan: tuple[ScanSurge, MissingIndex | None] | None) -> list[str]:
    if scan is None:
        return ["EXPLAIN the statement; compare with the previous deploy's query patterns."]
    surge, found = scan
    steps = [f"EXPLAIN the statement: expect a Seq Scan on {surge.table.table_name}."]
    if found is not None:
        steps.insert(0, f"{found.create_statement()}  -- the statement filters on {', '.join(found.columns)}")
    return steps
