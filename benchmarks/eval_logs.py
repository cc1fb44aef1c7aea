"""How the log probes do on staged variants they were not tuned on: false alarms and onsets.

Variants of ``tests/support/log_scenarios.py`` with seeds the tests do not use:

- healthy (``--healthy`` variants): application logs with a steady rate of known errors and
  warnings (two in three) or nginx access logs with ~1 % 5xx (one in three); any warning or
  critical finding of ``logs.errors`` or ``logs.patterns`` is a false alarm;
- incidents (``--incidents`` variants), onsets 10 to 24 minutes before ``--at``, in turn: a new
  database error, a tenfold rise of a known error, a 5xx spike; each must be found by the probe
  that names it (``logs.patterns`` for the first two, ``logs.errors`` for the spike) and by
  ``logs.errors`` as an error rise, with the onset within two minutes.

Exit status 1 on any false alarm or miss.

    .venv/bin/python benchmarks/eval_logs.py [--healthy 30] [--incidents 15]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from diagnostics import Finding, Probe, Severity
from diagnostics.testing import run_probe
from probes.logs.errors import ErrorsProbe
from probes.logs.patterns import PatternsProbe
from tests.probes.logs.staging import AT, SPAN
from tests.support.log_scenarios import access_text, app_lines, python_text

TOLERANCE = timedelta(minutes=2)


def run(probe: type[Probe], path: Path) -> list[Finding]:
    config = {"logs": [{"name": "shop", "file": {"paths": [str(path)]}}]}
    return list(run_probe(probe, config=config, at=AT, window="30m").findings)


def healthy(directory: Path, count: int) -> int:
    alarms = 0
    for seed in range(1000, 1000 + count):
        path = directory / f"healthy-{seed}.log"
        spike_free = access_text(at=AT, span=SPAN, seed=seed, spike_at=None)
        path.write_text(python_text(app_lines(at=AT, span=SPAN, seed=seed)) if seed % 3 else spike_free)
        for probe in (ErrorsProbe, PatternsProbe):
            loud = [f for f in run(probe, path) if f.severity >= Severity.WARNING]
            if loud:
                alarms += 1
                print(f"false alarm, seed {seed}, {probe.id}: {[f.title for f in loud]}")
        path.unlink()
    return alarms


def incidents(directory: Path, count: int) -> tuple[int, int, timedelta]:
    found, expected, worst = 0, 0, timedelta(0)
    for seed in range(2000, 2000 + count):
        onset = AT - timedelta(minutes=10 + seed % 15)
        path = directory / f"incident-{seed}.log"
        if seed % 3 == 0:
            path.write_text(python_text(app_lines(at=AT, span=SPAN, seed=seed, new_pattern_at=onset)))
            checks = [(PatternsProbe, "log_new_pattern"), (ErrorsProbe, "log_error_rate")]
        elif seed % 3 == 1:
            path.write_text(python_text(app_lines(at=AT, span=SPAN, seed=seed, rise_at=onset)))
            checks = [(PatternsProbe, "log_pattern_rise"), (ErrorsProbe, "log_error_rate")]
        else:
            path.write_text(access_text(at=AT, span=SPAN, seed=seed, spike_at=onset))
            checks = [(ErrorsProbe, "log_5xx_ratio")]
        for probe, kind in checks:
            expected += 1
            onsets = [f.onset for f in run(probe, path) if f.kind == kind and f.onset is not None]
            if onsets and abs(onsets[0] - onset) <= TOLERANCE:
                found += 1
                worst = max(worst, abs(onsets[0] - onset))
            else:
                print(f"missed, seed {seed}, {kind}: staged {onset:%H:%M}, got {onsets}")
        path.unlink()
    return found, expected, worst


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--healthy", type=int, default=30)
    parser.add_argument("--incidents", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        alarms = healthy(directory, args.healthy)
        found, expected, worst = incidents(directory, args.incidents)
    print(f"healthy variants: {alarms} false alarms in {2 * args.healthy} probe runs")
    print(f"incidents: {found} of {expected} found with the onset within 2 min (worst {worst})")
    return 1 if alarms or found < expected else 0


if __name__ == "__main__":
    sys.exit(main())
