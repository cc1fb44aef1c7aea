"""A real HTTP service whose health a test switches: answering, failing (503) or hanging.

service = SwitchableService.start()
service.mode = "fail"   # every request: HTTP 503
service.mode = "hang"   # every request: no answer until the mode changes (at most 30 s)
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

Mode = Literal["ok", "fail", "hang"]
HANG_LIMIT_S = 30.0


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        state = self.server.state
        if state.mode == "hang":
            state.changed.wait(HANG_LIMIT_S)
        if state.mode == "fail":
            body, status = b'{"status":"error","detail":"upstream ledger unavailable"}', 503
        else:
            body, status = b'{"status":"ok"}', 200
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass  # the client gave up while it hung


@dataclass(slots=True)
class _State:
    mode: Mode = "ok"
    changed: threading.Event = field(default_factory=threading.Event)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: _State


@dataclass(slots=True)
class SwitchableService:
    """The service on 127.0.0.1; ``url`` is its health endpoint."""

    server: _Server

    @classmethod
    def start(cls) -> SwitchableService:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.state = _State()
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
        return cls(server=server)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/healthz"

    @property
    def mode(self) -> Mode:
        return self.server.state.mode

    @mode.setter
    def mode(self, mode: Mode) -> None:
        state = self.server.state
        state.mode = mode
        state.changed.set()  # releases the hanging requests
        time.sleep(0.05)
        state.changed = threading.Event()

    def stop(self) -> None:
        self.mode = "ok"
        self.server.shutdown()
        self.server.server_close()
