"""The ``feature_flags`` section through the CLI: config errors in one line, a real subprocess run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from diagnostics.cli import cli


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        (
            "  - name: both\n    unleash: {url: 'https://u.internal', token: 'tok-5ecret-99'}\n    flagd: {files: [f.json]}\n",
            "diag.yaml:2: feature_flags[0]: feature_flags entry 'both' needs exactly one of unleash, "
            "launchdarkly or flagd (got unleash and flagd)",
        ),
        (
            "  - name: u\n    unleash: {url: 'https://u.internal', token: 'tok-5ecret-99', projets: [x]}\n",
            "diag.yaml:3: feature_flags[0].unleash.projets: unknown key (did you mean 'projects'?)",
        ),
        (
            "  - name: ld\n    launchdarkly: {token: 'tok-5ecret-99'}\n",
            "diag.yaml:3: feature_flags[0].launchdarkly.project:",
        ),
    ],
)
def test_a_bad_entry_is_one_line_with_file_line_and_key(
    section: str, expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("diag.yaml").write_text("feature_flags:\n" + section)
    result = CliRunner().invoke(cli, ["config", "check", "--config", "diag.yaml"])
    assert result.exit_code == 3
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"diag: error: {expected}")
    assert "tok-5ecret-99" not in result.output + result.stderr


def test_diag_run_in_a_subprocess_reports_a_flagd_change(tmp_path: Path) -> None:
    flags = tmp_path / "flags.json"
    now = datetime.now(UTC)

    def write(default: str, modified: datetime) -> None:
        document = {
            "flags": {
                "new-checkout": {
                    "state": "ENABLED",
                    "variants": {"on": True, "off": False},
                    "defaultVariant": default,
                }
            }
        }
        flags.write_text(json.dumps(document))
        os.utime(flags, (modified.timestamp(), modified.timestamp()))

    config = tmp_path / "diag.yaml"
    config.write_text(f"feature_flags:\n  - name: flagd\n    flagd: {{files: ['{flags}']}}\n")
    command = [
        sys.executable,
        "-m",
        "diagnostics",
        "run",
        "--config",
        str(config),
        "--probe",
        "toggles.changes",
    ]
    environment = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path / "state")}
    write("off", now - timedelta(days=1))
    first = subprocess.run(command, capture_output=True, text=True, timeout=60, env=environment)
    assert first.returncode == 0, first.stderr
    write("on", now - timedelta(minutes=3))

    done = subprocess.run(
        [*command, "--format", "json"], capture_output=True, text=True, timeout=60, env=environment
    )

    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    (finding,) = report["findings"]
    assert finding["title"] == "Flag new-checkout switched on in production 3m ago by unknown author"
    assert (tmp_path / "state" / "diag" / "toggles").is_dir()
    checklist = {row["item"]: row for row in report["checklist"]}
    assert checklist["feature_toggles"]["state"] == "problem"
