"""``db.connections``: how full the server's connection slots are, and by whom.

Signals: pg_stat_activity (client sessions by state, application, user and client address),
max_connections minus superuser_reserved_connections and reserved_connections (16+), and,
where ``pgbouncer_dsn`` is set, PgBouncer's SHOW POOLS (cl_waiting, maxwait).

Default thresholds:

- used connections >= 80 % of the usable ones: warning; >= 95 %: critical; the server
  refusing the probe's connection (``too many clients``, ``remaining connection slots are
  reserved``): critical, reported as a finding, not a probe error;
- sessions idle in transaction for >= 30 s: warning; critical when one is idle >= 5 min or
  they hold >= 80 % of the usable connections;
- PgBouncer clients waiting >= 1 s: warning; >= 10 s: critical.

PostgreSQL keeps no history of sessions: the state judged is the present one.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from pydantic import Field

from diagnostics import Duration, Finding, ProbeContext, ProbeError, ProbeOptions
from probes.postgres.base import PostgresProbe
from probes.postgres.config import PostgresTarget, database_entity, server_label

if TYPE_CHECKING:
    from probes.postgres.snapshot import PoolStats


class ConnectionsOptions(ProbeOptions):
    """Thresholds of ``db.connections`` (shares are 0..1 of the usable connections)."""

    used_warning: float = Field(0.80, gt=0, le=1)
    """Share of the usable connections in use (0..1) that makes a warning."""
    used_critical: float = Field(0.95, gt=0, le=1)
    """Share of the usable connections in use (0..1) that makes a critical finding."""
    idle_in_transaction_warning: Duration = timedelta(seconds=30)
    """Sessions idle in transaction this long make a warning."""
    idle_in_transaction_critical: Duration = timedelta(minutes=5)
    """A session idle in transaction this long makes the finding critical."""
    pgbouncer_wait_warning: Duration = timedelta(seconds=1)
    """A PgBouncer pool whose oldest client has waited this long (maxwait) makes a warning."""
    pgbouncer_wait_critical: Duration = timedelta(seconds=10)
    """A PgBouncer pool whose oldest client has waited this long (maxwait) makes a critical finding."""
    top: int = Field(5, ge=1, le=50)
    """Rows in each breakdown (application, user, client)."""


class ConnectionsProbe(PostgresProbe):
    """``db.connections``: used vs usable connections, idle transactions, PgBouncer queues."""

    id = "db.connections"
    description = "PostgreSQL connections: used vs usable, idle in transaction, PgBouncer queues"
    options_model = ConnectionsOptions

    def check(
        self, ctx: ProbeContext[ConnectionsOptions], target: PostgresTarget, label: str
    ) -> list[Finding]:
        from probes.postgres.client import read_hidden_sessions, read_server, read_sessions
        from probes.postgres.client_session import ConnectionsExhausted, open_session
        from probes.postgres.judge_connections import (
            ConnectionThresholds,
            judge_connections,
            judge_exhausted,
        )
        from probes.postgres.judge_visibility import judge_visibility
        from probes.postgres.snapshot import ConnectionsSnapshot

        options = ctx.options
        entity = database_entity(target, label)
        try:
            with open_session(target.dsn, label, ctx) as conn:
                server = read_server(conn, label)
                sessions = read_sessions(conn)
                hidden = 0 if server.can_read_all_stats else read_hidden_sessions(conn)
        except ConnectionsExhausted as exc:
            return [judge_exhausted(exc.reason, ctx.finding, entity, label)]
        pools, pool_error = self._pools(ctx, target)
        snapshot = ConnectionsSnapshot(
            server=server, sessions=sessions, pools=pools, pgbouncer_error=pool_error
        )
        limits = ConnectionThresholds(
            used_warning=options.used_warning,
            used_critical=options.used_critical,
            idle_in_transaction_warning_s=options.idle_in_transaction_warning.total_seconds(),
            idle_in_transaction_critical_s=options.idle_in_transaction_critical.total_seconds(),
            pool_wait_warning_s=options.pgbouncer_wait_warning.total_seconds(),
            pool_wait_critical_s=options.pgbouncer_wait_critical.total_seconds(),
            top=options.top,
        )
        return [
            *judge_connections(snapshot, limits, ctx.finding, entity),
            *judge_visibility(server, hidden, ctx.finding, entity),
        ]

    @staticmethod
    def _pools(ctx: ProbeContext, target: PostgresTarget) -> tuple[tuple[PoolStats, ...] | None, str | None]:
        if target.pgbouncer_dsn is None:
            return None, None
        from probes.postgres.client_pgbouncer import read_pools

        try:
            return read_pools(target.pgbouncer_dsn, server_label(target.pgbouncer_dsn), ctx), None
        except ProbeError as exc:
            return None, str(exc)
