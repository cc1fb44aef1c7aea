"""How fast the db.* probes answer against a server with 200 sessions, and how many connections
each adds.

Starts its own PostgreSQL (max_connections 250, pg_stat_statements preloaded), opens 200
sessions as an application would (idle, idle in transaction, running pg_sleep, and a blocking
tree of one root and 9 waiters), then runs every probe RUNS times through the real pipeline
(``diagnostics.testing.run_probe``) and prints the median and p95 of the probe's own duration
(the runner's measure) and of the whole call. While the probes run a watcher counts the
sessions whose application_name is ``diag``; the psycopg connects per run are counted too.
Last, the four probes run together as ``diag run`` runs them (in parallel threads, taking turns
on one connection per database, handed from probe to probe).

    .venv/bin/python benchmarks/bench_postgres.py [--runs 30]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg

from diagnostics.api import diagnose
from diagnostics.registry import Registry
from diagnostics.testing import run_probe
from probes.postgres.connections import ConnectionsProbe
from probes.postgres.locks import LocksProbe
from probes.postgres.queries import QueriesProbe
from probes.postgres.replication import ReplicationProbe
from tests.support.postgres import PostgresServer, SessionPool, start_postgres

SESSIONS = 200
PROBES = (ConnectionsProbe, LocksProbe, QueriesProbe, ReplicationProbe)


def stage_sessions(server: PostgresServer, pool: SessionPool) -> None:
    """200 sessions: 150 idle, 30 idle in transaction, 10 sleeping, 1 root blocker + 9 waiters."""
    for index in range(150):
        pool.open(f"web-{index % 7}").execute("SELECT count(*) FROM orders")
    for _ in range(30):
        conn = pool.open("billing")
        conn.execute("BEGIN")
        conn.execute("SELECT * FROM orders WHERE id = 9")
    for _ in range(10):
        pool.in_background(pool.open("reports"), "SELECT pg_sleep(600)")
    root = pool.open("batch")
    root.execute("BEGIN")
    root.execute("UPDATE orders SET status = 'held' WHERE id = 10")
    waiters = []
    for _ in range(9):
        conn = pool.open("checkout")
        waiters.append(pool.pid(conn))
        pool.in_background(conn, "UPDATE orders SET status = 'w' WHERE id = 10")
    pool.wait_for_lock_waiters(waiters)
    count = server.execute("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'")
    print(f"client sessions on the server: {count[0][0]} (staged {SESSIONS} + this script's admin session)")


@contextlib.contextmanager
def watch_probe_sessions(server: PostgresServer) -> Iterator[dict[str, int]]:
    """The most sessions named ``diag`` seen at once while the block runs."""
    seen = {"max": 0}
    stop = threading.Event()

    def poll() -> None:
        with server.connect(application_name="bench-watch") as conn:
            while not stop.is_set():
                row = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'diag'"
                ).fetchone()
                seen["max"] = max(seen["max"], int(row[0]) if row else 0)
                time.sleep(0.002)  # a probe session lives ~10 ms or more: still seen, less noise

    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    try:
        yield seen
    finally:
        stop.set()
        watcher.join(timeout=5)


@contextlib.contextmanager
def count_connects() -> Iterator[dict[str, int]]:
    """psycopg.connect calls while the block runs."""
    calls = {"n": 0}
    original = psycopg.connect

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        return original(*args, **kwargs)

    psycopg.connect = counting
    try:
        yield calls
    finally:
        psycopg.connect = original


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile, ``share`` in 0..1."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    """Stage the sessions, time each probe, then all four together."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    with start_postgres(max_connections=250) as server:
        print(f"PostgreSQL {server.version} on port {server.port}")
        pool = SessionPool(server)
        try:
            stage_sessions(server, pool)
            config = {"postgres": [{"name": "bench", "dsn": server.monitor_dsn}]}
            print(
                f"\n{'probe':<16}{'status':<10}{'median ms':>10}{'p95 ms':>10}{'call median ms':>16}{'connects/run':>14}{'max diag sessions':>19}"
            )
            for probe in PROBES:
                run_probe(probe, config=config)  # warm-up: imports, first plan
                durations, calls = [], []
                with watch_probe_sessions(server) as seen, count_connects() as connects:
                    for _ in range(args.runs):
                        started = time.perf_counter()
                        result = run_probe(probe, config=config)
                        calls.append((time.perf_counter() - started) * 1000)
                        durations.append(result.outcome.duration_s * 1000)
                print(
                    f"{probe.id:<16}{result.outcome.status.value:<10}"
                    f"{statistics.median(durations):>10.1f}{percentile(durations, 0.95):>10.1f}"
                    f"{statistics.median(calls):>16.1f}{connects['n'] / args.runs:>14.1f}{seen['max']:>19}"
                )
            run_together(server, config, args.runs)
        finally:
            pool.close()


def run_together(server: PostgresServer, config: dict[str, Any], runs: int) -> None:
    """The four probes in one run, ``runs`` times: durations, connects, diag sessions seen."""
    registry = Registry(probes={p.id: p for p in PROBES}, broken={})
    ids = [p.id for p in PROBES]
    totals, slowest = [], []
    with watch_probe_sessions(server) as seen, count_connects() as connects:
        for _ in range(runs):
            report = diagnose(probes=ids, config=config, env={}, registry=registry).report
            totals.append(report.duration_s * 1000)
            slowest.append(max(o.duration_s for o in report.probes) * 1000)
    print(
        f"\nall four together: run median {statistics.median(totals):.1f} ms, p95 {percentile(totals, 0.95):.1f} ms; "
        f"slowest probe median {statistics.median(slowest):.1f} ms; connects per run: {connects['n'] / runs:.1f}; "
        f"max diag sessions at once: {seen['max']}"
    )


if __name__ == "__main__":
    main()
