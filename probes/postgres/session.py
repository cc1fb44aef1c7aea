"""The probes' one safe session per database, and connection errors as ``ProbeError`` kinds.

Every transaction of the session is read-only and its first statement sets, with SET LOCAL,
``application_name`` (the probe never reports itself), ``default_transaction_read_only``,
``statement_timeout``, ``lock_timeout`` (it never waits behind the locks it diagnoses) and
``idle_in_transaction_session_timeout``.

One connection per database for a whole run: the ``db.*`` probes run in parallel and take
turns on a per-database gate; a probe that finishes while another waits at the gate hands it
the open connection, and the last one closes it *synchronously*: a PostgreSQL backend keeps its
socket open until it has given back its connection slot, so diag waits for the server to
close its end before anyone connects again. A nearly full server therefore never sees two diag
sessions at once, and ``db.connections`` never reports a refusal diag itself caused. No error
message ever carries the DSN.
"""

from __future__ import annotations

import contextlib
import math
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from diagnostics import ErrorKind, ProbeContext, ProbeError, ProbeTimeout
from probes.postgres.sql_texts import query

if TYPE_CHECKING:
    import psycopg

    Connection = psycopg.Connection[dict[str, Any]]

APPLICATION_NAME = "diag"
CONNECT_TIMEOUT_S = 5.0
STATEMENT_TIMEOUT_S = 5.0
LOCK_TIMEOUT_MS = 100
LIBPQ_MIN_CONNECT_TIMEOUT = 2  # libpq treats smaller connect_timeout values as 2 s
CLOSE_WAIT_S = 1.0
"""At most this long for the server to end a closed session (it takes about a millisecond)."""

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


def connect_timeout(ctx: ProbeContext) -> int:
    """libpq's connect_timeout: whole seconds, rounded down with a margin so the probe reports
    the timeout itself (never past the deadline)."""
    return max(LIBPQ_MIN_CONNECT_TIMEOUT, math.floor(ctx.timeout_for_call(CONNECT_TIMEOUT_S) - 0.5))


@dataclass(slots=True)
class _Gate:
    """One database's diag session slot, shared by the probes of a run."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    waiting: int = 0
    """Probes queued for the slot (changed under ``_GATES_LOCK``)."""
    parked: Connection | None = None
    """The open connection a finished probe left for the next one in the queue."""


_GATES: dict[str, _Gate] = {}
_GATES_LOCK = threading.Lock()


def _gate(dsn: str) -> _Gate:
    with _GATES_LOCK:
        return _GATES.setdefault(dsn, _Gate())


def _others_waiting(gate: _Gate) -> bool:
    with _GATES_LOCK:
        return gate.waiting > 0


def _acquire(gate: _Gate, label: str, ctx: ProbeContext) -> None:
    with _GATES_LOCK:
        gate.waiting += 1
    try:
        acquired = gate.lock.acquire(timeout=max(0.0, ctx.remaining() - 0.05))
    finally:
        with _GATES_LOCK:
            gate.waiting -= 1
    if not acquired:
        _close_orphan(gate)
        raise ProbeTimeout(f"{label}: another db probe held the database's diag session until the deadline")


def _close_orphan(gate: _Gate) -> None:
    # a connection parked for this probe while it gave up waiting: nobody else will take it
    if gate.lock.acquire(blocking=False):
        try:
            if gate.parked is not None and not _others_waiting(gate):
                close_session(gate.parked)
                gate.parked = None
        finally:
            gate.lock.release()


@contextmanager
def open_session(dsn: str, label: str, ctx: ProbeContext) -> Iterator[Connection]:
    """The one safe, read-only diag session on the database (waits its turn up to the deadline).

    On exit the transaction is rolled back; the connection goes to the next probe waiting for
    this database, or is closed and the server's end awaited when none is.
    """
    import psycopg

    gate = _gate(dsn)
    _acquire(gate, label, ctx)
    conn: Connection | None = None
    try:
        conn = _take(gate, dsn, label, ctx)
        try:
            yield conn
        except psycopg.Error as exc:
            raise query_error(exc, label) from None
    finally:
        try:
            if conn is not None:
                _hand_over_or_close(gate, conn)
        finally:
            gate.lock.release()


def _take(gate: _Gate, dsn: str, label: str, ctx: ProbeContext) -> Connection:
    import psycopg

    parked, gate.parked = gate.parked, None
    if parked is not None:
        try:
            begin(parked, ctx)
            return parked
        except psycopg.Error:
            close_session(parked)  # ended meanwhile (terminated, server restart): connect afresh
        except BaseException:
            close_session(parked)
            raise
    conn = _connect(dsn, label, ctx)
    try:
        begin(conn, ctx)
    except BaseException as exc:
        close_session(conn)
        if isinstance(exc, psycopg.Error):
            raise query_error(exc, label) from None
        raise
    return conn


def _hand_over_or_close(gate: _Gate, conn: Connection) -> None:
    import psycopg

    try:
        conn.rollback()  # ends the read-only transaction and its SET LOCAL settings
    except psycopg.Error:
        close_session(conn)
        return
    if not conn.broken and _others_waiting(gate):
        gate.parked = conn
    else:
        close_session(conn)


def _connect(dsn: str, label: str, ctx: ProbeContext) -> Connection:
    import psycopg
    from psycopg.rows import dict_row

    try:
        conn = psycopg.connect(
            dsn,
            autocommit=False,
            connect_timeout=connect_timeout(ctx),
            application_name=APPLICATION_NAME,  # a startup parameter PgBouncer accepts
            prepare_threshold=None,  # no server-side prepared statements: PgBouncer-safe
            row_factory=dict_row,
        )
    except psycopg.Error as exc:
        raise connect_error(exc, label) from None
    conn.read_only = True  # every transaction psycopg begins is BEGIN READ ONLY
    return conn


def close_session(conn: Connection, wait_s: float = CLOSE_WAIT_S) -> None:
    """Close the connection and wait (up to ``wait_s``) until the server has closed its end.

    A PostgreSQL backend leaves its socket open until it exits, after it has given back its
    connection slot (its ``socket_close`` comment calls this a "synchronous close"): once the
    socket reports end-of-file the next connection cannot be refused for a slot diag held.
    """
    watcher: socket.socket | None = None
    with contextlib.suppress(Exception):
        watcher = socket.socket(fileno=os.dup(conn.fileno()))
    conn.close()
    if watcher is None:
        return
    with watcher:
        deadline = time.monotonic() + wait_s
        with contextlib.suppress(OSError):
            while (left := deadline - time.monotonic()) > 0:
                watcher.settimeout(left)
                if not watcher.recv(4096):
                    return


def begin(conn: Connection, ctx: ProbeContext) -> None:
    """Start a read-only transaction whose settings are SET LOCAL: they end with it, so
    behind a transaction-pooling PgBouncer nothing leaks into an application's session."""
    statement_ms = max(50, int(ctx.timeout_for_call(STATEMENT_TIMEOUT_S) * 1000))
    conn.execute(
        query("session_setup"),
        {
            "application_name": APPLICATION_NAME,
            "statement_timeout": f"{statement_ms}ms",
            "lock_timeout": f"{LOCK_TIMEOUT_MS}ms",
            "idle_timeout": f"{max(1000, int(ctx.remaining() * 1000))}ms",
        },
    )


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
