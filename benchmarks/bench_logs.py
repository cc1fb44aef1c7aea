"""How fast ``logs.errors`` and ``logs.patterns`` judge a big log file, and in how much memory.

Writes a 1,000,000-line application log (about 150 MB, Python logging format, 7 h 10 min: the
6 h baseline, the 30 min lead-in and the 30 min window) with ~2 % warnings and errors of a dozen
templates and a new database error in the last 20 minutes, then runs each probe through the real
pipeline (``diagnostics.testing.run_probe``) and prints:

- the CPU time of each probe's run (the issue's budget: under 10 s each), and its wall time.
  A probe judges on one thread, so on an idle machine its wall time is its CPU time; on a
  machine shared with other work the wall time also counts the waits for a CPU;
- as a reference measured in the same run, the CPU time of a bare Python pass over the same
  file (``for line in file: line.decode()``), and the ratio of the two;
- the peak resident memory added by the run (``ru_maxrss``), for the full file and for a file a
  quarter as long: bounded memory means the two are close, not 4x apart.

The exit status is 1 when a probe is over the budget or did not find the staged error.

    .venv/bin/python benchmarks/bench_logs.py [--lines 1000000]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

BUDGET_S = 10.0
AT = datetime(2026, 12, 7, 4, 0, tzinfo=UTC)
SPAN = timedelta(hours=7, minutes=10)
MESSAGES = (
    ("INFO", "shop.api", "GET /api/cart/{n} answered 200 in {ms} ms for user {user} session {hex}"),
    ("INFO", "shop.orders", "order ord-{order} created for user {user} with {n} items total={amount} EUR"),
    ("INFO", "shop.payments", "payment ord-{order} captured amount={amount} provider=acme latency={ms}ms"),
    ("INFO", "shop.sync", "inventory sync finished: {n} items in {ms} ms from warehouse 10.2.{n}.{n}"),
    ("DEBUG", "shop.cache", "cache hit for key user:{user} ttl={n}s size={ms} bytes in region eu-west-1"),
)
PROBLEMS = (
    ("WARNING", "shop.cache", "cache miss for key user:{user}, falling back to the database after {ms} ms"),
    ("ERROR", "shop.payments", "payment gateway timeout after {ms} ms for order ord-{order}"),
    ("WARNING", "shop.api", "slow request GET /api/products/{n} took {ms} ms (threshold 500 ms)"),
    ("ERROR", "shop.web", "unhandled error rendering page {n}: KeyError 'price'"),
)
NEW = ("ERROR", "shop.db", "could not connect to database orders-db at 10.0.4.{n}:5432: connection refused")


def write_log(path: Path, lines: int, seed: int = 1) -> None:
    """``lines`` lines over SPAN ending at AT, the new error from 20 minutes before AT."""
    rng = random.Random(seed)
    start = AT - SPAN
    step = SPAN.total_seconds() / lines
    new_from = (AT - timedelta(minutes=20)).timestamp()
    with path.open("w") as out:
        chunk = []
        for index in range(lines):
            t = start.timestamp() + index * step
            roll = rng.random()
            if t >= new_from and roll < 0.03:
                level, logger, text = NEW
            elif roll < 0.02:
                level, logger, text = PROBLEMS[int(roll * 1000) % len(PROBLEMS)]
            else:
                level, logger, text = MESSAGES[int(roll * 1000) % len(MESSAGES)]
            stamp = (
                datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S,") + f"{int(t * 1000) % 1000:03d}"
            )
            message = text.format(
                n=rng.randint(1, 250), ms=rng.randint(3, 4000), user=rng.randint(1000, 9999),
                order=rng.randint(10_000, 99_999), amount=f"{rng.uniform(1, 500):.2f}", hex=f"{rng.getrandbits(48):012x}",
            )  # fmt: skip
            trace = f"{rng.getrandbits(64):016x}{rng.getrandbits(64):016x}"
            chunk.append(f"{stamp} {level} [{logger}] {message} trace_id={trace}\n")
            if len(chunk) >= 10_000:
                out.write("".join(chunk))
                chunk = []
        out.write("".join(chunk))


def bare_pass(path: Path) -> float:
    """The reference: a bare Python pass over the lines, decoding each (CPU seconds)."""
    began = time.process_time()
    with path.open("rb") as raw:
        for line in raw:
            line.decode("utf-8", "replace")
    return time.process_time() - began


def measure(path: Path, probe_name: str) -> None:
    """In a child process (so the peak memory is its own): time one probe run, print JSON."""
    import json

    from diagnostics.testing import run_probe
    from probes.logs.errors import ErrorsProbe
    from probes.logs.patterns import PatternsProbe

    probe = {"logs.errors": ErrorsProbe, "logs.patterns": PatternsProbe}[probe_name]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    began, cpu_began = time.perf_counter(), time.process_time()
    run = run_probe(
        probe,
        config={"logs": [{"name": "shop", "file": {"paths": [str(path)]}}]},
        at=AT,
        window="30m",
        timeout=120,
    )
    elapsed = time.perf_counter() - began
    cpu = time.process_time() - cpu_began
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    found = any("orders-db" in str(f.evidence.details) for f in run.findings)
    print(json.dumps({"seconds": elapsed, "cpu_seconds": cpu, "added_rss_mb": (peak - before) / 1024, "found": found,
                      "status": run.outcome.status.value}))  # fmt: skip


def child(path: Path, probe: str) -> dict[str, float]:
    import json

    result = subprocess.run(
        [sys.executable, __file__, "--measure", str(path), "--probe", probe],
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--probe", default="logs.errors", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args.measure, args.probe)
        return 0
    failed = False
    with tempfile.TemporaryDirectory() as directory:
        full, quarter = Path(directory) / "full.log", Path(directory) / "quarter.log"
        write_log(full, args.lines)
        write_log(quarter, args.lines // 4)
        size_mb = full.stat().st_size / 1e6
        reference = bare_pass(full)
        load = os.getloadavg()[0]
        print(
            f"{args.lines:,} lines, {size_mb:.0f} MB; bare Python pass over the file: {reference:.2f} s CPU"
        )
        print(f"load average {load:.1f} on {os.cpu_count()} CPUs: wall times include waiting for a CPU")
        for probe in ("logs.errors", "logs.patterns"):
            result = child(full, probe)
            small = child(quarter, probe)
            ok = result["cpu_seconds"] < BUDGET_S and bool(result["found"])
            failed |= not ok
            print(
                f"{probe}: {result['seconds']:.2f} s wall, {result['cpu_seconds']:.2f} s CPU "
                f"({result['cpu_seconds'] / reference:.1f}x the bare pass), "
                f"peak memory added {result['added_rss_mb']:.0f} MB (a quarter of the lines: "
                f"{small['added_rss_mb']:.0f} MB), staged error found: {bool(result['found'])}"
                + ("" if ok else "  <-- OVER BUDGET OR MISSED")
            )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
