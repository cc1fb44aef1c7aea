"""Third-party probes: the example package installs and runs like a built-in; broken ones are reported."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.plugins import install_distribution

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def example_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """examples/diag-example-probe installed by pip into its own site directory."""
    site = tmp_path_factory.mktemp("example-site")
    # build from a copy: pip writes build/ and egg-info next to the sources
    source = tmp_path_factory.mktemp("example-source") / "diag-example-probe"
    shutil.copytree(ROOT / "examples" / "diag-example-probe", source)
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
         "--target", str(site), str(source)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return site


def diag(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(site), "NO_COLOR": "1", "HOME": str(cwd)}
    env.pop("DIAG_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "diagnostics", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=60,
    )


def test_the_example_plugin_is_listed_and_skipped_until_configured(
    example_site: Path, tmp_path: Path
) -> None:
    listed = json.loads(diag(example_site, tmp_path, "probes", "--format", "json").stdout)
    row = next(r for r in listed if r["id"] == "example.heartbeat")
    assert row["checklist_item"] == "logs"
    assert row["enabled"] is False
    assert row["setup_hint"].startswith("heartbeats: [{name: nightly-export")


def test_the_example_plugin_runs_and_finds_a_stale_heartbeat(example_site: Path, tmp_path: Path) -> None:
    fresh, stale = tmp_path / "fresh", tmp_path / "stale"
    fresh.touch()
    stale.touch()
    os.utime(stale, (1_700_000_000, 1_700_000_000))
    (tmp_path / "diag.yaml").write_text(
        f"heartbeats:\n  - {{name: export, path: {stale}, max_age: 1h}}\n"
        f"  - {{name: fresh-job, path: {fresh}, max_age: 1h}}\n"
        f"  - {{name: gone, path: {tmp_path / 'absent'}}}\n"
    )
    done = diag(example_site, tmp_path, "run", "--probe", "example.heartbeat", "--format", "json")
    assert done.returncode == 2, done.stderr
    report = json.loads(done.stdout)
    assert report["probes"][0] == {**report["probes"][0], "id": "example.heartbeat", "status": "critical"}
    kinds = {f["entity"]["name"]: f["kind"] for f in report["findings"]}
    assert kinds == {"export": "heartbeat_stale", "gone": "heartbeat_missing"}
    stale_finding = next(f for f in report["findings"] if f["kind"] == "heartbeat_stale")
    assert stale_finding["onset"] == "2023-11-14T23:13:20Z"


def test_a_broken_plugin_is_an_error_outcome_naming_its_distribution(tmp_path: Path) -> None:
    site = install_distribution(
        tmp_path / "site",
        "acme-broken-probes",
        {"acme.gone": "acme_missing_module:Probe"},
    )
    done = diag(
        site, tmp_path, "run", "--probe", "acme.gone", "--probe", "resources.host", "--format", "json"
    )
    report = json.loads(done.stdout)
    broken = next(p for p in report["probes"] if p["id"] == "acme.gone")
    assert broken["status"] == "error"
    assert broken["error_kind"] == "plugin"
    assert "acme-broken-probes" in broken["error"]
    assert "No module named 'acme_missing_module'" in broken["error"]
    host = next(p for p in report["probes"] if p["id"] == "resources.host")
    assert host["status"] in ("ok", "warning", "critical")


def test_an_entry_point_whose_name_differs_from_the_probe_id_is_rejected(tmp_path: Path) -> None:
    site = install_distribution(
        tmp_path / "site",
        "diag-testprobes",
        {"test.misnamed": "diag_testprobes:Target"},
        modules=("diag_testprobes",),
    )
    done = diag(site, tmp_path, "probes", "--format", "json")
    row = next(r for r in json.loads(done.stdout) if r["id"] == "test.misnamed")
    assert (
        row["state"]
        == "broken: PluginError: entry point 'test.misnamed' names a probe whose id is 'test.misnamed_inner'"
    )


def test_the_runbook_example_embeds_a_probe_and_branches(example_site: Path, tmp_path: Path) -> None:
    (tmp_path / "diag.yaml").write_text(f"heartbeats:\n  - {{name: gone, path: {tmp_path / 'absent'}}}\n")
    env = {**os.environ, "PYTHONPATH": str(example_site)}
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "examples" / "runbook.py"),
            "--config",
            "diag.yaml",
            "--probe",
            "example.heartbeat",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert done.stdout.splitlines()[0] == "critical: Heartbeat file of gone is missing [service gone]"
