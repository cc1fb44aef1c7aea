"""``diag run`` in a real subprocess against the staged dependencies."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.http_servers import HttpServers

pytestmark = pytest.mark.integration


def test_diag_run_reports_the_failing_dependency_and_exits_critical(
    http_servers: HttpServers, tmp_path: Path
) -> None:
    config = tmp_path / "diag.yaml"
    config.write_text(
        f"""
dependencies:
  - name: payments-api
    url: {http_servers.url("/status/503")}
  - name: search
    url: {http_servers.url("/healthz")}
  - name: orders-db-tcp
    tcp: {http_servers.base_url.split("//")[1]}
"""
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "diagnostics",
            "run",
            "--config",
            str(config),
            "--probe",
            "deps.http",
            "--probe",
            "deps.tcp",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert done.returncode == 2, done.stderr
    report = json.loads(done.stdout)
    titles = [f["title"] for f in report["findings"]]
    assert len(titles) == 1 and titles[0].startswith("payments-api: HTTP 503 on 3/3 attempts")
    assert {p["id"]: p["status"] for p in report["probes"]} == {"deps.http": "critical", "deps.tcp": "ok"}
