"""logs.* on pod logs through the local Kubernetes API server (the real kubernetes client)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from diagnostics.testing import ProbeRun, run_probe
from probes.logs.errors import ErrorsProbe
from probes.logs.patterns import PatternsProbe
from tests.probes.logs.staging import AT, NEW_PATTERN_AFTER, SPAN, WINDOW, close_to, one, silent
from tests.support import kube_objects as k
from tests.support.kube_api import TOKEN, Cluster, KubeApiServer
from tests.support.log_scenarios import app_lines, json_text

pytestmark = pytest.mark.integration


def stage(kube: KubeApiServer, *, incident: bool) -> None:
    template = k.pod_template("cart", [k.container("cart", "shop/cart:1.4.2")])
    deploy = k.deployment(
        "cart", "shop", template=template, revision=3, created=AT - timedelta(days=3), replicas=2
    )
    rs = k.replica_set(deploy, template=template, revision=3, created=AT - timedelta(days=3), replicas=2)
    pods = [
        k.pod(rs, template=template, created=AT - timedelta(days=1), node="node-a", name=f"cart-{i}")
        for i in range(2)
    ]
    logs = {}
    for index, pod in enumerate(pods):
        lines = app_lines(
            at=AT, span=SPAN, seed=60 + index, info_per_minute=10.0,
            new_pattern_at=AT - NEW_PATTERN_AFTER if incident else None,
        )  # fmt: skip
        # the container writes JSON lines; the kubelet adds its own timestamp to each
        logs[("shop", pod["metadata"]["name"], "cart")] = [
            (line.time, text) for line, text in zip(lines, json_text(lines).splitlines(), strict=True)
        ]
    kube.load(Cluster.of(deploy, rs, *pods, timed_logs=logs))


def run(probe: type, kube: KubeApiServer) -> ProbeRun:
    source = {
        "namespace": "shop",
        "selector": "app.kubernetes.io/name=cart",
        "kubeconfig": str(kube.kubeconfig),
    }
    result = run_probe(probe, config={"logs": [{"name": "cart", "kubernetes": source}]}, at=AT, window=WINDOW)
    assert result.outcome.status.checked, result.outcome.error
    return result


def test_new_error_in_pod_logs(kube_cluster: KubeApiServer) -> None:
    stage(kube_cluster, incident=True)
    new = one(run(PatternsProbe, kube_cluster), "log_new_pattern", "orders-db")
    assert close_to(new.onset, AT - NEW_PATTERN_AFTER), new.onset
    assert TOKEN not in repr(new)
    logs_read = [r for r in kube_cluster.requests if r.path.endswith("/log")]
    assert len(logs_read) == 2 and all(r.query.get("timestamps") == "true" for r in logs_read)
    assert all(r.query.get("sinceTime") for r in logs_read)
    rise = one(run(ErrorsProbe, kube_cluster), "log_error_rate")
    assert close_to(rise.onset, AT - NEW_PATTERN_AFTER), rise.onset


def test_healthy_pods_are_silent(kube_cluster: KubeApiServer) -> None:
    stage(kube_cluster, incident=False)
    for probe in (ErrorsProbe, PatternsProbe):
        result = run(probe, kube_cluster)
        assert silent(result), [f.title for f in result.findings]
