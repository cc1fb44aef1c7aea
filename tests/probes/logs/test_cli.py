"""``diag run`` in a real subprocess on log sources: the report, the checklist, bad configuration."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.probes.logs.staging import AT, NEW_PATTERN_AFTER, SPAN, SPIKE_AFTER, close_to
from tests.support.journal import write_journal
from tests.support.log_scenarios import access_text, app_lines, python_text

pytestmark = pytest.mark.integration


def diag(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "diagnostics", *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_diag_run_reports_log_findings_and_checks_the_logs_item(tmp_path: Path) -> None:
    (tmp_path / "shop.log").write_text(
        python_text(app_lines(at=AT, span=SPAN, seed=71, new_pattern_at=AT - NEW_PATTERN_AFTER))
    )
    (tmp_path / "access.log").write_text(access_text(at=AT, span=SPAN, seed=72, spike_at=AT - SPIKE_AFTER))
    lines = app_lines(at=AT, span=SPAN, seed=73, info_per_minute=10.0)
    write_journal(
        tmp_path / "journal",
        ((x.time, x.level, x.message) for x in lines),
        unit="cart.service",
        identifier="cart",
    )
    config = tmp_path / "diag.yaml"
    config.write_text(
        f"""
logs:
  - name: shop
    file: {{paths: ['{tmp_path}/shop.log']}}
  - name: edge
    file: {{paths: ['{tmp_path}/access.log'], format: access}}
  - name: cart
    journald: {{directory: '{tmp_path}/journal', units: [cart.service]}}
"""
    )
    done = diag("run", "--config", str(config), "--at", AT.isoformat(), "--window", "30m", "--format", "json")
    assert done.returncode == 2, done.stderr  # a critical finding: the 5xx spike
    report = json.loads(done.stdout)
    kinds = {(f["probe"], f["kind"], f["entity"]["name"]) for f in report["findings"]}
    assert ("logs.patterns", "log_new_pattern", "shop") in kinds
    assert ("logs.errors", "log_error_rate", "shop") in kinds
    assert ("logs.errors", "log_5xx_ratio", "edge") in kinds
    assert not any(name == "cart" for _, _, name in kinds)  # the healthy journal is silent
    spike = next(f for f in report["findings"] if f["kind"] == "log_5xx_ratio")
    from datetime import datetime

    assert close_to(datetime.fromisoformat(spike["onset"].replace("Z", "+00:00")), AT - SPIKE_AFTER)
    outcomes = {p["id"]: p for p in report["probes"]}
    assert outcomes["logs.errors"]["checklist_item"] == "logs"
    assert outcomes["logs.patterns"]["status"] == "warning"
    logs_item = next(item for item in report["checklist"] if item["item"] == "logs")
    assert logs_item["state"] == "problem"
    assert sorted(logs_item["probes"]) == ["logs.errors", "logs.patterns"]


def test_a_source_with_two_kinds_is_a_one_line_config_error(tmp_path: Path) -> None:
    config = tmp_path / "diag.yaml"
    config.write_text(
        "logs:\n  - name: shop\n    file: {paths: [a.log]}\n    journald: {units: [shop.service]}\n"
    )
    done = diag("run", "--config", str(config), "--probe", "logs.errors")
    assert done.returncode == 3
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "diag.yaml:2" in done.stderr and "needs exactly one of file, journald" in done.stderr
