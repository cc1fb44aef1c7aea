"""Log findings in the summary: a new error right after a rollout is evidence for the rollout."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from diagnostics.cli import cli
from tests.support import kube_objects as k
from tests.support.kube_api import Cluster, KubeApiServer
from tests.support.log_scenarios import app_lines, python_text

pytestmark = pytest.mark.integration


def test_new_log_error_after_a_rollout_names_the_rollout(tmp_path: Path, kube_cluster: KubeApiServer) -> None:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    rollout = k.deployment_rollout(
        "checkout",
        "shop",
        old_image="registry.example.com/shop/checkout:v1.4.2",
        new_image="registry.example.com/shop/checkout:v1.5.0",
        rolled_out_at=now - timedelta(minutes=12),
    )
    kube_cluster.load(Cluster.of(rollout.objects(), logs=rollout.logs))
    log = tmp_path / "checkout.log"
    log.write_text(
        python_text(
            app_lines(
                at=now,
                span=timedelta(hours=7, minutes=10),
                seed=81,
                new_pattern_at=now - timedelta(minutes=10),
            )
        )
    )
    config = tmp_path / "diag.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "kubernetes": {"kubeconfig": str(kube_cluster.kubeconfig), "namespaces": ["shop"]},
                "logs": [{"name": "checkout", "file": {"paths": [str(log)]}}],
            }
        )
    )
    result = CliRunner().invoke(
        cli,
        ["run", "--config", str(config), "--format", "json", "--window", "30m",
         "--probe", "deploys.rollouts", "--probe", "logs.patterns", "--probe", "logs.errors"],
    )  # fmt: skip
    assert result.exit_code in (1, 2), result.stderr
    report = json.loads(result.stdout)
    by_kind = {f["kind"]: f for f in report["findings"]}
    new_error = by_kind["log_new_pattern"]
    top = report["summary"]["suspects"][0]
    assert top["rule"] == "rollout_before_symptom"
    causes = [
        f for f in report["findings"] if f["probe"] == "deploys.rollouts" and f["fingerprint"] == top["cause"]
    ]
    assert causes and causes[0]["entity"]["name"] == "shop/checkout"
    assert new_error["fingerprint"] in top["supports"]
    assert "The rollout of shop/checkout came" in top["reasoning"]
