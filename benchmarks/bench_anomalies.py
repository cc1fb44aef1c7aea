"""How long does metrics.anomalies take to judge 10,000 series over a 7-day baseline?

Builds, in memory, what two range queries of one metric return for 10,000 series (the 7-day
baseline at a 5-minute step, 2,016 points, and the 2-hour recent range at 30 s, 241 points:
noise, daily seasonality, 1 % of series with an incident), then times separately:

- turning the decoded API answer (lists of ``[timestamp, "value"]``) into aligned arrays, and
- judging every series (``probes.prometheus.anomaly.judge``), the part the issue bounds at 2 s.

Prometheus' own query time and the HTTP transfer are not included. Run it from the repository:

    .venv/bin/python benchmarks/bench_anomalies.py [--series 10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from probes.prometheus.anomaly import DetectorSettings, judge, observations
from probes.prometheus.client import PrometheusClient, RangeResult

AT = 1_741_806_000.0  # 2025-03-12T19:00:00Z
WINDOW = 3600.0
RECENT_STEP, BASELINE_STEP = 30.0, 300.0


def api_answer(
    levels: np.ndarray, start: float, step: float, points: int, rng: np.random.Generator, *, incident: bool
) -> list[dict[str, object]]:
    """What prometheus-api-client returns for a query_range: decoded JSON, values as strings."""
    series = len(levels)
    times = start + step * np.arange(points)
    daily = 1 + 0.5 * np.sin(2 * np.pi * (times % 86400) / 86400)
    values = levels[:, None] * daily[None, :] * (1 + rng.normal(0, 0.05, (series, points)))
    if incident:
        values[: series // 100, -40:] *= 5
    return [
        {
            "metric": {"job": f"job-{i}", "instance": f"10.0.{i // 250}.{i % 250}:9100"},
            "values": [[float(t), repr(float(v))] for t, v in zip(times, row, strict=True)],
        }
        for i, row in enumerate(values)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    recent_start = AT - 2 * WINDOW
    baseline_end = recent_start - BASELINE_STEP
    baseline_start = baseline_end - 7 * 86400 + BASELINE_STEP
    recent_points = int(2 * WINDOW / RECENT_STEP) + 1
    baseline_points = int((baseline_end - baseline_start) / BASELINE_STEP) + 1
    print(
        f"{args.series} series: baseline {baseline_points} points (5 min), recent {recent_points} points (30 s)"
    )
    made = time.perf_counter()
    levels = rng.uniform(1, 1000, args.series)
    recent_raw = api_answer(levels, recent_start, RECENT_STEP, recent_points, rng, incident=True)
    baseline_raw = api_answer(levels, baseline_start, BASELINE_STEP, baseline_points, rng, incident=False)
    print(f"(synthetic answers built in {time.perf_counter() - made:.1f}s)")
    parse_times, judge_times = [], []
    for _ in range(args.repeat):
        began = time.perf_counter()
        recent = RangeResult(
            query="q",
            start=recent_start,
            end=AT,
            step=RECENT_STEP,
            series=tuple(PrometheusClient._series(item) for item in recent_raw),
        )
        baseline = RangeResult(
            query="q",
            start=baseline_start,
            end=baseline_end,
            step=BASELINE_STEP,
            series=tuple(PrometheusClient._series(item) for item in baseline_raw),
        )
        _, obs = observations(baseline.grid(), recent.grid(), judged_from=AT - WINDOW)
        parsed = time.perf_counter()
        verdicts = judge(obs, DetectorSettings())
        done = time.perf_counter()
        parse_times.append(parsed - began)
        judge_times.append(done - parsed)
    anomalous = int(verdicts.anomalous.sum())
    print(f"decoded answer -> aligned arrays: median {statistics.median(parse_times):.2f}s")
    print(
        f"judging all series:               median {statistics.median(judge_times):.2f}s  (best {min(judge_times):.2f}s)"
    )
    print(
        f"series flagged: {anomalous} (staged incidents: {args.series // 100}), seasonal: {int(verdicts.seasonal.sum())}"
    )


if __name__ == "__main__":
    main()
