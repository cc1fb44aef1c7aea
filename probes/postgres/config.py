"""The ``postgres`` section shared by the ``db.*`` probes: a list of databases to check.

    postgres:
      - name: orders
        dsn: postgresql://diag@orders-db:5432/orders?password=${ORDERS_DB_PASSWORD}
        pgbouncer_dsn: postgresql://stats@orders-pgbouncer:6432/pgbouncer   # optional

Without the section, one target is built from ``$DATABASE_URL`` or from the libpq
variables (``PGHOST``, ``PGPORT``, ``PGUSER``, ``PGDATABASE``, ``PGPASSWORD``...).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any
from urllib.parse import unquote, urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from diagnostics import BackendSection, Entity
from diagnostics.config_values import check_port, existing_file, unique_names

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"

# libpq environment variables and the connection keywords they stand for
LIBPQ_VARIABLES = {
    "PGHOST": "host",
    "PGHOSTADDR": "hostaddr",
    "PGPORT": "port",
    "PGDATABASE": "dbname",
    "PGUSER": "user",
    "PGPASSWORD": "password",
    "PGPASSFILE": "passfile",
    "PGSERVICE": "service",
    "PGSERVICEFILE": "servicefile",
    "PGSSLMODE": "sslmode",
    "PGSSLROOTCERT": "sslrootcert",
    "PGSSLCERT": "sslcert",
    "PGSSLKEY": "sslkey",
    "PGCONNECT_TIMEOUT": "connect_timeout",
    "PGTARGETSESSIONATTRS": "target_session_attrs",
}
# the variables that on their own say "there is a database to check"
LIBPQ_TRIGGERS = ("PGHOST", "PGHOSTADDR", "PGDATABASE", "PGSERVICE")


def _check_dsn(value: str) -> str:
    from psycopg import ProgrammingError
    from psycopg.conninfo import conninfo_to_dict

    try:
        params = conninfo_to_dict(value)
    except ProgrammingError:
        # psycopg's message may quote the string, password included: never repeat it
        raise ValueError(
            "not a PostgreSQL connection string (postgresql://user@host:5432/db or host=... dbname=...)"
        ) from None
    for port in str(params.get("port") or "5432").split(","):  # one port per host of a multi-host DSN
        check_port(port or "5432", "the connection string")
    for key in ("sslrootcert", "sslcert", "sslkey", "passfile"):
        if params.get(key) and params[key] != "system":
            existing_file(str(params[key]), key)
    return value


class PostgresTarget(BaseModel):
    """One database to check."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    name: str = Field(pattern=NAME_PATTERN, description="The entity named in findings")
    # dsn stays a str, not a SecretStr: it is a whole libpq string (host, port, dbname, user,
    # options) that only embeds a password; the probes read its parts for labels (server_label),
    # and _check_dsn's messages and the redactor's DSN patterns keep the password out of output
    dsn: str = Field(min_length=1, description="libpq URL or key=value string")
    pgbouncer_dsn: str | None = Field(
        None, min_length=1, description="PgBouncer admin console, for SHOW POOLS (optional)"
    )

    @field_validator("dsn", "pgbouncer_dsn")
    @classmethod
    def _valid_dsn(cls, value: str | None) -> str | None:
        return _check_dsn(value) if value is not None else None


def quote_conninfo(value: str) -> str:
    """A value for a key=value connection string, quoted the way libpq reads it."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def from_environment(env: Mapping[str, str]) -> list[dict[str, Any]] | None:
    """One target from ``$DATABASE_URL``, else from the libpq ``PG*`` variables."""
    url = env.get("DATABASE_URL", "")
    if re.match(r"^postgres(ql)?://", url):
        dbname = unquote(urlsplit(url).path.lstrip("/"))
        return [{"name": _entity_name(dbname), "dsn": url}]
    if not any(env.get(variable) for variable in LIBPQ_TRIGGERS):
        return None
    dsn = " ".join(
        f"{keyword}={quote_conninfo(env[variable])}"
        for variable, keyword in LIBPQ_VARIABLES.items()
        if env.get(variable)
    )
    return [{"name": _entity_name(env.get("PGDATABASE") or env.get("PGSERVICE") or ""), "dsn": dsn}]


def _entity_name(candidate: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_.-]", "-", candidate).strip("-.")
    return cleaned or "postgres"


def server_label(dsn: str) -> str:
    """``host:port/dbname`` of a DSN, never its user or password."""
    from psycopg.conninfo import conninfo_to_dict

    params = conninfo_to_dict(dsn)
    host = str(params.get("host") or params.get("hostaddr") or "localhost")
    port = str(params.get("port") or "5432")
    dbname = str(params.get("dbname") or params.get("service") or params.get("user") or "")
    return f"{host}:{port}/{dbname}"


def database_entity(target: PostgresTarget, label: str) -> Entity:
    """The entity findings about ``target`` are attached to."""
    host, _, database = label.partition("/")
    return Entity(kind="database", name=target.name, attributes={"host": host, "database": database})


def _unique_targets(targets: list[PostgresTarget]) -> list[PostgresTarget]:
    unique_names(targets, "databases")
    return targets


SECTION = BackendSection(
    key="postgres",
    model=Annotated[list[PostgresTarget], AfterValidator(_unique_targets)],
    setup_hint="postgres: [{name: orders, dsn: 'postgresql://diag@orders-db:5432/orders'}]",
    from_environment=from_environment,
    description="PostgreSQL databases checked by the db.* probes (a list of name, dsn, pgbouncer_dsn)",
    client_modules=("psycopg", "psycopg.rows", "psycopg.conninfo"),
)
