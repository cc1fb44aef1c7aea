"""The one module that talks to PostgreSQL and PgBouncer: safe sessions, then plain snapshots.

Every session reads in a read-only transaction that sets, with SET LOCAL, ``application_name``
(the probe never reports itself), ``default_transaction_read_only``, ``statement_timeout``,
``lock_timeout`` (it never waits behind the locks it diagnoses) and
``idle_in_transaction_session_timeout``; the probes of a run take turns on one session per
database. Errors become ``ProbeError`` with a kind; no message ever carries the DSN.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from importlib.resources import files
from typing import TYPE_CHECKING, Any

from diagnostics import ErrorKind, ProbeContext, ProbeError, ProbeTimeout
from probes.postgres.snapshot import (
    CounterSample,
    DatabaseStats,
    LockTarget,
    PoolStats,
    PreparedTransaction,
    Replica,
    ServerInfo,
    Session,
    Slot,
    StandbyStatus,
    Statement,
    StatementStats,
)

if TYPE_CHECKING:
    import psycopg

    Connection = psycopg.Connection[dict[str, Any]]

APPLICATION_NAME = "diag"
QUERY_CHARS = 1000
CONNECT_TIMEOUT_S = 5.0
STATEMENT_TIMEOUT_S = 5.0
LOCK_TIMEOUT_MS = 100
LIBPQ_MIN_CONNECT_TIMEOUT = 2  # libpq treats smaller connect_timeout values as 2 s

_EXHAUSTED = ("too many clients", "remaining connection slots are reserved")
_AUTH = (
    "password authentication failed",
    "authentication failed",
    "no password supplied",
    "no pg_hba.conf entry",
    "pg_hba.conf rejects",
    "is not permitted to log in",
    'role "',
)
_DNS = ("could not translate host name", "failed to resolve host", "name or service not known")


class ConnectionsExhausted(ProbeError):
    """The server refused the probe: every connection slot it may use is taken."""

    def __init__(self, label: str, reason: str) -> None:
        self.reason = reason
        super().__init__(f"{label} refused the connection: {reason}", kind=ErrorKind.CONNECT)


@cache
def sql_text(name: str) -> str:
    """The text of ``sql/<name>.sql``."""
    return (files("probes.postgres") / "sql" / f"{name}.sql").read_text(encoding="utf-8")


def _query(name: str) -> bytes:
    return sql_text(name).encode()


def _template(name: str, **parts: Any) -> Any:
    from psycopg import sql

    # the text comes from our own package files, never from input
    return sql.SQL(sql_text(name)).format(**parts)


def server_reason(text: str) -> str:
    """The server's own words from a libpq connection error (without the connection prefixes)."""
    first = text.strip().splitlines()[0] if text.strip() else "unknown error"
    reason = first.rsplit("failed: ", 1)[-1] if "failed: " in first else first
    return reason.removeprefix("FATAL:").strip()


def connect_error(exc: Exception, label: str) -> ProbeError:
    """A connection failure as a ProbeError of the right kind."""
    text = str(exc)
    lowered = text.lower()
    reason = server_reason(text)
    if any(marker in lowered for marker in _EXHAUSTED):
        return ConnectionsExhausted(label, reason)
    if any(marker in lowered for marker in _DNS):
        kind = ErrorKind.DNS
    elif "timeout expired" in lowered or "timed out" in lowered:
        kind = ErrorKind.TIMEOUT
    elif "ssl" in lowered or "certificate" in lowered:
        kind = ErrorKind.TLS
    elif any(marker in lowered for marker in _AUTH):
        kind = ErrorKind.AUTH
    elif "database" in lowered and "does not exist" in lowered:
        kind = ErrorKind.CONFIG
    else:
        kind = ErrorKind.CONNECT
    return ProbeError(f"cannot connect to {label}: {reason}", kind=kind)


def query_error(exc: Exception, label: str) -> ProbeError:
    """A failed statement as a ProbeError of the right kind."""
    from psycopg import OperationalError, errors

    primary = getattr(getattr(exc, "diag", None), "message_primary", None) or server_reason(str(exc))
    if isinstance(exc, errors.LockNotAvailable):
        return ProbeError(
            f"{label}: gave up waiting for a lock (lock_timeout): {primary}", kind=ErrorKind.TIMEOUT
        )
    if isinstance(exc, errors.QueryCanceled):
        return ProbeError(f"{label}: query cancelled by statement_timeout: {primary}", kind=ErrorKind.TIMEOUT)
    if isinstance(exc, errors.InsufficientPrivilege):
        return ProbeError(
            f"{label}: {primary} (grant the probe's role pg_monitor)", kind=ErrorKind.PERMISSION
        )
    if isinstance(exc, OperationalError):
        return ProbeError(f"{label}: connection lost: {primary}", kind=ErrorKind.CONNECT)
    return ProbeError(f"{label}: query failed: {primary}", kind=ErrorKind.QUERY)


def _connect_timeout(ctx: ProbeContext) -> int:
    # whole seconds, rounded down with a margin so the probe reports the timeout itself
    return max(LIBPQ_MIN_CONNECT_TIMEOUT, math.floor(ctx.timeout_for_call(CONNECT_TIMEOUT_S) - 0.5))


# One session per database at a time across the probes of a run: the db.* probes run in
# parallel, and four connections at once could take a nearly full server's last slots (and
# make db.connections report a refusal diag itself caused).
_GATES: dict[str, threading.Lock] = {}
_GATES_LOCK = threading.Lock()


@contextmanager
def session_gate(label: str, ctx: ProbeContext) -> Iterator[None]:
    """Hold the one diag session slot of the database ``label`` (waits up to the deadline)."""
    with _GATES_LOCK:
        gate = _GATES.setdefault(label, threading.Lock())
    if not gate.acquire(timeout=max(0.0, ctx.remaining() - 0.05)):
        raise ProbeTimeout(f"{label}: another db probe held the database's diag session until the deadline")
    try:
        yield
    finally:
        gate.release()


@contextmanager
def open_session(dsn: str, label: str, ctx: ProbeContext) -> Iterator[Connection]:
    """The one safe, read-only diag session on the database; closed on exit."""
    with session_gate(label, ctx), _connect(dsn, label, ctx) as conn:
        yield conn


@contextmanager
def _connect(dsn: str, label: str, ctx: ProbeContext) -> Iterator[Connection]:
    import psycopg
    from psycopg.rows import dict_row

    try:
        conn = psycopg.connect(
            dsn,
            autocommit=False,
            connect_timeout=_connect_timeout(ctx),
            application_name=APPLICATION_NAME,  # a startup parameter PgBouncer accepts
            row_factory=dict_row,
        )
    except psycopg.Error as exc:
        raise connect_error(exc, label) from None
    conn.read_only = True  # every transaction psycopg begins is BEGIN READ ONLY
    try:
        begin(conn, ctx)
        yield conn
    except psycopg.Error as exc:
        raise query_error(exc, label) from None
    finally:
        conn.close()  # rolls the read-only transaction back


def begin(conn: Connection, ctx: ProbeContext) -> None:
    """Start a read-only transaction whose settings are SET LOCAL: they end with it, so
    behind a transaction-pooling PgBouncer nothing leaks into an application's session."""
    statement_ms = max(50, int(ctx.timeout_for_call(STATEMENT_TIMEOUT_S) * 1000))
    conn.execute(
        _query("session_setup"),
        {
            "application_name": APPLICATION_NAME,
            "statement_timeout": f"{statement_ms}ms",
            "lock_timeout": f"{LOCK_TIMEOUT_MS}ms",
            "idle_timeout": f"{max(1000, int(ctx.remaining() * 1000))}ms",
        },
    )


def _rows(conn: Connection, query: Any, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    return conn.execute(query, params).fetchall()


def _params(**extra: Any) -> dict[str, Any]:
    return {"query_chars": QUERY_CHARS, "application_name": APPLICATION_NAME, **extra}


def read_server(conn: Connection, label: str) -> ServerInfo:
    row = _rows(conn, _query("server"))[0]
    return ServerInfo(label=label, **row)


def _session(row: Mapping[str, Any]) -> Session:
    lock = None
    if row.get("locktype") is not None:
        lock = LockTarget(locktype=row["locktype"], mode=row.get("mode"), relation=row.get("relation"))
    return Session(
        pid=int(row["pid"]),
        user=row.get("user"),
        application=row.get("application") or "",
        client=row.get("client"),
        state=row.get("state"),
        query=row.get("query"),
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
    """Every client session but the probe's own."""
    return tuple(_session(row) for row in _rows(conn, _query("sessions"), _params()))


def read_hidden_sessions(conn: Connection) -> int:
    return int(_rows(conn, _query("hidden_sessions"))[0]["hidden"])


def read_lock_waits(conn: Connection) -> tuple[Session, ...]:
    """Sessions waiting on locks and the sessions blocking them (pid 0: a prepared transaction)."""
    return tuple(_session(row) for row in _rows(conn, _query("lock_waits"), _params()))


def read_prepared(conn: Connection) -> tuple[PreparedTransaction, ...]:
    return tuple(PreparedTransaction(**row) for row in _rows(conn, _query("prepared")))


def read_database_counters(conn: Connection) -> dict[str, Any]:
    """pg_stat_database of this database and the cluster's oldest transaction-id age."""
    return _rows(conn, _query("database_stats"))[0]


def sample_pause(conn: Connection, seconds: float, ctx: ProbeContext) -> float:
    """Sleep between two samples (never past half the time left) outside any transaction, so
    no lock or snapshot is held meanwhile and the statistics are read afresh; the seconds slept."""
    pause = min(seconds, ctx.remaining() / 2)
    if pause <= 0:
        return 0.0
    conn.commit()
    time.sleep(pause)
    begin(conn, ctx)
    return pause


def deadlock_counter(
    first: Mapping[str, Any], second: Mapping[str, Any] | None, interval_s: float
) -> CounterSample:
    latest = second or first
    same_epoch = second is not None and second["stats_reset"] == first["stats_reset"]
    return CounterSample(
        total=int(latest["deadlocks"]),
        since=latest["stats_reset"],
        growth=int(second["deadlocks"]) - int(first["deadlocks"]) if second and same_epoch else None,
        interval_s=interval_s if second and same_epoch else None,
    )


def read_oldest_xmin(conn: Connection) -> tuple[Session | None, int | None]:
    rows = _rows(conn, _query("oldest_xmin"), _params())
    if not rows:
        return None, None
    return _session(rows[0]), int(rows[0]["xmin_age"])


def database_stats(
    first: Mapping[str, Any], second: Mapping[str, Any] | None, oldest: tuple[Session | None, int | None]
) -> DatabaseStats:
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
    from psycopg import sql

    query_id = sql.SQL("a.query_id" if server.version_num >= 140000 else "NULL::bigint")
    rows = _rows(conn, _template("active_queries", query_id=query_id), _params(floor_s=floor_s, limit=limit))
    return tuple(_session(row) for row in rows)


def read_replicas(conn: Connection) -> tuple[Replica, ...]:
    return tuple(Replica(**row) for row in _rows(conn, _query("replicas")))


def read_slots(conn: Connection) -> tuple[Slot, ...]:
    return tuple(Slot(**row) for row in _rows(conn, _query("slots")))


def read_standby(conn: Connection) -> StandbyStatus:
    return StandbyStatus(**_rows(conn, _query("standby"))[0])


def read_pools(dsn: str, label: str, ctx: ProbeContext) -> tuple[PoolStats, ...]:
    """PgBouncer's SHOW POOLS. The admin console speaks only the simple query protocol and
    treats SET as a change of its own settings: nothing but SHOW is sent."""
    import psycopg
    from psycopg.rows import dict_row

    try:
        with psycopg.connect(
            dsn,
            autocommit=True,
            connect_timeout=_connect_timeout(ctx),
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


SAMPLED_STATEMENTS = 5000  # pg_stat_statements.max's default: every entry, without text
NOT_INSTALLED = "pg_stat_statements is not installed in this database (CREATE EXTENSION pg_stat_statements)"
NOT_LOADED = "pg_stat_statements is installed but not loaded (add it to shared_preload_libraries)"


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".") if part.isdigit())


def read_statements(
    conn: Connection, ctx: ProbeContext, *, active_ids: tuple[int, ...], top: int, sample_s: float
) -> StatementStats:
    """pg_stat_statements without text (see fetch_statement_texts), or why it cannot be read."""
    from psycopg import errors, sql

    extension = _rows(conn, _query("statements_extension"))
    if not extension:
        return StatementStats(available=False, reason=NOT_INSTALLED)
    schema, version = sql.Identifier(extension[0]["schema"]), _version(extension[0]["version"])
    exec_names = version >= (1, 8)
    statements = _template(
        "statements",
        schema=schema,
        total=sql.Identifier("total_exec_time" if exec_names else "total_time"),
        mean=sql.Identifier("mean_exec_time" if exec_names else "mean_time"),
    )

    def fetch(ids: list[int] | None, limit: int) -> tuple[Statement, ...]:
        rows = _rows(conn, statements, {"query_ids": ids, "limit": limit})
        return tuple(Statement(**row) for row in rows)

    def info() -> dict[str, Any] | None:
        if version < (1, 9):
            return None
        return _rows(conn, _template("statements_info", schema=schema))[0]

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
            invalid = _samples_invalid(first_info, info())
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


def _samples_invalid(first: Mapping[str, Any] | None, second: Mapping[str, Any] | None) -> str | None:
    if first is None or second is None:
        return None
    if second["stats_reset"] != first["stats_reset"]:
        return "pg_stat_statements was reset between the two samples"
    if second["dealloc"] != first["dealloc"]:
        return "pg_stat_statements evicted entries between the two samples (raise pg_stat_statements.max)"
    return None


def _texts(conn: Connection, schema: Any, query_ids: set[int]) -> dict[int, str]:
    if not query_ids:
        return {}
    rows = _rows(
        conn,
        _template("statement_texts", schema=schema),
        {"query_ids": sorted(query_ids), "query_chars": QUERY_CHARS},
    )
    return {int(row["query_id"]): row["query"] for row in rows}


def fetch_statement_texts(conn: Connection, query_ids: set[int]) -> dict[int, str]:
    """The text of the few statements a finding shows (reading text reads pg_stat_statements'
    whole file, so it is done only when something is reported)."""
    from psycopg import sql

    extension = _rows(conn, _query("statements_extension"))
    if not extension:
        return {}
    return _texts(conn, sql.Identifier(extension[0]["schema"]), query_ids)
