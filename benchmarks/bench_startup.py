"""How fast the CLI starts: `diag --help` and `diag probes` wall time (claim: under 0.3 s).

.venv/bin/python benchmarks/bench_startup.py [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def wall_times(command: list[str], runs: int, cwd: str) -> list[float]:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, cwd=cwd)
        times.append(time.perf_counter() - began)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    diag = shutil.which("diag") or str(Path(sys.executable).with_name("diag"))
    with tempfile.TemporaryDirectory() as empty:  # no diag.yaml: the zero-configuration case
        os.environ.pop("DIAG_CONFIG", None)
        for label, command in (("diag --help", [diag, "--help"]), ("diag probes", [diag, "probes"])):
            wall_times(command, 2, empty)  # warm the page cache and bytecode
            times = wall_times(command, args.runs, empty)
            print(
                f"{label:<12} median {statistics.median(times) * 1000:6.0f} ms   "
                f"min {min(times) * 1000:6.0f} ms   max {max(times) * 1000:6.0f} ms   ({args.runs} runs)"
            )


if __name__ == "__main__":
    main()
