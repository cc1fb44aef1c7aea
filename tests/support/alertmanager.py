"""A real Alertmanager for tests (Debian's prometheus-alertmanager), started once per session.

It routes every alert to a webhook receiver that the test passes in (so a test can see what
Alertmanager itself sends on), with grouping waits of a second. ``alertmanager.alerts()`` reads
``GET /api/v2/alerts`` (the alerts it holds as active).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.ports import free_port

STARTUP_TIMEOUT_S = 30.0


@dataclass(slots=True, kw_only=True)
class AlertmanagerServer:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def alerts(self, **filters: str) -> list[dict[str, Any]]:
        query = "&".join(f"{k}={v}" for k, v in filters.items())
        with urllib.request.urlopen(f"{self.url}/api/v2/alerts?{query}", timeout=5) as answer:
            alerts: list[dict[str, Any]] = json.load(answer)
            return alerts

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def ensure_alertmanager() -> str:
    """The path of Debian's prometheus-alertmanager, installing the package when it is missing."""
    found = shutil.which("prometheus-alertmanager")
    if found:
        return found
    env = {"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    subprocess.run(["apt-get", "update", "-qq"], check=False, env=env, capture_output=True)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "prometheus-alertmanager"],
        check=True,
        env=env,
        capture_output=True,
    )
    found = shutil.which("prometheus-alertmanager")
    if not found:
        raise RuntimeError("the Debian package prometheus-alertmanager did not install its binary")
    return found


def start_alertmanager(workdir: Path, webhook_url: str) -> AlertmanagerServer:
    binary = ensure_alertmanager()
    config = {
        "route": {
            "receiver": "sink",
            "group_by": ["alertname", "fingerprint"],
            "group_wait": "1s",
            "group_interval": "1s",
            "repeat_interval": "1h",
        },
        "receivers": [{"name": "sink", "webhook_configs": [{"url": webhook_url, "send_resolved": True}]}],
    }
    config_file = workdir / "alertmanager.yml"
    config_file.write_text(json.dumps(config))
    port = free_port()
    log = workdir / "alertmanager.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={config_file}",
                f"--storage.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",
                "--log.level=warn",
            ],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    server = AlertmanagerServer(url=f"http://127.0.0.1:{port}", process=process, log=log)
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"alertmanager exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(server.url + "/-/ready", timeout=1) as answer:
                if answer.status == 200:
                    return server
        except OSError:
            time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"alertmanager not ready within {STARTUP_TIMEOUT_S}s: {log.read_text()[-2000:]}")


@pytest.fixture
def alertmanager_for(tmp_path: Path) -> Iterator[Any]:
    """Start an Alertmanager whose receiver is the given webhook URL (stopped after the test)."""
    started: list[AlertmanagerServer] = []

    def start(webhook_url: str) -> AlertmanagerServer:
        server = start_alertmanager(tmp_path, webhook_url)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
