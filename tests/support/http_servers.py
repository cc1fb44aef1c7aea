"""Session fixtures: real HTTP(S) and TCP servers on 127.0.0.1 that stage dependency failures.

    def test_payments_down(http_servers: HttpServers) -> None:
        config = {"dependencies": [{"name": "payments", "url": http_servers.url("/status/503")}]}

One plain HTTP server answers every route below; the other servers each stage one failure that
needs its own socket. All start once per session, in daemon threads.

Routes of the plain server (``http_servers.url(path)``):

- ``/healthz``: 200 ``{"status":"ok"}``
- ``/status/<code>``: that status, body ``{"status":"error"}``
- ``/slow/<ms>``: 200 ``{"status":"ok"}`` after ``ms`` milliseconds
- ``/degraded``: 200 ``{"status":"degraded"}`` (a wrong body for ``expect_body: '"status":"ok"'``)
- ``/loop/a`` and ``/loop/b``: redirect to each other forever
- ``/redirect/<n>``: ``n`` redirects, then ``/healthz``
- ``/flaky/<key>/<every>``: 503 on the 1st, (every+1)th... request for ``key``, else 200
- ``/private``: 200 with ``Authorization: Bearer <PRIVATE_TOKEN>``, else 401
- ``/track/<tag>/<ms>``: like ``/slow`` and counts requests in flight per tag (``peak_in_flight``)
- ``/statuspage/<variant>/api/v2/summary.json``: a status page (``STATUSPAGE_VARIANTS``)

Other servers: ``hang_url`` accepts connections and never answers (read timeout);
``closed_port_url`` has nothing listening (refused); ``connect_timeout_address`` is a listener
whose accept queue is full, so connects time out; ``tls`` holds HTTPS servers whose certificates
expire in 2 days, have expired, or name another host, all issued by the CA in ``tls.ca_bundle``;
``proxy_url`` is a forwarding HTTP proxy that answers every request itself and logs its URL.
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.support.ports import free_port

HOST = "127.0.0.1"
PRIVATE_TOKEN = "diag-test-token-8c1f"
OK_BODY = b'{"status":"ok"}'

STATUSPAGE_OPERATIONAL: dict[str, Any] = {
    "page": {
        "id": "p1",
        "name": "Acme Payments",
        "url": "https://status.acme.test",
        "updated_at": "2026-11-27T09:00:00.000Z",
    },
    "status": {"indicator": "none", "description": "All Systems Operational"},
    "components": [
        {"id": "c1", "name": "API", "status": "operational", "group": False, "group_id": None},
        {"id": "c2", "name": "Dashboard", "status": "operational", "group": False, "group_id": None},
    ],
    "incidents": [],
    "scheduled_maintenances": [],
}
STATUSPAGE_DEGRADED: dict[str, Any] = {
    **STATUSPAGE_OPERATIONAL,
    "status": {"indicator": "minor", "description": "Minor Service Outage"},
    "components": [
        {"id": "g1", "name": "Payments", "status": "degraded_performance", "group": True, "group_id": None},
        {"id": "c1", "name": "API", "status": "operational", "group": False, "group_id": None},
        {"id": "c3", "name": "Webhooks", "status": "degraded_performance", "group": False, "group_id": "g1"},
    ],
}
STATUSPAGE_MAJOR_OUTAGE: dict[str, Any] = {
    **STATUSPAGE_OPERATIONAL,
    "status": {"indicator": "major", "description": "Partial System Outage"},
    "components": [
        {"id": "c1", "name": "API", "status": "major_outage", "group": False, "group_id": None},
        {"id": "c2", "name": "Dashboard", "status": "partial_outage", "group": False, "group_id": None},
    ],
    "incidents": [
        {
            "id": "i1",
            "name": "Elevated API error rates",
            "status": "identified",
            "impact": "major",
            "created_at": "2026-11-27T08:12:00.000Z",
            "started_at": "2026-11-27T08:10:00.000Z",
            "shortlink": "https://stspg.io/acme1",
            "incident_updates": [
                {"body": "We have identified the cause and are rolling back.", "status": "identified"}
            ],
        },
        {
            "id": "i2",
            "name": "Delayed webhooks",
            "status": "investigating",
            "impact": "minor",
            "created_at": "2026-11-27T08:40:00.000Z",
            "started_at": "2026-11-27T08:40:00.000Z",
            "shortlink": "https://stspg.io/acme2",
            "incident_updates": [],
        },
    ],
}
OTHER_SCHEMA: dict[str, Any] = {"state": "ok", "services": [{"service": "api", "healthy": True}]}
"""Not a Statuspage summary (an Instatus-like document): must fail clearly."""
STATUSPAGE_VARIANTS = {
    "operational": STATUSPAGE_OPERATIONAL,
    "degraded": STATUSPAGE_DEGRADED,
    "major-outage": STATUSPAGE_MAJOR_OUTAGE,
    "other-schema": OTHER_SCHEMA,
}


class _Tracker:
    """Requests in flight per tag, and the most seen at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.in_flight: dict[str, int] = {}
        self.peak: dict[str, int] = {}
        self.flaky: dict[str, int] = {}

    def enter(self, tag: str) -> None:
        with self.lock:
            self.in_flight[tag] = self.in_flight.get(tag, 0) + 1
            self.peak[tag] = max(self.peak.get(tag, 0), self.in_flight[tag])

    def leave(self, tag: str) -> None:
        with self.lock:
            self.in_flight[tag] -= 1

    def flaky_count(self, key: str) -> int:
        with self.lock:
            self.flaky[key] = self.flaky.get(key, 0) + 1
            return self.flaky[key]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024
    tracker: _Tracker
    proxied: list[str]

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients hanging up mid-answer (timeouts, TLS rejections) are staged, not errors


class _TlsServer(_Server):
    context: ssl.SSLContext

    def get_request(self) -> tuple[Any, Any]:
        sock, address = self.socket.accept()
        return self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), address


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        self.request.settimeout(10)
        if isinstance(self.request, ssl.SSLSocket):
            self.request.do_handshake()
        super().setup()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes = OK_BODY, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        parts = [p for p in self.path.split("?")[0].split("/") if p]
        route = parts[0] if parts else ""
        if route == "healthz":
            self._send(200)
        elif route == "status" and len(parts) == 2:
            self._send(int(parts[1]), b'{"status":"error"}')
        elif route == "slow" and len(parts) == 2:
            time.sleep(int(parts[1]) / 1000)
            self._send(200)
        elif route == "degraded":
            self._send(200, b'{"status":"degraded","detail":"replica lag"}')
        elif route == "loop" and len(parts) == 2:
            self._send(302, b"", {"Location": "/loop/b" if parts[1] == "a" else "/loop/a"})
        elif route == "redirect" and len(parts) == 2:
            hops = int(parts[1])
            self._send(302, b"", {"Location": f"/redirect/{hops - 1}" if hops > 1 else "/healthz"})
        elif route == "flaky" and len(parts) == 3:
            count = self.server.tracker.flaky_count(parts[1])
            self._send(503 if count % int(parts[2]) == 1 else 200, b'{"status":"ok"}')
        elif route == "private":
            authorized = self.headers.get("Authorization") == f"Bearer {PRIVATE_TOKEN}"
            self._send(200 if authorized else 401, OK_BODY if authorized else b'{"error":"unauthorized"}')
        elif route == "track" and len(parts) == 3:
            self.server.tracker.enter(parts[1])
            try:
                time.sleep(int(parts[2]) / 1000)
            finally:
                self.server.tracker.leave(parts[1])  # before answering: in flight <= concurrency exactly
            self._send(200)
        elif route == "statuspage" and len(parts) >= 2 and parts[1] in STATUSPAGE_VARIANTS:
            self._send(200, json.dumps(STATUSPAGE_VARIANTS[parts[1]]).encode())
        else:
            self._send(404, b'{"error":"not found"}')


class _ProxyHandler(_Handler):
    def do_GET(self) -> None:
        self.server.proxied.append(self.path)  # a forwarding proxy receives the absolute URL
        self._send(200, b'{"status":"ok","via":"diag-test-proxy"}')


def _serve(server: ThreadingHTTPServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return thread


class _SilentListener:
    """Accepts connections and never answers: every request ends in a read timeout."""

    def __init__(self) -> None:
        self.socket = socket.create_server((HOST, 0), backlog=128)
        self.port: int = self.socket.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            readable, _, _ = select.select([self.socket], [], [], 0.05)
            if readable:
                connection, _ = self.socket.accept()
                self.accepted.append(connection)

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=1)
        for connection in self.accepted:
            connection.close()
        self.socket.close()


class _FullBacklog:
    """A listener whose accept queue is full: the kernel drops new SYNs, so connects time out."""

    def __init__(self) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.bind((HOST, 0))
        self.socket.listen(0)
        self.port: int = self.socket.getsockname()[1]
        self.fillers = []
        for _ in range(2):  # with backlog 0, Linux queues one connection; the second is spare
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect((HOST, self.port))
            self.fillers.append(filler)
        time.sleep(0.05)

    def close(self) -> None:
        for filler in self.fillers:
            filler.close()
        self.socket.close()


@dataclass(frozen=True, slots=True, kw_only=True)
class TlsServers:
    ca_bundle: str
    """PEM of the CA that issued every certificate below; trust it with an entry's ``ca_bundle``."""
    expiring_url: str
    """Certificate valid for 127.0.0.1, expiring in 2 days."""
    expiring_not_after: datetime
    expired_url: str
    """Certificate for 127.0.0.1 that expired 3 days ago."""
    expired_not_after: datetime
    wrong_host_url: str
    """Valid certificate, but for wrong-host.example only."""


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpServers:
    base_url: str
    hang_url: str
    closed_port_url: str
    connect_timeout_address: tuple[str, int]
    proxy_url: str
    tls: TlsServers
    private_token: str = PRIVATE_TOKEN
    _tracker: _Tracker = field(repr=False)
    _proxied: list[str] = field(repr=False)

    def url(self, path: str) -> str:
        """A URL of the plain server (see the routes in this module's docstring)."""
        return self.base_url + path

    @property
    def connect_timeout_url(self) -> str:
        host, port = self.connect_timeout_address
        return f"http://{host}:{port}/healthz"

    def peak_in_flight(self, tag: str) -> int:
        """The most ``/track/<tag>/...`` requests the server was answering at once."""
        return self._tracker.peak.get(tag, 0)

    def proxied(self) -> list[str]:
        """Every absolute URL the proxy was asked for, in order."""
        return list(self._proxied)


def _tls_server(context: ssl.SSLContext) -> _TlsServer:
    server = _TlsServer((HOST, 0), _Handler)
    server.context = context
    server.tracker = _Tracker()
    server.proxied = []
    _serve(server)
    return server


def _start_tls(directory: Path) -> tuple[TlsServers, list[_TlsServer]]:
    import trustme

    ca = trustme.CA()
    bundle = directory / "diag-test-ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    now = datetime.now(UTC).replace(microsecond=0)
    expiring_at = now + timedelta(days=2)
    expired_at = now - timedelta(days=3)
    certificates = {
        "expiring": ca.issue_cert(HOST, "localhost", not_after=expiring_at),
        "expired": ca.issue_cert(
            HOST, "localhost", not_before=now - timedelta(days=30), not_after=expired_at
        ),
        "wrong_host": ca.issue_cert("wrong-host.example"),
    }
    servers = {}
    for name, certificate in certificates.items():
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        certificate.configure_cert(context)
        servers[name] = _tls_server(context)

    def url(name: str) -> str:
        return f"https://{HOST}:{servers[name].server_address[1]}/healthz"

    info = TlsServers(
        ca_bundle=str(bundle),
        expiring_url=url("expiring"),
        expiring_not_after=expiring_at,
        expired_url=url("expired"),
        expired_not_after=expired_at,
        wrong_host_url=url("wrong_host"),
    )
    return info, list(servers.values())


@pytest.fixture(scope="session")
def http_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpServers]:
    """Every staged dependency server, started once for the whole session."""
    tracker = _Tracker()
    plain = _Server((HOST, 0), _Handler)
    plain.tracker = tracker
    plain.proxied = []
    proxied: list[str] = []
    proxy = _Server((HOST, 0), _ProxyHandler)
    proxy.tracker = tracker
    proxy.proxied = proxied
    for server in (plain, proxy):
        _serve(server)
    silent = _SilentListener()
    backlog = _FullBacklog()
    tls, tls_servers = _start_tls(tmp_path_factory.mktemp("tls"))
    try:
        yield HttpServers(
            base_url=f"http://{HOST}:{plain.server_address[1]}",
            hang_url=f"http://{HOST}:{silent.port}/healthz",
            closed_port_url=f"http://{HOST}:{free_port()}/healthz",
            connect_timeout_address=(HOST, backlog.port),
            proxy_url=f"http://{HOST}:{proxy.server_address[1]}",
            tls=tls,
            _tracker=tracker,
            _proxied=proxied,
        )
    finally:
        for server in (plain, proxy, *tls_servers):
            server.shutdown()
            server.server_close()
        silent.close()
        backlog.close()
