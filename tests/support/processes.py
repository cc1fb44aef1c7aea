"""Starting and stopping the real servers the tests run as child processes."""

from __future__ import annotations

import subprocess
import time
import urllib.request
from collections.abc import Iterable
from pathlib import Path


def wait_ready(url: str, process: subprocess.Popen[bytes], log: Path, what: str, timeout: float) -> None:
    """Poll ``url`` until it answers 200; fail with the log's tail if the process exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} not ready within {timeout}s: {log.read_text()[-2000:]}")


def stop_processes(processes: Iterable[subprocess.Popen[bytes]]) -> None:
    """Terminate each (last started first), killing what does not end within 10 s."""
    for process in reversed(list(processes)):
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
