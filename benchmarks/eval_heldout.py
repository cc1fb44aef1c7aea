"""A held-out check of metrics.anomalies: the NAB series judged where eval_nab never looks.

No labelled real operational series other than the NAB groups of ``../shared/nab`` can be had on
this machine (docs/anomalies.md, "Held-out check", lists what was searched). So this check judges
those series in ways that ``benchmarks/eval_nab.py``, and any tuning done with it, never does:

- **windows and moments**: a 15-minute window with positives at the labelled anomaly + 10
  minutes (its onset: two 5-minute samples), and a 4-hour window with positives at + 2 hours;
  negatives every 5 hours (every hour of the day in turn) from 1 hour past eval_nab's first
  moment, at least a day from every labelled window, at most 24 per series;
- **variants**: ``15m`` and ``2h``, the mean of each 15-minute / 2-hour interval with the whole
  history; ``1d``, the original points with only the day before each judged moment; ``3d-1h``,
  hourly means with only the 3 days before (a new service behind a downsampling store).

Every decision is eval_nab's: its grids as Prometheus returns them, its judging, tally and table
(``--prometheus`` stages a real Prometheus per window, as eval_nab does). It is a check: no
parameter may be tuned on it.

It judges with the code of the repository it is run from (the current directory when it holds
``probes/``, else this file's repository), so another worktree's detector is checked by running
it from there::

    .venv/bin/python benchmarks/eval_heldout.py [--prometheus] [--verbose] [--around 3]
    cd ../quality && ../heldout/.venv/bin/python ../heldout/benchmarks/eval_heldout.py
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
CODE = Path.cwd() if (Path.cwd() / "probes" / "prometheus" / "judge_series.py").is_file() else HERE
# the detector's packages come from CODE; eval_nab (which puts its own repository first) from HERE
sys.path.insert(0, str(CODE))
import diagnostics  # noqa: E402, F401
import probes  # noqa: E402, F401
import tests  # noqa: E402, F401

sys.path.insert(0, str(HERE))

import numpy as np  # noqa: E402

from benchmarks.eval_nab import (  # noqa: E402
    DAY,
    Moments,
    NabSeries,
    Tally,
    evaluate,
    evaluated_by_prometheus,
    judged_directly,
    load,
    located_nab,
    moments,
    observed,
    print_differences,
    report,
    resampled,
)
from diagnostics.units import parse_duration  # noqa: E402
from probes.prometheus.anomalies import AnomaliesOptions, QuerySpec, detector_settings  # noqa: E402
from probes.prometheus.discovery import MetricQuery  # noqa: E402
from probes.prometheus.judge_series import judge  # noqa: E402

INTERVALS = {"15m": 900.0, "2h": 7200.0, "1d": 0.0, "3d-1h": 3600.0}
"""Held-out variant -> resampling interval in seconds (0: the original points)."""
HISTORIES = {"1d": DAY, "3d-1h": 3 * DAY}
"""Held-out variant -> seconds of history before each judged moment (absent: all of it)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Judging:
    """One way of judging: the window, and how long after the labelled anomaly positives are."""

    window: str
    after: str


JUDGINGS = (Judging(window="15m", after="10m"), Judging(window="4h", after="2h"))
EVERY, OFFSET, MAX_NEGATIVES = 5 * 3600.0, 3600.0, 24


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--nab", type=Path, default=HERE.parent.parent / "shared" / "nab")
    parser.add_argument("--variant", action="append", choices=sorted(INTERVALS))
    parser.add_argument("--prometheus", action="store_true", help="judge through a real Prometheus")
    parser.add_argument(
        "--check-same", action="store_true", help="both ways; print any decision that differs"
    )
    parser.add_argument("--verbose", action="store_true", help="list every miss and false alarm")
    parser.add_argument(
        "--around",
        type=int,
        default=0,
        metavar="N",
        help="print the series around the first N misses and false alarms of each variant",
    )
    args = parser.parse_args()
    nab = located_nab(args.nab, parser, "eval_heldout")
    variants = args.variant or list(INTERVALS)
    series = load(nab)
    print(f"held-out check of the detector in {CODE}")
    for judging in JUDGINGS:
        window, after = (parse_duration(v).total_seconds() for v in (judging.window, judging.after))
        plan = {
            (item.key, variant): moments(
                item, INTERVALS[variant], window, after, EVERY, MAX_NEGATIVES, OFFSET
            )
            for item in series
            for variant in variants
        }
        began = time.monotonic()
        shown = argparse.Namespace(
            window=judging.window,
            after=judging.after,
            prometheus=args.prometheus or args.check_same,
            verbose=args.verbose,
            dump=None,
        )
        direct = None
        if not args.prometheus or args.check_same:
            judgement = judged_directly(AnomaliesOptions(), window, intervals=INTERVALS, histories=HISTORIES)
            direct = evaluate(series, variants, plan, judgement)
        tallies, errors = direct, list[str]()
        if args.prometheus or args.check_same:
            tallies = evaluated_by_prometheus(
                series, variants, plan, window, intervals=INTERVALS, histories=HISTORIES, errors=errors
            )
        assert tallies is not None
        print()
        report(tallies, shown, time.monotonic() - began)
        if errors:
            print(f"\nthe probe failed at {len(errors)} moments (counted as nothing found), e.g.:")
            for message in errors[:5]:
                print(f"  {message}")
        if args.check_same and direct is not None:
            print_differences(direct, tallies)
        if args.around:
            show_around(series, plan, tallies, window, args.around)


def show_around(
    series: list[NabSeries],
    plan: dict[tuple[str, str], Moments],
    tallies: dict[str, dict[str, Tally]],
    window: float,
    count: int,
) -> None:
    """The samples before each of the first ``count`` misses and false alarms, plot-free."""
    by_name = {item.name: item for item in series}
    for variant, groups in tallies.items():
        listed = [
            (kind, group, moment)
            for group, tally in sorted(groups.items())
            for kind, moments_of in (("missed", tally.misses), ("false alarm", tally.false_alarms))
            for moment in moments_of
        ]
        for kind, group, moment in listed[: 2 * count]:
            name, _, stamp = moment.partition(" @ ")
            at = datetime.strptime(stamp, "%Y-%m-%d %H:%M").replace(tzinfo=UTC).timestamp()
            if name in by_name and (by_name[name].key, variant) in plan:
                print()
                print(f"{variant} {kind} {group}/{moment}:")
                print(around(by_name[name], variant, at, window))


def around(item: NabSeries, variant: str, at: float, window: float) -> str:
    """The detector's verdict, the variant's samples over the window and its lead-in beside the
    same times a day and a week earlier, and the baseline's spread."""
    options = AnomaliesOptions()
    spec = QuerySpec(name="nab", query="nab_value")
    settings = detector_settings(options, MetricQuery(name=spec.name, promql=spec.query, signal="configured"))
    obs = observed(item, variant, [at], options, window, intervals=INTERVALS, histories=HISTORIES)
    verdict = judge(obs, settings)
    fields = ("anomalous", "vanished", "seasonal", "short_history", "history_days", "interval", "score")
    fields += ("level_shift", "onset", "peak_value", "peak_expected", "normal_low", "normal_high")
    described = [f"{name}={getattr(verdict, name)[0]:.4g}" for name in fields]
    times, values = resampled(item.times, item.values, INTERVALS[variant])
    history = HISTORIES.get(variant, 7 * DAY)
    base = values[(times >= at - 2 * window - history) & (times < at - 2 * window)]
    q = np.percentile(base, [1, 25, 50, 75, 99]) if len(base) else np.full(5, np.nan)
    lines = [
        "  verdict " + " ".join(described),
        f"  baseline ({len(base)} samples) p1 {q[0]:.4g}  p25 {q[1]:.4g}  median {q[2]:.4g}  "
        f"p75 {q[3]:.4g}  p99 {q[4]:.4g}",
        "  time              value      a day before  a week before",
    ]
    shown = np.flatnonzero((times > at - 2 * window - 1e-9) & (times <= at))
    if len(shown) > 24:
        shown = shown[np.linspace(0, len(shown) - 1, 24).round().astype(int)]
    for index in shown:
        earlier = [_value_at(times, values, times[index] - lag) for lag in (DAY, 7 * DAY)]
        lines.append(
            f"  {datetime.fromtimestamp(times[index], UTC):%m-%d %H:%M}  {values[index]:>10.4g}  "
            + "  ".join(f"{value:>12.4g}" for value in earlier)
        )
    return "\n".join(lines)


def _value_at(times: np.ndarray, values: np.ndarray, moment: float) -> float:
    index = int(np.searchsorted(times, moment))
    return float(values[index]) if index < len(times) and abs(times[index] - moment) < 1 else float("nan")


if __name__ == "__main__":
    main()
