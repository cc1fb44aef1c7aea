"""A catalog locked ACCESS EXCLUSIVE: the probes end quickly, ``timeout``, and leave nothing on
the server (issue 12: the statement setting lock_timeout used to wait on the lock itself)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from diagnostics import ErrorKind, Status
from diagnostics.api import diagnose
from diagnostics.registry import Registry
from probes.postgres.connections import ConnectionsProbe
from probes.postgres.locks import LocksProbe
from probes.postgres.queries import QueriesProbe
from probes.postgres.replication import ReplicationProbe
from tests.support.postgres import MONITOR_USER, PostgresServer

pytestmark = pytest.mark.integration

ALL_PROBES = (ConnectionsProbe, LocksProbe, QueriesProbe, ReplicationProbe)
REGISTRY = Registry(probes={p.id: p for p in ALL_PROBES}, broken={})
# pg_stat_get_activity() directly: the pg_stat_activity view joins pg_database, which may be locked
DIAG_BACKENDS = (
    "SELECT count(*) FROM pg_stat_get_activity(NULL) a "
    "WHERE a.pid <> pg_backend_pid() AND (a.application_name = 'diag' OR a.usesysid = %s)"
)


@pytest.fixture
def watcher(postgres_server: PostgresServer) -> Iterator[tuple[psycopg.Connection[Any], int]]:
    """A superuser session opened before the lock (its caches warm) and diag's role oid."""
    with postgres_server.connect(application_name="tests-watch") as conn:
        row = conn.execute("SELECT oid FROM pg_roles WHERE rolname = %s", (MONITOR_USER,)).fetchone()
        assert row is not None
        yield conn, int(row[0])


def diag_backends(watcher: tuple[psycopg.Connection[Any], int]) -> int:
    conn, role = watcher
    row = conn.execute(DIAG_BACKENDS, (role,)).fetchone()
    assert row is not None
    return int(row[0])


def run_all(config: dict[str, Any]) -> tuple[float, dict[str, tuple[Status, ErrorKind | None, float]]]:
    began = time.monotonic()
    report = diagnose(probes=list(REGISTRY.ids), config=config, env={}, registry=REGISTRY).report
    return time.monotonic() - began, {o.probe: (o.status, o.error_kind, o.duration_s) for o in report.probes}


@pytest.mark.parametrize("catalog", ["pg_catalog.pg_namespace", "pg_catalog.pg_class"])
def test_a_locked_catalog_ends_every_db_probe_at_once_with_nothing_left_on_the_server(
    catalog: str,
    postgres_server: PostgresServer,
    postgres_config: dict[str, Any],
    watcher: tuple[psycopg.Connection[Any], int],
) -> None:
    with postgres_server.connect(application_name="staged-locker", autocommit=False) as locker:
        locker.execute(f"LOCK TABLE {catalog} IN ACCESS EXCLUSIVE MODE")
        elapsed, outcomes = run_all(postgres_config)
        left = diag_backends(watcher)
        locker.rollback()

    assert elapsed < 3, f"{elapsed:.1f} s behind a lock, with a 10 s probe timeout"
    for probe, (status, kind, _) in outcomes.items():
        assert status in (Status.ERROR, Status.TIMEOUT), (probe, status, kind)
        if catalog.endswith("pg_namespace"):  # the session is up: its first statement gives up
            assert kind is ErrorKind.TIMEOUT, (probe, kind)
    assert left == 0, "a diag session stayed on the server"


def test_a_locked_pg_database_fails_within_the_connect_timeout(
    postgres_server: PostgresServer,
    postgres_config: dict[str, Any],
    watcher: tuple[psycopg.Connection[Any], int],
) -> None:
    # a new backend reads pg_database before it applies any startup option and before it has a
    # cancel key: the connection cannot complete, and the probes end at libpq's connect timeout
    # (one attempt for all four); the half-started backend is the server's until the lock goes
    with postgres_server.connect(application_name="staged-locker", autocommit=False) as locker:
        locker.execute("LOCK TABLE pg_catalog.pg_database IN ACCESS EXCLUSIVE MODE")
        elapsed, outcomes = run_all(postgres_config)
        locker.rollback()

    assert elapsed < 6
    assert {kind for _, kind, _ in outcomes.values()} == {ErrorKind.TIMEOUT}
