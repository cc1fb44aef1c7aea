"""Reading pg_stat_statements: without text, sampled twice when asked, text for a few only.

Works with extension 1.7 (PostgreSQL 12, ``total_time``) to 1.11 (17, ``total_exec_time``);
``pg_stat_statements_info`` (1.9+) tells when samples cannot be compared (a reset or an
eviction between them). Missing or not preloaded: a reason, never an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from diagnostics import ProbeContext
from probes.postgres.client_session import sample_pause
from probes.postgres.query_text import mask_secrets
from probes.postgres.snapshot import Statement, StatementStats
from probes.postgres.sql_texts import (
    QUERY_CHARS,
    parse_extension_version,
    query,
    statement_texts_sql,
    statements_info_sql,
    statements_sql,
)

if TYPE_CHECKING:
    from probes.postgres.client_session import Connection

SAMPLED_STATEMENTS = 5000  # pg_stat_statements.max's default: every entry, without text
NOT_INSTALLED = "pg_stat_statements is not installed in this database (CREATE EXTENSION pg_stat_statements)"
NOT_LOADED = "pg_stat_statements is installed but not loaded (add it to shared_preload_libraries)"


def _extension(conn: Connection) -> tuple[str, tuple[int, ...]] | None:
    rows = conn.execute(query("statements_extension")).fetchall()
    if not rows:
        return None
    return rows[0]["schema"], parse_extension_version(rows[0]["version"])


def read_statements(
    conn: Connection, ctx: ProbeContext, *, active_ids: tuple[int, ...], top: int, sample_s: float
) -> StatementStats:
    """pg_stat_statements without text (see fetch_statement_texts), or why it cannot be read."""
    from psycopg import errors

    extension = _extension(conn)
    if extension is None:
        return StatementStats(available=False, reason=NOT_INSTALLED)
    schema, version = extension
    statements = statements_sql(schema, version)
    info_sql = statements_info_sql(schema, version)

    def fetch(ids: list[int] | None, limit: int) -> tuple[Statement, ...]:
        rows = conn.execute(statements, {"query_ids": ids, "limit": limit}).fetchall()
        return tuple(Statement(**row) for row in rows)

    def info() -> dict[str, Any] | None:
        return None if info_sql is None else conn.execute(info_sql).fetchall()[0]

    try:
        top_statements = fetch(None, top)
        active = fetch(list(active_ids), SAMPLED_STATEMENTS) if active_ids else ()
        before: tuple[Statement, ...] = ()
        after: tuple[Statement, ...] = ()
        invalid = None
        slept = None
        first_info = info()
        if sample_s > 0:
            before = fetch(None, SAMPLED_STATEMENTS)
            slept = sample_pause(conn, sample_s, ctx)
            after = fetch(None, SAMPLED_STATEMENTS)
            invalid = samples_invalid(first_info, info())
    except errors.ObjectNotInPrerequisiteState:
        return StatementStats(available=False, reason=NOT_LOADED)
    return StatementStats(
        available=True,
        top=top_statements,
        active=active,
        before=before,
        after=after,
        sample_s=slept,
        since=first_info["stats_reset"] if first_info else None,
        deltas_invalid=invalid,
    )


def samples_invalid(first: Mapping[str, Any] | None, second: Mapping[str, Any] | None) -> str | None:
    """Why two samples cannot be compared (None: they can, or nothing says otherwise)."""
    if first is None or second is None:
        return None
    if second["stats_reset"] != first["stats_reset"]:
        return "pg_stat_statements was reset between the two samples"
    if second["dealloc"] != first["dealloc"]:
        return "pg_stat_statements evicted entries between the two samples (raise pg_stat_statements.max)"
    return None


def fetch_statement_texts(conn: Connection, query_ids: set[int]) -> dict[int, str]:
    """The text of the few statements a finding shows (reading text reads pg_stat_statements'
    whole file, so it is done only when something is reported); secrets masked."""
    extension = _extension(conn) if query_ids else None
    if extension is None:
        return {}
    rows = conn.execute(
        statement_texts_sql(extension[0]), {"query_ids": sorted(query_ids), "query_chars": QUERY_CHARS}
    ).fetchall()
    return {int(row["query_id"]): mask_secrets(row["query"] or "") for row in rows}
