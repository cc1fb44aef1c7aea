"""Plain values for unit tests of the judging: sessions, servers, a finding maker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from diagnostics import Entity, Finding, ProbeContext, ProbeOptions
from probes.postgres.snapshot import ServerInfo, Session

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
ENTITY = Entity(kind="database", name="orders", attributes={"host": "db:5432", "database": "orders"})


def server(**changes: Any) -> ServerInfo:
    values: dict[str, Any] = {
        "label": "db:5432/orders",
        "version_num": 150000,
        "database": "orders",
        "user": "diag",
        "now": NOW,
        "max_connections": 100,
        "superuser_reserved": 3,
        "reserved": 0,
        "can_read_all_stats": True,
        "in_recovery": False,
    }
    values.update(changes)
    return ServerInfo(**values)


def session(
    pid: int, *, blocked_by: tuple[int, ...] = (), wait_s: float | None = None, **changes: Any
) -> Session:
    values: dict[str, Any] = {
        "pid": pid,
        "user": "app",
        "application": "web",
        "client": "10.0.0.5",
        "state": "active",
        "query": f"UPDATE orders SET status = 'x' /* {pid} */",
        "blocked_by": blocked_by,
        "wait_s": wait_s,
        "wait_started": NOW - timedelta(seconds=wait_s) if wait_s is not None else None,
    }
    values.update(changes)
    return Session(**values)


def make_finding(**kwargs: Any) -> Finding:
    context = ProbeContext(probe_id="db.test", at=NOW, window=timedelta(hours=1), options=ProbeOptions())
    return context.finding(**kwargs)
