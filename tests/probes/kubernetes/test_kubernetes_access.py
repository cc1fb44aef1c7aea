"""Reaching the cluster through the real ``kubernetes`` client: contexts, RBAC refusals, errors,
and ``diag run`` in a subprocess (against tests/support/kube_api.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from diagnostics import ErrorKind, Severity, Status
from diagnostics.testing import run_probe
from probes.kubernetes.nodes import NodesProbe
from probes.kubernetes.pods import PodsProbe
from probes.kubernetes.rollouts import RolloutsProbe
from tests.probes.kubernetes.conftest import crashing_rollout, kube_config, pending_cart
from tests.support import kube_objects as k
from tests.support.kube_api import TOKEN, Cluster, KubeApiServer

pytestmark = pytest.mark.integration


def test_every_kubectl_command_names_the_configured_context(
    kube_cluster: KubeApiServer, now: datetime
) -> None:
    staged = crashing_rollout(now)
    staged_cart = pending_cart(now)
    cart, pending = staged_cart.workload, staged_cart.pending
    oom = k.restarted_pod(
        cart.replica_set,
        template=cart.template,
        created=now - timedelta(days=1),
        node="node-a",
        reason="OOMKilled",
        exit_code=137,
        finished=now - timedelta(minutes=4),
    )
    unhealthy = k.event(
        oom, reason="Unhealthy", message="Readiness probe failed", first=now - timedelta(minutes=20), last=now
    )
    kube_cluster.load(
        Cluster.of(
            staged.objects(),
            cart.deployment,
            cart.replica_set,
            pending,
            oom,
            unhealthy,
            k.node("node-a", created=now - timedelta(days=40), unschedulable=True),
            k.node(
                "node-b",
                created=now - timedelta(days=40),
                ready="False",
                ready_since=now - timedelta(minutes=9),
            ),
            k.node(
                "node-c",
                created=now - timedelta(days=40),
                pressure={"DiskPressure": now - timedelta(minutes=4)},
            ),
            logs=staged.logs,
            forbidden_namespaces=["payments"],
        )
    )
    config = kube_config(kube_cluster, context="prod-eu", namespaces=["shop", "payments"])
    findings = [
        f
        for probe in (RolloutsProbe, PodsProbe, NodesProbe)
        for f in run_probe(probe, config=config).findings
    ]
    assert {f.kind for f in findings} == {
        "rollout_unhealthy",
        "forbidden",
        "crash_loop",
        "oom_killed",
        "pending",
        "warning_events",
        "node_not_ready",
        "node_pressure",
        "node_cordoned",
    }
    commands = [step for f in findings for step in f.next_steps if step.startswith("kubectl")]
    assert len(commands) >= 20
    for command in commands:  # the flag ends the kubectl part, before any pipe or comment
        assert command.split("|")[0].split("#")[0].rstrip().endswith(" --context prod-eu"), command


def test_rbac_forbidden_on_one_namespace_is_reported_and_the_others_still_checked(
    kube_cluster: KubeApiServer, now: datetime
) -> None:
    staged = crashing_rollout(now)
    hidden = k.deployment_rollout(
        "ledger",
        "payments",
        old_image="ledger:1",
        new_image="ledger:2",
        rolled_out_at=now - timedelta(minutes=5),
        crash_new_pods=1,
    )
    kube_cluster.load(
        Cluster.of(staged.objects(), hidden.objects(), logs=staged.logs, forbidden_namespaces=["payments"])
    )
    config = kube_config(kube_cluster, namespaces=["shop", "payments"])
    for probe, kind in ((RolloutsProbe, "rollout_unhealthy"), (PodsProbe, "crash_loop")):
        run = run_probe(probe, config=config)
        assert run.outcome.status is Status.CRITICAL
        found = {f.kind: f for f in run.findings}
        assert found[kind].entity.name == "shop/checkout"
        assert all(f.entity.name != "payments/ledger" for f in run.findings)
        forbidden = found["forbidden"]
        assert forbidden.severity is Severity.WARNING and forbidden.entity.name == "payments"
        assert (
            forbidden.title.startswith("Not allowed to list ") and "in namespace payments" in forbidden.title
        )
        assert "cannot list resource" in forbidden.evidence.details["refused"][0]["message"]
    assert all("/namespaces/" in p for p in kube_cluster.paths())  # per-namespace calls only


def test_a_refused_cluster_wide_list_falls_back_to_the_context_namespace(
    kube_cluster: KubeApiServer, now: datetime
) -> None:
    staged = crashing_rollout(now)
    kube_cluster.load(Cluster.of(staged.objects(), logs=staged.logs, forbidden_namespaces=["payments"]))
    run = run_probe(PodsProbe, config=kube_config(kube_cluster))
    found = {f.kind: f for f in run.findings}
    assert found["crash_loop"].entity.name == "shop/checkout"  # read from the context's namespace
    assert found["forbidden"].entity.kind == "cluster" and "all namespaces" in found["forbidden"].title
    assert "only namespace shop (the context's) was checked" in found["forbidden"].summary
    assert "/api/v1/namespaces/shop/pods" in kube_cluster.paths()


def test_an_unreachable_api_server_is_a_clean_error(kube_api: KubeApiServer) -> None:
    for probe in (RolloutsProbe, PodsProbe, NodesProbe):
        run = run_probe(probe, config={"kubernetes": {"kubeconfig": str(kube_api.unreachable_kubeconfig)}})
        assert run.outcome.status is Status.ERROR
        assert run.outcome.error_kind is ErrorKind.CONNECT
        assert run.outcome.error is not None and run.outcome.error.startswith(
            "cannot connect to the Kubernetes API at http://127.0.0.1:"
        )
        assert "Traceback" not in run.outcome.error and run.findings == ()


def test_rejected_credentials_are_an_auth_error_without_the_token(kube_cluster: KubeApiServer) -> None:
    run = run_probe(NodesProbe, config=kube_config(kube_cluster, context="bad-token"))
    assert (run.outcome.status, run.outcome.error_kind) == (Status.ERROR, ErrorKind.AUTH)
    assert "401" in (run.outcome.error or "") and "not-the-right-token" not in (run.outcome.error or "")


def test_nodes_not_listable_is_a_permission_error(kube_cluster: KubeApiServer, now: datetime) -> None:
    kube_cluster.load(Cluster.of(k.node("node-a", created=now), forbidden_resources=["nodes"]))
    run = run_probe(NodesProbe, config=kube_config(kube_cluster))
    assert (run.outcome.status, run.outcome.error_kind) == (Status.ERROR, ErrorKind.PERMISSION)
    assert 'cannot list resource "nodes"' in (run.outcome.error or "")


def test_an_unknown_context_is_a_config_error(kube_cluster: KubeApiServer) -> None:
    run = run_probe(PodsProbe, config=kube_config(kube_cluster, context="staging"))
    assert (run.outcome.status, run.outcome.error_kind) == (Status.ERROR, ErrorKind.CONFIG)
    assert "staging" in (run.outcome.error or "")


def test_helm_secrets_not_listable_is_reported_and_rollouts_still_checked(
    kube_cluster: KubeApiServer, now: datetime
) -> None:
    staged = crashing_rollout(now)
    kube_cluster.load(Cluster.of(staged.objects(), forbidden_resources=["secrets"]))
    found = {f.kind: f for f in run_probe(RolloutsProbe, config=kube_config(kube_cluster)).findings}
    assert set(found) == {"rollout_unhealthy", "forbidden"}
    assert found["forbidden"].title == (
        "Not allowed to list secrets in all namespaces (cluster-wide), nor in namespace shop"
    )
    assert found["forbidden"].summary == "RBAC refused the cluster-wide list calls: they were not checked."
    kube_cluster.load(kube_cluster.cluster)  # forget the requests so far
    quiet = run_probe(RolloutsProbe, config=kube_config(kube_cluster), options={"helm": False})
    assert [f.kind for f in quiet.findings] == ["rollout_unhealthy"]
    assert kube_cluster.paths() and not any("/secrets" in p for p in kube_cluster.paths())


def test_in_cluster_outside_a_pod_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    run = run_probe(PodsProbe, config={"kubernetes": {"in_cluster": True}})
    assert (run.outcome.status, run.outcome.error_kind) == (Status.ERROR, ErrorKind.CONFIG)
    assert (run.outcome.error or "").startswith("cannot load the in-cluster service account")


def test_diag_run_through_a_subprocess(kube_cluster: KubeApiServer, now: datetime, tmp_path: Path) -> None:
    staged = crashing_rollout(now)
    kube_cluster.load(Cluster.of(staged.objects(), logs=staged.logs))
    config = tmp_path / "diag.yaml"
    config.write_text(f"kubernetes:\n  kubeconfig: {kube_cluster.kubeconfig}\n  namespaces: [shop]\n")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "diagnostics",
            "run",
            "--config",
            str(config),
            "--probe",
            "deploys.rollouts",
            "--probe",
            "workloads.pods",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert done.returncode == 2, done.stderr
    report = json.loads(done.stdout)
    kinds = sorted((f["probe"], f["kind"]) for f in report["findings"])
    assert kinds == [("deploys.rollouts", "rollout_unhealthy"), ("workloads.pods", "crash_loop")]
    assert TOKEN not in done.stdout + done.stderr
