"""The HTTP side of ``diag serve``: ``/metrics``, ``/probe``, ``/report``, ``/healthz``.

:class:`ServeApp` answers requests as plain values (testable without a socket);
:func:`make_server` puts it behind a threading HTTP server, with TLS when configured.
``/metrics`` and ``/report`` answer from the cache, never by running a probe; ``/probe`` runs
one probe now (blackbox_exporter style), at most ``max_probe_requests`` at once (429 beyond),
joining a run of the same probe already in flight instead of starting another.
"""

from __future__ import annotations

import base64
import hmac
import logging
import ssl
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from diagnostics.errors import DiagError
from diagnostics.model import Report
from diagnostics.serve.config import ServeAuth, ServeSettings, parse_listen
from diagnostics.serve.exposition import encode, server_registry, single_probe_registry
from diagnostics.serve.schedule import ProbeRuns
from diagnostics.serve.state import LatestResults

logger = logging.getLogger("diag.serve")

REPORT_TYPES = {
    "json": "application/json; charset=utf-8",
    "markdown": "text/markdown; charset=utf-8",
    "text": "text/plain; charset=utf-8",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Response:
    status: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"
    headers: Mapping[str, str] = field(default_factory=dict)


def _text(status: int, message: str, **headers: str) -> Response:
    return Response(status=status, body=(message + "\n").encode(), headers=headers)


class ServeApp:
    """Answers the endpoints from the cached results and the probe runner."""

    def __init__(
        self,
        *,
        latest: LatestResults,
        runs: ProbeRuns,
        probe_ids: Sequence[str],
        settings: ServeSettings,
        render_report: Callable[[Report, str], str],
        redact: Callable[[str], str],
        probe_wait: float,
    ) -> None:
        self._latest = latest
        self._runs = runs
        self._probe_ids = frozenset(probe_ids)
        self._auth = settings.auth
        self._render_report = render_report
        self._redact = redact
        self._probe_wait = probe_wait
        self._probe_slots = threading.BoundedSemaphore(settings.max_probe_requests)
        self._registry = server_registry(latest)

    def handle(self, method: str, target: str, headers: Mapping[str, str]) -> Response:
        """The response to one request (``headers`` with lower-case names)."""
        parts = urlsplit(target)
        if method not in ("GET", "HEAD"):
            return _text(405, "only GET", Allow="GET, HEAD")
        if parts.path == "/healthz":
            return _text(200, "ok")
        if parts.path not in ("/metrics", "/probe", "/report"):
            return _text(404, "not found: /metrics, /probe?probe=ID, /report, /healthz")
        if self._auth is not None and not authorized(self._auth, headers.get("authorization", "")):
            scheme = "Bearer" if self._auth.bearer_token is not None else 'Basic realm="diag"'
            return _text(401, "unauthorized", **{"WWW-Authenticate": scheme})
        query = parse_qs(parts.query)
        if parts.path == "/metrics":
            body, content_type = encode(self._registry, headers.get("accept"))
            return Response(status=200, body=body, content_type=content_type)
        if parts.path == "/report":
            return self._report(query.get("format", ["json"])[-1])
        return self._probe(query.get("probe", []), headers.get("accept"))

    def _report(self, fmt: str) -> Response:
        if fmt not in REPORT_TYPES:
            return _text(400, f"format must be one of {', '.join(REPORT_TYPES)}")
        report = self._latest.report()
        if report is None:
            return _text(503, "no run has finished yet", **{"Retry-After": "5"})
        return Response(
            status=200, body=self._render_report(report, fmt).encode(), content_type=REPORT_TYPES[fmt]
        )

    def _probe(self, ids: list[str], accept: str | None) -> Response:
        if len(ids) != 1:
            return _text(400, "give exactly one probe: /probe?probe=ID")
        probe_id = ids[0]
        if probe_id not in self._probe_ids:
            known = ", ".join(sorted(self._probe_ids)) or "none"
            return _text(400, f"{probe_id!r} is not a probe this server runs; it runs: {known}")
        if not self._probe_slots.acquire(blocking=False):
            return _text(429, "too many probe runs at once; try again", **{"Retry-After": "1"})
        try:
            result = self._runs.run([probe_id], wait=self._probe_wait)[probe_id]
        except DiagError as exc:
            return _text(500, self._redact(f"{probe_id}: {exc}"))
        finally:
            self._probe_slots.release()
        if result is None:
            return _text(504, f"{probe_id}: no result within {self._probe_wait:g}s")
        body, content_type = encode(single_probe_registry(result), accept)
        return Response(status=200, body=body, content_type=content_type)


def authorized(auth: ServeAuth, header: str) -> bool:
    """Whether an ``Authorization`` header carries the configured credentials (constant time)."""
    scheme, _, credentials = header.partition(" ")
    if auth.bearer_token is not None:
        expected = auth.bearer_token.get_secret_value()
        return scheme.lower() == "bearer" and hmac.compare_digest(
            credentials.strip().encode(), expected.encode()
        )
    if scheme.lower() != "basic" or auth.username is None or auth.password is None:
        return False
    try:
        user, _, password = base64.b64decode(credentials.strip(), validate=True).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return False
    same_user = hmac.compare_digest(user.encode(), auth.username.encode())
    same_password = hmac.compare_digest(password.encode(), auth.password.get_secret_value().encode())
    return same_user and same_password


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    app: ServeApp


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "diag-serve"
    sys_version = ""

    def _answer(self, method: str) -> None:
        headers = {name.lower(): value for name, value in self.headers.items()}
        try:
            response = self.server.app.handle(method, self.path, headers)
        except Exception:  # the service stays up; the cause goes to the log, never to the client
            logger.exception("request %s %s failed", method, urlsplit(self.path).path)
            response = _text(500, "internal error (see the server's log)")
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(response.body)

    def do_GET(self) -> None:
        self._answer("GET")

    def do_HEAD(self) -> None:
        self._answer("HEAD")

    def do_POST(self) -> None:
        self._answer("POST")

    def log_message(self, format: str, *args: object) -> None:
        logger.debug("%s %s", self.address_string(), format % args)


def make_server(app: ServeApp, settings: ServeSettings, listen: str | None = None) -> ThreadingHTTPServer:
    """A bound (not yet serving) HTTP(S) server for ``app``."""
    host, port = parse_listen(listen or settings.listen)
    server = _Server((host, port), _Handler)
    server.app = app
    if settings.tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(str(settings.tls.cert_file), str(settings.tls.key_file))
        server.socket = context.wrap_socket(server.socket, server_side=True)
    return server
