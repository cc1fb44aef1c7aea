"""What NAB cannot show of metrics.anomalies: synthetic series, none tuned on.

NAB's series are sampled every 5 minutes or coarser. These cells judge series scraped every
15 s or 1 min (bursts between the judging grid's points), integer gauges, irregular samples,
a burst made every day at the same time, odd healthy series, and series judged by their level
falling to 0: ``--rows`` series a cell (20), each judged as ``eval_nab.py`` judges directly
(the grids Prometheus returns; the baseline's step extremes as its ``max_over_time`` /
``min_over_time`` subquery returns them, checked equal on a real Prometheus).

Each cell prints ``grid -> with``: how many rows a finding was made for on the judging grid
alone (the baseline's step extremes not given, as before step 9 of docs/anomalies.md) and
with them. Incidents: found rows; ``none``: false alarms. Run it from the repository:

    .venv/bin/python benchmarks/eval_synthetic.py [--rows 20] [--seed 5] [--section bursts ...]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.eval_nab import NabSeries, observed  # noqa: E402
from probes.prometheus.anomalies import AnomaliesOptions, detector_settings  # noqa: E402
from probes.prometheus.discovery import MetricQuery  # noqa: E402
from probes.prometheus.judge_series import judge  # noqa: E402

DAY, HOUR = 86_400.0, 3_600.0
OPTIONS = AnomaliesOptions()
SETTINGS = detector_settings(OPTIONS, MetricQuery(name="synthetic", promql="x", signal="configured"))
Values = Callable[[np.random.Generator, np.ndarray], np.ndarray]


def found(times: np.ndarray, values: np.ndarray, at: float, days: float) -> tuple[bool, bool]:
    """(a finding on the grid alone, a finding with the step extremes) as of ``at``."""
    item = NabSeries("synthetic", "x", times, values, [], [])
    obs = observed(item, "x", [at], OPTIONS, HOUR, intervals={"x": 0.0}, histories={"x": days * DAY})
    with_extremes = judge(obs, SETTINGS)
    alone = judge(replace(obs, step_high=None, step_low=None), SETTINGS)
    return (
        bool(alone.anomalous[0] or alone.vanished[0]),
        bool(with_extremes.anomalous[0] or with_extremes.vanished[0]),
    )


def cell(rows: int, row: Callable[[], tuple[bool, bool]]) -> str:
    """``rows`` rows judged by ``row``: how many were found on the grid alone -> with the step
    extremes."""
    tally = np.zeros(2, dtype=int)
    for _ in range(rows):
        tally += row()
    return f"{tally[0]} -> {tally[1]}"


def wave(rng: np.random.Generator, t: np.ndarray) -> np.ndarray:
    return 60 + 30 * np.sin(2 * np.pi * t / DAY) + rng.normal(0, 3, len(t))


def latency(rng: np.random.Generator, t: np.ndarray) -> np.ndarray:
    values: np.ndarray = np.exp(rng.normal(0, 0.3, len(t))) * (100 + 40 * np.sin(2 * np.pi * t / DAY))
    return values


def ar1(rng: np.random.Generator, t: np.ndarray) -> np.ndarray:
    steps = rng.normal(size=len(t))
    out = np.zeros(len(t))
    for i in range(1, len(t)):
        out[i] = 0.95 * out[i - 1] + steps[i]
    return 50 + out


def flat(rng: np.random.Generator, t: np.ndarray) -> np.ndarray:
    return 100 + rng.normal(0, 5, len(t))


def regular(rng: np.random.Generator, interval: float, days: float) -> np.ndarray:
    """Sample times every ``interval`` for ``days`` and 4 hours, at a random time of day."""
    return np.arange(int((days * DAY + 4 * HOUR) / interval)) * interval + 1e9 + rng.uniform(0, DAY)


def bursts(rng: np.random.Generator, rows: int) -> Iterator[tuple[str, list[str]]]:
    """Bursts and falls shorter than the grid's step, 5-40 min before the end."""
    incidents = {"30 s to 3x": (30, 3.0), "90 s to 3x": (90, 3.0), "90 s to 0": (90, 0.0),
                 "3 min doubling": (180, 2.0), "none": (0, 1.0)}  # fmt: skip
    for name, kind in (
        ("flat noise", flat),
        ("daily wave", wave),
        ("AR(1)", ar1),
        ("lognormal latency", latency),
    ):
        for incident, (duration, factor) in incidents.items():

            def row(
                interval: float,
                days: float,
                kind: Values = kind,
                duration: float = duration,
                factor: float = factor,
            ) -> tuple[bool, bool]:
                t = regular(rng, interval, days)
                v = kind(rng, t)
                start = t[-1] - rng.uniform(300, 2400)
                hit = (t >= start) & (t < start + duration)
                if duration and not hit.any():
                    hit[np.searchsorted(t, start)] = True
                v[hit] *= factor
                return found(t, v, t[-1], days)

            cells = [cell(rows, partial(row, *at)) for at in ((15.0, 2), (15.0, 7), (60.0, 2), (60.0, 7))]
            yield f"{name} {incident}", cells


def integers(rng: np.random.Generator, rows: int) -> Iterator[tuple[str, list[str]]]:
    """An integer gauge (Poisson) bursting to 50 + 3x its mean for 90 s, 7 days of history."""
    for mean in (0.5, 2.0, 20.0):
        for incident in ("burst", "none"):

            def row(
                interval: float, days: float, mean: float = mean, incident: str = incident
            ) -> tuple[bool, bool]:
                t = regular(rng, interval, days)
                v = rng.poisson(mean, len(t)).astype(float)
                if incident == "burst":
                    start = t[-1] - rng.uniform(300, 2400)
                    v[(t >= start) & (t < start + 90)] = 50 + 3 * mean
                return found(t, v, t[-1], days)

            cells = [cell(rows, partial(row, *at)) for at in ((15.0, 7), (60.0, 7))]
            yield f"Poisson {mean:g} {incident}", cells


def daily_bursts(rng: np.random.Generator, rows: int) -> Iterator[tuple[str, list[str]]]:
    """A burst to 3x every day at the same time, today's one more of them: any finding is a
    false alarm."""
    for duration in (30, 60, 120):

        def row(interval: float, days: float, duration: float = duration) -> tuple[bool, bool]:
            t = regular(rng, interval, days)
            v = flat(rng, t)
            when = (t[-1] - rng.uniform(300, 2400)) % DAY
            v[((t - when) % DAY) < duration] *= 3
            return found(t, v, t[-1], days)

        cells = [cell(rows, partial(row, *at)) for at in ((15.0, 2), (15.0, 7), (60.0, 2), (60.0, 7))]
        yield f"daily {duration} s burst", cells


def odd_healthy(rng: np.random.Generator, rows: int) -> Iterator[tuple[str, list[str]]]:
    """Healthy series of odd shapes: any finding is a false alarm."""

    def onoff(rng: np.random.Generator, t: np.ndarray) -> np.ndarray:
        flips = rng.random(len(t)) < (t[1] - t[0]) / 7200
        return 50 * (np.cumsum(flips) % 2) + rng.normal(0, 1, len(t))

    def replicas(rng: np.random.Generator, t: np.ndarray) -> np.ndarray:
        hour = (t % DAY) / 3600
        return 3 + (hour > 9) * (hour < 18) * rng.integers(1, 3) + (rng.random(len(t)) < 0.01)

    def walk(rng: np.random.Generator, t: np.ndarray) -> np.ndarray:
        return np.round(2 * ar1(rng, t))

    kinds: dict[str, Values] = {
        "Poisson 0.05": lambda rng, t: rng.poisson(0.05, len(t)).astype(float),
        "Poisson 5": lambda rng, t: rng.poisson(5, len(t)).astype(float),
        "on/off": onoff,
        "replicas": replicas,
        "Pareto bursts": lambda rng, t: 10 + rng.pareto(2.5, len(t)) * 5,
        "rounded random walk": walk,
        "daily sawtooth": lambda rng, t: 20 + 60 * ((t % DAY) / DAY) + rng.normal(0, 0.5, len(t)),
        "lognormal latency": latency,
    }
    for name, kind in kinds.items():

        def row(interval: float, days: float, kind: Values = kind) -> tuple[bool, bool]:
            t = regular(rng, interval, days)
            return found(t, kind(rng, t), t[-1] - rng.uniform(0, 2 * HOUR), days)

        at = ((15.0, 1), (15.0, 2), (15.0, 7), (60.0, 1), (60.0, 2), (60.0, 7))
        yield name, [cell(rows, partial(row, *one)) for one in at]


def irregular(rng: np.random.Generator, rows: int) -> Iterator[tuple[str, list[str]]]:
    """Samples at random (exponential gaps); a 10-minute burst to 3x or fall to 0."""
    for name, kind in (("flat noise", flat), ("daily wave", wave), ("lognormal latency", latency)):
        for incident in ("to 3x", "to 0", "none"):

            def row(
                gap: float, days: float, kind: Values = kind, incident: str = incident
            ) -> tuple[bool, bool]:
                total = days * DAY + 4 * HOUR
                t = 1e9 + np.cumsum(rng.exponential(gap, int(total / gap * 1.2)))
                t = t[t < 1e9 + total]
                v = kind(rng, t)
                at = t[-1] + 1
                hit = (t > at - 1500) & (t < at - 900)
                v[hit] = v[hit] * 3 if incident == "to 3x" else (0.0 if incident == "to 0" else v[hit])
                return found(t, v, at, days)

            gaps = ((60.0, 2), (60.0, 7), (180.0, 2), (180.0, 7), (600.0, 2), (600.0, 7))
            yield f"{name} {incident}", [cell(rows, partial(row, *one)) for one in gaps]


def level_falls(rng: np.random.Generator, rows: int) -> Iterator[tuple[str, list[str]]]:
    """Series whose daily model does not win (noise as large as the wave): judged by their
    level, a fall to 0 for the last 30 min (the last hour when hourly)."""
    kinds: dict[str, Values] = {
        "lognormal latency": latency,
        "noisy wave": lambda rng, t: 100 + 30 * np.sin(2 * np.pi * t / DAY) + rng.normal(0, 25, len(t)),
        "Poisson wave": lambda rng, t: rng.poisson(20 + 10 * np.sin(2 * np.pi * t / DAY)).astype(float),
    }
    for name, kind in kinds.items():
        for incident in ("to 0", "none"):

            def row(
                interval: float, days: float, kind: Values = kind, incident: str = incident
            ) -> tuple[bool, bool]:
                t = regular(rng, interval, days)
                v = kind(rng, t)
                if incident == "to 0":
                    v[t > t[-1] - (1800 if interval < 3600 else 3600)] = 0.0
                return found(t, v, t[-1], days)

            at = ((60.0, 2), (60.0, 7), (300.0, 2), (300.0, 7), (3600.0, 2), (3600.0, 7))
            cells = [cell(rows, partial(row, *one)) for one in at]
            yield f"{name} {incident}", cells


Section = Callable[[np.random.Generator, int], Iterator[tuple[str, list[str]]]]
SECTIONS: dict[str, tuple[Section, str, list[str]]] = {
    "bursts": (bursts, "bursts and falls shorter than the 5-minute step", ["15s/2d", "15s/7d", "1m/2d", "1m/7d"]),
    "integers": (integers, "an integer gauge bursting for 90 s", ["15s/7d", "1m/7d"]),
    "daily": (daily_bursts, "a daily burst, today's one more (findings are false alarms)", ["15s/2d", "15s/7d", "1m/2d", "1m/7d"]),
    "healthy": (odd_healthy, "odd healthy series (findings are false alarms)", ["15s/1d", "15s/2d", "15s/7d", "1m/1d", "1m/2d", "1m/7d"]),
    "irregular": (irregular, "irregular samples, a 10-minute incident", ["~1m/2d", "~1m/7d", "~3m/2d", "~3m/7d", "~10m/2d", "~10m/7d"]),
    "level": (level_falls, "series judged by their level falling to 0", ["1m/2d", "1m/7d", "5m/2d", "5m/7d", "1h/2d", "1h/7d"]),
}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=20)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--section", action="append", choices=sorted(SECTIONS))
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    for section in args.section or list(SECTIONS):
        make, title, columns = SECTIONS[section]
        print(f"\n{section}: {title} ({args.rows} rows a cell; grid alone -> with the step extremes)\n")
        print("| series | " + " | ".join(columns) + " |")
        print("|---|" + "---|" * len(columns))
        for name, cells in make(rng, args.rows):
            print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
