"""Reading PostgreSQL's statistics views into plain snapshots (the session comes from
``client_session``, pg_stat_statements from ``client_statements``, PgBouncer from
``client_pgbouncer``).

Every query text read here goes through ``query_text.mask_secrets``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from probes.postgres.client_session import APPLICATION_NAME
from probes.postgres.query_text import mask_secrets
from probes.postgres.snapshot import (
    CounterSample,
    DatabaseStats,
    LockTarget,
    PreparedTransaction,
    Replica,
    ServerInfo,
    Session,
    Slot,
    StandbyStatus,
    TableIndex,
    TableSample,
    TableScans,
)
from probes.postgres.sql_texts import (
    QUERY_CHARS,
    active_queries_sql,
    lock_waits_sql,
    query,
    reserved_connections,
    slots_sql,
)

if TYPE_CHECKING:
    from probes.postgres.client_session import Connection


def _rows(conn: Connection, statement: Any, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    return conn.execute(statement, params).fetchall()


def _params(**extra: Any) -> dict[str, Any]:
    return {"query_chars": QUERY_CHARS, "application_name": APPLICATION_NAME, **extra}


def read_server(conn: Connection, label: str) -> ServerInfo:
    """The facts every probe reads first (version, limits, privileges, recovery)."""
    return server_info(_rows(conn, query("server"))[0], label)


def server_info(row: Mapping[str, Any], label: str) -> ServerInfo:
    """server.sql's row as ServerInfo (``reserved_connections`` only from 16)."""
    values = dict(row)
    values["reserved"] = reserved_connections(int(row["version_num"]), row.get("reserved"))
    return ServerInfo(label=label, **values)


def session_from_row(row: Mapping[str, Any]) -> Session:
    """A pg_stat_activity row (with its lock columns, if any) as a Session, secrets masked."""
    lock = None
    if row.get("locktype") is not None:
        lock = LockTarget(
            locktype=row["locktype"],
            mode=row.get("mode"),
            relation=row.get("relation"),
            transaction_id=row.get("awaited_xid"),
        )
    text = row.get("query")
    return Session(
        pid=int(row["pid"]),
        user=row.get("user"),
        application=row.get("application") or "",
        client=row.get("client"),
        state=row.get("state"),
        query=mask_secrets(text) if text is not None else None,
        xact_age_s=row.get("xact_age_s"),
        state_age_s=row.get("state_age_s"),
        query_age_s=row.get("query_age_s"),
        state_since=row.get("state_since"),
        query_start=row.get("query_start"),
        wait_event_type=row.get("wait_event_type"),
        wait_event=row.get("wait_event"),
        query_id=row.get("query_id"),
        blocked_by=tuple(int(pid) for pid in row.get("blocked_by") or ()),
        wait_started=row.get("wait_started"),
        wait_s=row.get("wait_s"),
        lock=lock,
    )


def read_sessions(conn: Connection) -> tuple[Session, ...]:
    """Every client session but diag's own."""
    return tuple(session_from_row(row) for row in _rows(conn, query("sessions"), _params()))


def read_hidden_sessions(conn: Connection) -> int:
    """Other roles' sessions whose details the probe's role cannot see."""
    return int(_rows(conn, query("hidden_sessions"))[0]["hidden"])


def read_lock_waits(conn: Connection, server: ServerInfo) -> tuple[Session, ...]:
    """Sessions waiting on locks and the sessions blocking them (pid 0: a prepared transaction)."""
    rows = _rows(conn, lock_waits_sql(server.version_num), _params())
    return tuple(session_from_row(row) for row in rows)


def read_prepared(conn: Connection) -> tuple[PreparedTransaction, ...]:
    """pg_prepared_xacts, oldest first."""
    return tuple(PreparedTransaction(**row) for row in _rows(conn, query("prepared")))


def read_database_counters(conn: Connection) -> dict[str, Any]:
    """pg_stat_database of this database and the cluster's oldest transaction-id age."""
    return _rows(conn, query("database_stats"))[0]


def deadlock_counter(
    first: Mapping[str, Any], second: Mapping[str, Any] | None, interval_s: float
) -> CounterSample:
    """pg_stat_database.deadlocks, with its growth when two samples share a statistics epoch."""
    latest = second or first
    same_epoch = second is not None and second["stats_reset"] == first["stats_reset"]
    return CounterSample(
        total=int(latest["deadlocks"]),
        since=latest["stats_reset"],
        growth=int(second["deadlocks"]) - int(first["deadlocks"]) if second and same_epoch else None,
        interval_s=interval_s if second and same_epoch else None,
    )


def read_oldest_xmin(conn: Connection) -> tuple[Session | None, int | None]:
    """The session holding back the oldest snapshot, and its xmin age."""
    rows = _rows(conn, query("oldest_xmin"), _params())
    if not rows:
        return None, None
    return session_from_row(rows[0]), int(rows[0]["xmin_age"])


def database_stats(
    first: Mapping[str, Any], second: Mapping[str, Any] | None, oldest: tuple[Session | None, int | None]
) -> DatabaseStats:
    """The database counters, with block growth when two samples share a statistics epoch."""
    latest = second or first
    comparable = second is not None and second["stats_reset"] == first["stats_reset"]
    return DatabaseStats(
        blocks_hit=int(latest["blks_hit"]),
        blocks_read=int(latest["blks_read"]),
        blocks_hit_growth=int(second["blks_hit"]) - int(first["blks_hit"]) if second and comparable else None,
        blocks_read_growth=int(second["blks_read"]) - int(first["blks_read"])
        if second and comparable
        else None,
        oldest_database=latest["oldest_database"],
        xid_age=int(latest["xid_age"] or 0),
        mxid_age=int(latest["mxid_age"] or 0),
        freeze_max_age=int(latest["freeze_max_age"]),
        oldest_xmin_session=oldest[0],
        oldest_xmin_age=oldest[1],
    )


def read_active_queries(
    conn: Connection, server: ServerInfo, *, floor_s: float, limit: int
) -> tuple[Session, ...]:
    """Active client queries running at least ``floor_s``, oldest first."""
    rows = _rows(conn, active_queries_sql(server.version_num), _params(floor_s=floor_s, limit=limit))
    return tuple(session_from_row(row) for row in rows)


def read_replicas(conn: Connection) -> tuple[Replica, ...]:
    """pg_stat_replication: the standbys this server feeds."""
    return tuple(Replica(**row) for row in _rows(conn, query("replicas")))


def read_slots(conn: Connection, server: ServerInfo) -> tuple[Slot, ...]:
    """pg_replication_slots and the WAL each retains."""
    return tuple(Slot(**row) for row in _rows(conn, slots_sql(server.version_num)))


def read_standby(conn: Connection) -> StandbyStatus:
    """This server as a standby: its WAL receiver and replay position."""
    return StandbyStatus(**_rows(conn, query("standby"))[0])


SAMPLED_TABLES = 1000
"""Tables read per sample, the most read by sequential scans first."""


def read_table_scans(conn: Connection) -> TableSample | None:
    """pg_stat_user_tables' scan counters now, by the server's clock (None: no table)."""
    rows = _rows(conn, query("table_scans"), {"limit": SAMPLED_TABLES})
    if not rows:
        return None
    fields = ("relid", "table_name", "relname", "seq_scan", "seq_tup_read", "idx_scan", "n_live_tup")
    tables = tuple(TableScans(**{name: row[name] for name in fields}) for row in rows)
    return TableSample(at=rows[0]["sampled_at"], since=rows[0]["stats_since"], tables=tables)


def read_table_indexes(conn: Connection, relids: set[int]) -> tuple[TableIndex, ...]:
    """The indexes of the tables ``relids`` and their key columns."""
    if not relids:
        return ()
    rows = _rows(conn, query("table_indexes"), {"relids": sorted(relids)})
    return tuple(
        TableIndex(
            relid=int(row["relid"]),
            index_name=row["index_name"],
            columns=tuple(row["columns"] or ()),
            valid=bool(row["valid"]),
        )
        for row in rows
    )
