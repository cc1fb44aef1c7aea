"""The probes' SQL (``sql/*.sql``) and its version-dependent parts, rendered without a server.

PostgreSQL 12 to 17. Columns that appeared in a later version are chosen here, from the
server's ``server_version_num`` or pg_stat_statements' extension version, so one unit test per
version renders what that version is sent:

- ``pg_stat_activity.query_id``: 14+ (NULL before);
- ``pg_locks.waitstart``: 14+ (NULL before: the wait counts from ``query_start``);
- ``pg_replication_slots.wal_status``: 13+ (NULL before);
- ``reserved_connections``: 16+ (0 before), see :func:`reserved_connections`;
- pg_stat_statements ``total_exec_time``/``mean_exec_time``: extension 1.8 (PostgreSQL 13)+,
  ``total_time``/``mean_time`` before; ``pg_stat_statements_info``: 1.9 (PostgreSQL 14)+.

``pg_stat_checkpointer`` (17+) is not read by any probe.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from psycopg import sql

QUERY_CHARS = 1000
"""Query texts are cut to this many characters."""
PG13 = 130000
PG14 = 140000
PG16 = 160000


@cache
def sql_text(name: str) -> str:
    """The text of ``sql/<name>.sql``."""
    return (files("probes.postgres") / "sql" / f"{name}.sql").read_text(encoding="utf-8")


def query(name: str) -> bytes:
    """``sql/<name>.sql`` as a statement without version-dependent parts."""
    return sql_text(name).encode()


def template(name: str, **parts: Any) -> sql.Composed:
    """``sql/<name>.sql`` with its ``{placeholders}`` filled (identifiers or fixed SQL)."""
    from psycopg import sql

    # the text comes from our own package files, never from input
    return sql.SQL(sql_text(name)).format(**parts)


def _since(version_num: int, first: int, column: str, cast: str) -> sql.SQL:
    from psycopg import sql

    # fixed text chosen from two constants, never from input
    return sql.SQL(column if version_num >= first else f"NULL::{cast}")


def active_queries_sql(version_num: int) -> sql.Composed:
    """Active client queries; ``query_id`` from 14."""
    return template("active_queries", query_id=_since(version_num, PG14, "a.query_id", "bigint"))


def lock_waits_sql(version_num: int) -> sql.Composed:
    """Lock waiters and their blockers; ``pg_locks.waitstart`` from 14."""
    return template("lock_waits", waitstart=_since(version_num, PG14, "l.waitstart", "timestamptz"))


def slots_sql(version_num: int) -> sql.Composed:
    """Replication slots; ``wal_status`` from 13."""
    return template("slots", wal_status=_since(version_num, PG13, "s.wal_status", "text"))


def reserved_connections(version_num: int, setting: str | None) -> int:
    """``reserved_connections`` (16+; the setting does not exist before, so 0)."""
    if version_num < PG16 or setting is None:
        return 0
    return int(setting)


def parse_extension_version(text: str) -> tuple[int, ...]:
    """``'1.10'`` as ``(1, 10)``."""
    return tuple(int(part) for part in text.split(".") if part.isdigit())


def statement_time_columns(extension_version: tuple[int, ...]) -> tuple[str, str]:
    """pg_stat_statements' total and mean time columns: ``*_exec_time`` from 1.8."""
    if extension_version >= (1, 8):
        return "total_exec_time", "mean_exec_time"
    return "total_time", "mean_time"


def statements_sql(schema: str, extension_version: tuple[int, ...]) -> sql.Composed:
    """pg_stat_statements(false) of the current database, by total time."""
    from psycopg import sql

    total, mean = statement_time_columns(extension_version)
    return template(
        "statements", schema=sql.Identifier(schema), total=sql.Identifier(total), mean=sql.Identifier(mean)
    )


def statements_info_sql(schema: str, extension_version: tuple[int, ...]) -> sql.Composed | None:
    """Evictions and the last reset (pg_stat_statements_info, 1.9+); None before."""
    from psycopg import sql

    if extension_version < (1, 9):
        return None
    return template("statements_info", schema=sql.Identifier(schema))


def statement_texts_sql(schema: str) -> sql.Composed:
    """The text of a few statements (pg_stat_statements(true))."""
    from psycopg import sql

    return template("statement_texts", schema=sql.Identifier(schema))
