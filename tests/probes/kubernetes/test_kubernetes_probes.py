"""Staged rollouts and crashing pods through the real ``kubernetes`` client over real HTTP (tests/support/kube_api.py)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from diagnostics import Severity, Status
from diagnostics.testing import run_probe
from probes.kubernetes.history import value_hash
from probes.kubernetes.nodes import NodesProbe
from probes.kubernetes.pods import PodsProbe
from probes.kubernetes.rollouts import RolloutsProbe
from tests.probes.kubernetes.conftest import V142, V150, crashing_rollout, kube_config, leaks
from tests.support import kube_objects as k
from tests.support.kube_api import TOKEN, Cluster, KubeApiServer

pytestmark = pytest.mark.integration


def test_rollout_of_v1_5_0_whose_new_pods_crash_loop(kube_cluster: KubeApiServer, now: datetime) -> None:
    staged = crashing_rollout(now)
    kube_cluster.load(Cluster.of(staged.objects(), logs=staged.logs))

    rollouts = run_probe(RolloutsProbe, config=kube_config(kube_cluster))
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

    pods = run_probe(PodsProbe, config=kube_config(kube_cluster))
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
    # the new pods have crashed since they started: the loop began with the first of them
    first_start = min(p["status"]["startTime"] for p in staged.new_pods)
    assert crash.onset is not None and k.ts(crash.onset) == first_start
    assert rollout.onset is not None and crash.onset >= rollout.onset
    assert leaks(rollouts, TOKEN) == [] and leaks(pods, TOKEN, "s3cr3t-pw") == []
    assert "postgres://checkout:***@orders-db:5432/orders" in crash.evidence.details["log_tail"]["lines"][0]
    # a handful of list calls, one log read, no call per object
    paths = kube_cluster.paths()
    assert len(paths) <= 8 and sum(p.endswith("/log") for p in paths) == 1


def test_environment_values_never_leave_the_cluster(kube_cluster: KubeApiServer, now: datetime) -> None:
    webhook = "https://hooks.slack.com/services/T0AAA/B0BBB/XXXXXXXXXXXXXXXXXXXXXXXX"
    stripe = "sk_live_51H8aBcDeFgHiJkLmNoPqRsTuVwXyZ"
    staged = k.deployment_rollout(
        "checkout",
        "shop",
        old_image=V142,
        new_image=V150,
        rolled_out_at=now - timedelta(minutes=10),
        old_env={
            "LOG_LEVEL": "info",
            "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T0AAA/B0BBB/old",
        },
        new_env={"LOG_LEVEL": "info", "SLACK_WEBHOOK_URL": webhook, "STRIPE_SK": stripe},
    )
    kube_cluster.load(Cluster.of(staged.objects()))
    run = run_probe(RolloutsProbe, config=kube_config(kube_cluster))
    [finding] = run.findings
    assert {e["name"]: e["change"] for e in finding.evidence.details["env"]} == {
        "SLACK_WEBHOOK_URL": "changed",
        "STRIPE_SK": "added",
    }
    assert leaks(run, webhook, stripe, "hooks.slack.com", "sk_live") == []


def test_an_old_rollout_outside_the_window_is_not_reported(
    kube_cluster: KubeApiServer, now: datetime
) -> None:
    staged = k.deployment_rollout(
        "checkout", "shop", old_image=V142, new_image=V150, rolled_out_at=now - timedelta(hours=3)
    )
    kube_cluster.load(Cluster.of(staged.objects()))
    run = run_probe(RolloutsProbe, config=kube_config(kube_cluster))
    assert (run.outcome.status, run.findings) == (Status.OK, ())
    wide = run_probe(RolloutsProbe, config=kube_config(kube_cluster), window="4h")
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
    [finding] = run_probe(RolloutsProbe, config=kube_config(kube_cluster)).findings
    assert (finding.kind, finding.severity) == ("rollout_stuck", Severity.CRITICAL)
    assert finding.title == (
        "Deployment shop/search rolled out 25m ago: revision 11 → 12, search v2.0.0 → v2.0.1; stuck (ProgressDeadlineExceeded)"
    )
    assert "has timed out progressing" in finding.summary
    assert finding.next_steps[0] == "kubectl rollout undo deployment/search -n shop --to-revision=11"


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
            k.controller_revision(sts, template=new, revision=5, created=now - timedelta(minutes=13)),
        )
    )
    [finding] = run_probe(RolloutsProbe, config=kube_config(kube_cluster)).findings
    assert (finding.kind, finding.severity) == ("rollout", Severity.WARNING)
    assert (
        finding.title == "StatefulSet data/orders-db rolled out 13m ago: revision 4 → 5, postgres 16.2 → 16.3"
    )
    assert finding.evidence.details["env"] == [
        {
            "container": "postgres",
            "name": "SHARED_BUFFERS",
            "change": "added",
            "old": None,
            "new": f"literal #{value_hash('2GB')}",
        }
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
    run = run_probe(RolloutsProbe, config=kube_config(kube_cluster))
    [finding] = run.findings
    assert (finding.kind, finding.severity) == ("helm_upgrade", Severity.WARNING)
    assert (
        finding.title
        == "Helm release shop/checkout upgraded to revision 4 (chart checkout-1.4.3 → checkout-1.5.0) 11m ago: deployed"
    )
    assert finding.evidence.details["app_version"] == "v1.5.0"
    assert finding.next_steps[0] == "helm rollback checkout 3 -n shop"
    assert leaks(run, "hunter2-helm-value") == []
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
    [finding] = run_probe(RolloutsProbe, config=kube_config(kube_cluster), at=at).findings
    assert finding.title == "Deployment shop/api rolled out 20m before --at: revision 1 → 2, api 2.0 → 2.1"
    assert finding.evidence.details["state"] == "superseded"
    assert "as of now" in finding.summary
    assert finding.next_steps[0] == "kubectl rollout undo deployment/api -n shop --to-revision=1"


def test_the_label_selector_limits_workloads_and_pods(kube_cluster: KubeApiServer, now: datetime) -> None:
    backend = crashing_rollout(now)
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
    config = kube_config(kube_cluster, label_selector="tier=backend")
    for probe in (RolloutsProbe, PodsProbe):
        run = run_probe(probe, config=config)
        assert {f.entity.name for f in run.findings} == {"shop/checkout"}
    listed = {r.path: r.query for r in kube_cluster.requests}
    assert listed["/apis/apps/v1/deployments"]["labelSelector"] == "tier=backend"
    assert listed["/api/v1/pods"]["labelSelector"] == "tier=backend"
    assert "labelSelector" not in listed["/apis/apps/v1/replicasets"]  # matched to owners by uid


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
        run = run_probe(probe, config=kube_config(kube_cluster))
        assert (run.outcome.status, run.findings) == (Status.OK, ()), probe.id
