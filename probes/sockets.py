"""Sockets of a urllib3 pool manager that another thread can shut down.

A thread blocked reading a hung backend (one byte a second keeps every read timeout from
firing) ends only when its socket is shut down; closing a pool does not reach connections in
use. :func:`track` makes a pool manager remember every connection it opens, so the runner's
close of a run resource (:class:`diagnostics.contract.RunResources`) can shut them all.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import weakref
from typing import Any


class TrackedSockets:
    """The connections a pool manager opened; :meth:`shut_down` ends them from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._connections: weakref.WeakSet[Any] = weakref.WeakSet()
        self.closed = False

    def add(self, connection: Any) -> None:
        with self._lock:
            self._connections.add(connection)

    def shut_down(self) -> None:
        """Shut every open socket down (a blocked read returns at once); no new one opens."""
        with self._lock:
            self.closed = True
            connections = list(self._connections)
        for connection in connections:
            sock = getattr(connection, "sock", None)
            if sock is None:
                continue
            # on a duplicate of the descriptor: an SSLSocket's own shutdown() would pull its
            # TLS state from under the thread reading it
            with (
                contextlib.suppress(OSError, ValueError),
                socket.socket(fileno=os.dup(sock.fileno())) as duplicate,
            ):
                duplicate.shutdown(socket.SHUT_RDWR)


def track(manager: Any) -> TrackedSockets:
    """Make ``manager`` (a ``urllib3.PoolManager``) record its connections; call before use."""
    tracked = TrackedSockets()
    manager.pool_classes_by_scheme = {
        scheme: _tracking_pool(pool_class, tracked)
        for scheme, pool_class in manager.pool_classes_by_scheme.items()
    }
    return tracked


def _tracking_pool(base: type[Any], tracked: TrackedSockets) -> type[Any]:
    from urllib3.exceptions import ClosedPoolError

    class TrackingPool(base):  # type: ignore[misc]
        def _new_conn(self) -> Any:
            if tracked.closed:
                raise ClosedPoolError(self, "the run has ended")
            connection = super()._new_conn()
            tracked.add(connection)
            return connection

    return TrackingPool
