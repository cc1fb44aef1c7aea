"""``db.replication``: standbys' lag, replication slots retaining WAL, and this server's own lag
when it is a standby. A server without standbys, slots or a primary yields nothing.

Signals: pg_stat_replication (replay lag in bytes from the LSNs, in seconds from replay_lag),
pg_replication_slots (WAL retained since restart_lsn; wal_status from 13), and on a standby
pg_stat_wal_receiver, pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn(),
pg_last_xact_replay_timestamp().

Default thresholds:

- replay lag >= 30 s or >= 1 GiB: warning; >= 5 min or >= 10 GiB: critical;
- an inactive slot retaining >= 1 GiB of WAL (or wal_status unreserved): warning;
  >= 10 GiB (or wal_status lost): critical;
- a standby whose WAL receiver is not streaming: critical.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from diagnostics import Duration, Finding, ProbeContext, ProbeOptions
from probes.postgres.base import PostgresProbe
from probes.postgres.config import PostgresTarget, database_entity

GIB = 1024**3


class ReplicationOptions(ProbeOptions):
    """Thresholds of ``db.replication`` (sizes in bytes)."""

    lag_warning: Duration = timedelta(seconds=30)
    """Replay lag (of a standby, or of this server as one) that makes a warning."""
    lag_critical: Duration = timedelta(minutes=5)
    """Replay lag (of a standby, or of this server as one) that makes a critical finding."""
    lag_bytes_warning: int = Field(GIB, ge=0)
    """Replay lag in bytes of WAL that makes a warning."""
    lag_bytes_critical: int = Field(10 * GIB, ge=0)
    """Replay lag in bytes of WAL that makes a critical finding."""
    slot_retained_warning: int = Field(GIB, ge=0)
    """Bytes of WAL retained by an inactive replication slot that make a warning."""
    slot_retained_critical: int = Field(10 * GIB, ge=0)
    """Bytes of WAL retained by an inactive replication slot that make a critical finding."""


class ReplicationProbe(PostgresProbe):
    """``db.replication``: standby lag, inactive slots, this server's own lag as a standby."""

    id = "db.replication"
    description = "PostgreSQL replication: standby lag, inactive slots retaining WAL"
    options_model = ReplicationOptions

    def check(
        self, ctx: ProbeContext[ReplicationOptions], target: PostgresTarget, label: str
    ) -> list[Finding]:
        from probes.postgres.client import read_replicas, read_server, read_slots, read_standby
        from probes.postgres.client_session import open_session
        from probes.postgres.judge_replication import ReplicationThresholds, judge_replication
        from probes.postgres.snapshot import ReplicationSnapshot

        options = ctx.options
        with open_session(target.dsn, label, ctx) as conn:
            server = read_server(conn, label)
            snapshot = ReplicationSnapshot(
                server=server,
                replicas=read_replicas(conn),
                slots=read_slots(conn, server),
                standby=read_standby(conn) if server.in_recovery else None,
            )
        limits = ReplicationThresholds(
            lag_warning_s=options.lag_warning.total_seconds(),
            lag_critical_s=options.lag_critical.total_seconds(),
            lag_bytes_warning=options.lag_bytes_warning,
            lag_bytes_critical=options.lag_bytes_critical,
            slot_retained_warning=options.slot_retained_warning,
            slot_retained_critical=options.slot_retained_critical,
        )
        return judge_replication(snapshot, limits, ctx.finding, database_entity(target, label))
