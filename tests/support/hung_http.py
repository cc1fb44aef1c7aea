"""A real HTTP server that misbehaves the ways a sick backend does, for client tests.

Modes: ``trickle`` (answers a JSON 200 whose body comes one byte a second), ``silent`` (accepts
the connection, never answers), ``malformed`` (a JSON 200 that is not JSON), ``huge`` (a JSON
200 of 200 MB sent as fast as the client reads, without a Content-Length).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

JSON_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"


@dataclass
class HungServer:
    """A listening socket on 127.0.0.1 and the connections it accepted."""

    mode: str
    listener: socket.socket = field(default_factory=lambda: socket.create_server(("127.0.0.1", 0)))
    stopped: threading.Event = field(default_factory=threading.Event)
    accepted: list[socket.socket] = field(default_factory=list)

    @property
    def port(self) -> int:
        return int(self.listener.getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def serve(self) -> None:
        self.listener.settimeout(0.2)
        while not self.stopped.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted.append(conn)
            threading.Thread(target=self._answer, args=(conn,), daemon=True, name="hung-http").start()

    def _answer(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError), conn:
            conn.recv(65536)  # the request (small GETs arrive in one piece)
            if self.mode == "silent":
                self.stopped.wait()
            elif self.mode == "malformed":
                body = b'{"status":"success","data":{"resultType":<html>oops</html>'
                conn.sendall(JSON_HEAD + b"Content-Length: %d\r\n\r\n" % len(body) + body)
            elif self.mode == "huge":
                conn.sendall(JSON_HEAD + b'\r\n{"status":"success","data":{"resultType":"vector","result":[')
                chunk = b'{"metric":{},"value":[1,"1"]},' * 2048
                for _ in range(200 * 1024 * 1024 // len(chunk)):
                    if self.stopped.is_set():
                        return
                    conn.sendall(chunk)
            elif self.mode == "trickle":
                conn.sendall(JSON_HEAD + b"Content-Length: 1000000\r\n\r\n")
                while not self.stopped.wait(1.0):
                    conn.sendall(b" ")

    def stop(self) -> None:
        self.stopped.set()
        self.listener.close()
        for conn in self.accepted:
            with contextlib.suppress(OSError):
                conn.close()


@contextlib.contextmanager
def hung_server(mode: str) -> Iterator[HungServer]:
    """A :class:`HungServer` in ``mode``, stopped at the end of the block."""
    server = HungServer(mode)
    thread = threading.Thread(target=server.serve, daemon=True, name="hung-http-accept")
    thread.start()
    try:
        yield server
    finally:
        server.stop()
        thread.join(timeout=2)
        time.sleep(0)  # let answering threads see the stop
