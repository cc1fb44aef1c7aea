"""A dependency whose health a test switches, and reports built from plain values."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from diagnostics.model import ChecklistItem, Entity, Finding, ProbeOutcome, Report, Severity, Status

AT = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


@dataclass
class SwitchableService:
    """An HTTP service on 127.0.0.1 answering 200, or 503 while ``failing`` is set."""

    port: int
    failing: threading.Event = field(default_factory=threading.Event)
    requests: list[dict[str, object]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/health"


@contextmanager
def switchable_service() -> Iterator[SwitchableService]:
    """Start a :class:`SwitchableService`; it also keeps every POSTed body (a webhook sink)."""
    holder: list[SwitchableService] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            failing = holder[0].failing.is_set()
            body = b'{"status":"error"}' if failing else b'{"status":"ok"}'
            self.send_response(503 if failing else 200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            import json

            length = int(self.headers.get("Content-Length", "0"))
            holder[0].requests.append(
                {
                    "path": self.path,
                    "headers": dict(self.headers.items()),
                    "body": json.loads(self.rfile.read(length)),
                }
            )
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    service = SwitchableService(port=server.server_address[1])
    holder.append(service)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield service
    finally:
        server.shutdown()
        server.server_close()


def finding(probe: str, severity: Severity, name: str = "orders", kind: str = "scripted") -> Finding:
    return Finding(
        probe=probe,
        kind=kind,
        severity=severity,
        title=f"{severity.label} on {name}",
        summary=f"{severity.label} on {name}",
        entity=Entity(kind="database", name=name),
        onset=AT - timedelta(minutes=3),
        next_steps=("psql -c 'select 1'",),
    )


def report(outcomes: dict[str, Status], findings: tuple[Finding, ...] = (), at: datetime = AT) -> Report:
    return Report(
        at=at,
        window=timedelta(hours=1),
        started_at=at,
        duration_s=0.25,
        probes=tuple(
            ProbeOutcome(
                probe=probe,
                checklist_item=ChecklistItem.DATABASE,
                status=status,
                duration_s=0.1,
                finding_count=sum(1 for f in findings if f.probe == probe),
            )
            for probe, status in outcomes.items()
        ),
        findings=findings,
    )
