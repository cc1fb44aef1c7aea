"""The probes' one safe session per database, and connection errors as ``ProbeError`` kinds.

The session's limits hold from its first statement: ``statement_timeout``, ``lock_timeout`` (it
never waits behind the locks it diagnoses, not even on a locked catalog),
``default_transaction_read_only`` and ``idle_in_transaction_session_timeout`` are startup
options (libpq ``options=-c ...``). Every transaction then sets them again with SET LOCAL,
``statement_timeout`` to the time the probe has left; behind a transaction-pooling PgBouncer,
which refuses startup options, only these SET LOCAL settings apply (they end with the
transaction, so nothing leaks into an application's session).

One connection per database for a whole run, and one attempt to open it: it is a run resource
(:class:`diagnostics.contract.RunResources`). The ``db.*`` probes run in parallel and take turns
on it; a server with one free slot never sees two diag sessions. When the run ends the runner
closes it: a statement still running is cancelled (``PQcancel``), a socket still blocked is
shut down, and the close waits for the server to end the backend, so nothing diag started is
left on the server. No error message ever carries the DSN.
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
CANCEL_WAIT_S = 1.0
"""At the run's end, at most this long for a cancelled statement to return before the socket is shut."""

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


class SharedSession:
    """The run's diag session on one database, and the turn the probes take on it."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.turn = threading.Lock()

    def close(self) -> None:
        """End the session from any thread: cancel a running statement, unblock, close."""
        if not self.turn.acquire(timeout=0):
            with contextlib.suppress(Exception):
                _cancel(self.conn)
            if not self.turn.acquire(timeout=CANCEL_WAIT_S):
                # the network itself is hung: wake the probe's thread, which closes it
                _shut_down(self.conn)
                if not self.turn.acquire(timeout=CANCEL_WAIT_S):
                    return
        try:
            close_session(self.conn)
        finally:
            self.turn.release()


@contextmanager
def open_session(dsn: str, label: str, ctx: ProbeContext) -> Iterator[Connection]:
    """The run's safe, read-only diag session on the database, in a new transaction
    (waits its turn up to the deadline). On exit the transaction is rolled back."""
    import psycopg

    shared = ctx.resources.get(
        ("postgres", dsn), lambda: SharedSession(_connect(dsn, label, ctx)), SharedSession.close
    )
    if not shared.turn.acquire(timeout=max(0.0, ctx.remaining() - 0.05)):
        raise ProbeTimeout(f"{label}: another db probe held the database's diag session until the deadline")
    conn = shared.conn
    try:
        if conn.closed or conn.broken:
            raise ProbeError(f"{label}: the run's session on the database was lost", kind=ErrorKind.CONNECT)
        try:
            begin(conn, ctx)
            yield conn
        except psycopg.Error as exc:
            raise query_error(exc, label) from None
    finally:
        try:
            _end_transaction(conn)
        finally:
            shared.turn.release()


def _end_transaction(conn: Connection) -> None:
    import psycopg

    if conn.closed:
        return
    try:
        conn.rollback()  # ends the read-only transaction and its SET LOCAL settings
    except psycopg.Error:
        close_session(conn)  # lost or unusable: the next probe of the run says so


def _cancel(conn: Connection) -> None:
    """Ask the server to cancel the running statement (``PQcancel``), bounded in time."""
    cancel_safe = getattr(conn, "cancel_safe", None)
    if cancel_safe is not None:  # psycopg 3.2+: never blocks past its timeout
        cancel_safe(timeout=CANCEL_WAIT_S)
    else:
        conn.cancel()


def _shut_down(conn: Connection) -> None:
    """Shut the connection's socket down: a thread blocked reading it gets an error at once."""
    with contextlib.suppress(OSError, ValueError):
        watcher = socket.socket(fileno=os.dup(conn.fileno()))
        with watcher:
            watcher.shutdown(socket.SHUT_RDWR)


def startup_options(ctx: ProbeContext) -> str:
    """libpq ``options``: the session's limits, in force from its first statement."""
    settings = {
        "statement_timeout": max(50, int(ctx.timeout_for_call(STATEMENT_TIMEOUT_S) * 1000)),
        "lock_timeout": LOCK_TIMEOUT_MS,
        "idle_in_transaction_session_timeout": max(1000, int(ctx.remaining() * 1000)),
        "default_transaction_read_only": "on",
    }
    return " ".join(f"-c {name}={value}" for name, value in settings.items())


def _connect(dsn: str, label: str, ctx: ProbeContext) -> Connection:
    import psycopg

    try:
        try:
            conn = _open(dsn, ctx, options=_merged_options(dsn, startup_options(ctx)))
        except psycopg.OperationalError as exc:
            if not _refuses_options(exc):
                raise
            conn = _open(dsn, ctx, options=None)  # a PgBouncer: SET LOCAL in begin() only
    except psycopg.Error as exc:
        raise connect_error(exc, label) from None
    conn.read_only = True  # every transaction psycopg begins is BEGIN READ ONLY
    return conn


def _open(dsn: str, ctx: ProbeContext, *, options: str | None) -> Connection:
    import psycopg
    from psycopg.rows import dict_row

    extra: dict[str, Any] = {"options": options} if options else {}
    return psycopg.connect(
        dsn,
        autocommit=False,
        connect_timeout=connect_timeout(ctx),
        application_name=APPLICATION_NAME,  # a startup parameter PgBouncer accepts
        prepare_threshold=None,  # no server-side prepared statements: PgBouncer-safe
        row_factory=dict_row,
        **extra,
    )


def _merged_options(dsn: str, ours: str) -> str:
    """The DSN's own ``options`` (if any) followed by ours, which win where they overlap."""
    from psycopg.conninfo import conninfo_to_dict

    theirs = str(conninfo_to_dict(dsn).get("options") or "").strip()
    return f"{theirs} {ours}" if theirs else ours


def _refuses_options(exc: Exception) -> bool:
    # PgBouncer: "unsupported startup parameter: options" (or "in options: ...")
    return "unsupported startup parameter" in str(exc).lower()


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
