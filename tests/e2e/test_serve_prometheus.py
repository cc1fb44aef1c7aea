"""diag serve scraped by a real Prometheus: the shipped alert rule fires on a staged failure and
stops when it is fixed; ``promtool check metrics`` accepts what /metrics serves."""

from __future__ import annotations

import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from diagnostics.serve.service import Service, build_service
from tests.diagnostics.serve.helpers import SwitchableService, switchable_service
from tests.support.prometheus import PrometheusDataset, PrometheusServer, ensure_prometheus

pytestmark = pytest.mark.integration

RULES = Path(__file__).resolve().parents[2] / "config" / "deploy" / "prometheus" / "diag-rules.yml"


def shipped_rules_firing_at_once() -> str:
    """The shipped rule file with every ``for:`` at 0s, so the test need not wait 5 minutes."""
    document = yaml.safe_load(RULES.read_text())
    for group in document["groups"]:
        for rule in group["rules"]:
            rule["for"] = "0s"
    return yaml.safe_dump(document)


@pytest.fixture
def payments() -> Iterator[SwitchableService]:
    with switchable_service() as service:
        yield service


@pytest.fixture
def diag_serve(payments: SwitchableService) -> Iterator[tuple[Service, str]]:
    config: dict[str, Any] = {
        "dependencies": [{"name": "payments", "url": payments.url}],
        "probes": {"resources.host": {"enabled": False}, "deps.http": {"attempts": 1}},
        "serve": {"listen": "127.0.0.1:0", "every": "1s"},
    }
    service = build_service(config, env={})
    service.start()
    threading.Thread(target=service.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
    host, port = service.address
    yield service, f"{host}:{port}"
    service.stop()


def firing(server: PrometheusServer) -> list[dict[str, Any]]:
    alerts: list[dict[str, Any]] = server.api("/api/v1/alerts")["data"]["alerts"]
    return [a for a in alerts if a["state"] == "firing"]


def test_alert_rule_fires_for_a_failing_dependency_and_stops_when_fixed(
    payments: SwitchableService,
    diag_serve: tuple[Service, str],
    prometheus_server: Callable[[PrometheusDataset], PrometheusServer],
) -> None:
    _, target = diag_serve
    payments.failing.set()
    dataset = PrometheusDataset(
        name=f"diag-serve-{target.replace(':', '-')}",
        rules=shipped_rules_firing_at_once(),
        scrape_targets={"diag": target},
    )
    prometheus = prometheus_server(dataset)
    prometheus.wait_for(
        lambda server: any(a["labels"]["alertname"] == "DiagCriticalFinding" for a in firing(server)),
        timeout=40,
    )
    [critical] = [a for a in firing(prometheus) if a["labels"]["alertname"] == "DiagCriticalFinding"]
    assert critical["labels"]["probe"] == "deps.http"
    assert "1 critical finding(s) from deps.http" in critical["annotations"]["summary"]
    # diag itself is healthy: nothing else fires (the probe could check, runs are fresh, scrape up)
    assert {a["labels"]["alertname"] for a in firing(prometheus)} == {"DiagCriticalFinding"}

    payments.failing.clear()
    prometheus.wait_for(lambda server: firing(server) == [], timeout=40)


def test_promtool_accepts_the_metrics(diag_serve: tuple[Service, str], payments: SwitchableService) -> None:
    _, target = diag_serve
    payments.failing.set()
    deadline = time.monotonic() + 30
    text = b""
    while b"diag_finding{" not in text and time.monotonic() < deadline:  # the next scheduled run
        time.sleep(0.2)
        with urllib.request.urlopen(f"http://{target}/metrics", timeout=10) as answer:
            text = answer.read()
    _, promtool = ensure_prometheus()
    result = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, timeout=30)
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
    assert b"diag_finding{" in text
