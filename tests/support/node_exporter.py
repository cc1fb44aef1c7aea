"""A real node_exporter (Debian's ``prometheus-node-exporter``) on a free port, started and
stopped by its own PID: tests may kill it to stage a dead exporter, then start it again.

    exporter = NodeExporter.start()
    exporter.kill()      # SIGKILL, this process only
    exporter.restart()   # same port
"""

from __future__ import annotations

import shutil
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field

from tests.support.ports import free_port

COLLECTORS = (
    "cpu", "loadavg", "meminfo", "filesystem", "diskstats", "netdev", "vmstat", "filefd", "uname",
    "conntrack", "stat",
)  # fmt: skip
"""Only what resources.nodes reads: a light scrape on a shared machine."""
STARTUP_TIMEOUT_S = 15.0


def binary() -> str:
    """The node_exporter binary (installed by scripts/bootstrap)."""
    found = shutil.which("prometheus-node-exporter") or shutil.which("node_exporter")
    if found is None:
        raise RuntimeError("node_exporter not found: run scripts/bootstrap (Debian prometheus-node-exporter)")
    return found


@dataclass(slots=True)
class NodeExporter:
    """One node_exporter process listening on 127.0.0.1:``port``."""

    port: int
    process: subprocess.Popen[bytes] | None = field(default=None)

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    @classmethod
    def start(cls) -> NodeExporter:
        exporter = cls(port=free_port())
        exporter.restart()
        return exporter

    def restart(self) -> None:
        """Start the process (again) on the same port and wait until it serves /metrics."""
        flags = ["--collector.disable-defaults", *(f"--collector.{c}" for c in COLLECTORS)]
        self.process = subprocess.Popen(
            [binary(), f"--web.listen-address={self.target}", *flags],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"node_exporter exited with {self.process.returncode}")
            try:
                with urllib.request.urlopen(f"http://{self.target}/metrics", timeout=1) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"node_exporter not serving within {STARTUP_TIMEOUT_S}s")

    def kill(self) -> None:
        """SIGKILL this exporter (by its PID), as a crash would."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
