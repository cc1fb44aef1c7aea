"""What the collect step reads from a server: plain frozen values, judged by pure functions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

HIDDEN_QUERY = "<insufficient privilege>"
"""What pg_stat_activity shows for other roles' sessions without pg_read_all_stats."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerInfo:
    """Facts every probe reads once per connection."""

    label: str
    """``host:port/dbname``: never the user or password."""
    version_num: int
    database: str
    user: str
    """The probe's role."""
    now: datetime
    """The server's clock_timestamp() when the snapshot was taken."""
    max_connections: int
    superuser_reserved: int
    reserved: int
    """``reserved_connections`` (16+), 0 before."""
    can_read_all_stats: bool
    """Member of pg_read_all_stats (pg_monitor) or superuser: other roles' sessions are visible."""
    in_recovery: bool

    @property
    def usable_connections(self) -> int:
        """The slots an ordinary role can take: max_connections minus the reserved ones."""
        return max(1, self.max_connections - self.superuser_reserved - self.reserved)


@dataclass(frozen=True, slots=True, kw_only=True)
class LockTarget:
    """The heavyweight lock a session waits for."""

    locktype: str | None
    mode: str | None
    relation: str | None
    transaction_id: int | None = None
    """The xid awaited (locktype ``transactionid``): a prepared transaction's, behind pid 0."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Session:
    """One row of pg_stat_activity (never the probe's own)."""

    pid: int
    user: str | None
    application: str
    client: str | None
    """Client address; None for a unix socket (or when not visible)."""
    state: str | None
    """None when the session is not visible to the probe's role."""
    query: str | None
    xact_age_s: float | None = None
    state_age_s: float | None = None
    query_age_s: float | None = None
    state_since: datetime | None = None
    query_start: datetime | None = None
    wait_event_type: str | None = None
    wait_event: str | None = None
    query_id: int | None = None
    blocked_by: tuple[int, ...] = ()
    """pg_blocking_pids(): hard and soft (queue-order) blockers; 0 is a prepared transaction."""
    wait_started: datetime | None = None
    wait_s: float | None = None
    lock: LockTarget | None = None

    @property
    def visible(self) -> bool:
        """False when the probe's role sees ``<insufficient privilege>`` instead of the query."""
        return self.query != HIDDEN_QUERY

    def describe(self) -> dict[str, object]:
        """The session as evidence details."""
        return {
            "pid": self.pid,
            "user": self.user,
            "application": self.application,
            "client": self.client or ("local" if self.visible else None),
            "state": self.state,
            "transaction_age_s": _round(self.xact_age_s),
            "state_age_s": _round(self.state_age_s),
            "query": self.query,
        }


def _round(value: float | None) -> float | None:
    return round(value, 3) if value is not None else None


@dataclass(frozen=True, slots=True, kw_only=True)
class PoolStats:
    """One row of PgBouncer's SHOW POOLS."""

    database: str
    user: str
    clients_active: int
    clients_waiting: int
    servers_active: int
    servers_idle: int
    max_wait_s: float
    pool_mode: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionsSnapshot:
    """What ``db.connections`` judges."""

    server: ServerInfo
    sessions: tuple[Session, ...]
    """Client backends, the probe's own sessions excluded."""
    pools: tuple[PoolStats, ...] | None = None
    """None when no PgBouncer is configured."""
    pgbouncer_error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PreparedTransaction:
    """One row of pg_prepared_xacts."""

    gid: str
    xid: int
    """Its transaction id (pg_prepared_xacts.transaction), what its waiters' locks await."""
    owner: str | None
    database: str | None
    age_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class CounterSample:
    """A cumulative counter, and its growth when two samples were taken."""

    total: int
    since: datetime | None
    """When the statistics were last reset (None: since the cluster was initialised)."""
    growth: int | None = None
    interval_s: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class LocksSnapshot:
    """What ``db.locks`` judges."""

    server: ServerInfo
    sessions: tuple[Session, ...]
    """Sessions waiting on a lock and every session blocking them."""
    prepared: tuple[PreparedTransaction, ...]
    deadlocks: CounterSample
    hidden_sessions: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Statement:
    """One pg_stat_statements entry (cumulative since its stats were reset)."""

    query_id: int
    role: str | None
    calls: int
    total_ms: float
    mean_ms: float
    rows: int


@dataclass(frozen=True, slots=True, kw_only=True)
class StatementStats:
    """What pg_stat_statements says, or why it cannot."""

    available: bool
    reason: str | None = None
    top: tuple[Statement, ...] = ()
    """By total time."""
    active: tuple[Statement, ...] = ()
    """The statements of the sessions running now (by query_id, 14+)."""
    before: tuple[Statement, ...] = ()
    after: tuple[Statement, ...] = ()
    """Two samples of every statement, ``sample_s`` apart (empty when not sampling)."""
    sample_s: float | None = None
    since: datetime | None = None
    """When pg_stat_statements was last reset (1.9+), for cumulative rates."""
    deltas_invalid: str | None = None
    """Why the samples cannot be compared (a reset or an eviction between them)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DatabaseStats:
    """pg_stat_database of the current database, and transaction-id age across the cluster."""

    blocks_hit: int
    blocks_read: int
    blocks_hit_growth: int | None
    blocks_read_growth: int | None
    oldest_database: str | None
    xid_age: int
    mxid_age: int
    freeze_max_age: int
    oldest_xmin_session: Session | None
    oldest_xmin_age: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class TableScans:
    """One row of pg_stat_user_tables: scan counters, cumulative since ``stats_since``."""

    relid: int
    table_name: str
    """As the search path names it (``pgbench_accounts``, ``audit.events``)."""
    relname: str
    seq_scan: int
    seq_tup_read: int
    idx_scan: int | None
    """None when the table has no index."""
    n_live_tup: int


@dataclass(frozen=True, slots=True, kw_only=True)
class TableSample:
    """pg_stat_user_tables at one moment of the server's clock."""

    at: datetime
    since: datetime
    """When the statistics began (their reset, or the server's start)."""
    tables: tuple[TableScans, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class TableIndex:
    """One index of a table, with its key columns in order (None for an expression)."""

    relid: int
    index_name: str
    columns: tuple[str | None, ...]
    valid: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class QueriesSnapshot:
    """What ``db.queries`` judges."""

    server: ServerInfo
    active: tuple[Session, ...]
    """Active client queries running at least as long as the shortest threshold."""
    statements: StatementStats
    database: DatabaseStats
    hidden_sessions: int
    tables_before: TableSample | None = None
    tables_after: TableSample | None = None
    """Two samples of the tables' scan counters around the statements' sample (None: not sampled)."""
    lock_roots: Mapping[int, int] = field(default_factory=dict)
    """For active queries waiting on a lock: their pid -> the pid of their tree's root blocker."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Replica:
    """One row of pg_stat_replication: a standby (or WAL receiver) fed by this server."""

    name: str
    client: str | None
    state: str | None
    sync_state: str | None
    replay_lag_bytes: int | None
    replay_lag_s: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Slot:
    """One row of pg_replication_slots."""

    name: str
    slot_type: str
    active: bool
    database: str | None
    wal_status: str | None
    """13+: reserved, extended, unreserved or lost."""
    retained_bytes: int | None
    xmin_age: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class StandbyStatus:
    """This server as a standby: how far behind its primary it replays."""

    receiver_status: str | None
    sender: str | None
    replay_backlog_bytes: int | None
    replay_delay_s: float | None
    """Since the last replayed transaction; 0 when everything received is replayed."""
    receiver_silence_s: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplicationSnapshot:
    """What ``db.replication`` judges."""

    server: ServerInfo
    replicas: tuple[Replica, ...]
    slots: tuple[Slot, ...]
    standby: StandbyStatus | None
