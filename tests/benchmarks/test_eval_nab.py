"""The NAB evaluation reads other labelled data as it reads NAB: in time order, whatever the file."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

from benchmarks import eval_nab

ROOT = Path(__file__).resolve().parents[2]


def write_dataset(root: Path, rows: list[tuple[str, str]], labels: list[str]) -> None:
    (root / "data" / "groupA").mkdir(parents=True)
    (root / "labels").mkdir()
    lines = ["timestamp,value", *(f"{t},{v}" for t, v in rows)]
    (root / "data" / "groupA" / "series.csv").write_text("\n".join(lines) + "\n")
    (root / "labels" / "combined_labels.json").write_text(json.dumps({"groupA/series.csv": labels}))
    (root / "labels" / "combined_windows.json").write_text(json.dumps({}))


def test_points_come_in_time_order_with_repeats_and_blanks_resolved(tmp_path: Path) -> None:
    rows = [
        ("2024-01-01 00:10:00", "3"),
        ("2024-01-01T00:00:00", "1"),
        ("2024-01-01 00:05:00", "2"),
        ("2024-01-01 00:05:00", "2.5"),  # the same time again: its last value counts
        ("2024-01-01 00:15:00", ""),  # no value: a gap
        ("2024-01-01 00:20:00.000", "nan"),
    ]
    write_dataset(tmp_path, rows, ["2024-01-01 00:05:00"])
    (series,) = eval_nab.load(tmp_path)
    assert series.key == "groupA/series"
    assert np.diff(series.times).tolist() == [300.0, 300.0]
    assert series.values.tolist() == [1.0, 2.5, 3.0]
    assert series.windows == []


def test_jittered_timestamps_stay_near_their_own_in_order_with_the_labels(tmp_path: Path) -> None:
    rows = [(f"2024-01-01 {h:02d}:{m:02d}:00", str(h * 60 + m)) for h in range(24) for m in range(0, 60, 5)]
    write_dataset(tmp_path, rows, ["2024-01-01 06:00:00"])
    (series,) = eval_nab.load(tmp_path)
    (moved,) = eval_nab.jittered([series], 30.0)
    (shifted,) = eval_nab.jittered([series], 30.0, shift=150.0)
    assert np.all(np.diff(moved.times) > 0) and moved.labels == series.labels
    offsets = moved.times - series.times
    assert np.abs(offsets).max() <= 30.0 and np.all(offsets == np.round(offsets)) and offsets.std() > 10.0
    assert np.all(np.abs(shifted.times - series.times - 150.0) <= 30.0)
    assert moved.values.tolist() == series.values.tolist()
    assert eval_nab.jittered([series], 0.0) == [series]


def test_a_label_before_its_series_begins_is_not_a_positive(tmp_path: Path) -> None:
    rows = [(f"2024-01-01 {h:02d}:00:00", "1") for h in range(24)]
    write_dataset(tmp_path, rows, ["2023-12-31 12:00:00", "2024-01-01 06:00:00"])
    (series,) = eval_nab.load(tmp_path)
    chosen = eval_nab.moments(series, 0.0, 3600.0, 1800.0, 6 * 3600.0, 24)
    assert chosen.positives == [series.labels[1] + 1800.0]


def fixture_dataset(root: Path) -> None:
    """Two of the suite's own NAB series, one with a step down labelled where it is."""
    source = ROOT / "tests" / "fixtures" / "nab" / "data"
    labels = {
        "artificialNoAnomaly/art_daily_small_noise.csv": [],
        "artificialWithAnomaly/art_daily_jumpsdown.csv": [],
    }
    for key in labels:
        (root / "data" / key).parent.mkdir(parents=True, exist_ok=True)
        (root / "data" / key).write_text((source / key).read_text())
    labels["artificialWithAnomaly/art_daily_jumpsdown.csv"] = ["2014-04-11 09:00:00"]
    (root / "labels").mkdir()
    (root / "labels" / "combined_labels.json").write_text(json.dumps(labels))
    windows = {
        "artificialWithAnomaly/art_daily_jumpsdown.csv": [["2014-04-10 21:00:00", "2014-04-11 21:00:00"]]
    }
    (root / "labels" / "combined_windows.json").write_text(json.dumps(windows))


def run(script: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_both_evaluations_run_on_other_labelled_data(tmp_path: Path) -> None:
    fixture_dataset(tmp_path)
    nab = run("eval_nab.py", "--nab", str(tmp_path), "--variant", "5m", "--variant", "1h", "--verbose")
    assert "| 5m | artificialNoAnomaly | - (no labelled anomaly) | 0/" in nab
    assert "| 5m | artificialWithAnomaly | 1/1 = 100% |" in nab
    held_out = run("eval_heldout.py", "--nab", str(tmp_path), "--variant", "1d")
    assert held_out.count("| 1d | **all** |") == 2  # the 15-minute and the 4-hour window


def test_other_units_change_no_decision(tmp_path: Path) -> None:
    fixture_dataset(tmp_path)
    decided = []
    for scale in ("1", "1e-12", "1e12"):
        dump = tmp_path / f"decisions-{scale}.jsonl"
        run("eval_nab.py", "--nab", str(tmp_path), "--scale", scale, "--dump", str(dump))
        decided.append(dump.read_text())
    assert decided[0].count("\n") > 100 and decided[1] == decided[0] and decided[2] == decided[0]


def test_judging_through_prometheus_decides_as_directly(tmp_path: Path) -> None:
    fixture_dataset(tmp_path)
    both = run("eval_nab.py", "--nab", str(tmp_path), "--variant", "5m", "--variant", "2d", "--check-same")
    assert "judged through a real Prometheus" in both
    assert both.rstrip().endswith("decisions that differ between direct and Prometheus judging:")


def test_a_minute_series_burst_between_the_grid_points_is_found_both_ways(tmp_path: Path) -> None:
    """Other labelled data scraped every minute: a 2-minute burst between two points of the
    5-minute grid is found (step 9, through the baseline's step extremes), directly and through
    a real Prometheus alike, and the noise around it is not."""
    rng = np.random.default_rng(2)
    start = np.datetime64("2024-01-01T00:00:00")
    minutes = 9 * 24 * 60
    values = 100 + 5 * rng.normal(size=minutes)
    burst = 8 * 24 * 60 + 12 * 60  # 2024-01-09 12:00: the label; the burst 12:01-12:02
    values[burst + 1 : burst + 3] = 300.0
    rows = [(str(start + np.timedelta64(i, "m")).replace("T", " "), f"{v:.3f}") for i, v in enumerate(values)]
    write_dataset(tmp_path, rows, ["2024-01-09 12:00:00"])
    both = run("eval_nab.py", "--nab", str(tmp_path), "--variant", "5m", "--check-same")
    assert "| 5m | groupA | 1/1 = 100% | 0/" in both and "= 0.0% |" in both, both
    assert both.rstrip().endswith("decisions that differ between direct and Prometheus judging:")


def test_the_synthetic_checks_run_and_find_a_burst_between_the_grid_points() -> None:
    """``eval_synthetic.py`` (the figures of docs/anomalies.md for what NAB cannot show): an
    integer gauge's 90 s burst between the grid's points is found with the step extremes."""
    table = run("eval_synthetic.py", "--rows", "2", "--section", "integers")
    assert re.search(r"\| Poisson 2 burst \| \d -> 2 \| \d -> 2 \|", table), table
    assert "| Poisson 2 none | 0 -> 0 | 0 -> 0 |" in table, table
