"""How long does metrics.anomalies take for many series over a 7-day baseline?

Three measurements, each of one query returning ``N`` series (the 7-day baseline at a 5-minute
step, 2,016 points, and the 2-hour recent range at 30 s, 241 points: noise, daily seasonality,
1 % of series with an incident):

1. **judging only** (``--series``, default 10,000): aligned arrays in memory ->
   ``probes.prometheus.judge_series.judge``, the part the issue bounds at 2 s;
2. **decoding** (``--decode-series``, default 2,000): the HTTP body exactly as Prometheus writes
   it (compact JSON, values as strings) -> aligned arrays, through ``decode_matrix`` (what the
   client does) and through ``json.loads`` plus a float array per series (the general path);
3. **end to end** (``--e2e-series``, default 1,000): the series backfilled into a real
   Prometheus (``promtool``), then ``metrics.anomalies`` run on them with ``max_series`` above
   and below the count: Prometheus' query time, transfer, decoding and judging included.

Run it from the repository:

    .venv/bin/python benchmarks/bench_anomalies.py [--series 10000] [--decode-series 2000] [--e2e-series 1000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from diagnostics.testing import run_probe
from probes.prometheus.anomalies import AnomaliesProbe
from probes.prometheus.client import PrometheusClient, RangeResult, decode_matrix
from probes.prometheus.judge_series import DetectorSettings, Observations, judge
from tests.support.prometheus import PrometheusDataset, StagedSeries, start_prometheus

AT = 1_741_806_000.0  # 2025-03-12T19:00:00Z
WINDOW = 3600.0
RECENT_STEP, BASELINE_STEP = 30.0, 300.0
RECENT_START = AT - 2 * WINDOW
BASELINE_END = RECENT_START - BASELINE_STEP
BASELINE_START = BASELINE_END - 7 * 86400 + BASELINE_STEP
RECENT_TIMES = RECENT_START + RECENT_STEP * np.arange(int(2 * WINDOW / RECENT_STEP) + 1)
BASELINE_TIMES = BASELINE_START + BASELINE_STEP * np.arange(
    int((BASELINE_END - BASELINE_START) / BASELINE_STEP) + 1
)


def values(levels: np.ndarray, times: np.ndarray, rng: np.random.Generator, *, incident: bool) -> np.ndarray:
    """Noisy daily-seasonal series; with ``incident``, 1 % of them x5 over the last 20 minutes."""
    daily = 1 + 0.5 * np.sin(2 * np.pi * (times % 86400) / 86400)
    rows = levels[:, None] * daily[None, :] * (1 + rng.normal(0, 0.05, (len(levels), len(times))))
    if incident:
        rows[: len(levels) // 100, -40:] *= 5
    return rows


def labels(i: int) -> dict[str, str]:
    return {"job": f"job-{i}", "instance": f"10.0.{i // 250}.{i % 250}:9100"}


def timed(repeat: int, work: Callable[[], object]) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        began = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - began)
    return statistics.median(times), result


def judging_only(count: int, repeat: int, rng: np.random.Generator) -> None:
    levels = rng.uniform(1, 1000, count)
    base = values(levels, BASELINE_TIMES, rng, incident=False)
    recent = values(levels, RECENT_TIMES, rng, incident=True)
    obs = Observations(
        baseline=base, baseline_present=np.ones_like(base, bool), baseline_start=BASELINE_START,
        baseline_step=BASELINE_STEP, recent=recent, recent_present=np.ones_like(recent, bool),
        recent_start=RECENT_START, recent_step=RECENT_STEP, judged_from=AT - WINDOW,
    )  # fmt: skip
    seconds, verdicts = timed(repeat, lambda: judge(obs, DetectorSettings()))
    flagged = int(verdicts.anomalous.sum())  # type: ignore[attr-defined]
    print(
        f"1. judging only, {count} series:            median {seconds:.2f}s  (flagged {flagged}, staged {count // 100})"
    )


def prometheus_body(rows: np.ndarray, times: np.ndarray) -> str:
    """A query_range answer as Prometheus writes it: compact JSON, values as shortest strings."""
    result = [
        {"metric": labels(i), "values": [[int(t), repr(float(v))] for t, v in zip(times, row, strict=True)]}
        for i, row in enumerate(rows)
    ]
    answer = {"status": "success", "data": {"resultType": "matrix", "result": result}}
    return json.dumps(answer, separators=(",", ":"))


def decoding(count: int, repeat: int, rng: np.random.Generator) -> None:
    levels = rng.uniform(1, 1000, count)
    bodies = [
        (prometheus_body(values(levels, BASELINE_TIMES, rng, incident=False), BASELINE_TIMES), BASELINE_STEP),
        (prometheus_body(values(levels, RECENT_TIMES, rng, incident=True), RECENT_TIMES), RECENT_STEP),
    ]
    points = count * (len(BASELINE_TIMES) + len(RECENT_TIMES))
    size = sum(len(body) for body, _ in bodies) / 1e6

    def fast() -> None:
        for body, step in bodies:
            series = decode_matrix(body, step)
            assert series is not None
            RangeResult(query="q", start=0, end=0, step=step, series=series)

    def general() -> None:
        for body, step in bodies:
            result = json.loads(body)["data"]["result"]
            series = tuple(PrometheusClient._series(item) for item in result)
            RangeResult(query="q", start=0, end=0, step=step, series=series)

    for name, work in (("decode_matrix (the client)", fast), ("json.loads + float arrays", general)):
        seconds, _ = timed(repeat, work)
        print(
            f"2. decoding {count} series ({size:.0f} MB), {name:27} median {seconds:.2f}s"
            f"  = {seconds / points * 1e9:.0f} ns per point, {seconds / count * 1000:.2f} ms per series"
        )


def staged(count: int, rng: np.random.Generator) -> Iterator[StagedSeries]:
    levels = rng.uniform(1, 1000, count)
    times = np.concatenate([BASELINE_TIMES, RECENT_TIMES])
    rows = np.hstack(
        [
            values(levels, BASELINE_TIMES, rng, incident=False),
            values(levels, RECENT_TIMES, rng, incident=True),
        ]
    )
    for i, row in enumerate(rows):
        yield StagedSeries(
            name="bench_value", labels=labels(i), timestamps=times.tolist(), values=row.tolist()
        )


def end_to_end(count: int, repeat: int, rng: np.random.Generator) -> None:
    at = datetime.fromtimestamp(AT, UTC)
    with tempfile.TemporaryDirectory(prefix="diag-bench-") as workdir:
        began = time.perf_counter()
        dataset = PrometheusDataset(name="bench", series=lambda: staged(count, rng))
        server = start_prometheus(dataset, Path(workdir))
        print(
            f"3. end to end: {count} series backfilled, Prometheus ready in {time.perf_counter() - began:.0f}s"
        )
        try:
            for max_series in (10_000, count // 10):
                options = {"queries": [{"name": "bench", "query": "bench_value"}], "max_series": max_series}

                def run(options: dict[str, object] = options) -> object:
                    result = run_probe(
                        AnomaliesProbe, config={"prometheus": server.config()}, options=options, at=at
                    )
                    assert result.outcome.error is None, result.outcome.error
                    return result

                seconds, result = timed(repeat, run)
                judged = min(count, max_series)
                kinds = [f.kind for f in result.findings]  # type: ignore[attr-defined]
                print(
                    f"   metrics.anomalies, max_series {max_series:>6} ({judged} series judged): median {seconds:.2f}s"
                    f" = {seconds / judged * 1000:.2f} ms per series; {len(kinds)} findings"
                )
        finally:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--decode-series", type=int, default=2_000)
    parser.add_argument("--e2e-series", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    print(
        f"baseline {len(BASELINE_TIMES)} points (5 min), recent {len(RECENT_TIMES)} points (30 s) per series"
    )
    # a count of 0 skips that measurement
    if args.series:
        judging_only(args.series, args.repeat, rng)
    if args.decode_series:
        decoding(args.decode_series, args.repeat, rng)
    if args.e2e_series:
        end_to_end(args.e2e_series, args.repeat, rng)


if __name__ == "__main__":
    main()
