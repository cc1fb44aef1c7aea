"""db.queries with its default settings under real pgbench traffic: a dropped primary key is a
plan regression, named with its table and the index it lost; the same traffic with the index
is quiet."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest

from diagnostics import Severity, Status
from diagnostics.testing import run_probe
from probes.postgres.queries import QueriesProbe
from tests.support.pgbench import Pgbench
from tests.support.postgres import PostgresServer

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def bench(postgres_server: PostgresServer) -> Iterator[Pgbench]:
    bench = Pgbench(postgres_server, database="bench_queries")
    bench.initialise(scale=3)
    yield bench


def diagnose(bench: Pgbench) -> list:  # type: ignore[type-arg]
    result = run_probe(QueriesProbe, config={"postgres": [{"name": "bench", "dsn": bench.monitor_dsn}]})
    assert result.outcome.status is not Status.ERROR, result.outcome.error
    return list(result.findings)


def test_lookups_served_by_their_index_are_quiet(bench: Pgbench) -> None:
    with bench.traffic("-S", clients=2):
        with bench.superuser() as conn:  # the traffic is what the statistics have always seen
            conn.execute("SELECT pg_stat_statements_reset()")
        time.sleep(2)
        assert diagnose(bench) == []


def test_a_dropped_primary_key_is_named_with_its_table_and_column(bench: Pgbench) -> None:
    with bench.traffic("-S", clients=2):
        time.sleep(3)  # the lookups' usual mean: well under a millisecond
        with bench.superuser() as conn:
            conn.execute("ALTER TABLE pgbench_accounts DROP CONSTRAINT pgbench_accounts_pkey")
        try:
            time.sleep(2)
            findings = diagnose(bench)
        finally:
            with bench.superuser() as conn:
                conn.execute("ALTER TABLE pgbench_accounts ADD PRIMARY KEY (aid)")
    by_kind = {f.kind: f for f in findings}
    # (the cache hit ratio may fall too: sequential scans read through a small ring of buffers)
    assert {"statement_slowdown", "sequential_scans"} <= set(by_kind), [f.title for f in findings]
    assert set(by_kind) <= {"statement_slowdown", "sequential_scans", "cache_hit_ratio"}
    slow, scans = by_kind["statement_slowdown"], by_kind["sequential_scans"]
    assert slow.severity is Severity.WARNING and scans.severity is Severity.WARNING
    assert "per call over the last 2.0s" in slow.title
    assert slow.title.endswith(": sequential scans of pgbench_accounts, no index on (aid)")
    # pg_stat_statements keeps the text it first saw normalized ($1); a text it had to fall back
    # on may carry the literal: either is the same statement
    query = re.sub(r"= \d+$", "= $1", str(slow.evidence.details["query"]))
    assert query == "SELECT abalance FROM pgbench_accounts WHERE aid = $1"
    assert "no index of pgbench_accounts leads with aid (its indexes now: none)" in slow.summary
    assert slow.next_steps[0].startswith("CREATE INDEX CONCURRENTLY ON pgbench_accounts (aid);")
    assert scans.title.startswith("Table pgbench_accounts: ")
    assert scans.title.endswith("; no index on (aid)")
    assert scans.evidence.details["missing_index_columns"] == ["aid"]
    rows_per_scan = next(m.value for m in scans.evidence.values if m.name == "rows read by them")
    assert isinstance(rows_per_scan, int) and rows_per_scan >= 300_000
