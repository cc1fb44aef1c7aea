"""What each PostgreSQL version (12 to 17) is sent: the version-dependent SQL rendered without a
server, so a column a version lacks is caught here rather than on that version in production."""

from __future__ import annotations

import re
from typing import Any

import pytest

from probes.postgres.client import server_info
from probes.postgres.sql_texts import (
    active_queries_sql,
    lock_waits_sql,
    parse_extension_version,
    reserved_connections,
    slots_sql,
    sql_text,
    statement_texts_sql,
    statements_info_sql,
    statements_sql,
)
from tests.probes.postgres.factories import NOW

# server_version_num and the pg_stat_statements version that major version ships
VERSIONS = {120000: "1.7", 130000: "1.8", 140000: "1.9", 150000: "1.10", 160000: "1.10", 170000: "1.11"}
SQL_FILES = [
    "active_queries",
    "database_stats",
    "hidden_sessions",
    "lock_waits",
    "oldest_xmin",
    "prepared",
    "replicas",
    "server",
    "session_setup",
    "sessions",
    "slots",
    "standby",
    "statement_texts",
    "statements",
    "statements_extension",
    "statements_info",
]


def text(statement: Any) -> str:
    return str(statement.as_string(None))


def select_list(statement: Any) -> str:
    """The statement without its -- comments (the comments name every version's column)."""
    return "\n".join(line for line in text(statement).splitlines() if not line.lstrip().startswith("--"))


@pytest.mark.parametrize("version", VERSIONS, ids=str)
def test_active_queries_read_query_id_from_14(version: int) -> None:
    rendered = select_list(active_queries_sql(version))

    if version >= 140000:
        assert "a.query_id AS query_id" in rendered
    else:
        assert "NULL::bigint AS query_id" in rendered and "query_id AS" not in rendered.replace(
            "NULL::bigint AS query_id", ""
        )


@pytest.mark.parametrize("version", VERSIONS, ids=str)
def test_lock_waits_read_waitstart_from_14(version: int) -> None:
    rendered = select_list(lock_waits_sql(version))

    expected = "l.waitstart AS waitstart" if version >= 140000 else "NULL::timestamptz AS waitstart"
    assert expected in rendered
    assert ("l.waitstart" in rendered) is (version >= 140000)
    assert "coalesce(aw.waitstart, a.query_start) AS wait_started" in rendered


@pytest.mark.parametrize("version", VERSIONS, ids=str)
def test_slots_read_wal_status_from_13(version: int) -> None:
    rendered = select_list(slots_sql(version))

    assert ("s.wal_status AS wal_status" if version >= 130000 else "NULL::text AS wal_status") in rendered


@pytest.mark.parametrize("version", VERSIONS, ids=str)
def test_statements_name_their_time_columns_by_extension_version(version: int) -> None:
    extension = parse_extension_version(VERSIONS[version])
    rendered = select_list(statements_sql("public", extension))

    total, mean = ("total_exec_time", "mean_exec_time") if version >= 130000 else ("total_time", "mean_time")
    assert f's."{total}" AS total_ms' in rendered and f's."{mean}" AS mean_ms' in rendered
    assert f'ORDER BY s."{total}" DESC' in rendered
    assert ("exec_time" in rendered) is (version >= 130000)
    assert 'FROM "public".pg_stat_statements(false) s' in rendered


@pytest.mark.parametrize("version", VERSIONS, ids=str)
def test_statements_info_exists_from_14(version: int) -> None:
    info = statements_info_sql("monitoring", parse_extension_version(VERSIONS[version]))

    if version >= 140000:
        assert info is not None
        assert (
            select_list(info).strip()
            == 'SELECT dealloc, stats_reset FROM "monitoring".pg_stat_statements_info'
        )
    else:
        assert info is None


@pytest.mark.parametrize("version", VERSIONS, ids=str)
def test_reserved_connections_count_from_16(version: int) -> None:
    # current_setting('reserved_connections', true) is NULL before 16
    setting = "4" if version >= 160000 else None
    row = {
        "version_num": version,
        "database": "orders",
        "user": "diag",
        "now": NOW,
        "max_connections": 100,
        "superuser_reserved": 3,
        "reserved": setting,
        "can_read_all_stats": True,
        "in_recovery": False,
    }

    server = server_info(row, "db:5432/orders")

    assert server.reserved == (4 if version >= 160000 else 0)
    assert server.usable_connections == (93 if version >= 160000 else 97)
    assert reserved_connections(version, "2") == (2 if version >= 160000 else 0)
    assert "current_setting('reserved_connections', true) AS reserved" in sql_text("server")


def test_no_sql_file_reads_a_column_newer_than_postgresql_12_itself() -> None:
    # the newer columns come only from the version-dependent parts rendered above
    newer = ("pg_stat_checkpointer", "pg_stat_io", "a.query_id", "l.waitstart", "s.wal_status", "exec_time")
    for name in SQL_FILES:
        body = "\n".join(line for line in sql_text(name).splitlines() if not line.lstrip().startswith("--"))
        for word in newer:
            assert not re.search(rf"\b{re.escape(word)}\b", body), (name, word)


def test_statement_texts_are_read_for_a_schema() -> None:
    assert 'FROM "pg stats".pg_stat_statements(true) s' in text(statement_texts_sql("pg stats"))
