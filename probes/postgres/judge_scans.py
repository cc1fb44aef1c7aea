"""Judging sequential scans: a table read end to end far more than its history says, and the
index its slow statements likely miss (pure).

A dropped or invalid index turns each lookup of a large table into a sequential scan: the
table's rows read by sequential scans per second, over the sample, rise far above their rate
since the statistics began, or a statement that slowed down over the sample reads it (the
cumulative rate cannot tell when the statistics began shortly before the regression). The
statement that reads the table names the columns it filters on (its ``WHERE``); a column that
leads no valid index of the table is the likely missing index.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from diagnostics import Entity, Finding, Measurement, Severity
from diagnostics.units import format_duration
from probes.postgres.judge_visibility import MakeFinding
from probes.postgres.snapshot import TableIndex, TableSample, TableScans

TABLE_SCANS_QUERY = "probes/postgres/sql/table_scans.sql: pg_stat_user_tables (two samples)"
TABLE_INDEXES_QUERY = "probes/postgres/sql/table_indexes.sql: pg_index"
MAX_TABLES = 5

_WHERE = re.compile(
    r"\bWHERE\b(.*?)(?:\bGROUP\s+BY\b|\bORDER\s+BY\b|\bLIMIT\b|\bRETURNING\b|\bFOR\s+UPDATE\b|$)", re.I | re.S
)
_FILTERED_COLUMN = re.compile(
    r"(?:\b[A-Za-z_][A-Za-z0-9_]*\.)?\b([A-Za-z_][A-Za-z0-9_]*)\s*(?:=|<>|!=|<=|>=|<|>|\bIN\b|\bBETWEEN\b|\bLIKE\b)\s*(?:\$\d+|'|\d|\(|ANY\b)",
    re.I,
)
_KEYWORDS = frozenset({"and", "or", "not", "where", "select", "from", "null", "true", "false"})


@dataclass(frozen=True, slots=True, kw_only=True)
class ScanThresholds:
    """When a table's sequential scans are reported."""

    factor: float
    """Rows read by sequential scans per second over the sample vs. the cumulative rate."""
    min_rows_per_s: float
    min_rows_per_scan: float
    """Tables smaller than this are always scanned: not judged."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ScanSurge:
    """A table read by sequential scans far more over the sample than usual."""

    table: TableScans
    scans: int
    rows: int
    seconds: float
    usual_rows_per_s: float

    @property
    def rows_per_s(self) -> float:
        """Rows read by sequential scans per second over the sample."""
        return self.rows / self.seconds

    @property
    def rows_per_scan(self) -> float:
        """Rows read by each sequential scan (about the table's size when they read it all)."""
        return self.rows / max(self.scans, 1)


def scan_surges(
    before: TableSample | None,
    after: TableSample | None,
    limits: ScanThresholds,
    *,
    slowed: Sequence[str] = (),
) -> list[ScanSurge]:
    """Tables read by large sequential scans over the sample at ``factor`` times their cumulative
    rate, or read by one of the ``slowed`` statements (their texts); most rows first."""
    if before is None or after is None or after.since != before.since:
        return []
    seconds = (after.at - before.at).total_seconds()
    history_s = (before.at - before.since).total_seconds()
    if seconds <= 0 or history_s <= 0:
        return []
    earlier = {t.relid: t for t in before.tables}
    surges = []
    for table in after.tables:
        previous = earlier.get(table.relid)
        if previous is None:
            continue
        scans = table.seq_scan - previous.seq_scan
        rows = table.seq_tup_read - previous.seq_tup_read
        if scans <= 0 or rows / scans < limits.min_rows_per_scan or rows / seconds < limits.min_rows_per_s:
            continue
        usual = previous.seq_tup_read / history_s
        if rows / seconds >= limits.factor * usual or any(reads_table(text, table) for text in slowed):
            surges.append(
                ScanSurge(table=table, scans=scans, rows=rows, seconds=seconds, usual_rows_per_s=usual)
            )
    surges.sort(key=lambda s: s.rows, reverse=True)
    return surges[:MAX_TABLES]


def filtered_columns(statement: str) -> list[str]:
    """The columns a statement's ``WHERE`` compares with a value, in order of appearance."""
    found = _WHERE.search(statement)
    if found is None:
        return []
    columns = [c for c in _FILTERED_COLUMN.findall(found.group(1)) if c.lower() not in _KEYWORDS]
    return list(dict.fromkeys(columns))


def reads_table(statement: str, table: TableScans) -> bool:
    """True when ``statement`` names ``table`` (by its name or schema-qualified name)."""
    names = {table.relname, table.table_name, table.table_name.rsplit(".", 1)[-1]}
    return any(re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", statement, re.I) for name in names)


def unindexed_columns(columns: Iterable[str], indexes: Sequence[TableIndex]) -> list[str]:
    """The ``columns`` that lead no valid index (a lookup on them cannot use one)."""
    leading = {index.columns[0] for index in indexes if index.valid and index.columns and index.columns[0]}
    return [c for c in columns if c not in leading]


@dataclass(frozen=True, slots=True, kw_only=True)
class MissingIndex:
    """What a table's slow statements filter on that no index leads."""

    table: str
    columns: tuple[str, ...]
    indexes: tuple[str, ...]
    """The table's valid indexes now (their names and key columns)."""
    statement_ids: tuple[int, ...]

    def create_statement(self) -> str:
        """The index to consider (CONCURRENTLY: no write lock on the table while it builds)."""
        return f"CREATE INDEX CONCURRENTLY ON {self.table} ({self.columns[0]});"


def missing_index(
    table: TableScans, texts: dict[int, str], statement_ids: Iterable[int], indexes: Sequence[TableIndex]
) -> MissingIndex | None:
    """The first column that the statements reading ``table`` filter on and no index leads."""
    own = [i for i in indexes if i.relid == table.relid]
    readers = [q for q in statement_ids if q in texts and reads_table(texts[q], table)]
    for query_id in readers:
        columns = unindexed_columns(filtered_columns(texts[query_id]), own)
        if columns:
            return MissingIndex(
                table=table.table_name,
                columns=tuple(columns),
                indexes=tuple(
                    f"{i.index_name} ({', '.join(c or '(expression)' for c in i.columns)})"
                    for i in own
                    if i.valid
                ),
                statement_ids=tuple(readers),
            )
    return None


def describe_index(found: MissingIndex | None) -> str:
    """One clause naming the likely missing index."""
    if found is None:
        return ""
    now = ", ".join(found.indexes) if found.indexes else "none"
    return f"no index of {found.table} leads with {found.columns[0]} (its indexes now: {now})"


def _sentence(clause: str) -> str:
    return clause[:1].upper() + clause[1:] + "."


def judge_scans(
    surges: Sequence[ScanSurge],
    missing: dict[int, MissingIndex],
    make: MakeFinding,
    entity: Entity,
) -> list[Finding]:
    """One warning per table read by sequential scans far above its usual rate."""
    findings = []
    for surge in surges:
        table = surge.table
        found = missing.get(table.relid)
        usual = (
            f"{surge.rows_per_s / surge.usual_rows_per_s:.0f}x its usual rate"
            if surge.usual_rows_per_s > 0
            else "none before"
        )
        title = (
            f"Table {table.table_name}: {surge.scans} sequential scans in {format_duration(surge.seconds)} "
            f"read {surge.rows:,} rows ({surge.rows_per_s:,.0f}/s, {usual})"
        )
        if found is not None:
            title += f"; no index on ({found.columns[0]})"
        steps = []
        if found is not None:
            steps.append(
                f"{found.create_statement()}  -- the slow statements filter on {', '.join(found.columns)}"
            )
        steps += [
            f"EXPLAIN the statements reading {table.table_name}: a Seq Scan where an Index Scan was is a dropped, "
            "invalid or unusable index.",
            f"SELECT indexrelid::regclass, indisvalid FROM pg_index WHERE indrelid = '{table.table_name}'::regclass;",
        ]
        findings.append(
            make(
                kind="sequential_scans",
                severity=Severity.WARNING,
                title=title,
                entity=entity,
                summary=(
                    f"Each scan reads about {surge.rows_per_scan:,.0f} rows: lookups of {table.table_name} read "
                    "the whole table. "
                    + (
                        _sentence(describe_index(found))
                        if found
                        else "No index use is recorded for it in the sample."
                    )
                ),
                values=[
                    Measurement(name="sequential scans", value=surge.scans, unit="count"),
                    Measurement(name="rows read by them", value=surge.rows, unit="count"),
                    Measurement(name="rows per second", value=round(surge.rows_per_s), unit="1/s"),
                    Measurement(
                        name="usual rows per second", value=round(surge.usual_rows_per_s, 1), unit="1/s"
                    ),
                    Measurement(name="live rows", value=table.n_live_tup, unit="count"),
                    Measurement(name="sample", value=round(surge.seconds, 3), unit="s"),
                ],
                queries=[TABLE_SCANS_QUERY, *([TABLE_INDEXES_QUERY] if found else [])],
                details={
                    "table": table.table_name,
                    "missing_index_columns": list(found.columns) if found else None,
                    "indexes": list(found.indexes) if found else None,
                    "statements": list(found.statement_ids) if found else [],
                },
                next_steps=steps,
                key=table.table_name,
            )
        )
    return findings
