"""diag's one connection per database: shared by the probes of a run, closed synchronously, so a
server with one free slot never refuses diag because of diag."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from diagnostics import ProbeContext, ProbeError, ProbeOptions, Status
from diagnostics.api import diagnose
from diagnostics.registry import Registry
from diagnostics.testing import run_probe
from probes.postgres.client_session import close_session, open_session
from probes.postgres.connections import ConnectionsProbe
from probes.postgres.locks import LocksProbe
from probes.postgres.queries import QueriesProbe
from probes.postgres.replication import ReplicationProbe
from tests.support.postgres import PostgresServer, SessionPool

pytestmark = pytest.mark.integration

ALL_PROBES = (ConnectionsProbe, LocksProbe, QueriesProbe, ReplicationProbe)


def context() -> ProbeContext:
    return ProbeContext(
        probe_id="db.connections",
        at=datetime.now(UTC),
        window=timedelta(hours=1),
        options=ProbeOptions(),
        deadline=time.monotonic() + 10,
    )


@pytest.fixture
def connects(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every psycopg.connect call the probes make, by DSN."""
    calls: list[str] = []
    original = psycopg.connect

    def counting(conninfo: str = "", *args: Any, **kwargs: Any) -> Any:
        calls.append(conninfo)
        return original(conninfo, *args, **kwargs)

    monkeypatch.setattr(psycopg, "connect", counting)
    yield calls


@pytest.fixture
def one_free_slot(pg_sessions: SessionPool, postgres_server: PostgresServer) -> int:
    """Every usable connection but one taken by the application; the number taken."""
    taken = postgres_server.usable_connections - 1
    for _ in range(taken):
        pg_sessions.open("web").execute("SELECT 1")
    return taken


def test_the_session_has_left_the_server_when_the_run_closes_its_resources(
    postgres_server: PostgresServer,
) -> None:
    with postgres_server.connect(application_name="tests-watch") as watcher:
        for _ in range(20):
            ctx = context()
            with open_session(postgres_server.monitor_dsn, "label", ctx) as conn:
                pid = conn.info.backend_pid
            with open_session(postgres_server.monitor_dsn, "label", ctx) as again:
                assert again.info.backend_pid == pid  # one session for the whole run
            ctx.resources.close()
            # no pause: the backend (and its connection slot) is gone already
            [(left,)] = watcher.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,))
            assert left == 0


def test_close_session_returns_once_the_backend_has_exited(postgres_server: PostgresServer) -> None:
    # a backend with many temporary tables takes a while to exit: it drops them first
    conn = postgres_server.connect(postgres_server.app_dsn, application_name="staged-temp")
    conn.execute(
        "DO $$ BEGIN FOR i IN 1..300 LOOP "
        "EXECUTE format('CREATE TEMP TABLE scratch_%s (id int)', i); END LOOP; END $$"
    )
    pid = conn.info.backend_pid

    with postgres_server.connect(application_name="tests-watch") as watcher:
        close_session(conn)
        [(left,)] = watcher.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,))

    assert conn.closed and left == 0


def test_probes_of_a_run_share_one_connection_on_a_server_with_one_free_slot(
    one_free_slot: int, postgres_server: PostgresServer, postgres_config: dict[str, Any], connects: list[str]
) -> None:
    registry = Registry(probes={p.id: p for p in ALL_PROBES}, broken={})
    usable = postgres_server.usable_connections

    for run in range(3):
        connects.clear()
        report = diagnose(
            probes=[p.id for p in ALL_PROBES], config=postgres_config, env={}, registry=registry
        ).report

        assert {o.probe: o.status for o in report.probes} == {
            "db.connections": Status.CRITICAL,  # 26 of 27: the application's, never diag's
            "db.locks": Status.OK,
            "db.queries": Status.OK,
            "db.replication": Status.OK,
        }, run
        assert [f.kind for f in report.findings] == ["connection_saturation"]
        assert report.findings[0].title == f"{one_free_slot} of {usable} usable connections in use (96 %)"
        assert connects == [postgres_server.monitor_dsn], f"run {run}: one connection for the four probes"


def test_back_to_back_runs_on_a_server_with_one_free_slot_are_never_refused(
    one_free_slot: int, postgres_config: dict[str, Any]
) -> None:
    for _ in range(15):
        for probe in (ConnectionsProbe, LocksProbe):
            result = run_probe(probe, config=postgres_config)

            assert result.outcome.status is not Status.ERROR, result.outcome.error
            assert result.of_kind("connections_exhausted") == []


def test_a_handed_over_session_starts_a_fresh_read_only_transaction(
    postgres_server: PostgresServer, postgres_config: dict[str, Any]
) -> None:
    # the second probe gets the first one's connection: its settings are its own again
    report = diagnose(
        probes=["db.locks", "db.queries"],
        config=postgres_config,
        env={},
        registry=Registry(probes={"db.locks": LocksProbe, "db.queries": QueriesProbe}, broken={}),
    ).report

    assert [o.status for o in report.probes] == [Status.OK, Status.OK]
    [(count,)] = postgres_server.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'diag'"
    )
    assert count == 0  # closed once the last probe of the run finished


def test_a_failing_connect_is_attempted_once_per_database_per_run(connects: list[str]) -> None:
    from tests.support.ports import refusing_port

    with refusing_port() as port:
        dsn = f"postgresql://diag@127.0.0.1:{port}/shop"
        report = diagnose(
            probes=[p.id for p in ALL_PROBES],
            config={"postgres": [{"name": "orders", "dsn": dsn}]},
            env={},
            registry=Registry(probes={p.id: p for p in ALL_PROBES}, broken={}),
        ).report

    assert {o.status for o in report.probes} == {Status.ERROR}
    assert len(connects) == 1, f"{len(connects)} connection attempts for one database in one run"


def test_closing_the_run_cancels_a_running_statement_and_ends_the_backend(
    postgres_server: PostgresServer,
) -> None:
    ctx = context()
    errors: list[BaseException] = []
    pids: list[int] = []

    def probe() -> None:
        try:
            with open_session(postgres_server.monitor_dsn, "label", ctx) as conn:
                pids.append(conn.info.backend_pid)
                conn.execute("SELECT pg_sleep(4)")
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=probe)
    thread.start()
    postgres_server.wait_until(
        "SELECT count(*) = 1 FROM pg_stat_activity WHERE application_name = 'diag' AND query LIKE '%%pg_sleep%%'"
    )
    began = time.monotonic()
    ctx.resources.close()  # what the runner does at the run's end
    closed_after = time.monotonic() - began
    thread.join(timeout=5)

    assert closed_after < 0.8, "the statement was not cancelled (the socket had to be shut down)"
    assert not thread.is_alive()
    assert [type(e) for e in errors] == [ProbeError]
    [(left,)] = postgres_server.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pids[0],))
    assert left == 0
