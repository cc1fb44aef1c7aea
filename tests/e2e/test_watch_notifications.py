"""diag watch end to end: a real dependency fails and recovers; a real Alertmanager holds the
alert and resolves it; Slack and webhook receivers hear of changes only; the state survives a
restart; the command line prints changes and exits with the run's status."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from diagnostics.api import diagnose
from diagnostics.redaction import Redactor
from diagnostics.watch.changes import ChangeKind
from diagnostics.watch.loop import Watcher, notifiers_of
from tests.diagnostics.serve.helpers import SwitchableService, switchable_service
from tests.support.alertmanager import AlertmanagerServer

pytestmark = pytest.mark.integration

SLACK_PATH = "/services/T000/B000/secretpart"


@pytest.fixture
def payments() -> Iterator[SwitchableService]:
    with switchable_service() as service:
        yield service


@pytest.fixture
def receiver() -> Iterator[SwitchableService]:
    """Stands in for Slack and a generic webhook, and receives what Alertmanager sends on."""
    with switchable_service() as service:
        yield service


def config_for(payments: SwitchableService, receiver: SwitchableService, alertmanager: str) -> dict[str, Any]:
    base = f"http://127.0.0.1:{receiver.port}"
    return {
        "dependencies": [{"name": "payments", "url": payments.url}],
        "probes": {"resources.host": {"enabled": False}, "deps.http": {"attempts": 1}},
        "notify": [
            {"name": "team-am", "alertmanager": {"url": alertmanager}},
            {"name": "ops-slack", "slack": {"webhook_url": base + SLACK_PATH}},
            {"name": "bot", "webhook": {"url": base + "/hook", "headers": {"X-Token": "hook-token-5f1"}}},
        ],
    }


def watcher_for(config: dict[str, Any], state: Path) -> Watcher:
    from diagnostics.config import resolve_config

    loaded = resolve_config(config, {})
    return Watcher(
        diagnose=lambda: diagnose(config=config, env={}).report,
        notifiers=notifiers_of(loaded),
        every=timedelta(seconds=30),
        redactor=Redactor(),
        state_file=state,
    )


def wait_until(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise TimeoutError("condition not met")


def posted(receiver: SwitchableService, path: str) -> list[Any]:
    return [r["body"] for r in receiver.requests if r["path"] == path]


def test_failure_reaches_alertmanager_and_resolves_when_fixed(
    payments: SwitchableService,
    receiver: SwitchableService,
    alertmanager_for: Callable[[str], AlertmanagerServer],
    tmp_path: Path,
) -> None:
    alertmanager = alertmanager_for(f"http://127.0.0.1:{receiver.port}/from-alertmanager")
    config = config_for(payments, receiver, alertmanager.url)
    state = tmp_path / "watch.json"

    payments.failing.set()
    cycle = watcher_for(config, state).cycle()
    assert [(c.kind, c.finding.probe) for c in cycle.changes] == [(ChangeKind.NEW, "deps.http")]
    assert all(d.sent for d in cycle.deliveries), cycle.deliveries
    [alert] = alertmanager.alerts(active="true")
    assert alert["labels"]["alertname"] == "DiagFinding"
    assert alert["labels"]["probe"] == "deps.http"
    assert alert["labels"]["severity"] == "critical"
    assert alert["labels"]["entity"] == "dependency payments"
    assert "HTTP 503" in alert["annotations"]["summary"]
    assert alert["status"]["state"] == "active"
    # Alertmanager routes it on to its receiver: the whole chain works
    wait_until(lambda: any(b["status"] == "firing" for b in posted(receiver, "/from-alertmanager")))
    [slack] = posted(receiver, SLACK_PATH)
    assert "NEW" in slack["text"] and "payments" in slack["text"]
    [hook] = posted(receiver, "/hook")
    assert hook["changes"][0]["change"] == "new"
    assert (
        next(r for r in receiver.requests if r["path"] == "/hook")["headers"]["X-Token"] == "hook-token-5f1"
    )

    # a restarted watcher remembers: still failing is no change, so Slack and webhook stay quiet
    cycle = watcher_for(config, state).cycle()
    assert cycle.changes == ()
    assert len(posted(receiver, SLACK_PATH)) == 1 and len(posted(receiver, "/hook")) == 1
    assert len(alertmanager.alerts(active="true")) == 1  # repeated, still one alert

    payments.failing.clear()
    cycle = watcher_for(config, state).cycle()
    assert [c.kind for c in cycle.changes] == [ChangeKind.RESOLVED]
    wait_until(lambda: alertmanager.alerts(active="true") == [])
    wait_until(lambda: any(b["status"] == "resolved" for b in posted(receiver, "/from-alertmanager")))
    assert "RESOLVED" in posted(receiver, SLACK_PATH)[-1]["text"]
    assert posted(receiver, "/hook")[-1]["changes"][0]["change"] == "resolved"


def test_a_notifier_that_fails_is_reported_and_the_others_still_hear(
    payments: SwitchableService, receiver: SwitchableService, tmp_path: Path
) -> None:
    config = config_for(payments, receiver, "http://127.0.0.1:1")  # nothing listens there
    payments.failing.set()
    cycle = watcher_for(config, tmp_path / "watch.json").cycle()
    failed = {d.notifier: d.error for d in cycle.deliveries if not d.sent}
    assert list(failed) == ["team-am"]
    assert "team-am" in str(failed["team-am"])
    assert len(posted(receiver, SLACK_PATH)) == 1


def test_watch_once_from_the_command_line(
    payments: SwitchableService, receiver: SwitchableService, tmp_path: Path
) -> None:
    config = {
        "dependencies": [{"name": "payments", "url": payments.url}],
        "probes": {"resources.host": {"enabled": False}, "deps.http": {"attempts": 1}},
        "notify": [{"name": "ops-slack", "slack": {"webhook_url": f"http://127.0.0.1:1{SLACK_PATH}"}}],
    }
    config_file = tmp_path / "diag.yaml"
    config_file.write_text(json.dumps(config))
    state = tmp_path / "watch.json"
    command = [
        sys.executable,
        "-m",
        "diagnostics",
        "watch",
        "--once",
        "-c",
        str(config_file),
        "-s",
        str(state),
    ]
    env = {**os.environ, "NO_COLOR": "1"}
    payments.failing.set()
    first = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env, check=False)
    assert first.returncode == 2, first.stderr
    [line] = first.stdout.splitlines()
    assert "NEW      critical deps.http" in line and "dependency payments" in line
    # the Slack URL is the credential: the failed delivery names the notifier, never the URL
    assert "ops-slack" in first.stderr and "secretpart" not in first.stderr
    second = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env, check=False)
    assert second.returncode == 2 and second.stdout == ""
    payments.failing.clear()
    third = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env, check=False)
    assert third.returncode == 0
    assert "RESOLVED critical deps.http" in third.stdout
