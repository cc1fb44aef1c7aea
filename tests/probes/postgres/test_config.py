"""The postgres section: validation, discovery from the environment, labels; error kinds."""

from __future__ import annotations

from typing import Any

import pytest

from diagnostics import ConfigError, ErrorKind
from diagnostics.testing import run_probe
from probes.postgres.client_pgbouncer import pool_stats
from probes.postgres.client_session import ConnectionsExhausted, connect_error, server_reason
from probes.postgres.config import from_environment, quote_conninfo, server_label
from probes.postgres.locks import LocksProbe


def config_error(config: dict[str, Any], options: dict[str, Any] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        run_probe(LocksProbe, config=config, options=options)
    return str(caught.value)


def test_unknown_key_is_named() -> None:
    target = {"name": "orders", "dsn": "postgresql://db/orders", "pgbouncer": "postgresql://pgb/pgbouncer"}
    message = config_error({"postgres": [target]})

    assert "postgres[0].pgbouncer: unknown key (did you mean 'pgbouncer_dsn'?)" in message
    assert config_error({"postgres": [{"name": "orders"}]}).endswith(
        "postgres[0].dsn: required key is missing"
    )


def test_bad_dsn_is_rejected_without_repeating_it() -> None:
    message = config_error({"postgres": [{"name": "orders", "dsn": "host=db password=S3cret-pw dbname"}]})

    assert "postgres[0].dsn" in message and "not a PostgreSQL connection string" in message
    assert "S3cret-pw" not in message


def test_bad_threshold_is_named() -> None:
    message = config_error(
        {"postgres": [{"name": "orders", "dsn": "postgresql://db/orders"}]}, {"wait_warning": "soon"}
    )

    assert "probes.db.locks.wait_warning" in message


def test_from_database_url() -> None:
    assert from_environment({"DATABASE_URL": "postgresql://u:p@db:5432/orders"}) == [
        {"name": "orders", "dsn": "postgresql://u:p@db:5432/orders"}
    ]
    assert from_environment({"DATABASE_URL": "mysql://db/orders"}) is None
    assert from_environment({}) is None
    assert from_environment({"PGUSER": "me"}) is None  # a user alone is not a database to check


def test_from_libpq_variables_quotes_values() -> None:
    [target] = (
        from_environment({"PGHOST": "db", "PGPORT": "6543", "PGDATABASE": "orders", "PGPASSWORD": "it's"})
        or []
    )

    assert target["name"] == "orders"
    assert target["dsn"] == "host='db' port='6543' dbname='orders' password='it\\'s'"
    assert quote_conninfo("a\\b") == "'a\\\\b'"


def test_server_label_never_has_credentials() -> None:
    assert server_label("postgresql://u:secret@db:6432/orders?sslmode=require") == "db:6432/orders"
    assert server_label("host=/run/pg dbname=x password=secret") == "/run/pg:5432/x"


@pytest.mark.parametrize(
    ("text", "kind", "reason"),
    [
        (
            'connection failed: connection to server at "10.0.0.1", port 5432 failed: FATAL:  password authentication failed for user "diag"',
            ErrorKind.AUTH,
            'password authentication failed for user "diag"',
        ),
        ("failed to resolve host 'db.invalid': [Errno -2] Name or service not known", ErrorKind.DNS, None),
        (
            'connection failed: connection to server at "10.0.0.1", port 5432 failed: Connection refused\n\tIs the server running',
            ErrorKind.CONNECT,
            "Connection refused",
        ),
        ("connection timeout expired", ErrorKind.TIMEOUT, None),
        ('connection failed: ... failed: FATAL:  database "nope" does not exist', ErrorKind.CONFIG, None),
        ("connection failed: ... failed: SSL error: certificate verify failed", ErrorKind.TLS, None),
    ],
)
def test_connect_errors_get_a_kind(text: str, kind: ErrorKind, reason: str | None) -> None:
    error = connect_error(Exception(text), "db:5432/orders")

    assert error.kind is kind
    assert str(error).startswith("cannot connect to db:5432/orders: ")
    if reason:
        assert server_reason(text) == reason


@pytest.mark.parametrize(
    "reason",
    [
        "sorry, too many clients already",
        "remaining connection slots are reserved for non-replication superuser connections",
        "remaining connection slots are reserved for roles with the SUPERUSER attribute",
    ],
)
def test_exhaustion_is_recognised(reason: str) -> None:
    error = connect_error(Exception(f"connection failed: x failed: FATAL:  {reason}"), "db")

    assert (
        isinstance(error, ConnectionsExhausted) and error.reason == reason and error.kind is ErrorKind.CONNECT
    )


def test_show_pools_row() -> None:
    row = {
        "database": "orders",
        "user": "app",
        "cl_active": "20",
        "cl_waiting": "4",
        "sv_active": 20,
        "sv_idle": 0,
        "maxwait": 3,
        "maxwait_us": 250000,
        "pool_mode": "transaction",
    }

    stats = pool_stats(row)

    assert (stats.clients_waiting, stats.max_wait_s, stats.pool_mode) == (4, 3.25, "transaction")
