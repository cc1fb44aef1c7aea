"""A feature flag switched on in production just before an error spike, diagnosed end to end.

Backends: a real Unleash (the flag switched through its admin API by a user), a real Prometheus
with the error spike backfilled, the fake Kubernetes API with an unrelated-in-time rollout of
the same service earlier. The summary must name the flag first, with its switch-off call, and
the rollout second, with its rollback command and whether that rollback is safe.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_incidents import (
    V142,
    V150,
    ShopMetrics,
    anomalies_options,
    diagnose,
    finding,
    start_metrics,
)
from tests.support import kube_objects as k
from tests.support.kube_api import Cluster, KubeApiServer
from tests.support.unleash import UnleashServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_a_flag_switched_just_before_an_error_spike_is_the_first_suspect(
    tmp_path: Path, unleash_server: UnleashServer, kube_cluster: KubeApiServer, prometheus_server: Any
) -> None:
    flag = f"checkout-new-pricing-{uuid.uuid4().hex[:6]}"
    unleash_server.create_flag(flag, description="New pricing engine")
    unleash_server.backdate(flag, datetime.now(UTC) - timedelta(days=5))
    staged = datetime.now(UTC)
    unleash_server.switch(flag, "production", True, session=unleash_server.as_user("alice@example.com"))
    now = datetime.now(UTC).replace(microsecond=0)
    switched_at = now - timedelta(minutes=10)
    unleash_server.backdate(flag, switched_at, recorded_since=staged)
    rollout = k.deployment_rollout(
        "checkout", "shop", old_image=V142, new_image=V150, rolled_out_at=now - timedelta(minutes=26)
    )
    kube_cluster.load(Cluster.of(rollout.objects(), logs=rollout.logs))
    metrics = start_metrics(
        prometheus_server, "e2e-flag", ShopMetrics(end=now, error_onset=now - timedelta(minutes=8))
    )

    report = diagnose(
        tmp_path,
        {
            "feature_flags": [{"name": "unleash", "unleash": {"url": unleash_server.url, "token": unleash_server.token}}],
            "kubernetes": {"kubeconfig": str(kube_cluster.kubeconfig), "namespaces": ["shop"]},
            "prometheus": metrics.config(),
            "services": {"checkout": {"user_facing": True}},
            "probes": {"metrics.anomalies": anomalies_options()},
        },
        "--probe", "toggles.changes", "--probe", "deploys.rollouts", "--probe", "metrics.anomalies",
    )  # fmt: skip

    switched = finding(report, "toggles.changes", "flag_change")
    assert switched["entity"]["name"] == flag
    assert switched["onset"] == switched_at.isoformat().replace("+00:00", "Z")
    rolled = finding(report, "deploys.rollouts", "rollout")
    errors = finding(report, "metrics.anomalies", "metric_anomaly")
    first, second = report["summary"]["suspects"][:2]
    assert first["rule"] == "flag_change_before_symptom"
    assert first["cause"] == switched["fingerprint"]
    assert errors["fingerprint"] in first["supports"]
    assert first["reasoning"].startswith(f"Feature flag {flag} was switched on in production ")
    assert first["containment"]["step"] == "Check feature toggles"
    assert first["containment"]["command"].endswith(
        f"/api/admin/projects/default/features/{flag}/environments/production/off"
    )
    assert second["rule"] == "rollout_before_symptom" and second["cause"] == rolled["fingerprint"]
    assert second["containment"]["step"] == "Consider rollback"
    assert (
        second["containment"]["command"] == "kubectl rollout undo deployment/checkout -n shop --to-revision=6"
    )
    assert second["containment"]["note"].startswith("Rollback looks safe: revision 6 ran 29d")
    checklist = {row["item"]: row["state"] for row in report["checklist"]}
    assert checklist["feature_toggles"] == "problem"
    assert unleash_server.token.split(".")[-1] not in str(report)
