"""How well does metrics.anomalies find real anomalies? The NAB series through a real Prometheus.

Every series of ``../shared/nab/data`` (Numenta Anomaly Benchmark) is backfilled, at its original
timestamps, into a Prometheus started for the occasion (``promtool tsdb create-blocks-from
openmetrics``) as ``nab_value{group=..., series=...}``. Then ``metrics.anomalies`` runs, with its
default settings and one configured query per series, as of:

- **positives**: each labelled anomaly time + ``--after`` (default 30 min), window ``--window``
  (1 h): the anomaly is inside the diagnosed window; any finding counts as detected;
- **negatives**: every ``--every`` (6 h) from 7 days + 2 windows after the series' start, at
  least a day away from every labelled anomaly window, at most ``--max-negatives`` (24) evenly
  spread per series; any finding is a false alarm.

Prints recall and false-alarm rate per group (the README table). Run it from the repository:

    .venv/bin/python benchmarks/eval_nab.py [--verbose]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from diagnostics.testing import run_probe  # noqa: E402
from diagnostics.units import parse_duration  # noqa: E402
from probes.prometheus.anomalies import AnomaliesProbe  # noqa: E402
from tests.support.prometheus import PrometheusDataset, StagedSeries, start_prometheus  # noqa: E402

DAY = timedelta(days=1)


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.split(".")[0]).replace(tzinfo=UTC)


@dataclass
class Tally:
    positives: int = 0
    detected: int = 0
    negatives: int = 0
    alarms: int = 0
    misses: list[str] = field(default_factory=list)
    false_alarms: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class NabSeries:
    group: str
    name: str
    times: list[datetime]
    values: list[float]
    labels: list[datetime]
    windows: list[tuple[datetime, datetime]]


def load(nab: Path) -> list[NabSeries]:
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
        found.append(
            NabSeries(
                group=group,
                name=name.removesuffix(".csv"),
                times=[parse_time(r["timestamp"]) for r in rows],
                values=[float(r["value"]) for r in rows],
                labels=[parse_time(t) for t in labels[key]],
                windows=[(parse_time(a), parse_time(b)) for a, b in windows[key]],
            )
        )
    return found


def staged(series: list[NabSeries]) -> Iterator[StagedSeries]:
    for item in series:
        yield StagedSeries(
            name="nab_value",
            labels={"group": item.group, "series": item.name},
            timestamps=[t.timestamp() for t in item.times],
            values=item.values,
        )


def negatives(item: NabSeries, window: timedelta, every: timedelta, limit: int) -> list[datetime]:
    moment, end = item.times[0] + timedelta(days=7) + 2 * window, item.times[-1]
    found = []
    while moment <= end:
        if all(not (start - DAY <= moment <= stop + DAY) for start, stop in item.windows):
            found.append(moment)
        moment += every
    if len(found) > limit:
        found = [found[round(i * (len(found) - 1) / (limit - 1))] for i in range(limit)]
    return found


def flagged(url: str, item: NabSeries, at: datetime, window: timedelta) -> bool:
    query = {"name": item.name, "query": f'nab_value{{series="{item.name}"}}'}
    run = run_probe(
        AnomaliesProbe,
        config={"prometheus": {"url": url}},
        options={"queries": [query]},
        at=at,
        window=window,
    )
    if run.outcome.error:
        raise RuntimeError(f"{item.name} at {at}: {run.outcome.error}")
    return bool(run.findings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nab", type=Path, default=ROOT.parent / "shared" / "nab")
    parser.add_argument("--window", default="1h")
    parser.add_argument("--after", default="30m")
    parser.add_argument("--every", default="6h")
    parser.add_argument("--max-negatives", type=int, default=24)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    window, after, every = (parse_duration(v) for v in (args.window, args.after, args.every))
    if not (args.nab / "data").is_dir() or not (args.nab / "labels").is_dir():
        parser.exit(
            2,
            f"eval_nab: no NAB data at {args.nab} (expected data/ and labels/ inside): clone "
            "https://github.com/numenta/NAB and pass --nab PATH/TO/NAB (the suite itself needs none of it: "
            "its NAB series are in tests/fixtures/nab)\n",
        )
    series = load(args.nab)
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="diag-nab-") as workdir:
        server = start_prometheus(PrometheusDataset(name="nab", series=lambda: staged(series)), Path(workdir))
        loaded = time.monotonic() - began
        try:
            tallies = evaluate(server.url, series, window, after, every, args.max_negatives)
        finally:
            server.stop()
    report(tallies, args, loaded, time.monotonic() - began, sum(len(s.values) for s in series), len(series))


def evaluate(
    url: str, series: list[NabSeries], window: timedelta, after: timedelta, every: timedelta, limit: int
) -> dict[str, Tally]:
    tallies: dict[str, Tally] = {}
    for item in series:
        tally = tallies.setdefault(item.group, Tally())
        for label in item.labels:
            tally.positives += 1
            if flagged(url, item, label + after, window):
                tally.detected += 1
            else:
                tally.misses.append(f"{item.name} @ {label:%Y-%m-%d %H:%M}")
        for moment in negatives(item, window, every, limit):
            tally.negatives += 1
            if flagged(url, item, moment, window):
                tally.alarms += 1
                tally.false_alarms.append(f"{item.name} @ {moment:%Y-%m-%d %H:%M}")
    return tallies


def report(
    tallies: dict[str, Tally], args: argparse.Namespace, loaded: float, total: float, points: int, count: int
) -> None:
    print(
        f"NAB: {count} series, {points} points backfilled and Prometheus ready in {loaded:.1f}s; total {total:.1f}s"
    )
    print(
        f"window {args.window}, positives at label + {args.after}, negatives every {args.every} >= 1 day from any window"
    )
    print()
    print("| group | recall | false alarms |")
    print("|---|---|---|")
    overall = Tally()
    for group, tally in sorted(tallies.items()):
        recall = (
            f"{tally.detected}/{tally.positives} = {tally.detected / tally.positives:.0%}"
            if tally.positives
            else "- (no labelled anomaly)"
        )
        rate = f"{tally.alarms}/{tally.negatives} = {tally.alarms / max(tally.negatives, 1):.1%}"
        print(f"| {group} | {recall} | {rate} |")
        for name in ("positives", "detected", "negatives", "alarms"):
            setattr(overall, name, getattr(overall, name) + getattr(tally, name))
    print(
        f"| **all** | {overall.detected}/{overall.positives} = {overall.detected / overall.positives:.0%} "
        f"| {overall.alarms}/{overall.negatives} = {overall.alarms / overall.negatives:.1%} |"
    )
    if args.verbose:
        for group, tally in sorted(tallies.items()):
            for miss in tally.misses:
                print(f"missed       {group}/{miss}")
            for alarm in tally.false_alarms:
                print(f"false alarm  {group}/{alarm}")


if __name__ == "__main__":
    main()
