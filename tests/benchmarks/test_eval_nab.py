"""The NAB evaluation reads other labelled data as it reads NAB: in time order, whatever the file."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import numpy as np

ROOT = Path(__file__).resolve().parents[2]


def eval_nab() -> ModuleType:
    spec = importlib.util.spec_from_file_location("eval_nab", ROOT / "benchmarks" / "eval_nab.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["eval_nab"] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def write_dataset(root: Path, rows: list[tuple[str, str]], labels: list[str]) -> None:
    (root / "data" / "groupA").mkdir(parents=True)
    (root / "labels").mkdir()
    lines = ["timestamp,value", *(f"{t},{v}" for t, v in rows)]
    (root / "data" / "groupA" / "series.csv").write_text("\n".join(lines) + "\n")
    (root / "labels" / "combined_labels.json").write_text(json.dumps({"groupA/series.csv": labels}))
    (root / "labels" / "combined_windows.json").write_text(json.dumps({}))


def test_points_come_in_time_order_with_repeats_and_blanks_resolved(tmp_path: Path) -> None:
    module = eval_nab()
    rows = [
        ("2024-01-01 00:10:00", "3"),
        ("2024-01-01T00:00:00", "1"),
        ("2024-01-01 00:05:00", "2"),
        ("2024-01-01 00:05:00", "2.5"),  # the same time again: its last value counts
        ("2024-01-01 00:15:00", ""),  # no value: a gap
        ("2024-01-01 00:20:00.000", "nan"),
    ]
    write_dataset(tmp_path, rows, ["2024-01-01 00:05:00"])
    (series,) = module.load(tmp_path)
    assert series.key == "groupA/series"
    assert np.diff(series.times).tolist() == [300.0, 300.0]
    assert series.values.tolist() == [1.0, 2.5, 3.0]
    assert series.windows == []


def test_a_label_before_its_series_begins_is_not_a_positive(tmp_path: Path) -> None:
    module = eval_nab()
    rows = [(f"2024-01-01 {h:02d}:00:00", "1") for h in range(24)]
    write_dataset(tmp_path, rows, ["2023-12-31 12:00:00", "2024-01-01 06:00:00"])
    (series,) = module.load(tmp_path)
    chosen = module.moments(series, 0.0, 3600.0, 1800.0, 6 * 3600.0, 24)
    assert chosen.positives == [series.labels[1] + 1800.0]
