"""toggles.changes against a real Unleash 6 (npm unleash-server, its own PostgreSQL).

Flags are created and switched through the admin API, as a user or the admin token; a change
"days ago" is staged by re-dating its event rows (Unleash records events at the real time).
"""

from __future__ import annotations

import contextlib
import json
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from diagnostics import ErrorKind, Severity, Status
from diagnostics.report.serialize import report_to_dict
from diagnostics.testing import ProbeRun, run_probe
from probes.toggles.changes import ChangesProbe
from tests.support.ports import free_port
from tests.support.unleash import ADMIN_TOKEN, UnleashServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:6]}"


def entry(server: UnleashServer, **extra: Any) -> dict[str, Any]:
    return {"name": "unleash", "unleash": {"url": server.url, "token": "${UNLEASH_TOKEN}", **extra}}


def diagnose(server: UnleashServer, *, at: datetime, **extra: Any) -> ProbeRun:
    return run_probe(
        ChangesProbe,
        config={"feature_flags": [entry(server, **extra)]},
        at=at,
        window="30m",
        env={"UNLEASH_TOKEN": server.token},
    )


def created_days_ago(server: UnleashServer, flag: str, *, days: int = 3, **kwargs: Any) -> datetime:
    """Create ``flag`` and date its creation ``days`` ago; the moment after, for later backdating."""
    server.create_flag(flag, **kwargs)
    server.backdate(flag, datetime.now(UTC) - timedelta(days=days))
    return datetime.now(UTC)


def of_flag(run: ProbeRun, flag: str) -> list[Any]:
    return [f for f in run.findings if f.entity.name == flag]


def test_a_flag_switched_on_in_production_minutes_ago_is_found_with_author_and_switch_off_call(
    unleash_server: UnleashServer,
) -> None:
    server = unleash_server
    server.ensure_tag_type("service")
    flag = unique("checkout-new-pricing")
    staged = created_days_ago(
        server, flag, description="New pricing engine for the cart", tags={"service": "checkout"}
    )
    server.switch(flag, "production", True, session=server.as_user("alice@example.com"))
    switched_at = (datetime.now(UTC) - timedelta(minutes=4)).replace(microsecond=0)
    server.backdate(flag, switched_at, recorded_since=staged)

    run = diagnose(server, at=datetime.now(UTC))

    assert run.outcome.status is Status.WARNING
    (finding,) = of_flag(run, flag)
    assert finding.kind == "flag_change"
    assert finding.severity is Severity.WARNING
    assert finding.onset == switched_at
    assert finding.title.startswith(f"Flag {flag} switched on in production 4m")
    assert finding.title.endswith("by alice@example.com (+1 earlier change)")
    assert finding.entity.attributes["environment"] == "production"
    assert finding.entity.attributes["service"] == "checkout"
    details = finding.evidence.details
    assert details["production"] is True
    assert details["description"] == "New pricing engine for the cart"
    assert details["tags"] == ["service:checkout"]
    assert details["services"] == ["checkout"]
    assert details["on_in_production_now"] is True
    # enabling an environment without strategies adds the default 100% rollout first
    assert [(c["kind"], c["author"], c["after"]) for c in details["changes"]] == [
        ("rollout", "alice@example.com", "flexibleRollout 100%"),
        ("switched_on", "alice@example.com", "on"),
    ]
    off = (
        f'curl -fsS -X POST -H "Authorization: $UNLEASH_API_TOKEN" '
        f"{server.url}/api/admin/projects/default/features/{flag}/environments/production/off"
    )
    assert finding.next_steps == (off, f"open {server.url}/projects/default/features/{flag}")
    assert details["containment"] == {"switches": "off", "command": off}
    assert any(q.startswith(f"GET {server.url}/api/admin/search/events?") for q in finding.evidence.queries)
    # the token is sent, never shown
    assert ADMIN_TOKEN.split(".")[-1] not in json.dumps(report_to_dict(run.report))


def test_a_flag_switched_in_development_only_is_not_a_production_change(
    unleash_server: UnleashServer,
) -> None:
    server = unleash_server
    flag = unique("search-fuzzy")
    staged = created_days_ago(server, flag, description="Fuzzy matching")
    server.switch(flag, "development", True)
    server.backdate(flag, datetime.now(UTC) - timedelta(minutes=3), recorded_since=staged)

    run = diagnose(server, at=datetime.now(UTC))

    (finding,) = of_flag(run, flag)
    assert finding.severity is Severity.INFO
    assert finding.entity.attributes["environment"] == "development"
    assert finding.evidence.details["production"] is False
    assert "Not a production change (production is production)." in finding.summary
    assert finding.title.endswith("by admin (+1 earlier change)")
    assert finding.next_steps[0].endswith(f"/features/{flag}/environments/development/off")


def test_a_rollout_raised_and_a_flag_archived_in_production_are_warnings(
    unleash_server: UnleashServer,
) -> None:
    server = unleash_server
    raised, archived = unique("payments-3ds"), unique("cart-legacy-tax")
    for flag in (raised, archived):
        server.create_flag(flag)
    strategy = server.add_rollout(raised, "production", 10)
    server.switch(raised, "production", True)
    server.switch(archived, "production", True)
    for flag in (raised, archived):
        server.backdate(flag, datetime.now(UTC) - timedelta(days=2))
    staged = datetime.now(UTC)
    server.set_rollout(raised, "production", strategy, 50, session=server.as_user("bob@example.com"))
    server.archive(archived)
    moment = datetime.now(UTC)  # one clock reading: the title's "6m ago" has no seconds to spare
    for flag in (raised, archived):
        server.backdate(flag, moment - timedelta(minutes=6), recorded_since=staged)

    run = diagnose(server, at=moment)

    (rollout,) = of_flag(run, raised)
    assert rollout.severity is Severity.WARNING
    assert "rollout changed: flexibleRollout 10% → flexibleRollout 50% in production" in rollout.title
    assert rollout.title.endswith("by bob@example.com")
    (gone,) = of_flag(run, archived)
    assert gone.severity is Severity.WARNING
    assert gone.title.startswith(f"Flag {archived} archived in all environments 6m ago by admin")
    assert gone.evidence.details["archived_now"] is True
    assert gone.evidence.details["containment"] is None  # an archived flag cannot be switched


def test_flags_untouched_for_days_are_silent(unleash_server: UnleashServer) -> None:
    server = unleash_server
    flags = [unique("quiet-banner"), unique("quiet-recs")]
    for flag in flags:
        server.create_flag(flag)
        server.switch(flag, "production", True)
        server.backdate(flag, datetime.now(UTC) - timedelta(days=4))

    run = diagnose(server, at=datetime.now(UTC))

    assert run.outcome.status in (Status.OK, Status.WARNING)  # other tests' flags may be recent
    assert all(f.entity.name not in flags for f in run.findings)
    # the same changes are found when the diagnosed moment is when they happened
    past = diagnose(server, at=datetime.now(UTC) - timedelta(days=4) + timedelta(minutes=1))
    assert {f.entity.name for f in past.findings if f.entity.name in flags} == set(flags)


def test_a_wrong_token_is_an_auth_error_without_the_token(unleash_server: UnleashServer) -> None:
    run = run_probe(
        ChangesProbe,
        config={
            "feature_flags": [
                {"name": "unleash", "unleash": {"url": unleash_server.url, "token": "${UNLEASH_TOKEN}"}}
            ]
        },
        env={"UNLEASH_TOKEN": "*:*.not-the-right-secret"},
    )
    assert run.outcome.status is Status.ERROR
    assert run.outcome.error_kind is ErrorKind.AUTH
    assert "not-the-right-secret" not in (run.outcome.error or "")


@contextlib.contextmanager
def without_event_search(server: UnleashServer) -> Iterator[str]:
    """A proxy to ``server`` answering 404 for ``/api/admin/search/events``, as Unleash 5 does."""

    class Proxy(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            if self.path.startswith("/api/admin/search/events"):
                status, body, kind = 404, b'{"message": "Not found"}', "application/json"
            else:
                forwarded = requests.get(
                    server.url + self.path,
                    headers={"Authorization": self.headers["Authorization"]},
                    timeout=10,
                )
                status, body = forwarded.status_code, forwarded.content
                kind = forwarded.headers.get("Content-Type", "application/json")
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    proxy = ThreadingHTTPServer(("127.0.0.1", free_port()), Proxy)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{proxy.server_address[1]}"
    finally:
        proxy.shutdown()
        proxy.server_close()


def test_a_server_without_event_search_is_read_through_the_events_api(unleash_server: UnleashServer) -> None:
    server = unleash_server
    flag = unique("orders-batching")
    staged = created_days_ago(server, flag)
    server.switch(flag, "production", True)
    server.backdate(flag, datetime.now(UTC) - timedelta(minutes=2), recorded_since=staged)

    with without_event_search(server) as url:
        run = run_probe(
            ChangesProbe,
            config={"feature_flags": [{"name": "unleash", "unleash": {"url": url, "token": server.token}}]},
            window="30m",
        )

    (finding,) = of_flag(run, flag)
    assert finding.severity is Severity.WARNING
    assert finding.title.startswith(f"Flag {flag} switched on in production 2m")
    assert f"GET {url}/api/admin/events?project=default" in finding.evidence.queries
