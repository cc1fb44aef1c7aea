"""Background noise for a realistically busy machine, each a child process stopped by its PID:
a CPU hog, and disk churn (files of 100-300 MiB written and deleted in a temp dir, bounded).

    with cpu_hog(), disk_churn(tmp_dir):
        ...  # the machine is busy; nothing is wrong
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

HOG = "while True: pass"

CHURN = r"""
import os, random, sys, time
directory, seconds = sys.argv[1], float(sys.argv[2])
rng = random.Random(7)
chunk = b"\0" * (4 << 20)
end = time.monotonic() + seconds
while time.monotonic() < end:
    path = os.path.join(directory, "churn.bin")
    with open(path, "wb") as handle:
        for _ in range(rng.randint(25, 75)):  # 100-300 MiB in 4 MiB writes
            handle.write(chunk)
        handle.flush()
        os.fsync(handle.fileno())
    time.sleep(rng.uniform(0.2, 1.0))
    os.unlink(path)
    time.sleep(rng.uniform(0.2, 1.0))
"""
"""At most one file (300 MiB) on disk at a time; stops by itself after ``seconds``."""


@contextlib.contextmanager
def _child(*args: str) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        [sys.executable, "-c", *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


@contextlib.contextmanager
def cpu_hog() -> Iterator[subprocess.Popen[bytes]]:
    """One process spinning on a core."""
    with _child(HOG) as process:
        yield process


@contextlib.contextmanager
def disk_churn(directory: Path, *, seconds: float = 900.0) -> Iterator[subprocess.Popen[bytes]]:
    """Files of 100-300 MiB written, synced and deleted in ``directory``, over and over."""
    directory.mkdir(parents=True, exist_ok=True)
    with _child(CHURN, str(directory), str(seconds)) as process:
        yield process
    for leftover in directory.glob("churn.bin"):
        leftover.unlink(missing_ok=True)
