"""A real PostgreSQL for the tests, started once per session (initdb + pg_ctl in a temp dir).

Fixtures:

- ``postgres_server``: the running :class:`PostgresServer` (host, port, DSNs of its roles,
  ``connect()`` for extra sessions). Roles: ``postgres`` (superuser, trust over the unix
  socket), ``diag_monitor`` (``pg_monitor`` only, password over TCP: what the probes use),
  ``app`` (owns database ``shop`` with table ``orders``) and ``nopriv`` (no ``pg_monitor``).
- ``pg_sessions``: a :class:`SessionPool` that opens concurrent sessions for staging an
  incident and rolls back, closes and terminates all of them when the test ends.
- ``postgres_config``: the ``postgres`` section naming the server as target ``orders``.
- ``postgres_standby``: a streaming standby of that server (pg_basebackup), started on first use.
- ``pgbouncer``: a PgBouncer in front of it (transaction pooling, 2 server connections).

``start_postgres()`` is the same server as a context manager, for benchmarks.

PostgreSQL refuses to run as root: under root the server runs as the ``postgres`` system user
(``runuser``) and its directory is owned by that user.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.support.ports import free_port

MONITOR_USER = "diag_monitor"
MONITOR_PASSWORD = "m0nitor-Secret-42"
APP_USER = "app"
APP_PASSWORD = "app-Secret-17"
NOPRIV_USER = "nopriv"
NOPRIV_PASSWORD = "nopriv-Secret-99"
DATABASE = "shop"
STAGED_APP_PREFIX = "staged-"
"""application_name prefix of every session a SessionPool opens (cleanup terminates them)."""

SETUP_SQL = f"""
CREATE ROLE {MONITOR_USER} LOGIN PASSWORD '{MONITOR_PASSWORD}' IN ROLE pg_monitor;
CREATE ROLE {APP_USER} LOGIN PASSWORD '{APP_PASSWORD}';
CREATE ROLE {NOPRIV_USER} LOGIN PASSWORD '{NOPRIV_PASSWORD}';
CREATE DATABASE {DATABASE} OWNER {APP_USER};
"""

SHOP_SQL = f"""
CREATE EXTENSION pg_stat_statements;
CREATE TABLE orders (id int PRIMARY KEY, status text NOT NULL);
INSERT INTO orders SELECT g, 'new' FROM generate_series(1, 100) g;
ALTER TABLE orders OWNER TO {APP_USER};
GRANT CONNECT ON DATABASE {DATABASE} TO {NOPRIV_USER};
"""


def _binaries() -> Path:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0,
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb is None:
        raise RuntimeError("PostgreSQL server binaries not found (install postgresql: scripts/bootstrap)")
    return Path(initdb).parent


def _as_server_user(command: Sequence[str]) -> list[str]:
    if os.geteuid() != 0:
        return list(command)
    return ["runuser", "-u", "postgres", "--", *command]


def _run(command: Sequence[str]) -> None:
    result = subprocess.run(_as_server_user(command), capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{command[0]} failed ({result.returncode}): {result.stderr or result.stdout}")


@dataclass(frozen=True, slots=True, kw_only=True)
class PostgresServer:
    """A running test server and the DSNs of its roles."""

    host: str
    port: int
    socket_dir: Path
    data_dir: Path
    version: int
    max_connections: int
    superuser_reserved: int
    database: str = DATABASE

    @property
    def usable_connections(self) -> int:
        """What non-superusers can open: ``max_connections`` minus the reserved slots."""
        return self.max_connections - self.superuser_reserved

    def dsn(self, user: str, password: str | None = None, *, database: str | None = None) -> str:
        """A URL DSN over TCP (the socket for a password-less superuser)."""
        dbname = database or self.database
        if password is None:
            return f"postgresql://{user}@/{dbname}?host={self.socket_dir}&port={self.port}"
        return f"postgresql://{user}:{password}@{self.host}:{self.port}/{dbname}"

    @property
    def superuser_dsn(self) -> str:
        return self.dsn("postgres")

    @property
    def monitor_dsn(self) -> str:
        return self.dsn(MONITOR_USER, MONITOR_PASSWORD)

    @property
    def app_dsn(self) -> str:
        return self.dsn(APP_USER, APP_PASSWORD)

    @property
    def nopriv_dsn(self) -> str:
        return self.dsn(NOPRIV_USER, NOPRIV_PASSWORD)

    def connect(
        self, dsn: str | None = None, *, application_name: str = "tests", autocommit: bool = True
    ) -> psycopg.Connection[Any]:
        """A new session (superuser by default)."""
        return psycopg.connect(
            dsn or self.superuser_dsn,
            autocommit=autocommit,
            application_name=application_name,
            connect_timeout=5,
        )

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement as superuser in a short-lived session; its rows, if any."""
        with self.connect(application_name="tests-admin") as conn:
            cursor = conn.execute(sql, params or None)
            return cursor.fetchall() if cursor.description else []

    def terminate(self, application_prefix: str) -> None:
        """End every session whose application_name starts with the prefix."""
        self.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name LIKE %s AND pid <> pg_backend_pid()",
            (application_prefix + "%",),
        )

    def wait_until(self, sql: str, params: Sequence[Any] = (), *, timeout: float = 10.0) -> None:
        """Poll a superuser query until its first column is true."""
        deadline = time.monotonic() + timeout
        with self.connect(application_name="tests-admin") as conn:
            while time.monotonic() < deadline:
                row = conn.execute(sql, params or None).fetchone()
                if row and row[0]:
                    return
                time.sleep(0.02)
        raise TimeoutError(f"condition not reached in {timeout}s: {sql}")

    def wait_for_probe_pause(self, *, timeout: float = 10.0) -> None:
        """Until a diag session sleeps between its two samples: outside any transaction, its
        last statement the COMMIT that ended the first sample."""
        self.wait_until(
            "SELECT count(*) > 0 FROM pg_stat_activity "
            "WHERE application_name = 'diag' AND state = 'idle' AND query = 'COMMIT'",
            timeout=timeout,
        )


@contextlib.contextmanager
def start_postgres(
    *, max_connections: int = 30, extra_settings: dict[str, str] | None = None
) -> Iterator[PostgresServer]:
    """Initialise, configure and start a throw-away server; stop and delete it afterwards."""
    binaries = _binaries()
    root = Path(tempfile.mkdtemp(prefix="diag-pg-"))
    data_dir = root / "data"
    if os.geteuid() == 0:
        account = pwd.getpwnam("postgres")
        os.chown(root, account.pw_uid, account.pw_gid)
    port = free_port()
    settings = {
        "listen_addresses": "'127.0.0.1'",
        "port": str(port),
        "unix_socket_directories": f"'{root}'",
        "max_connections": str(max_connections),
        "superuser_reserved_connections": "3",
        "max_prepared_transactions": "5",
        "deadlock_timeout": "'200ms'",
        "shared_preload_libraries": "'pg_stat_statements'",
        "shared_buffers": "32MB",
        "fsync": "off",
        "synchronous_commit": "off",
        "full_page_writes": "off",
        "max_wal_size": "256MB",
        "logging_collector": "off",
        "log_min_messages": "warning",
        **(extra_settings or {}),
    }
    try:
        _run(
            [
                str(binaries / "initdb"),
                "-D",
                str(data_dir),
                "-U",
                "postgres",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ]
        )
        config = data_dir / "postgresql.conf"
        with config.open("a") as handle:
            handle.writelines(f"{key} = {value}\n" for key, value in settings.items())
        _run([str(binaries / "pg_ctl"), "-D", str(data_dir), "-l", str(root / "server.log"), "-w", "start"])
        with psycopg.connect(f"host={root} port={port} user=postgres dbname=postgres") as conn:
            version = int(conn.info.server_version)
        server = PostgresServer(
            host="127.0.0.1",
            port=port,
            socket_dir=root,
            data_dir=data_dir,
            version=version,
            max_connections=max_connections,
            superuser_reserved=3,
        )
        with psycopg.connect(server.dsn("postgres", database="postgres"), autocommit=True) as conn:
            for statement in SETUP_SQL.strip().split(";\n"):
                conn.execute(statement.strip().rstrip(";"))
        with psycopg.connect(server.superuser_dsn, autocommit=True) as conn:
            for statement in SHOP_SQL.strip().split(";\n"):
                conn.execute(statement.strip().rstrip(";"))
        yield server
    finally:
        if (data_dir / "postmaster.pid").exists():
            _run([str(binaries / "pg_ctl"), "-D", str(data_dir), "-m", "immediate", "-w", "stop"])
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def start_standby(primary: PostgresServer, *, name: str = "standby1") -> Iterator[PostgresServer]:
    """A streaming standby of ``primary`` (pg_basebackup -R), its own port and socket dir."""
    binaries = _binaries()
    root = Path(tempfile.mkdtemp(prefix="diag-pg-standby-"))
    data_dir = root / "data"
    if os.geteuid() == 0:
        account = pwd.getpwnam("postgres")
        os.chown(root, account.pw_uid, account.pw_gid)
    port = free_port()
    try:
        _run(
            [
                str(binaries / "pg_basebackup"),
                "-D",
                str(data_dir),
                "-R",
                "-X",
                "stream",
                "-c",
                "fast",
                "-h",
                str(primary.socket_dir),
                "-p",
                str(primary.port),
                "-U",
                "postgres",
            ]
        )
        with (data_dir / "postgresql.conf").open("a") as handle:
            handle.write(f"port = {port}\nunix_socket_directories = '{root}'\ncluster_name = '{name}'\n")
        _run([str(binaries / "pg_ctl"), "-D", str(data_dir), "-l", str(root / "server.log"), "-w", "start"])
        standby = PostgresServer(
            host=primary.host,
            port=port,
            socket_dir=root,
            data_dir=data_dir,
            version=primary.version,
            max_connections=primary.max_connections,
            superuser_reserved=primary.superuser_reserved,
        )
        primary.wait_until("SELECT count(*) = 1 FROM pg_stat_replication WHERE state = 'streaming'")
        yield standby
    finally:
        if (data_dir / "postmaster.pid").exists():
            _run([str(binaries / "pg_ctl"), "-D", str(data_dir), "-m", "immediate", "-w", "stop"])
        shutil.rmtree(root, ignore_errors=True)


PGBOUNCER_STATS_USER = "pgb_stats"
PGBOUNCER_STATS_PASSWORD = "pgb-Stats-Secret-5"


@dataclass(frozen=True, slots=True, kw_only=True)
class PgBouncer:
    """A PgBouncer in front of the test server: database ``shop``, transaction pooling."""

    host: str
    port: int
    pool_size: int

    @property
    def admin_dsn(self) -> str:
        """The admin console (``pgbouncer`` database) as the stats user."""
        return f"postgresql://{PGBOUNCER_STATS_USER}:{PGBOUNCER_STATS_PASSWORD}@{self.host}:{self.port}/pgbouncer"

    @property
    def app_dsn(self) -> str:
        return f"postgresql://{APP_USER}:{APP_PASSWORD}@{self.host}:{self.port}/{DATABASE}"

    @property
    def monitor_dsn(self) -> str:
        """The probes' role, through PgBouncer."""
        return f"postgresql://{MONITOR_USER}:{MONITOR_PASSWORD}@{self.host}:{self.port}/{DATABASE}"

    def pools(self) -> list[dict[str, Any]]:
        """SHOW POOLS on the admin console, one dict per pool."""
        from psycopg.rows import dict_row

        with psycopg.connect(
            self.admin_dsn, autocommit=True, cursor_factory=psycopg.ClientCursor, row_factory=dict_row
        ) as conn:
            return conn.execute("SHOW POOLS").fetchall()

    def wait_for_waiting_clients(
        self, database: str, count: int, *, min_wait_s: float, timeout: float = 10.0
    ) -> None:
        """Until ``count`` clients queue in ``database``'s pool, the longest for ``min_wait_s``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for pool in self.pools():
                waited = int(pool.get("maxwait") or 0) + int(pool.get("maxwait_us") or 0) / 1_000_000
                if pool["database"] == database and pool["cl_waiting"] == count and waited >= min_wait_s:
                    return
            time.sleep(0.05)
        raise TimeoutError(f"{count} clients not waiting {min_wait_s}s in pool {database} within {timeout}s")


@contextlib.contextmanager
def start_pgbouncer(server: PostgresServer, *, pool_size: int = 2) -> Iterator[PgBouncer]:
    """PgBouncer (the ``pgbouncer`` package, scripts/bootstrap) pooling ``server``'s database."""
    binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    root = Path(tempfile.mkdtemp(prefix="diag-pgbouncer-"))
    port = free_port()
    (root / "userlist.txt").write_text(
        f'"{APP_USER}" "{APP_PASSWORD}"\n"{MONITOR_USER}" "{MONITOR_PASSWORD}"\n'
        f'"{PGBOUNCER_STATS_USER}" "{PGBOUNCER_STATS_PASSWORD}"\n'
    )
    (root / "pgbouncer.ini").write_text(
        f"""[databases]
{DATABASE} = host={server.host} port={server.port} dbname={DATABASE}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir = {root}
auth_type = plain
auth_file = {root}/userlist.txt
stats_users = {PGBOUNCER_STATS_USER}
pool_mode = transaction
default_pool_size = {pool_size}
max_client_conn = 50
logfile = {root}/pgbouncer.log
pidfile = {root}/pgbouncer.pid
"""
    )
    if os.geteuid() == 0:
        account = pwd.getpwnam("postgres")
        for path in (root, root / "userlist.txt", root / "pgbouncer.ini"):
            os.chown(path, account.pw_uid, account.pw_gid)
    _run([binary, "-d", str(root / "pgbouncer.ini")])
    bouncer = PgBouncer(host="127.0.0.1", port=port, pool_size=pool_size)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with psycopg.connect(
                    bouncer.admin_dsn, autocommit=True, cursor_factory=psycopg.ClientCursor
                ) as conn:
                    conn.execute("SHOW VERSION")
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield bouncer
    finally:
        pid_file = root / "pgbouncer.pid"
        if pid_file.exists():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid_file.read_text().strip()), 15)
        shutil.rmtree(root, ignore_errors=True)


@dataclass(slots=True)
class SessionPool:
    """Concurrent sessions for staging an incident; all of them are ended by ``close()``."""

    server: PostgresServer
    sessions: list[psycopg.Connection[Any]] = field(default_factory=list)
    threads: list[threading.Thread] = field(default_factory=list)

    def open(
        self, application: str = "app", *, dsn: str | None = None, autocommit: bool = True
    ) -> psycopg.Connection[Any]:
        """A new session as ``app`` whose application_name is ``staged-<application>``."""
        conn = self.server.connect(
            dsn or self.server.app_dsn,
            application_name=STAGED_APP_PREFIX + application,
            autocommit=autocommit,
        )
        self.sessions.append(conn)
        return conn

    def in_background(self, conn: psycopg.Connection[Any], sql: str) -> threading.Thread:
        """Run ``sql`` on ``conn`` in a thread (it will block); errors after cleanup are expected."""

        def work() -> None:
            with contextlib.suppress(psycopg.Error):
                conn.execute(sql)

        thread = threading.Thread(target=work, daemon=True, name="staged-session")
        thread.start()
        self.threads.append(thread)
        return thread

    def pid(self, conn: psycopg.Connection[Any]) -> int:
        return int(conn.info.backend_pid)

    def wait_for_lock_waiters(self, pids: Sequence[int], timeout: float = 10.0) -> None:
        """Until every pid waits on a heavyweight lock."""
        self.server.wait_until(
            "SELECT count(*) = %s FROM pg_stat_activity WHERE pid = ANY(%s) AND wait_event_type = 'Lock'",
            (len(pids), list(pids)),
            timeout=timeout,
        )

    def close(self) -> None:
        self.server.terminate(STAGED_APP_PREFIX)
        for thread in self.threads:
            thread.join(timeout=5)
        for conn in self.sessions:
            with contextlib.suppress(Exception):
                conn.close()
        self.sessions.clear()
        self.threads.clear()
        # PgBouncer keeps (and reopens) server connections after its clients leave: end every
        # session of the app role too, until none is left
        self.server.wait_until(
            "SELECT count(pg_terminate_backend(pid)) = 0 FROM pg_stat_activity "
            "WHERE (application_name LIKE %s OR usename = %s) AND pid <> pg_backend_pid()",
            (STAGED_APP_PREFIX + "%", APP_USER),
        )


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    with start_postgres() as server:
        yield server


@pytest.fixture(scope="session")
def postgres_standby(postgres_server: PostgresServer) -> Iterator[PostgresServer]:
    """A streaming standby of ``postgres_server`` (named standby1 in pg_stat_replication)."""
    with start_standby(postgres_server) as standby:
        yield standby


@pytest.fixture(scope="session")
def pgbouncer(postgres_server: PostgresServer) -> Iterator[PgBouncer]:
    """PgBouncer in front of ``postgres_server`` (pool of 2 server connections per user)."""
    with start_pgbouncer(postgres_server) as bouncer:
        yield bouncer


@pytest.fixture
def pg_sessions(postgres_server: PostgresServer) -> Iterator[SessionPool]:
    pool = SessionPool(postgres_server)
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture
def postgres_config(postgres_server: PostgresServer) -> dict[str, Any]:
    return {"postgres": [{"name": "orders", "dsn": postgres_server.monitor_dsn}]}
