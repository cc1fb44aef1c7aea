"""A real Unleash server for the tests: npm ``unleash-server`` on Node.js, its own PostgreSQL.

Fixture ``unleash_server`` (session): an :class:`UnleashServer` on a free port, driven through
its admin API with the admin token ``ADMIN_TOKEN``, and ``as_user(email)`` for changes made by
a named user (a real user created through the admin API, logged in with a session cookie).
The server and its database stop when the session ends.

The package is installed once into ``~/.cache/diag-test-bin/unleash-server-<version>/``
(``npm install``, outside the repo), so a fresh machine installs it on first use. Unleash has
no way to record an event in the past: a test stages an old change by re-dating its event row in
the server's database (``backdate``), the way the Prometheus tests backfill history.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests

from tests.support.ports import free_port
from tests.support.postgres import PostgresServer, start_postgres

UNLEASH_VERSION = "6.10.1"
ADMIN_TOKEN = "*:*.diag-test-unleash-admin-7f3a"
ADMIN_PASSWORD = "unleash-Admin-Secret-3"
USER_PASSWORD = "unleash-User-Secret-8b"
DATABASE = "unleash"
START_TIMEOUT_S = 180.0


def unleash_package(version: str = UNLEASH_VERSION) -> Path:
    """The installed package directory, installing it with npm on first use."""
    cache = Path(os.environ.get("DIAG_TEST_BIN") or Path.home() / ".cache" / "diag-test-bin")
    target = cache / f"unleash-server-{version}"
    package = target / "node_modules" / "unleash-server"
    if (package / "package.json").is_file():
        return package
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm not found: install Node.js 20 and npm (scripts/bootstrap)")
    cache.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"unleash-server-{version}.", dir=cache))
    try:
        command = [npm, "install", "--no-audit", "--no-fund", "--omit=dev", "--loglevel=error"]
        subprocess.run(
            [*command, f"unleash-server@{version}"], cwd=staging, check=True, capture_output=True, timeout=900
        )
        with contextlib.suppress(OSError):  # another session finished first: keep its copy
            staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if not (package / "package.json").is_file():
        raise RuntimeError(f"npm install of unleash-server@{version} left no {package}")
    return package


@dataclass(frozen=True, slots=True, kw_only=True)
class UnleashServer:
    """A running Unleash: its URL, admin token, and the database behind it."""

    url: str
    token: str
    database: PostgresServer

    def api(
        self, method: str, path: str, body: Any = None, *, session: requests.Session | None = None
    ) -> Any:
        """Call the admin API as the admin token (or ``session``); the decoded answer, if any."""
        client = session or requests
        headers = {} if session is not None else {"Authorization": self.token}
        response = client.request(method, self.url + path, json=body, headers=headers, timeout=15)
        if response.status_code >= 300:
            raise AssertionError(f"{method} {path}: {response.status_code} {response.text[:300]}")
        return (
            response.json()
            if response.content and "json" in response.headers.get("content-type", "")
            else None
        )

    def as_user(self, email: str) -> requests.Session:
        """A logged-in session of a user with the Admin root role (created on first use)."""
        existing = self.api("GET", "/api/admin/user-admin")["users"]
        if not any(u.get("email") == email for u in existing):
            self.api(
                "POST",
                "/api/admin/user-admin",
                {
                    "email": email,
                    "name": email.split("@")[0],
                    "rootRole": 1,
                    "password": USER_PASSWORD,
                    "sendEmail": False,
                },
            )
        session = requests.Session()
        answer = session.post(
            self.url + "/auth/simple/login", json={"username": email, "password": USER_PASSWORD}, timeout=15
        )
        if answer.status_code >= 300:
            raise AssertionError(f"login as {email}: {answer.status_code} {answer.text[:200]}")
        return session

    def create_flag(
        self,
        name: str,
        *,
        project: str = "default",
        description: str = "",
        tags: dict[str, str] | None = None,
    ) -> None:
        self.api(
            "POST", f"/api/admin/projects/{project}/features", {"name": name, "description": description}
        )
        for kind, value in (tags or {}).items():
            self.api("POST", f"/api/admin/features/{name}/tags", {"type": kind, "value": value})

    def switch(
        self,
        name: str,
        environment: str,
        on: bool,
        *,
        project: str = "default",
        session: requests.Session | None = None,
    ) -> None:
        state = "on" if on else "off"
        self.api(
            "POST",
            f"/api/admin/projects/{project}/features/{name}/environments/{environment}/{state}",
            session=session,
        )

    def backdate(self, flag: str, to: datetime, *, recorded_since: datetime | None = None) -> None:
        """Re-date the events of ``flag`` (those recorded since ``recorded_since``) to ``to``:
        staging a change made in the past."""
        since = recorded_since or datetime(1970, 1, 1, tzinfo=UTC)
        with psycopg.connect(self.database.dsn("postgres", database=DATABASE), autocommit=True) as conn:
            conn.execute(
                "UPDATE events SET created_at = %s WHERE feature_name = %s AND created_at >= %s",
                (to, flag, since),
            )

    def ensure_tag_type(self, name: str) -> None:
        known = {t["name"] for t in self.api("GET", "/api/admin/tag-types")["tagTypes"]}
        if name not in known:
            self.api(
                "POST", "/api/admin/tag-types", {"name": name, "description": f"{name} a flag belongs to"}
            )

    def strategies(self, flag: str, environment: str, *, project: str = "default") -> list[dict[str, Any]]:
        path = f"/api/admin/projects/{project}/features/{flag}/environments/{environment}/strategies"
        answer: list[dict[str, Any]] = self.api("GET", path)
        return answer

    def add_rollout(self, flag: str, environment: str, percent: int, *, project: str = "default") -> str:
        """Add a flexibleRollout strategy; its id."""
        path = f"/api/admin/projects/{project}/features/{flag}/environments/{environment}/strategies"
        body = {"name": "flexibleRollout", "constraints": [],
                "parameters": {"rollout": str(percent), "stickiness": "default", "groupId": flag}}  # fmt: skip
        return str(self.api("POST", path, body)["id"])

    def set_rollout(
        self,
        flag: str,
        environment: str,
        strategy: str,
        percent: int,
        *,
        project: str = "default",
        session: requests.Session | None = None,
    ) -> None:
        path = (
            f"/api/admin/projects/{project}/features/{flag}/environments/{environment}/strategies/{strategy}"
        )
        body = {"name": "flexibleRollout", "constraints": [],
                "parameters": {"rollout": str(percent), "stickiness": "default", "groupId": flag}}  # fmt: skip
        self.api("PUT", path, body, session=session)

    def archive(self, flag: str, *, project: str = "default") -> None:
        self.api("DELETE", f"/api/admin/projects/{project}/features/{flag}")

    def events_of(self, flag: str) -> list[tuple[str, str | None]]:
        """(type, environment) of the flag's events, oldest first (what the server recorded)."""
        with psycopg.connect(self.database.dsn("postgres", database=DATABASE), autocommit=True) as conn:
            rows = conn.execute(
                "SELECT type, environment FROM events WHERE feature_name = %s ORDER BY id", (flag,)
            ).fetchall()
        return [(str(r[0]), r[1]) for r in rows]


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"unleash exited with {process.returncode}: {log.read_text()[-2000:]}")
        with contextlib.suppress(requests.RequestException):
            if requests.get(url + "/health", timeout=2).status_code == 200:
                return
        time.sleep(0.5)
    raise RuntimeError(f"unleash did not become healthy in {START_TIMEOUT_S}s: {log.read_text()[-2000:]}")


@contextlib.contextmanager
def start_unleash() -> Iterator[UnleashServer]:
    """Unleash with its own PostgreSQL (created here), on a free loopback port."""
    package = unleash_package()
    with start_postgres(max_connections=20) as database:
        database.execute(f"CREATE DATABASE {DATABASE}")
        port = free_port()
        root = Path(tempfile.mkdtemp(prefix="diag-unleash-"))
        log = root / "unleash.log"
        environment = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(root),
            "NODE_ENV": "production",
            "DATABASE_HOST": str(database.socket_dir),
            "DATABASE_PORT": str(database.port),
            "DATABASE_NAME": DATABASE,
            "DATABASE_USERNAME": "postgres",
            "DATABASE_PASSWORD": "",
            "DATABASE_SSL": "false",
            "DATABASE_POOL_MAX": "4",
            "HTTP_HOST": "127.0.0.1",
            "HTTP_PORT": str(port),
            "INIT_ADMIN_API_TOKENS": ADMIN_TOKEN,
            "UNLEASH_DEFAULT_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "LOG_LEVEL": "warn",
            "CHECK_VERSION": "false",
            "SEND_TELEMETRY": "false",
            "UNLEASH_URL": f"http://127.0.0.1:{port}",
        }
        with log.open("wb") as output:
            process = subprocess.Popen(
                ["node", "-e", "require('unleash-server').start()"],
                cwd=package.parent.parent,
                env=environment,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_healthy(url, process, log)
            yield UnleashServer(url=url, token=ADMIN_TOKEN, database=database)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def unleash_server() -> Iterator[UnleashServer]:
    with start_unleash() as server:
        yield server
