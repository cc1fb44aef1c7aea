"""Installing probe plugins for tests the way pip would: a dist-info with entry points on sys.path."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"

SCRIPTED_ENTRY_POINTS = {
    "test.warn": "diag_testprobes:WarnProbe",
    "test.crit": "diag_testprobes:CritProbe",
    "test.sleep": "diag_testprobes:SleepProbe",
    "test.hang": "diag_testprobes:HangProbe",
    "test.crash": "diag_testprobes:CrashProbe",
    "test.fail": "diag_testprobes:FailProbe",
    "test.needs_backend": "diag_testprobes:NeedsBackendProbe",
}


def install_distribution(
    site: Path, name: str, entry_points: Mapping[str, str], modules: tuple[str, ...] = ()
) -> Path:
    """Write ``name``'s dist-info (and copy fixture modules) into ``site``; return ``site``."""
    site.mkdir(parents=True, exist_ok=True)
    dist_info = site / f"{name.replace('-', '_')}-0.0.1.dist-info"
    dist_info.mkdir(exist_ok=True)
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.0.1\n")
    lines = ["[diag.probes]", *(f"{k} = {v}" for k, v in entry_points.items())]
    (dist_info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    for module in modules:
        shutil.copy(FIXTURES / f"{module}.py", site / f"{module}.py")
    return site
