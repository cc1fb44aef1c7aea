"""Real ``pgbench`` traffic against a test server: a database of its own, initialised once,
and background clients started and stopped by their PID.

    bench = Pgbench(postgres_server, database="bench")
    bench.initialise(scale=5)
    with bench.traffic("-S", clients=2):
        ...  # the server serves pgbench's read-only lookups meanwhile
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg

from tests.support.postgres import MONITOR_PASSWORD, MONITOR_USER, PostgresServer, _binaries


@dataclass(frozen=True, slots=True)
class Pgbench:
    """pgbench against ``database`` of ``server`` as the superuser (over its socket)."""

    server: PostgresServer
    database: str = "bench"

    @property
    def binary(self) -> Path:
        return _binaries() / "pgbench"

    @property
    def monitor_dsn(self) -> str:
        """The monitoring role's DSN for this database (what diag is given)."""
        return self.server.dsn(MONITOR_USER, MONITOR_PASSWORD, database=self.database)

    def superuser(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(self.server.dsn("postgres", database=self.database), autocommit=True)

    def _args(self) -> list[str]:
        return ["-h", str(self.server.socket_dir), "-p", str(self.server.port), "-U", "postgres"]

    def initialise(self, *, scale: int) -> None:
        """Create the database with pg_stat_statements and load pgbench's tables at ``scale``
        (100 000 accounts per unit)."""
        with psycopg.connect(self.server.dsn("postgres", database="postgres"), autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.database,)).fetchall()
            if not exists:
                conn.execute(f'CREATE DATABASE "{self.database}"')
        with self.superuser() as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        result = subprocess.run(
            [str(self.binary), "-i", "-q", "-s", str(scale), *self._args(), self.database],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"pgbench -i failed: {result.stderr[-2000:]}")

    @contextlib.contextmanager
    def traffic(
        self, *options: str, clients: int = 2, rate: int | None = None
    ) -> Iterator[subprocess.Popen[bytes]]:
        """pgbench clients running ``options`` (e.g. ``-S``) until the block ends (at most 10
        minutes); ``rate``: transactions per second in all (pgbench -R), else as fast as it can."""
        command = [str(self.binary), "-n", "-c", str(clients), "-j", "1", "-T", "600", *options]
        if rate is not None:
            command += ["-R", str(rate)]
        process = subprocess.Popen(
            [*command, *self._args(), self.database], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        try:
            time.sleep(0.5)
            if process.poll() is not None:
                raise RuntimeError(
                    f"pgbench exited: {process.stderr.read().decode()[-2000:] if process.stderr else ''}"
                )
            yield process
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=5)
            if process.stderr is not None:
                process.stderr.close()
