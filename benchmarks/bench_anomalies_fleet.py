"""A fleet judged end to end: how much data moves and how long it takes, against Prometheus' own time.

``--series`` (1,000) series with 7 days of history (5-minute points, then 30 s over the last 2
hours; noise, daily seasonality, 1 % with an incident) are backfilled into a real Prometheus.
Then, as of the end of that history:

1. **Prometheus' own time**: the probe's two range queries (the baseline at its 5-minute
   step, the recent 2 hours at 30 s) sent with ``stats=all``; the figure is the sum of
   Prometheus' ``evalTotalTime`` (reading and evaluating the same data, nothing sent); and
   the wall time of Prometheus answering both in full to a client that decodes nothing;
   and, for comparison, what a reduction in PromQL would cost Prometheus: the statistics the
   method needs per series (level, count, the extremes of the means of each window length)
   as instant queries over the same baseline (:func:`reduction_queries`);
2. **data moved**: the bytes on the wire of every point of both ranges (what reading every
   series finely takes), uncompressed and gzip, against what the probe reads (the answers'
   bodies, counted in one instrumented run, with where its time went);
3. **end to end**: ``metrics.anomalies`` with one configured query returning every series
   (count, both range queries read together, the baseline in time slices of at most 16 MiB, two in flight,
   decoding, judging, findings), with the encoding the client
   chooses (none on loopback) and with gzip forced, as a remote server would get.

Run it from the repository:

    .venv/bin/python benchmarks/bench_anomalies_fleet.py [--series 1000] [--repeat 5] [--url URL]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_anomalies import AT, staged

from diagnostics.testing import run_probe
from probes.prometheus import client as prometheus_client
from probes.prometheus.anomalies import AnomaliesOptions, AnomaliesProbe, query_grid
from tests.support.prometheus import PrometheusDataset, start_prometheus

QUERY = "bench_value"
WINDOW = timedelta(hours=1)


def median_time(repeat: int, work: Callable[[], object]) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        began = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - began)
    return statistics.median(times), result


def the_probes_queries() -> list[dict[str, str]]:
    """The two range queries metrics.anomalies sends as of AT (same grid function)."""
    options = AnomaliesOptions()
    grid = query_grid(AT, WINDOW.total_seconds(), options.baseline.total_seconds(), options.baseline_points)
    return [
        {
            "query": QUERY,
            "start": f"{grid.baseline_start:.0f}",
            "end": f"{grid.baseline_end:.0f}",
            "step": f"{grid.step:g}",
        },
        {
            "query": QUERY,
            "start": f"{grid.recent_start:.0f}",
            "end": f"{AT:.0f}",
            "step": f"{grid.recent_step:g}",
        },
    ]


def prometheus_time(url: str, repeat: int) -> float:
    """Median over ``repeat`` of Prometheus' own evalTotalTime for both queries together."""
    totals = []
    for _ in range(repeat):
        total = 0.0
        for params in the_probes_queries():
            answer = requests.get(f"{url}/api/v1/query_range", params={**params, "stats": "all"}, timeout=60)
            total += float(answer.json()["data"]["stats"]["timings"]["evalTotalTime"])
        totals.append(total)
    return statistics.median(totals)


def answer_time(url: str, repeat: int) -> float:
    """Median over ``repeat`` of the wall time Prometheus takes to answer both range queries
    in full (evaluate, encode, send), read by a client that decodes nothing: the floor of any
    client that needs the points."""
    return median_time(repeat, lambda: wire_bytes(url, "identity"))[0]


def reduction_queries() -> list[str]:
    """What a reduction in PromQL needs per series to judge without the baseline's points: the
    level (median), the count, and for each window length of the method (1, 3, 6, 12 samples)
    the high and low extremes of the baseline's means of that length (means of consecutive
    blocks, ``avg_over_time`` of a subquery, a subquery per length)."""
    options = AnomaliesOptions()
    grid = query_grid(AT, WINDOW.total_seconds(), options.baseline.total_seconds(), options.baseline_points)
    span = f"{grid.baseline_end - grid.baseline_start + grid.step:.0f}s"
    step = f"{grid.step:g}s"
    queries = [f"quantile_over_time(0.5, {QUERY}[{span}:{step}])", f"count_over_time({QUERY}[{span}:{step}])"]
    for length in (1, 3, 6, 12):
        block = f"{length * grid.step:g}s"
        means = (
            f"{QUERY}[{span}:{step}]"
            if length == 1
            else f"avg_over_time({QUERY}[{block}:{step}])[{span}:{block}]"
        )
        rank = 2 * length / (2016 / length)
        queries += [
            f"quantile_over_time({1 - rank:.4f}, {means})",
            f"quantile_over_time({rank:.4f}, {means})",
        ]
    return queries


def reduction_time(url: str, repeat: int) -> float:
    """Median over ``repeat`` of Prometheus' own evalTotalTime for :func:`reduction_queries`,
    evaluated at the end of the baseline."""
    options = AnomaliesOptions()
    grid = query_grid(AT, WINDOW.total_seconds(), options.baseline.total_seconds(), options.baseline_points)
    totals = []
    for _ in range(repeat):
        total = 0.0
        for query in reduction_queries():
            params = {"query": query, "time": f"{grid.baseline_end:.0f}", "stats": "all"}
            answer = requests.get(f"{url}/api/v1/query", params=params, timeout=120).json()
            total += float(answer["data"]["stats"]["timings"]["evalTotalTime"])
        totals.append(total)
    return statistics.median(totals)


def wire_bytes(url: str, encoding: str) -> int:
    """Bytes on the wire of both answers with ``Accept-Encoding: encoding``."""
    size = 0
    for params in the_probes_queries():
        with requests.get(
            f"{url}/api/v1/query_range",
            params=params,
            headers={"Accept-Encoding": encoding},
            stream=True,
            timeout=60,
        ) as answer:
            size += len(answer.raw.read(decode_content=False))
    return size


@dataclass
class Instrumented:
    """What one run of the probe read and where its time went (summed over its threads)."""

    body_bytes: int = 0
    answers: int = 0
    reading: float = 0.0
    judging: float = 0.0


def instrumented_run(url: str) -> Instrumented:
    """One run of the probe with its reads and its judging timed and its answers' bytes counted."""
    from probes.prometheus import anomalies_reading
    from probes.prometheus.client import PrometheusClient

    seen = Instrumented()
    read, reader, readers, judge = (
        PrometheusClient._read,
        anomalies_reading.query_range_sliced,
        anomalies_reading.query_ranges_sliced,
        anomalies_reading.judge,
    )
    lock = threading.Lock()

    def counted_read(self: PrometheusClient, *args: Any, **kwargs: Any) -> bytes:
        body = read(self, *args, **kwargs)
        with lock:
            seen.body_bytes += len(body)
            seen.answers += 1
        return body

    def timed(work: Callable[..., Any], field: str) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return work(*args, **kwargs)
            finally:
                setattr(seen, field, getattr(seen, field) + time.perf_counter() - began)

        return run

    PrometheusClient._read = counted_read  # type: ignore[method-assign]
    anomalies_reading.query_range_sliced = timed(reader, "reading")
    anomalies_reading.query_ranges_sliced = timed(readers, "reading")
    anomalies_reading.judge = timed(judge, "judging")
    try:
        end_to_end(url, 1, encoding=None)
    finally:
        PrometheusClient._read = read  # type: ignore[method-assign]
        anomalies_reading.query_range_sliced, anomalies_reading.query_ranges_sliced = reader, readers
        anomalies_reading.judge = judge
    return seen


def end_to_end(url: str, repeat: int, *, encoding: str | None) -> tuple[float, int]:
    """Median seconds of the probe, and its number of findings; ``encoding`` forces one."""
    chosen = prometheus_client.range_encoding
    if encoding is not None:
        prometheus_client.range_encoding = lambda _url: encoding  # type: ignore[assignment]
    try:

        def run() -> object:
            result = run_probe(
                AnomaliesProbe,
                config={"prometheus": {"url": url}},
                options={
                    "queries": [{"name": "bench", "query": QUERY}],
                    "max_series": 100_000,
                    "timeout": "120s",
                },
                at=datetime.fromtimestamp(AT, UTC),
                window=WINDOW,
            )
            assert result.outcome.error is None, result.outcome.error
            return result

        seconds, result = median_time(repeat, run)
    finally:
        prometheus_client.range_encoding = chosen
    return seconds, len(result.findings)  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--series", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--url", help="a Prometheus already holding this benchmark's series (from an earlier run)"
    )
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    if args.url:
        measure(args.url, args.repeat)
        return
    with tempfile.TemporaryDirectory(prefix="diag-fleet-") as workdir:
        began = time.perf_counter()
        dataset = PrometheusDataset(name="fleet", series=lambda: staged(args.series, rng))
        server = start_prometheus(dataset, Path(workdir))
        print(
            f"{args.series} series x 7 days backfilled, Prometheus ready in {time.perf_counter() - began:.0f}s"
        )
        try:
            measure(server.url, args.repeat)
        finally:
            server.stop()


def measure(url: str, repeat: int) -> None:
    end_to_end(url, 1, encoding=None)  # warm Prometheus' caches and the imports
    own = prometheus_time(url, repeat)
    plain, packed = wire_bytes(url, "identity"), wire_bytes(url, "gzip")
    probe = instrumented_run(url)
    print(f"1. Prometheus' own evaluation of the probe's 2 range queries: median {own:.2f}s")
    answered = answer_time(url, repeat)
    print(f"   Prometheus answering both in full (evaluate, encode, send; nothing decoded): {answered:.2f}s")
    reduced = reduction_time(url, repeat)
    print(
        f"   a reduction in PromQL instead (level, count, extremes of 4 window lengths: "
        f"{len(reduction_queries())} queries): Prometheus' own time {reduced:.2f}s = {reduced / own:.1f}x"
    )
    print(
        f"2. data moved: every point of both ranges {plain / 1e6:.1f} MB uncompressed, {packed / 1e6:.1f} MB gzip; "
        f"the probe read {probe.body_bytes / 1e6:.1f} MB in {probe.answers} answers"
    )
    print(
        f"   of one run of the probe: reading the ranges (transfer, decoding) {probe.reading:.2f}s, "
        f"judging {probe.judging:.2f}s"
    )
    for name, encoding in (("chosen (loopback: none)", None), ("gzip forced", "gzip")):
        seconds, findings = end_to_end(url, repeat, encoding=encoding)
        print(
            f"3. end to end, encoding {name:24} median {seconds:.2f}s = {seconds / own:.1f}x "
            f"Prometheus' evaluation, {seconds / answered:.1f}x its full answer; {findings} findings"
        )


if __name__ == "__main__":
    main()
