"""How well does metrics.anomalies find real anomalies? The NAB series, in four variants.

Every series of ``../shared/nab/data`` (Numenta Anomaly Benchmark) is judged as of:

- **positives**: each labelled anomaly time + ``--after`` (default 30 min), or the end of the
  resampled point holding it when later, window ``--window`` (1 h): the anomaly is inside the
  diagnosed window; any finding counts as detected;
- **negatives**: every ``--every`` (6 h) from ``--negatives-history`` (7 days) + 2 windows
  (+ ``--offset``) after the series' start, at least a day away from every labelled anomaly
  window, at most ``--max-negatives`` (24) evenly spread per series; any finding is a false
  alarm.

in four **variants** (tuned on all together, never on one):

- ``5m``: the original 5-minute points and their whole history;
- ``30m`` and ``1h``: the mean of each 30-minute / hour interval, stamped at the interval's end
  (what a recording rule or a downsampled store gives);
- ``2d``: the original points, but only the 2 days before each judged moment (a new service).

and, only when named with ``--variant``, variants **never tuned on**: ``10m`` and ``2h`` means,
``1d`` (1 day of the original points), ``2d-30m`` (2 days of 30-minute means). The settings
never tuned on (``--after``, ``--window``, ``--offset``, ``--negatives-history``) and these
variants are how a change is checked for generalising rather than fitting.

Two ways to judge, the same decisions (``--check-same`` compares them):

- ``--prometheus`` (the figures of docs/anomalies.md): every variant backfilled into a real
  Prometheus (``promtool tsdb create-blocks-from openmetrics``; the 2-day variant as one cut
  series per judged moment) and ``metrics.anomalies`` run with its default settings and one
  configured query per series;
- default, direct: the same grids as Prometheus returns them (last sample of the 5 minutes
  before each point), judged by the same function with the same settings, without the server:
  a whole evaluation in seconds, for tuning.

Prints recall and false-alarm rate per group and variant. Run it from the repository:

    .venv/bin/python benchmarks/eval_nab.py [--prometheus] [--variant 5m --variant 1h] [--verbose]

``--dump FILE`` writes every decision (to compare two versions: same decisions?), ``--set
NAME=VALUE`` judges with another DetectorSettings field (direct judging only), e.g.
``--set chance=1e9`` for the rank before its calibration on the baseline's size.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from diagnostics.testing import run_probe  # noqa: E402
from diagnostics.units import parse_duration  # noqa: E402
from probes.prometheus.anomalies import (  # noqa: E402
    AnomaliesOptions,
    AnomaliesProbe,
    QuerySpec,
    detector_settings,
    query_grid,
)
from probes.prometheus.discovery import MetricQuery  # noqa: E402
from probes.prometheus.judge_series import Observations, judge  # noqa: E402
from tests.support.prometheus import PrometheusDataset, StagedSeries, start_prometheus  # noqa: E402

DAY = 86_400.0
LOOKBACK = 300.0
"""Prometheus' lookback: a point sees the last sample of the 5 minutes before it, both ends
included (Prometheus 2.x, which the test support runs)."""
VARIANTS = {"5m": 0.0, "30m": 1800.0, "1h": 3600.0, "2d": 0.0}
UNTUNED = {"10m": 600.0, "2h": 7200.0, "1d": 0.0, "2d-30m": 1800.0}
"""Variants never tuned on, only judged (``--variant``): other intervals, shorter histories."""
INTERVALS = {**VARIANTS, **UNTUNED}
"""Variant name -> resampling interval in seconds (0: the original points)."""
HISTORIES = {"2d": 2 * DAY, "1d": DAY, "2d-30m": 2 * DAY}
"""Variant name -> seconds of history kept before each judged moment (absent: all of it)."""


def parse_time(text: str) -> float:
    return datetime.fromisoformat(text.split(".")[0]).replace(tzinfo=UTC).timestamp()


@dataclass
class Tally:
    positives: int = 0
    detected: int = 0
    negatives: int = 0
    alarms: int = 0
    misses: list[str] = field(default_factory=list)
    false_alarms: list[str] = field(default_factory=list)
    decisions: list[tuple[str, float, str, bool]] = field(default_factory=list)
    """(series, moment, "positive" or "negative", anything found)."""

    def add(self, other: Tally) -> None:
        for name in ("positives", "detected", "negatives", "alarms"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass(frozen=True)
class NabSeries:
    group: str
    name: str
    times: np.ndarray
    values: np.ndarray
    labels: list[float]
    windows: list[tuple[float, float]]

    @property
    def key(self) -> str:
        """Unique across groups (a file name may repeat in two groups)."""
        return f"{self.group}/{self.name}"


def load(nab: Path) -> list[NabSeries]:
    """Every labelled series of ``nab``, its points in time order: a repeated timestamp keeps
    its last value and a value that is not a finite number is left out (a gap), as a scrape
    would have it."""
    labels = json.loads((nab / "labels" / "combined_labels.json").read_text())
    windows = json.loads((nab / "labels" / "combined_windows.json").read_text())
    found = []
    for key in sorted(labels):
        path = nab / "data" / key
        if not path.is_file():
            continue
        with path.open() as handle:
            rows = list(csv.DictReader(handle))
        group, name = key.split("/")
        times, values = in_time_order(
            np.array([parse_time(r["timestamp"]) for r in rows]),
            np.array([parse_value(r["value"]) for r in rows]),
        )
        found.append(
            NabSeries(
                group=group,
                name=name.removesuffix(".csv"),
                times=times,
                values=values,
                labels=[parse_time(t) for t in labels[key]],
                windows=[(parse_time(a), parse_time(b)) for a, b in windows.get(key, [])],
            )
        )
    return found


def parse_value(text: str | None) -> float:
    try:
        return float(text or "nan")
    except ValueError:
        return float("nan")


def in_time_order(times: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted by time, the last value of a repeated timestamp, finite values only."""
    order = np.argsort(times, kind="stable")
    times, values = times[order], values[order]
    last_of_its_time = np.append(times[1:] != times[:-1], True) if len(times) else np.zeros(0, bool)
    keep = last_of_its_time & np.isfinite(values)
    return times[keep], values[keep]


def jittered(series: list[NabSeries], seconds: float, shift: float = 0.0) -> list[NabSeries]:
    """Every timestamp moved by ``shift`` and up to ``seconds`` either way at random (seed 11,
    whole seconds, kept in order; the labels stay): round timestamps that came a little early
    or late. ``shift`` half a step puts the jitter between the grid's points."""
    if not seconds and not shift:
        return series
    rng = np.random.default_rng(11)
    moved = []
    for item in series:
        times = np.round(
            np.maximum.accumulate(item.times + shift + rng.uniform(-seconds, seconds, len(item.times)))
        )
        times, values = in_time_order(times, item.values)
        moved.append(replace(item, times=times, values=values))
    return moved


def resampled(times: np.ndarray, values: np.ndarray, interval: float) -> tuple[np.ndarray, np.ndarray]:
    """The mean of each ``interval``, stamped at the interval's end (the original when 0)."""
    if not interval:
        return times, values
    bucket = np.floor(times / interval).astype(np.int64)
    keys, first = np.unique(bucket, return_index=True)
    sums = np.add.reduceat(values, first)
    counts = np.diff(np.append(first, len(values)))
    return (keys + 1) * interval, sums / counts


@dataclass(frozen=True)
class Moments:
    positives: list[float]
    negatives: list[float]


def moments(
    item: NabSeries,
    interval: float,
    window: float,
    after: float,
    every: float,
    limit: int,
    offset: float = 0.0,
    history: float = 7 * DAY,
) -> Moments:
    positives = []
    for label in item.labels:
        if not len(item.times) or label < item.times[0]:
            continue  # labelled before its series begins: nothing to judge
        visible = (np.floor(label / interval) + 1) * interval if interval else label
        positives.append(max(label + after, visible))
    moment, end = item.times[0] + history + 2 * window + offset, item.times[-1]
    found = []
    while moment <= end:
        if all(not (start - DAY <= moment <= stop + DAY) for start, stop in item.windows):
            found.append(moment)
        moment += every
    if len(found) > limit:
        found = [found[round(i * (len(found) - 1) / (limit - 1))] for i in range(limit)]
    return Moments(positives=positives, negatives=found)


def as_prometheus_sees(times: np.ndarray, values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """The value PromQL returns at each grid time: the last sample of the lookback before."""
    index = np.searchsorted(times, grid, side="right") - 1
    age = grid - times[np.maximum(index, 0)]
    return np.where((index >= 0) & (age <= LOOKBACK), values[np.maximum(index, 0)], np.nan)


Judgement = Callable[[NabSeries, str, list[float]], list[bool]]


def judged_directly(
    options: AnomaliesOptions,
    window: float,
    overrides: Mapping[str, object] | None = None,
    intervals: Mapping[str, float] = INTERVALS,
    histories: Mapping[str, float] = HISTORIES,
) -> Judgement:
    """Judge all moments of one series at once, on the grids Prometheus would return."""
    spec = QuerySpec(name="nab", query="nab_value")
    settings = detector_settings(options, MetricQuery(name=spec.name, promql=spec.query, signal="configured"))
    settings = replace(settings, **(overrides or {}))  # type: ignore[arg-type]

    def flags(item: NabSeries, variant: str, ats: list[float]) -> list[bool]:
        if not ats:
            return []
        obs = observed(item, variant, ats, options, window, intervals, histories)
        verdicts = judge(obs, settings)
        return [bool(a or v) for a, v in zip(verdicts.anomalous, verdicts.vanished, strict=True)]

    return flags


def observed(
    item: NabSeries,
    variant: str,
    ats: list[float],
    options: AnomaliesOptions,
    window: float,
    intervals: Mapping[str, float] = INTERVALS,
    histories: Mapping[str, float] = HISTORIES,
) -> Observations:
    """What the probe reads of ``item`` as of each moment of ``ats`` (one row each)."""
    times, values = resampled(item.times, item.values, intervals[variant])
    history = histories.get(variant)
    rows_base, rows_recent, rows_high, rows_low = [], [], [], []
    for at in ats:
        grid = query_grid(at, window, options.baseline.total_seconds(), options.baseline_points)
        base_times = np.arange(grid.baseline_start, grid.baseline_end + 1, grid.step)
        recent_times = np.arange(grid.recent_start, at + 1, grid.recent_step)
        seen = (times >= at - 2 * window - history) if history else np.ones(len(times), bool)
        rows_base.append(as_prometheus_sees(times[seen], values[seen], base_times))
        rows_recent.append(as_prometheus_sees(times[seen], values[seen], recent_times))
        high, low = step_extremes(times[seen], values[seen], base_times, grid.step, grid.recent_step)
        rows_high.append(high)
        rows_low.append(low)
    base, recent = np.vstack(rows_base), np.vstack(rows_recent)
    # every moment on one shared, relative clock: the method only uses times relative to
    # the grid (and a day's worth of columns), so the rows can be judged at once
    return Observations(
        baseline=base,
        baseline_present=np.isfinite(base),
        baseline_start=grid.baseline_start - grid.at,
        baseline_step=grid.step,
        recent=recent,
        recent_present=np.isfinite(recent),
        recent_start=grid.recent_start - grid.at,
        recent_step=grid.recent_step,
        judged_from=-window,
        step_high=np.vstack(rows_high),
        step_low=np.vstack(rows_low),
    )


def step_extremes(
    times: np.ndarray, values: np.ndarray, grid: np.ndarray, step: float, finer: float
) -> tuple[np.ndarray, np.ndarray]:
    """What ``max_over_time((q)[step:finer])`` and ``min_over_time`` return at each grid time:
    the extremes of the finer points (at multiples of ``finer``, as a subquery aligns them) from
    one step before each grid point to it, both included (Prometheus 2.x: one point more than a
    recent step's own, which makes the rule a little harder to pass)."""
    if not len(grid) or finer >= step:
        return np.full(len(grid), np.nan), np.full(len(grid), np.nan)
    fine = np.arange(np.ceil((grid[0] - step) / finer) * finer, grid[-1] + finer / 2, finer)
    seen = as_prometheus_sees(times, values, fine)
    first = np.searchsorted(fine, grid - step - 1e-6)
    last = np.searchsorted(fine, grid + 1e-6)  # one past each grid point's own
    index = first[:, None] + np.arange(int((last - first).max()))[None, :]
    points = np.where(index < last[:, None], seen[np.minimum(index, len(seen) - 1)], np.nan)
    return np.fmax.reduce(points, axis=1), np.fmin.reduce(points, axis=1)


def staged(
    series: list[NabSeries],
    variants: list[str],
    plan: dict[tuple[str, str], Moments],
    window: float,
    intervals: Mapping[str, float] = INTERVALS,
    histories: Mapping[str, float] = HISTORIES,
) -> Iterator[StagedSeries]:
    for item in series:
        for variant in variants:
            times, values = resampled(item.times, item.values, intervals[variant])
            labels = {"group": item.group, "series": item.name, "variant": variant}
            history = histories.get(variant)
            if not history:
                yield StagedSeries(
                    name="nab_value", labels=labels, timestamps=times.tolist(), values=values.tolist()
                )
                continue
            moments_of = plan[(item.key, variant)]
            for at in moments_of.positives + moments_of.negatives:
                keep = (times >= at - 2 * window - history) & (times <= at)
                yield StagedSeries(
                    name="nab_value",
                    labels={**labels, "cut": f"{at:.0f}"},
                    timestamps=times[keep].tolist(),
                    values=values[keep].tolist(),
                )


def judged_by_prometheus(
    url: str, window: float, histories: Mapping[str, float] = HISTORIES, errors: list[str] | None = None
) -> Judgement:
    """Run the probe against the staged Prometheus, once per moment. A probe error stops the
    evaluation, or, given ``errors``, is listed there and counts as nothing found."""

    def flags(item: NabSeries, variant: str, ats: list[float]) -> list[bool]:
        found = []
        for at in ats:
            cut = f',cut="{at:.0f}"' if histories.get(variant) else ""
            query = {
                "name": item.name,
                "query": f'nab_value{{group="{item.group}",series="{item.name}",variant="{variant}"{cut}}}',
            }
            run = run_probe(
                AnomaliesProbe,
                config={"prometheus": {"url": url}},
                options={"queries": [query]},
                at=datetime.fromtimestamp(at, UTC),
                window=timedelta(seconds=window),
            )
            if run.outcome.error:
                message = f"{variant} {item.name} @ {datetime.fromtimestamp(at, UTC):%Y-%m-%d %H:%M}: {run.outcome.error}"
                if errors is None:
                    raise RuntimeError(message)
                errors.append(message)
            found.append(any(f.kind in ("metric_anomaly", "series_vanished") for f in run.findings))
        return found

    return flags


def evaluate(
    series: list[NabSeries], variants: list[str], plan: dict[tuple[str, str], Moments], flags: Judgement
) -> dict[str, dict[str, Tally]]:
    tallies: dict[str, dict[str, Tally]] = {}
    for variant in variants:
        for item in series:
            tally = tallies.setdefault(variant, {}).setdefault(item.group, Tally())
            chosen = plan[(item.key, variant)]
            found = flags(item, variant, chosen.positives + chosen.negatives)
            kinds = ["positive"] * len(chosen.positives) + ["negative"] * len(chosen.negatives)
            moments_of = chosen.positives + chosen.negatives
            tally.decisions += zip([item.name] * len(found), moments_of, kinds, found, strict=True)
            for at, hit in zip(chosen.positives, found[: len(chosen.positives)], strict=True):
                tally.positives += 1
                tally.detected += hit
                if not hit:
                    tally.misses.append(f"{item.name} @ {datetime.fromtimestamp(at, UTC):%Y-%m-%d %H:%M}")
            for at, hit in zip(chosen.negatives, found[len(chosen.positives) :], strict=True):
                tally.negatives += 1
                tally.alarms += hit
                if hit:
                    tally.false_alarms.append(
                        f"{item.name} @ {datetime.fromtimestamp(at, UTC):%Y-%m-%d %H:%M}"
                    )
    return tallies


def located_nab(given: Path, parser: argparse.ArgumentParser, program: str) -> Path:
    """``given``, or ``shared/nab`` beside the worktrees; exits with a clear line when it has no data."""
    nab = given if given.is_dir() else ROOT.parent / "shared" / "nab"
    if not (nab / "data").is_dir() or not (nab / "labels").is_dir():
        parser.exit(
            2,
            f"{program}: no NAB data at {nab} (expected data/ and labels/ inside): clone "
            "https://github.com/numenta/NAB and pass --nab PATH/TO/NAB (the suite itself needs none of it: "
            "its NAB series are in tests/fixtures/nab)\n",
        )
    return nab


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--nab", type=Path, default=ROOT.parent.parent / "shared" / "nab")
    parser.add_argument("--window", default="1h")
    parser.add_argument("--after", default="30m")
    parser.add_argument("--every", default="6h")
    parser.add_argument("--max-negatives", type=int, default=24)
    parser.add_argument("--variant", action="append", choices=sorted(INTERVALS))
    parser.add_argument("--prometheus", action="store_true", help="judge through a real Prometheus")
    parser.add_argument(
        "--check-same", action="store_true", help="both ways; print any decision that differs"
    )
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument(
        "--offset",
        default="0s",
        help="shift the negatives' 6-hourly grid by this much (another sample of healthy moments)",
    )
    parser.add_argument(
        "--negatives-history",
        default="7d",
        help="history the first negative has (7d: full baselines; 2d also judges young series)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a DetectorSettings field other than the probe's (direct judging only), e.g. rank=3",
    )
    parser.add_argument(
        "--dump", type=Path, help="write every decision (variant, series, moment, kind, found) as JSON lines"
    )
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="every value times this (other units: no decision may change)",
    )
    parser.add_argument(
        "--jitter",
        type=float,
        default=0.0,
        help="move every timestamp up to this many seconds either way (the labels stay)",
    )
    parser.add_argument("--shift", type=float, default=0.0, help="and every timestamp by this many seconds")
    args = parser.parse_args()
    args.nab = located_nab(args.nab, parser, "eval_nab")
    window, after, every, offset, history = (
        parse_duration(v).total_seconds()
        for v in (args.window, args.after, args.every, args.offset, args.negatives_history)
    )
    variants = args.variant or list(VARIANTS)
    series = [replace(item, values=item.values * args.scale) for item in load(args.nab)]
    series = jittered(series, args.jitter, args.shift)
    plan = {
        (item.key, variant): moments(
            item, INTERVALS[variant], window, after, every, args.max_negatives, offset, history
        )
        for item in series
        for variant in variants
    }
    began = time.monotonic()
    direct = None
    if not args.prometheus or args.check_same:
        direct = evaluate(
            series, variants, plan, judged_directly(AnomaliesOptions(), window, dict(overrides(args.set)))
        )
        if not args.check_same:
            report(direct, args, time.monotonic() - began)
            return
    errors: list[str] = []
    served = evaluated_by_prometheus(series, variants, plan, window, errors=errors)
    report(served, argparse.Namespace(**{**vars(args), "prometheus": True}), time.monotonic() - began)
    if errors:  # e.g. a moment too early in a young series to judge: nothing found, as directly
        print(f"\nthe probe did not judge {len(errors)} moments (counted as nothing found), e.g.:")
        for message in errors[:5]:
            print(f"  {message}")
    if direct is not None:
        print_differences(direct, served)


def evaluated_by_prometheus(
    series: list[NabSeries],
    variants: list[str],
    plan: dict[tuple[str, str], Moments],
    window: float,
    intervals: Mapping[str, float] = INTERVALS,
    histories: Mapping[str, float] = HISTORIES,
    errors: list[str] | None = None,
) -> dict[str, dict[str, Tally]]:
    """Backfill every variant into a real Prometheus and judge each moment through the probe."""
    with tempfile.TemporaryDirectory(prefix="diag-nab-") as workdir:
        dataset = PrometheusDataset(
            name="nab", series=lambda: staged(series, variants, plan, window, intervals, histories)
        )
        server = start_prometheus(dataset, Path(workdir))
        try:
            return evaluate(
                series, variants, plan, judged_by_prometheus(server.url, window, histories, errors)
            )
        finally:
            server.stop()


def print_differences(direct: dict[str, dict[str, Tally]], served: dict[str, dict[str, Tally]]) -> None:
    print("\ndecisions that differ between direct and Prometheus judging:")
    for variant, groups in served.items():
        for group, tally in groups.items():
            other = direct[variant][group]
            for name in ("misses", "false_alarms"):
                for moment in sorted(set(getattr(tally, name)) ^ set(getattr(other, name))):
                    print(f"  {variant} {group} {name}: {moment}")


def overrides(assignments: list[str]) -> Iterator[tuple[str, object]]:
    """``NAME=VALUE`` pairs as DetectorSettings fields (VALUE as a Python literal)."""
    import ast

    for assignment in assignments:
        name, _, value = assignment.partition("=")
        yield name.strip(), ast.literal_eval(value.strip())


def report(tallies: dict[str, dict[str, Tally]], args: argparse.Namespace, total: float) -> None:
    if args.dump:
        with args.dump.open("w") as out:
            for variant, groups in tallies.items():
                for group, tally in sorted(groups.items()):
                    for name, at, kind, hit in tally.decisions:
                        record = {"variant": variant, "group": group, "series": name, "at": at}
                        out.write(json.dumps({**record, "kind": kind, "found": bool(hit)}) + "\n")
    how = "through a real Prometheus" if args.prometheus else "directly on Prometheus' grids"
    print(f"NAB, judged {how} in {total:.1f}s; window {args.window}, positives at label + {args.after}")
    print()
    print("| variant | group | recall | false alarms |")
    print("|---|---|---|---|")
    for variant, groups in tallies.items():
        overall = Tally()
        for group, tally in sorted(groups.items()):
            overall.add(tally)
            print(f"| {variant} | {group} | {_recall(tally)} | {_rate(tally)} |")
        print(f"| {variant} | **all** | {_recall(overall)} | {_rate(overall)} |")
    if args.verbose:
        for variant, groups in tallies.items():
            for group, tally in sorted(groups.items()):
                for miss in tally.misses:
                    print(f"{variant:4} missed       {group}/{miss}")
                for alarm in tally.false_alarms:
                    print(f"{variant:4} false alarm  {group}/{alarm}")


def _recall(tally: Tally) -> str:
    if not tally.positives:
        return "- (no labelled anomaly)"
    return f"{tally.detected}/{tally.positives} = {tally.detected / tally.positives:.0%}"


def _rate(tally: Tally) -> str:
    return f"{tally.alarms}/{tally.negatives} = {tally.alarms / max(tally.negatives, 1):.1%}"


if __name__ == "__main__":
    main()
