"""resources.host on this real machine: a small filesystem filled near its limit is reported."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from diagnostics.model import Severity, Status
from diagnostics.testing import run_probe
from probes.host.host import HostProbe


def mount_tmpfs(mountpoint: Path, options: str) -> subprocess.CompletedProcess[bytes]:
    mountpoint.mkdir()
    return subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mountpoint)], capture_output=True
    )


@pytest.fixture
def small_filesystem(tmp_path: Path) -> Iterator[Path]:
    """A real 4 MiB tmpfs mounted for the test (the suite runs as root in CI)."""
    mountpoint = tmp_path / "small-fs"
    mounted = mount_tmpfs(mountpoint, "size=4m,nr_inodes=2000")
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)


def findings_for(mountpoint: Path, options: dict[str, str] | None = None) -> list:  # type: ignore[type-arg]
    result = run_probe(HostProbe, options={"sample_interval": "0.2s", **(options or {})})
    assert result.outcome.status in (Status.OK, Status.WARNING, Status.CRITICAL), result.outcome.error
    return [f for f in result.findings if f.entity.attributes.get("mountpoint") == str(mountpoint)]


def test_an_empty_filesystem_is_not_reported(small_filesystem: Path) -> None:
    assert findings_for(small_filesystem) == []


def test_a_filesystem_filled_near_its_limit_is_critical(small_filesystem: Path) -> None:
    (small_filesystem / "fill").write_bytes(b"\0" * (4 * 1024 * 1024 - 64 * 1024))
    [finding] = findings_for(small_filesystem)
    assert finding.kind == "disk_space"
    assert finding.severity is Severity.CRITICAL
    assert finding.title.startswith(f"Disk {small_filesystem} 9")
    used = next(m for m in finding.evidence.values if m.name == "used")
    assert used.value >= 95
    assert finding.next_steps[0].startswith(f"du -xh --max-depth=2 {small_filesystem}")


def test_a_filesystem_out_of_inodes_is_reported(small_filesystem: Path) -> None:
    for index in range(1950):
        (small_filesystem / f"f{index}").touch()
    kinds = {f.kind for f in findings_for(small_filesystem)}
    assert "inodes" in kinds


@pytest.fixture
def filesystem_64m(tmp_path: Path) -> Iterator[Path]:
    """A real 64 MiB tmpfs (root in CI), unmounted afterwards."""
    mountpoint = tmp_path / "fs-64m"
    mounted = mount_tmpfs(mountpoint, "size=64m")
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)


@contextlib.contextmanager
def in_background(work: Callable[[threading.Event], None]) -> Iterator[None]:
    stop = threading.Event()
    thread = threading.Thread(target=work, args=(stop,), daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=10)


def steady_fill(directory: Path, *, bytes_per_s: int, limit: int) -> Callable[[threading.Event], None]:
    """Append to one file at ``bytes_per_s`` (in 20 steps a second) up to ``limit`` bytes."""

    def work(stop: threading.Event) -> None:
        chunk = b"\1" * (bytes_per_s // 20)
        with (directory / "growing.log").open("ab") as handle:
            written = 0
            while not stop.is_set() and written + len(chunk) <= limit:
                handle.write(chunk)
                handle.flush()
                written += len(chunk)
                stop.wait(0.05)

    return work


def churn(directory: Path, *, file_bytes: int) -> Callable[[threading.Event], None]:
    """Write a file of ``file_bytes`` over about a second, delete it, again and again."""

    def work(stop: threading.Event) -> None:
        chunk = b"\2" * (file_bytes // 10)
        while not stop.is_set():
            path = directory / "scratch.bin"
            with path.open("wb") as handle:
                for _ in range(10):
                    handle.write(chunk)
                    handle.flush()
                    stop.wait(0.1)
            path.unlink()

    return work


def test_a_steady_fill_is_reported_with_its_time_to_full(filesystem_64m: Path) -> None:
    (filesystem_64m / "base.bin").write_bytes(b"\0" * (34 * 1024 * 1024))  # 53 % used
    with in_background(steady_fill(filesystem_64m, bytes_per_s=2 * 1024 * 1024, limit=28 * 1024 * 1024)):
        time.sleep(0.3)
        [finding] = findings_for(filesystem_64m, {"fill_observation": "3s"})
    assert finding.kind == "disk_space"
    assert finding.severity is Severity.CRITICAL
    assert re.search(r"full in \d+s at its rate over the last 3(\.\d)?s$", finding.title), finding.title
    growth = next(m.value for m in finding.evidence.values if m.name == "growth")
    assert isinstance(growth, int | float) and 1.5 * 1024 * 1024 < growth < 2.5 * 1024 * 1024


def test_files_written_and_deleted_are_churn_not_a_fill(filesystem_64m: Path) -> None:
    with in_background(churn(filesystem_64m, file_bytes=20 * 1024 * 1024)):
        time.sleep(0.2)
        for _ in range(3):
            assert findings_for(filesystem_64m, {"fill_observation": "3s"}) == []


def test_the_probe_does_not_list_its_own_process_among_the_top_cpu_users() -> None:
    result = run_probe(HostProbe, options={"sample_interval": "0.2s", "load_per_core_warning": 0.001})
    [cpu] = [f for f in result.findings if f.kind == "cpu_saturation"]
    top = cpu.evidence.details["top_by_cpu"]
    assert isinstance(top, list) and top
    assert os.getpid() not in [entry["pid"] for entry in top if isinstance(entry, dict)]
