"""How the probes behave on production: their own session, bad credentials, unreachable hosts."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from diagnostics import ErrorKind, ProbeContext, ProbeError, ProbeOptions, Status
from diagnostics.report.serialize import report_to_dict
from diagnostics.report.text import render_text
from diagnostics.testing import run_probe
from probes.postgres.client_session import open_session
from probes.postgres.connections import ConnectionsProbe
from probes.postgres.locks import LocksProbe
from probes.postgres.queries import QueriesProbe
from probes.postgres.replication import ReplicationProbe
from tests.support.ports import refusing_port
from tests.support.postgres import (
    MONITOR_PASSWORD,
    MONITOR_USER,
    PgBouncer,
    PostgresServer,
    SessionPool,
)

pytestmark = pytest.mark.integration

ALL_PROBES = (ConnectionsProbe, LocksProbe, QueriesProbe, ReplicationProbe)


@pytest.fixture
def ctx() -> Iterator[ProbeContext]:
    """A probe context whose run resources (the diag session) are closed after the test."""
    context = ProbeContext(
        probe_id="db.locks",
        at=datetime.now(UTC),
        window=timedelta(hours=1),
        options=ProbeOptions(),
        deadline=time.monotonic() + 10,
    )
    yield context
    context.resources.close()


def test_session_is_read_only_named_and_bounded(postgres_server: PostgresServer, ctx: ProbeContext) -> None:
    with open_session(postgres_server.monitor_dsn, "label", ctx) as conn:
        settings = {
            name: conn.execute(f"SHOW {name}").fetchone()[name]  # type: ignore[index]
            for name in (
                "application_name",
                "default_transaction_read_only",
                "lock_timeout",
                "statement_timeout",
            )
        }
        assert settings["application_name"] == "diag"
        assert settings["default_transaction_read_only"] == "on"
        assert settings["lock_timeout"] == "100ms"
        assert settings["statement_timeout"] == "5s"  # bounded by the probe deadline
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("CREATE TABLE diag_must_not_write (id int)")


def test_probe_never_waits_behind_a_lock(
    postgres_server: PostgresServer, postgres_config: dict[str, Any]
) -> None:
    with postgres_server.connect(application_name="staged-locker") as locker:
        locker.execute("BEGIN")
        locker.execute("LOCK TABLE pg_catalog.pg_extension IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        result = run_probe(QueriesProbe, config=postgres_config)
        elapsed = time.monotonic() - started
        locker.execute("ROLLBACK")
    assert result.outcome.status is Status.ERROR
    assert result.outcome.error_kind is ErrorKind.TIMEOUT
    assert "gave up waiting for a lock" in (result.outcome.error or "")
    assert elapsed < 2


@pytest.mark.parametrize("probe", ALL_PROBES, ids=lambda p: p.id)
def test_wrong_password_is_an_auth_error_without_the_secret(
    probe: Any, postgres_server: PostgresServer
) -> None:
    secret = "Wr0ng-Pa55word-zz"
    config = {"postgres": [{"name": "orders", "dsn": postgres_server.dsn(MONITOR_USER, secret)}]}

    result = run_probe(probe, config=config)

    assert result.outcome.status is Status.ERROR
    assert result.outcome.error_kind is ErrorKind.AUTH
    assert result.outcome.error == (
        f"orders: cannot connect to 127.0.0.1:{postgres_server.port}/shop: "
        f'password authentication failed for user "{MONITOR_USER}"'
    )
    assert secret not in render_text(result.report)
    assert secret not in json.dumps(report_to_dict(result.report))


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts TCP connections and never answers."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield int(server.getsockname()[1])


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port bound but not listening for the whole test: connections to it are refused."""
    with refusing_port() as port:
        yield port


@pytest.mark.parametrize("case", ["refused", "dns"])
def test_unreachable_host_is_a_clean_error(case: str, request: pytest.FixtureRequest) -> None:
    if case == "refused":
        port = request.getfixturevalue("closed_port")
        dsn = f"postgresql://diag:{MONITOR_PASSWORD}@127.0.0.1:{port}/shop"
        kind, message = ErrorKind.CONNECT, "Connection refused"
    else:
        dsn = f"postgresql://diag:{MONITOR_PASSWORD}@orders-db.invalid:5432/shop"
        kind, message = ErrorKind.DNS, "resolve host"

    result = run_probe(ConnectionsProbe, config={"postgres": [{"name": "orders", "dsn": dsn}]})

    assert result.outcome.status is Status.ERROR
    assert result.outcome.error_kind is kind
    assert message in (result.outcome.error or "")
    assert MONITOR_PASSWORD not in render_text(result.report)


def test_silent_server_times_out_within_the_connect_timeout(silent_port: int) -> None:
    dsn = f"postgresql://diag:{MONITOR_PASSWORD}@127.0.0.1:{silent_port}/shop"
    started = time.monotonic()

    result = run_probe(
        LocksProbe, config={"postgres": [{"name": "orders", "dsn": dsn}]}, options={"timeout": "3s"}
    )

    assert result.outcome.status is Status.ERROR
    assert result.outcome.error_kind is ErrorKind.TIMEOUT
    assert time.monotonic() - started < 4


def test_one_unreachable_database_among_several_is_a_finding(
    postgres_server: PostgresServer, closed_port: int
) -> None:
    config = {
        "postgres": [
            {"name": "orders", "dsn": postgres_server.monitor_dsn},
            {"name": "archive", "dsn": f"postgresql://diag:x@127.0.0.1:{closed_port}/archive"},
        ]
    }

    result = run_probe(ConnectionsProbe, config=config)

    [finding] = result.findings
    assert finding.kind == "database_unchecked" and finding.entity.name == "archive"
    assert "Connection refused" in finding.title


def saturation_entity(env: dict[str, str]) -> Any:
    # any session counts at a 1 % threshold: the finding shows which database was checked
    result = run_probe(ConnectionsProbe, env=env, options={"used_warning": 0.01})
    [finding] = result.of_kind("connection_saturation")
    return finding.entity


def test_target_from_database_url(pg_sessions: SessionPool, postgres_server: PostgresServer) -> None:
    pg_sessions.open("web")

    entity = saturation_entity({"DATABASE_URL": postgres_server.monitor_dsn})

    assert entity.name == "shop"
    assert entity.attributes == {"host": f"127.0.0.1:{postgres_server.port}", "database": "shop"}


def test_target_from_libpq_variables(pg_sessions: SessionPool, postgres_server: PostgresServer) -> None:
    pg_sessions.open("web")
    env = {
        "PGHOST": postgres_server.host,
        "PGPORT": str(postgres_server.port),
        "PGUSER": MONITOR_USER,
        "PGPASSWORD": MONITOR_PASSWORD,
        "PGDATABASE": "shop",
    }

    entity = saturation_entity(env)

    assert entity.name == "shop"
    assert entity.attributes == {"host": f"127.0.0.1:{postgres_server.port}", "database": "shop"}


def test_probe_error_never_repeats_the_dsn(closed_port: int, ctx: ProbeContext) -> None:
    with (
        pytest.raises(ProbeError) as caught,
        open_session(f"postgresql://u:Secret-123@127.0.0.1:{closed_port}/x", "lbl", ctx),
    ):
        pass
    assert "Secret-123" not in str(caught.value)
    assert str(caught.value).startswith("cannot connect to lbl: Connection refused")


def test_through_transaction_pooling_pgbouncer_no_setting_leaks(
    pg_sessions: SessionPool, pgbouncer: PgBouncer
) -> None:
    config = {"postgres": [{"name": "orders", "dsn": pgbouncer.monitor_dsn}]}
    for probe in ALL_PROBES:
        assert run_probe(probe, config=config).outcome.status is Status.OK

    # the next client of the same pool gets the server connection the probes used
    after = pg_sessions.open("next-client", dsn=pgbouncer.monitor_dsn)
    settings = {
        name: after.execute(f"SHOW {name}").fetchone()[0]  # type: ignore[index]
        for name in ("default_transaction_read_only", "statement_timeout", "lock_timeout")
    }
    assert settings == {"default_transaction_read_only": "off", "statement_timeout": "0", "lock_timeout": "0"}
