"""Timing each connection requests opens: DNS resolution, TCP connect, TLS handshake, certificate.

requests does not expose phase timings, so its urllib3 connections are replaced by subclasses
that resolve the name themselves (``socket.getaddrinfo``, timed apart from the connect) and
time the TLS handshake. urllib3 connects in the calling thread, so the timings go to a
thread-local recorder that one attempt installs around its request (:func:`recording`); no
client object outlives a check.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

from probes.dependencies.tls import CertificateInfo, from_socket

_local = threading.local()


@dataclass(slots=True)
class ConnectionTiming:
    """Filled in while one connection opens (mutable on purpose: phases arrive one by one)."""

    host: str
    port: int
    dns_s: float | None = None
    connect_s: float | None = None
    tls_s: float | None = None
    address: str | None = None
    certificate: CertificateInfo | None = None
    errors: list[str] = field(default_factory=list)


@contextmanager
def recording() -> Iterator[list[ConnectionTiming]]:
    """Collect the timings of every connection opened by this thread inside the block."""
    timings: list[ConnectionTiming] = []
    previous = getattr(_local, "timings", None)
    _local.timings = timings
    try:
        yield timings
    finally:
        _local.timings = previous


def _open_socket(conn: HTTPConnection) -> tuple[socket.socket, ConnectionTiming]:
    timing = ConnectionTiming(host=conn.host, port=conn.port)
    recorder = getattr(_local, "timings", None)
    if recorder is not None:
        recorder.append(timing)
    began = time.perf_counter()
    try:
        infos = socket.getaddrinfo(conn.host, conn.port, 0, socket.SOCK_STREAM)
    except socket.gaierror as exc:
        timing.dns_s = time.perf_counter() - began
        raise NameResolutionError(conn.host, conn, exc) from exc
    resolved = time.perf_counter()
    timing.dns_s = resolved - began
    error: OSError | None = None
    for family, kind, proto, _, sockaddr in infos:
        try:
            sock = _connect(family, kind, proto, sockaddr, conn)
        except TimeoutError as exc:
            timing.connect_s = time.perf_counter() - resolved
            raise ConnectTimeoutError(
                conn, f"Connection to {conn.host} timed out. (connect timeout={conn.timeout})"
            ) from exc
        except OSError as exc:
            error = exc  # try the next address, as urllib3 does
            continue
        timing.connect_s = time.perf_counter() - resolved
        timing.address = str(sockaddr[0])
        return sock, timing
    timing.connect_s = time.perf_counter() - resolved
    raise NewConnectionError(conn, f"Failed to establish a new connection: {error}") from error


def _connect(family: int, kind: int, proto: int, sockaddr: Any, conn: HTTPConnection) -> socket.socket:
    """urllib3's create_connection for one resolved address (it would resolve the name again)."""
    sock = socket.socket(family, kind, proto)
    try:
        for level, option, value in conn.socket_options or ():
            sock.setsockopt(level, option, value)
        if isinstance(conn.timeout, int | float):
            sock.settimeout(conn.timeout)
        if conn.source_address:
            sock.bind(conn.source_address)
        sock.connect(sockaddr)
    except BaseException:
        sock.close()
        raise
    return sock


class TimedHTTPConnection(HTTPConnection):
    """One request per connection: once answered, it is closed as it goes back to its pool
    (and would be taken for a dropped one if it were not), so the next request reconnects.

    Every attempt (and every redirect hop) then measures DNS, connect and TLS afresh, while
    the pool itself is kept: clearing the pools per attempt costs more CPU than the request.
    """

    _answered = False

    def _new_conn(self) -> socket.socket:
        sock, _ = _open_socket(self)
        self._answered = False
        return sock

    def getresponse(self) -> Any:
        self._answered = True
        return super().getresponse()

    @property
    def is_connected(self) -> bool:
        return not self._answered and super().is_connected


class TimedHTTPSConnection(HTTPSConnection):
    """As :class:`TimedHTTPConnection`, plus the TLS handshake's time and the peer certificate."""

    _timing: ConnectionTiming | None = None
    _answered = False

    def _new_conn(self) -> socket.socket:
        sock, self._timing = _open_socket(self)
        self._answered = False
        return sock

    def getresponse(self) -> Any:
        self._answered = True
        return super().getresponse()

    @property
    def is_connected(self) -> bool:
        return not self._answered and super().is_connected

    def connect(self) -> None:
        began = time.perf_counter()
        try:
            super().connect()
        finally:
            timing = self._timing
            if timing is not None and timing.connect_s is not None:
                before = (timing.dns_s or 0.0) + timing.connect_s
                timing.tls_s = max(0.0, time.perf_counter() - began - before)
        if timing is not None and isinstance(self.sock, ssl.SSLSocket):
            timing.certificate = from_socket(self.sock, self.host)


def _close_answered(conn: Any) -> None:
    # a connection goes back to its pool once its response is read: close it there and then,
    # so a worker holds no idle socket between attempts (the sweep's socket count stays bounded)
    if conn is not None and getattr(conn, "_answered", False):
        conn.close()


class TimedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = TimedHTTPConnection

    def _put_conn(self, conn: Any) -> None:
        _close_answered(conn)
        super()._put_conn(conn)


class TimedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = TimedHTTPSConnection

    def _put_conn(self, conn: Any) -> None:
        _close_answered(conn)
        super()._put_conn(conn)

    def _validate_conn(self, conn: Any) -> None:
        # as urllib3's, without its InsecureRequestWarning: verify_tls: false is a deliberate,
        # documented choice in the configuration, not something to warn about on every attempt
        if conn.is_closed:
            conn.connect()


_TIMED_POOLS = {"http": TimedHTTPConnectionPool, "https": TimedHTTPSConnectionPool}


class TimedAdapter(HTTPAdapter):
    """An HTTPAdapter whose connections report their phases to :func:`recording`."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _TIMED_POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not proxy.lower().startswith("socks"):  # SOCKS pools have their own connection classes
            manager.pool_classes_by_scheme = _TIMED_POOLS
        return manager


def open_session() -> requests.Session:
    """A session with timed connections and no retries; proxies and limits are passed per request.

    ``trust_env`` is off because reading the proxy variables on every request costs more than
    the request itself on a sweep; the caller resolves them once (:mod:`probes.dependencies.environment`).
    """
    session = requests.Session()
    session.trust_env = False
    adapter = TimedAdapter(pool_connections=16, pool_maxsize=1, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class ThreadSessions:
    """One session per worker thread, reused across its attempts, all closed together.

    Safe to share across targets because nothing carries over: every connection serves one
    request (:class:`TimedHTTPConnection`) and the cookies are cleared after each attempt.
    """

    def __init__(self) -> None:
        self._local = threading.local()
        self._lock = threading.Lock()
        self._sessions: list[requests.Session] = []

    def get(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = open_session()
            self._local.session = session
            with self._lock:
                self._sessions.append(session)
        return session

    def close(self) -> None:
        with self._lock:
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.close()
