"""resources.host on this real machine: a small filesystem filled near its limit is reported."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from diagnostics.model import Severity, Status
from diagnostics.testing import run_probe
from probes.host.probe import HostProbe


@pytest.fixture
def small_filesystem(tmp_path: Path) -> Iterator[Path]:
    """A real 4 MiB tmpfs mounted for the test (the suite runs as root in CI)."""
    mountpoint = tmp_path / "small-fs"
    mountpoint.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m,nr_inodes=2000", "tmpfs", str(mountpoint)],
        capture_output=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)


def findings_for(mountpoint: Path) -> list:  # type: ignore[type-arg]
    result = run_probe(HostProbe, options={"sample_interval": "0.2s"})
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
