"""Staged incidents through the real ``kubernetes`` client over real HTTP (tests/support/kube_api.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from diagnostics import ErrorKind, Severity, Status, report_to_dict
from diagnostics.testing import ProbeRun, run_probe
from probes.kubernetes.nodes import NodesProbe
from probes.kubernetes.pods import PodsProbe
from probes.kubernetes.rollouts import RolloutsProbe
from tests.support import kube_objects as k
from tests.support.kube_api import TOKEN, Cluster, KubeApiServer

pytestmark = pytest.mark.integration

V142 = "registry.example.com/shop/checkout:v1.4.2"
V150 = "registry.example.com/shop/checkout:v1.5.0"
PANIC = (
    "2026/03/01 10:02:11 dialing postgres://checkout:s3cr3t-pw@orders-db:5432/orders\n"
    "panic: PAYMENT_URL is not set\n\ngoroutine 1 [running]:\nmain.main()\n"
)


def _config(server: KubeApiServer, **settings: Any) -> dict[str, Any]:
    return {"kubernetes": {"kubeconfig": str(server.kubeconfig), **settings}}


def _leaks(run: ProbeRun, *secrets: str) -> list[str]:
    text = json.dumps(report_to_dict(run.report))
    return [s for s in secrets if s in text]


@pytest.fixture
def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _crashing_rollout(now: datetime) -> k.StagedRollout:
    return k.deployment_rollout(
        "checkout",
        "shop",
        old_image=V142,
        new_image=V150,
        rolled_out_at=now - timedelta(minutes=10),
        crash_new_pods=2,
        crash_log=PANIC,
    )


def test_rollout_of_v1_5_0_whose_new_pods_crash_loop(kube_cluster: KubeApiServer, now: datetime) -> None:
    staged = _crashing_rollout(now)
    kube_cluster.load(Cluster.of(staged.objects(), logs=staged.logs))

    rollouts = run_probe(RolloutsProbe, config=_config(kube_cluster))
    assert rollouts.outcome.status is Status.CRITICAL
    [rollout] = rollouts.findings
    assert rollout.kind == "rollout_unhealthy"
    assert rollout.title == (
        "Deployment shop/checkout rolled out 10m ago: revision 6 → 7, checkout v1.4.2 → v1.5.0; "
        "2 replicas unavailable"
    )
    assert rollout.entity.name == "shop/checkout" and rollout.entity.attributes["service"] == "checkout"
    assert rollout.onset == now - timedelta(minutes=10)
    details = rollout.evidence.details
    assert details["images"] == [{"container": "checkout", "old": V142, "new": V150}]
    assert (details["revision"], details["previous_revision"]) == (7, 6)
    assert details["revision_object"] == staged.new_replica_set["metadata"]["name"]
    assert rollout.next_steps[0] == "kubectl rollout undo deployment/checkout -n shop --to-revision=6"
    assert rollout.evidence.queries == ("GET /apis/apps/v1/deployments", "GET /apis/apps/v1/replicasets")

    pods = run_probe(PodsProbe, config=_config(kube_cluster))
    [crash] = pods.findings
    assert (crash.kind, crash.severity) == ("crash_loop", Severity.CRITICAL)
    assert (
        crash.title
        == "2 pods of Deployment shop/checkout in CrashLoopBackOff: checkout exited 1 (Error), 13 restarts"
    )
    assert crash.entity == rollout.entity  # the summary correlates both on the same workload
    assert crash.evidence.details["pod_count"] == 2
    assert {p["pod"] for p in crash.evidence.details["pods"]} == {
        p["metadata"]["name"] for p in staged.new_pods
    }
    assert crash.evidence.details["log_tail"]["lines"][-2:] == ["goroutine 1 [running]:", "main.main()"]
    assert "panic: PAYMENT_URL is not set" in crash.evidence.details["log_tail"]["lines"]
    assert [e["reason"] for e in crash.evidence.details["events"]] == ["BackOff"]
    assert crash.onset is not None and rollout.onset is not None and crash.onset >= rollout.onset
    assert _leaks(rollouts, TOKEN) == [] and _leaks(pods, TOKEN, "s3cr3t-pw") == []
    assert "postgres://checkout:***@orders-db:5432/orders" in crash.evidence.details["log_tail"]["lines"][0]
    # a handful of list calls, one log read, no call per object
    paths = kube_cluster.paths()
    assert len(paths) <= 8 and sum(p.endswith("/log") for p in paths) == 1


def test_an_old_rollout_outside_the_window_is_not_reported(
    kube_cluster: KubeApiServer, now: datetime
) -> None:
    staged = k.deployment_rollout(
        "checkout", "shop", old_image=V142, new_image=V150, rolled_out_at=now - timedelta(hours=3)
    )
    kube_cluster.load(Cluster.of(staged.objects()))
    run = run_probe(RolloutsProbe, config=_config(kube_cluster))
    assert (run.outcome.status, run.findings) == (Status.OK, ())
    wide = run_probe(RolloutsProbe, config=_config(kube_cluster), window="4h")
    assert [f.kind for f in wide.findings] == ["rollout"]


def test_a_stuck_rollout(kube_cluster: KubeApiServer, now: datetime) -> None:
    template = k.pod_template("search", [k.container("search", "registry.example.com/shop/search:v2.0.1")])
    began = now - timedelta(minutes=25)
    deploy = k.deployment(
        "search",
        "shop",
        template=template,
        revision=12,
        created=now - timedelta(days=60),
        replicas=4,
        status={
            "replicas": 5,
            "updatedReplicas": 1,
            "availableReplicas": 4,
            "readyReplicas": 4,
            "unavailableReplicas": 1,
        },
        conditions=[
            k.condition(
                "Available",
                "True",
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.",
                since=now - timedelta(days=60),
            ),
            k.condition(
                "Progressing",
                "False",
                "ProgressDeadlineExceeded",
                'ReplicaSet "search-6c9d" has timed out progressing.',
                since=began + timedelta(minutes=10),
            ),
        ],
    )
    old_template = k.pod_template(
        "search", [k.container("search", "registry.example.com/shop/search:v2.0.0")]
    )
    kube_cluster.load(
        Cluster.of(
            deploy,
            k.replica_set(
                deploy, template=old_template, revision=11, created=now - timedelta(days=3), replicas=4
            ),
            k.replica_set(deploy, template=template, revision=12, created=began, replicas=1, ready=0),
        )
    )
    [finding] = run_probe(RolloutsProbe, config=_config(kube_cluster)).findings
    assert (finding.kind, finding.severity) == ("rollout_stuck", Severity.CRITICAL)
    assert finding.title == (
        "Deployment shop/search rolled out 25m ago: revision 11 → 12, search v2.0.0 → v2.0.1; stuck (ProgressDeadlineExceeded)"
    )
    assert "has timed out progressing" in finding.summary
    assert finding.next_steps[0] == "kubectl rollout undo deployment/search -n shop --to-revision=11"


def test_an_oom_killed_container(kube_cluster: KubeApiServer, now: datetime) -> None:
    template = k.pod_template(
        "ledger", [k.container("worker", "registry.example.com/payments/ledger:3.1.0", memory_limit="256Mi")]
    )
    deploy = k.deployment(
        "ledger", "payments", template=template, revision=3, created=now - timedelta(days=12)
    )
    rs = k.replica_set(deploy, template=template, revision=3, created=now - timedelta(days=12), replicas=3)
    spec = template["spec"]["containers"][0]
    killed = now - timedelta(minutes=6)
    oom = k.pod(
        rs,
        template=template,
        created=now - timedelta(days=2),
        node="node-b",
        statuses=[
            k.container_status(
                spec,
                state=k.running(killed + timedelta(seconds=1)),
                last_state=k.terminated("OOMKilled", 137, now - timedelta(hours=9), killed),
                restarts=1,
            )
        ],
    )
    healthy = [
        k.pod(rs, template=template, created=now - timedelta(days=2, minutes=i), node="node-a")
        for i in (1, 2)
    ]
    kube_cluster.load(Cluster.of(deploy, rs, oom, healthy))
    [finding] = run_probe(PodsProbe, config=_config(kube_cluster)).findings
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
    [finding] = run_probe(PodsProbe, config=_config(kube_cluster)).findings
    assert (finding.kind, finding.severity) == ("pending", Severity.CRITICAL)
    assert (
        finding.title
        == "1 pod of Deployment shop/cart Pending for 13m: 0/3 nodes are available: 3 Insufficient memory"
    )
    assert finding.evidence.details["events"][0]["reason"] == "FailedScheduling"
    assert finding.evidence.details["events"][0]["count"] == 14


def test_a_statefulset_update(kube_cluster: KubeApiServer, now: datetime) -> None:
    old = k.pod_template("orders-db", [k.container("postgres", "postgres:16.2", env={"PGDATA": "/data"})])
    new = k.pod_template(
        "orders-db",
        [k.container("postgres", "postgres:16.3", env={"PGDATA": "/data", "SHARED_BUFFERS": "2GB"})],
    )
    update, current = k.revision_name("orders-db", new), k.revision_name("orders-db", old)
    sts = k.stateful_set(
        "orders-db",
        "data",
        template=new,
        created=now - timedelta(days=90),
        current_revision=current,
        update_revision=update,
        updated=1,
        ready=3,
        generation=5,
    )
    kube_cluster.load(
        Cluster.of(
            sts,
            k.controller_revision(sts, template=old, revision=4, created=now - timedelta(days=20)),
            k.controller_revision(sts, template=new, revision=5, created=now - timedelta(minutes=3)),
        )
    )
    [finding] = run_probe(RolloutsProbe, config=_config(kube_cluster)).findings
    assert (finding.kind, finding.severity) == ("rollout", Severity.WARNING)
    assert (
        finding.title == "StatefulSet data/orders-db rolled out 3m ago: revision 4 → 5, postgres 16.2 → 16.3"
    )
    assert finding.evidence.details["env"] == [
        {"container": "postgres", "name": "SHARED_BUFFERS", "old": None, "new": "2GB"}
    ]
    assert finding.evidence.details["state"] == "progressing"
    assert finding.next_steps[0] == "kubectl rollout undo statefulset/orders-db -n data --to-revision=4"


def test_a_helm_upgrade(kube_cluster: KubeApiServer, now: datetime) -> None:
    values = {"database": {"password": "hunter2-helm-value"}}
    secrets = [
        k.helm_release_secret(
            "checkout",
            "shop",
            revision=n,
            status="superseded",
            chart="checkout",
            chart_version=f"1.4.{n}",
            created=now - timedelta(days=30 - n),
            values=values,
        )
        for n in range(1, 4)
    ]
    secrets.append(
        k.helm_release_secret(
            "checkout",
            "shop",
            revision=4,
            status="deployed",
            chart="checkout",
            chart_version="1.5.0",
            app_version="v1.5.0",
            created=now - timedelta(minutes=11),
            values=values,
        )
    )
    secrets.append(
        k.helm_release_secret(
            "redis",
            "shop",
            revision=1,
            status="deployed",
            chart="redis",
            chart_version="19.0.1",
            created=now - timedelta(days=90),
            values=values,
        )
    )
    kube_cluster.load(Cluster.of(secrets))
    run = run_probe(RolloutsProbe, config=_config(kube_cluster))
    [finding] = run.findings
    assert (finding.kind, finding.severity) == ("helm_upgrade", Severity.WARNING)
    assert (
        finding.title
        == "Helm release shop/checkout upgraded to revision 4 (chart checkout-1.4.3 → checkout-1.5.0) 11m ago: deployed"
    )
    assert finding.evidence.details["app_version"] == "v1.5.0"
    assert finding.next_steps[0] == "helm rollback checkout 3 -n shop"
    assert _leaks(run, "hunter2-helm-value") == []
    # the history came from one metadata-only list; only the two revisions compared were read whole
    lists = [r for r in kube_cluster.requests if r.path == "/api/v1/secrets"]
    assert len(lists) == 1 and "as=PartialObjectMetadataList" in lists[0].accept
    assert lists[0].query["labelSelector"] == "owner=helm"
    reads = sorted(
        r.path.rsplit("/", 1)[1]
        for r in kube_cluster.requests
        if r.path.startswith("/api/v1/namespaces/shop/secrets/")
    )
    assert reads == ["sh.helm.release.v1.checkout.v3", "sh.helm.release.v1.checkout.v4"]


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
    run = run_probe(NodesProbe, config=_config(kube_cluster))
    assert run.outcome.status is Status.CRITICAL
    findings = {f.kind: f for f in run.findings}
    assert set(findings) == {"node_not_ready", "node_pressure"}
    assert findings["node_not_ready"].title == "Node node-b NotReady for 9m: KubeletNotReady"
    assert findings["node_not_ready"].onset == now - timedelta(minutes=9)
    assert findings["node_pressure"].entity.name == "node-c"


def test_rbac_forbidden_on_one_namespace_is_reported_and_the_others_still_checked(
    kube_cluster: KubeApiServer, now: datetime
) -> None:
    staged = _crashing_rollout(now)
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
    config = _config(kube_cluster, namespaces=["shop", "payments"])
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
    staged = _crashing_rollout(now)
    kube_cluster.load(Cluster.of(staged.objects(), logs=staged.logs, forbidden_namespaces=["payments"]))
    run = run_probe(PodsProbe, config=_config(kube_cluster))
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
    run = run_probe(NodesProbe, config=_config(kube_cluster, context="bad-token"))
    assert (run.outcome.status, run.outcome.error_kind) == (Status.ERROR, ErrorKind.AUTH)
    assert "401" in (run.outcome.error or "") and "not-the-right-token" not in (run.outcome.error or "")


def test_nodes_not_listable_is_a_permission_error(kube_cluster: KubeApiServer, now: datetime) -> None:
    kube_cluster.load(Cluster.of(k.node("node-a", created=now), forbidden_resources=["nodes"]))
    run = run_probe(NodesProbe, config=_config(kube_cluster))
    assert (run.outcome.status, run.outcome.error_kind) == (Status.ERROR, ErrorKind.PERMISSION)
    assert 'cannot list resource "nodes"' in (run.outcome.error or "")


def test_an_unknown_context_is_a_config_error(kube_cluster: KubeApiServer) -> None:
    run = run_probe(PodsProbe, config=_config(kube_cluster, context="staging"))
    assert (run.outcome.status, run.outcome.error_kind) == (Status.ERROR, ErrorKind.CONFIG)
    assert "staging" in (run.outcome.error or "")


def test_at_in_the_past_reports_what_happened_before_it(kube_cluster: KubeApiServer, now: datetime) -> None:
    at = now - timedelta(hours=2)
    v1, v2, v3 = (
        k.pod_template("api", [k.container("api", f"registry.example.com/shop/api:{v}")])
        for v in ("2.0", "2.1", "2.2")
    )
    deploy = k.deployment("api", "shop", template=v3, revision=3, created=now - timedelta(days=10))
    kube_cluster.load(
        Cluster.of(
            deploy,
            k.replica_set(deploy, template=v1, revision=1, created=now - timedelta(days=10), replicas=0),
            k.replica_set(deploy, template=v2, revision=2, created=at - timedelta(minutes=20), replicas=0),
            k.replica_set(deploy, template=v3, revision=3, created=now - timedelta(minutes=15), replicas=3),
        )
    )
    [finding] = run_probe(RolloutsProbe, config=_config(kube_cluster), at=at).findings
    assert finding.title == "Deployment shop/api rolled out 20m before --at: revision 1 → 2, api 2.0 → 2.1"
    assert finding.evidence.details["state"] == "superseded"
    assert "as of now" in finding.summary
    assert finding.next_steps[0] == "kubectl rollout undo deployment/api -n shop --to-revision=1"


def test_the_label_selector_limits_workloads_and_pods(kube_cluster: KubeApiServer, now: datetime) -> None:
    backend = _crashing_rollout(now)
    for obj in (backend.deployment, *backend.new_pods, *backend.old_pods):
        obj["metadata"]["labels"]["tier"] = "backend"
    frontend = k.deployment_rollout(
        "web",
        "shop",
        old_image="web:1",
        new_image="web:2",
        rolled_out_at=now - timedelta(minutes=8),
        crash_new_pods=1,
    )
    kube_cluster.load(Cluster.of(backend.objects(), frontend.objects(), logs=backend.logs))
    config = _config(kube_cluster, label_selector="tier=backend")
    for probe in (RolloutsProbe, PodsProbe):
        run = run_probe(probe, config=config)
        assert {f.entity.name for f in run.findings} == {"shop/checkout"}
    listed = {r.path: r.query for r in kube_cluster.requests}
    assert listed["/apis/apps/v1/deployments"]["labelSelector"] == "tier=backend"
    assert listed["/api/v1/pods"]["labelSelector"] == "tier=backend"
    assert "labelSelector" not in listed["/apis/apps/v1/replicasets"]  # matched to owners by uid


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
    run = run_probe(PodsProbe, config=_config(kube_cluster, page_size=10))
    [finding] = run.findings
    assert finding.kind == "image_pull" and finding.evidence.details["pods"][0]["pod"] == "batch-zzzzz"
    pages = [r for r in kube_cluster.requests if r.path == "/api/v1/pods"]
    assert [r.query["limit"] for r in pages] == ["10", "10", "10"]
    assert "continue" not in pages[0].query and all("continue" in r.query for r in pages[1:])


def test_a_healthy_cluster_yields_no_findings(kube_cluster: KubeApiServer, now: datetime) -> None:
    staged = k.deployment_rollout(
        "checkout", "shop", old_image=V142, new_image=V150, rolled_out_at=now - timedelta(days=3)
    )
    template = k.pod_template("orders-db", [k.container("postgres", "postgres:16.3")])
    revision = k.revision_name("orders-db", template)
    sts = k.stateful_set(
        "orders-db",
        "data",
        template=template,
        created=now - timedelta(days=90),
        current_revision=revision,
        update_revision=revision,
    )
    kube_cluster.load(
        Cluster.of(
            staged.objects(),
            sts,
            k.controller_revision(sts, template=template, revision=1, created=now - timedelta(days=90)),
            k.helm_release_secret(
                "checkout",
                "shop",
                revision=1,
                status="deployed",
                chart="checkout",
                chart_version="1.4.2",
                created=now - timedelta(days=3),
            ),
            [k.node(f"node-{c}", created=now - timedelta(days=40)) for c in "abc"],
        )
    )
    for probe in (RolloutsProbe, PodsProbe, NodesProbe):
        run = run_probe(probe, config=_config(kube_cluster))
        assert (run.outcome.status, run.findings) == (Status.OK, ()), probe.id


def test_helm_secrets_not_listable_is_reported_and_rollouts_still_checked(
    kube_cluster: KubeApiServer, now: datetime
) -> None:
    staged = _crashing_rollout(now)
    kube_cluster.load(Cluster.of(staged.objects(), forbidden_resources=["secrets"]))
    found = {f.kind: f for f in run_probe(RolloutsProbe, config=_config(kube_cluster)).findings}
    assert set(found) == {"rollout_unhealthy", "forbidden"}
    assert found["forbidden"].title == (
        "Not allowed to list secrets in all namespaces (cluster-wide), nor in namespace shop"
    )
    assert found["forbidden"].summary == "RBAC refused the cluster-wide list calls: they were not checked."
    kube_cluster.load(kube_cluster.cluster)  # forget the requests so far
    quiet = run_probe(RolloutsProbe, config=_config(kube_cluster), options={"helm": False})
    assert [f.kind for f in quiet.findings] == ["rollout_unhealthy"]
    assert kube_cluster.paths() and not any("/secrets" in p for p in kube_cluster.paths())


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
    [finding] = run_probe(PodsProbe, config=_config(kube_cluster), at=now - timedelta(minutes=90)).findings
    assert finding.kind == "crash_loop"
    assert "Pod state is as of now" in finding.summary
    # the same pods did not exist yet 4 hours ago
    assert run_probe(PodsProbe, config=_config(kube_cluster), at=now - timedelta(hours=4)).findings == ()


def test_diag_run_through_a_subprocess(kube_cluster: KubeApiServer, now: datetime, tmp_path: Path) -> None:
    staged = _crashing_rollout(now)
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


def test_in_cluster_outside_a_pod_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    run = run_probe(PodsProbe, config={"kubernetes": {"in_cluster": True}})
    assert (run.outcome.status, run.outcome.error_kind) == (Status.ERROR, ErrorKind.CONFIG)
    assert (run.outcome.error or "").startswith("cannot load the in-cluster service account")
