"""PgBouncer's admin console: ``SHOW POOLS`` and nothing else.

The console speaks only the simple query protocol (psycopg 3: ``ClientCursor``, autocommit)
and treats ``SET`` as a change of its own settings, so no session setup is sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from diagnostics import ProbeContext
from probes.postgres.client_session import connect_error, connect_timeout, query_error
from probes.postgres.snapshot import PoolStats


def read_pools(dsn: str, label: str, ctx: ProbeContext) -> tuple[PoolStats, ...]:
    """PgBouncer's SHOW POOLS, one short connection to the admin console."""
    import psycopg
    from psycopg.rows import dict_row

    try:
        with psycopg.connect(
            dsn,
            autocommit=True,
            connect_timeout=connect_timeout(ctx),
            cursor_factory=psycopg.ClientCursor,
            row_factory=dict_row,
        ) as conn:
            rows = conn.execute(b"SHOW POOLS").fetchall()
    except psycopg.OperationalError as exc:
        raise connect_error(exc, label) from None
    except psycopg.Error as exc:
        raise query_error(exc, label) from None
    return tuple(pool_stats(row) for row in rows)


def pool_stats(row: Mapping[str, Any]) -> PoolStats:
    """One SHOW POOLS row; maxwait is whole seconds plus maxwait_us (1.8+)."""

    def number(key: str) -> int:
        return int(row.get(key) or 0)

    return PoolStats(
        database=str(row.get("database", "")),
        user=str(row.get("user", "")),
        clients_active=number("cl_active"),
        clients_waiting=number("cl_waiting"),
        servers_active=number("sv_active"),
        servers_idle=number("sv_idle"),
        max_wait_s=number("maxwait") + number("maxwait_us") / 1_000_000,
        pool_mode=row.get("pool_mode"),
    )
