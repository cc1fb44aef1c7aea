"""A local HTTP server shaped like LaunchDarkly's REST API v2 (audit log and flags), read-only.

LaunchDarkly cannot run locally, so the real client is tested over real HTTP against answers
in the documented shapes (``AuditLogEntryListingRepCollection``, ``AuditLogEntryRep`` with
``previousVersion``/``currentVersion``, ``FeatureFlag``):

- ``GET /api/v2/auditlog?after=&before=&spec=&limit=``: entries newest first, ``after < date <
  before`` (epoch ms), matching the spec's project, paged by ``limit`` with ``_links.next``;
- ``GET /api/v2/auditlog/<id>``: one entry with its versions;
- ``GET /api/v2/flags/<project>/<key>``: the flag as it is now (404 when unknown).

Every request must carry ``Authorization: <token>`` (else 401); ``requests`` records each
(method, path with query) so tests can assert that nothing but GETs were sent.
"""

from __future__ import annotations

import contextlib
import copy
import json
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from tests.support.ports import free_port

LD_TOKEN = "api-diag-test-0b9c4e"
PAGE_LIMIT = 20


def flag_rep(
    key: str,
    *,
    project: str = "default",
    on: Mapping[str, bool],
    description: str = "",
    tags: tuple[str, ...] = (),
    fallthrough: Mapping[str, Any] | None = None,
    rules: tuple[Mapping[str, Any], ...] = (),
    archived: bool = False,
) -> dict[str, Any]:
    """A ``FeatureFlag`` representation with one environment per key of ``on``."""
    return {
        "_links": {"self": {"href": f"/api/v2/flags/{project}/{key}", "type": "application/json"}},
        "key": key,
        "name": key.replace("-", " ").title(),
        "kind": "boolean",
        "description": description,
        "tags": list(tags),
        "archived": archived,
        "temporary": True,
        "variations": [{"_id": "v0", "value": True}, {"_id": "v1", "value": False}],
        "environments": {
            env: {
                "on": state,
                "archived": False,
                "fallthrough": dict(fallthrough or {"variation": 0}),
                "offVariation": 1,
                "rules": [dict(r) for r in rules],
                "targets": [],
                "_environmentName": env.title(),
                "version": 1,
            }
            for env, state in on.items()
        },
    }


def audit_entry(
    entry_id: str,
    *,
    at: datetime,
    project: str,
    environment: str,
    flag: str,
    action: str,
    email: str,
    title_verb: str,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """An ``AuditLogEntryRep`` for a flag change (the listing omits the versions)."""
    resource = f"proj/{project}:env/{environment}:flag/{flag}"
    first, _, last = email.partition("@")[0].partition(".")
    return {
        "_links": {"self": {"href": f"/api/v2/auditlog/{entry_id}", "type": "application/json"}},
        "_id": entry_id,
        "_accountId": "5f0000000000000000000001",
        "date": int(at.timestamp() * 1000),
        "accesses": [{"action": action, "resource": resource}],
        "kind": "flag",
        "name": flag.replace("-", " ").title(),
        "description": f"- {title_verb}",
        "shortDescription": title_verb,
        "member": {
            "_id": "60000000000000000000abcd",
            "email": email,
            "firstName": first.title(),
            "lastName": last.title(),
        },
        "titleVerb": title_verb,
        "title": f"{email} {title_verb} {flag}",
        "target": {"name": flag, "resources": [resource]},
        "previousVersion": copy.deepcopy(before),
        "currentVersion": copy.deepcopy(after),
    }


LISTING_KEYS = ("_links", "_id", "_accountId", "date", "accesses", "kind", "name", "description",
                "shortDescription", "member", "titleVerb", "title", "target")  # fmt: skip


@dataclass
class LaunchDarklyApi:
    """The staged account: audit entries and flags; the requests received."""

    url: str
    token: str = LD_TOKEN
    entries: list[dict[str, Any]] = field(default_factory=list)
    flags: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)

    def stage(self, *, entries: list[dict[str, Any]], flags: list[tuple[str, dict[str, Any]]]) -> None:
        self.entries = sorted(entries, key=lambda e: -int(e["date"]))
        self.flags = {(project, flag["key"]): flag for project, flag in flags}
        self.requests.clear()

    def answer(self, path: str, query: Mapping[str, list[str]]) -> tuple[int, Any]:
        one = {k: v[0] for k, v in query.items()}
        if path == "/api/v2/auditlog":
            return 200, self._listing(one)
        if path.startswith("/api/v2/auditlog/"):
            found = [e for e in self.entries if e["_id"] == path.rsplit("/", 1)[1]]
            return (200, found[0]) if found else (404, {"code": "not_found", "message": "Unknown entry"})
        parts = path.split("/")
        if len(parts) == 6 and parts[:4] == ["", "api", "v2", "flags"]:
            flag = self.flags.get((parts[4], parts[5]))
            return (200, flag) if flag else (404, {"code": "not_found", "message": "Unknown resource"})
        return 404, {"code": "not_found", "message": "Invalid resource"}

    def _listing(self, query: Mapping[str, str]) -> dict[str, Any]:
        after = int(query.get("after", 0))
        before = int(query.get("before", 2**62))
        limit = min(int(query.get("limit", 10)), PAGE_LIMIT)
        spec = query.get("spec", "")
        project = spec.split(":")[0].removeprefix("proj/") if spec.startswith("proj/") else "*"
        matching = [
            e for e in self.entries
            if after < int(e["date"]) < before
            and (project == "*" or any(r.startswith(f"proj/{project}:") for r in e["target"]["resources"]))
        ]  # fmt: skip
        page = matching[:limit]
        links: dict[str, Any] = {"self": {"href": "/api/v2/auditlog", "type": "application/json"}}
        if len(matching) > limit:
            cursor = {"before": page[-1]["date"], "after": after, "spec": spec, "limit": limit}
            links["next"] = {"href": f"/api/v2/auditlog?{urlencode(cursor)}", "type": "application/json"}
        return {"_links": links, "items": [{k: e[k] for k in LISTING_KEYS} for e in page]}


def _handler(api: LaunchDarklyApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _reply(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _handle(self) -> None:
            api.requests.append((self.command, self.path))
            if self.headers.get("Authorization") != api.token:
                self._reply(401, {"code": "unauthorized", "message": "Invalid account ID header"})
                return
            if self.command != "GET":
                self._reply(405, {"code": "method_not_allowed", "message": "read-only test server"})
                return
            parts = urlsplit(self.path)
            status, body = api.answer(parts.path, parse_qs(parts.query))
            self._reply(status, body)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _handle

    return Handler


@contextlib.contextmanager
def start_launchdarkly_api() -> Iterator[LaunchDarklyApi]:
    port = free_port()
    api = LaunchDarklyApi(url=f"http://127.0.0.1:{port}")
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler(api))
    thread = threading.Thread(target=server.serve_forever, name="launchdarkly-api", daemon=True)
    thread.start()
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def launchdarkly_api() -> Iterator[LaunchDarklyApi]:
    with start_launchdarkly_api() as api:
        yield api
