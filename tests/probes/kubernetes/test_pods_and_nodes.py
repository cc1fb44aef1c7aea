"""Staged pod and node incidents through the real ``kubernetes`` client over real HTTP (tests/support/kube_api.py)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from diagnostics import Severity, Status
from diagnostics.testing import run_probe
from probes.kubernetes.nodes import NodesProbe
from probes.kubernetes.pods import PodsProbe
from tests.probes.kubernetes.conftest import V142, V150, kube_config
from tests.support import kube_objects as k
from tests.support.kube_api import Cluster, KubeApiServer

pytestmark = pytest.mark.integration


def test_an_oom_killed_container(kube_cluster: KubeApiServer, now: datetime) -> None:
    ledger = k.steady_deployment(
        "ledger",
        "payments",
        container_name="worker",
        image="registry.example.com/payments/ledger:3.1.0",
        created=now - timedelta(days=12),
        revision=3,
        memory_limit="256Mi",
    )
    template, deploy, rs = ledger.template, ledger.deployment, ledger.replica_set
    killed = now - timedelta(minutes=6)
    oom = k.restarted_pod(
        rs,
        template=template,
        created=now - timedelta(days=2),
        node="node-b",
        reason="OOMKilled",
        exit_code=137,
        started=now - timedelta(hours=9),
        finished=killed,
    )
    healthy = [
        k.pod(rs, template=template, created=now - timedelta(days=2, minutes=i), node="node-a")
        for i in (1, 2)
    ]
    kube_cluster.load(Cluster.of(deploy, rs, oom, healthy))
    [finding] = run_probe(PodsProbe, config=kube_config(kube_cluster)).findings
    assert (finding.kind, finding.severity) == ("oom_killed", Severity.WARNING)
    assert (
        finding.title
        == "Container worker of Deployment payments/ledger OOMKilled in 1 pod (memory limit 256Mi), 1 restart"
    )
    assert finding.onset == killed
    [pod] = finding.evidence.details["pods"]
    assert (pod["pod"], pod["last_exit_code"], pod["last_reason"], pod["node"]) == (
        oom["metadata"]["name"],
        137,
        "OOMKilled",
        "node-b",
    )


def test_a_pending_pod_with_insufficient_memory(kube_cluster: KubeApiServer, now: datetime) -> None:
    template = k.pod_template(
        "cart", [k.container("cart", "registry.example.com/shop/cart:5.2", memory_limit="12Gi")]
    )
    deploy = k.deployment(
        "cart",
        "shop",
        template=template,
        revision=1,
        created=now - timedelta(minutes=14),
        status={"readyReplicas": 2, "availableReplicas": 2, "unavailableReplicas": 1},
    )
    rs = k.replica_set(
        deploy, template=template, revision=1, created=now - timedelta(minutes=14), replicas=3, ready=2
    )
    message = (
        "0/3 nodes are available: 3 Insufficient memory. preemption: 0/3 nodes are available: "
        "3 No preemption victims found for incoming pod."
    )
    pending = k.pod(
        rs,
        template=template,
        created=now - timedelta(minutes=13),
        node=None,
        conditions=k.unschedulable(now - timedelta(minutes=13), message),
    )
    scheduling = k.event(
        pending,
        reason="FailedScheduling",
        message=message,
        first=now - timedelta(minutes=13),
        last=now - timedelta(minutes=1),
        count=14,
        component="default-scheduler",
    )
    kube_cluster.load(Cluster.of(deploy, rs, pending, scheduling))
    [finding] = run_probe(PodsProbe, config=kube_config(kube_cluster)).findings
    assert (finding.kind, finding.severity) == ("pending", Severity.CRITICAL)
    assert (
        finding.title
        == "1 pod of Deployment shop/cart Pending for 13m: 0/3 nodes are available: 3 Insufficient memory"
    )
    assert finding.evidence.details["events"][0]["reason"] == "FailedScheduling"
    assert finding.evidence.details["events"][0]["count"] == 14


def test_a_not_ready_node(kube_cluster: KubeApiServer, now: datetime) -> None:
    kube_cluster.load(
        Cluster.of(
            k.node("node-a", created=now - timedelta(days=40)),
            k.node(
                "node-b",
                created=now - timedelta(days=40),
                ready="False",
                ready_since=now - timedelta(minutes=9),
                ready_message="container runtime network not ready: NetworkReady=false",
                internal_ip="10.0.1.11",
            ),
            k.node(
                "node-c",
                created=now - timedelta(days=40),
                pressure={"DiskPressure": now - timedelta(minutes=4)},
            ),
        )
    )
    run = run_probe(NodesProbe, config=kube_config(kube_cluster))
    assert run.outcome.status is Status.CRITICAL
    findings = {f.kind: f for f in run.findings}
    assert set(findings) == {"node_not_ready", "node_pressure"}
    assert findings["node_not_ready"].title == "Node node-b NotReady for 9m: KubeletNotReady"
    assert findings["node_not_ready"].onset == now - timedelta(minutes=9)
    assert findings["node_pressure"].entity.name == "node-c"


def test_large_lists_are_read_page_by_page(kube_cluster: KubeApiServer, now: datetime) -> None:
    template = k.pod_template("batch", [k.container("batch", "batch:1")])
    deploy = k.deployment(
        "batch", "jobs", template=template, revision=1, created=now - timedelta(days=1), replicas=25
    )
    rs = k.replica_set(deploy, template=template, revision=1, created=now - timedelta(days=1), replicas=25)
    spec = template["spec"]["containers"][0]
    pods = [
        k.pod(rs, template=template, created=now - timedelta(days=1, minutes=i), node="node-a")
        for i in range(24)
    ]
    pods.append(
        k.pod(
            rs,
            template=template,
            created=now - timedelta(hours=1),
            node="node-a",
            name="batch-zzzzz",
            statuses=[k.container_status(spec, state=k.waiting("ErrImagePull", "manifest unknown"))],
        )
    )
    kube_cluster.load(Cluster.of(deploy, rs, pods))
    run = run_probe(PodsProbe, config=kube_config(kube_cluster, page_size=10))
    [finding] = run.findings
    assert finding.kind == "image_pull" and finding.evidence.details["pods"][0]["pod"] == "batch-zzzzz"
    pages = [r for r in kube_cluster.requests if r.path == "/api/v1/pods"]
    assert [r.query["limit"] for r in pages] == ["10", "10", "10"]
    assert "continue" not in pages[0].query and all("continue" in r.query for r in pages[1:])


def test_pods_diagnosed_in_the_past_say_their_state_is_as_of_now(
    kube_cluster: KubeApiServer, now: datetime
) -> None:
    staged = k.deployment_rollout(
        "checkout",
        "shop",
        old_image=V142,
        new_image=V150,
        rolled_out_at=now - timedelta(hours=3),
        crash_new_pods=2,
    )
    kube_cluster.load(Cluster.of(staged.objects()))
    [finding] = run_probe(
        PodsProbe, config=kube_config(kube_cluster), at=now - timedelta(minutes=90)
    ).findings
    assert finding.kind == "crash_loop"
    assert "Pod state is as of now" in finding.summary
    # the same pods did not exist yet 4 hours ago
    assert run_probe(PodsProbe, config=kube_config(kube_cluster), at=now - timedelta(hours=4)).findings == ()
