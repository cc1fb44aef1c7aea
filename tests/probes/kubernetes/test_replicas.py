"""``workloads.replicas``: staged incidents through the real client over real HTTP."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from diagnostics import Severity
from diagnostics.testing import run_probe
from probes.kubernetes.replicas import ReplicasProbe
from tests.probes.kubernetes.conftest import kube_config
from tests.probes.kubernetes.healthy import healthy_shop
from tests.support import kube_objects as k
from tests.support.kube_api import Cluster, KubeApiServer
from tests.support.kube_meta import ts

pytestmark = pytest.mark.integration


def test_replicas_unavailable_long_after_the_last_rollout(kube_cluster: KubeApiServer, now: datetime) -> None:
    shop = healthy_shop(now)
    web = shop.objects["web"]
    web["status"] |= {"readyReplicas": 1, "availableReplicas": 1, "unavailableReplicas": 2}
    went_down = now - timedelta(minutes=17)
    for pod in shop.pods["web"][1:]:
        pod["status"]["containerStatuses"][0]["ready"] = False
        for condition in pod["status"]["conditions"]:
            if condition["type"] in ("Ready", "ContainersReady"):
                condition |= {
                    "status": "False",
                    "reason": "ContainersNotReady",
                    "lastTransitionTime": ts(went_down),
                }
    kube_cluster.load(Cluster.of(shop.all()))
    [finding] = run_probe(ReplicasProbe, config=kube_config(kube_cluster)).findings
    assert (finding.kind, finding.severity) == ("replicas_unavailable", Severity.WARNING)
    assert finding.title == "Deployment shop/web has 1 of 3 replicas available for 17m"
    assert finding.onset == went_down
    assert finding.entity.name == "shop/web"
    assert sorted(p["pod"] for p in finding.evidence.details["unready_pods"]) == sorted(
        p["metadata"]["name"] for p in shop.pods["web"][1:]
    )


def test_progress_deadline_dated_from_the_condition_not_the_revision(
    kube_cluster: KubeApiServer, now: datetime
) -> None:
    shop = healthy_shop(now)
    # 12 minutes: from 10 on, the title's age has no seconds, so a slow run cannot make it 12m01s
    stuck_since = now - timedelta(minutes=12)
    shop.objects["web"]["status"]["conditions"] = [
        k.condition(
            "Progressing",
            "False",
            "ProgressDeadlineExceeded",
            'ReplicaSet "web-7d9f" has timed out progressing.',
            since=stuck_since,
        )
    ]
    kube_cluster.load(Cluster.of(shop.all()))
    [finding] = run_probe(ReplicasProbe, config=kube_config(kube_cluster)).findings
    assert (finding.kind, finding.severity) == ("progress_deadline_exceeded", Severity.CRITICAL)
    assert finding.onset == stuck_since  # the revision is 9 days old
    assert finding.title.startswith("Deployment shop/web exceeded its progress deadline 12m ago")
    assert "has timed out progressing" in finding.summary


def test_a_replica_set_that_cannot_create_pods_over_quota(kube_cluster: KubeApiServer, now: datetime) -> None:
    shop = healthy_shop(now)
    refused_since = now - timedelta(minutes=6)
    message = (
        'pods "api-6b8f9-x2x9z" is forbidden: exceeded quota: compute, requested: limits.memory=512Mi, '
        "used: limits.memory=2Gi, limited: limits.memory=2Gi"
    )
    rs = shop.objects["api-rs"]
    rs["status"]["conditions"] = [
        {
            "type": "ReplicaFailure",
            "status": "True",
            "reason": "FailedCreate",
            "message": message,
            "lastTransitionTime": ts(refused_since),
        }
    ]
    kube_cluster.load(Cluster.of(shop.all()))
    [finding] = run_probe(ReplicasProbe, config=kube_config(kube_cluster)).findings
    assert (finding.kind, finding.severity) == ("replica_failure", Severity.CRITICAL)
    assert finding.title == f"Deployment shop/api cannot create pods (FailedCreate): {message}"
    assert finding.onset == refused_since
    assert finding.evidence.details["replica_sets"][0]["name"] == rs["metadata"]["name"]


def test_a_daemon_set_with_no_pod_available_is_critical(kube_cluster: KubeApiServer, now: datetime) -> None:
    shop = healthy_shop(now)
    template = k.pod_template("log-agent", [k.container("agent", "registry.example.com/ops/agent:3.2")])
    ds = k.daemon_set(
        "log-agent", "ops", template=template, created=now - timedelta(days=30), desired=2, available=0
    )
    crashed = now - timedelta(minutes=25)
    pods = [
        k.restarted_pod(
            ds,
            template=template,
            created=now - timedelta(days=3),
            node=f"node-{i}",
            reason="Error",
            exit_code=2,
            started=crashed,
            finished=crashed + timedelta(seconds=2),
            restarts=9,
            crash_looping=True,
        )
        for i in range(2)
    ]
    for pod in pods:
        for condition in pod["status"]["conditions"]:
            if condition["type"] == "Ready":
                condition["lastTransitionTime"] = ts(crashed)
    kube_cluster.load(Cluster.of(shop.all(), ds, pods))
    [finding] = run_probe(ReplicasProbe, config=kube_config(kube_cluster)).findings
    assert (finding.kind, finding.severity) == ("replicas_unavailable", Severity.CRITICAL)
    assert finding.title == "DaemonSet ops/log-agent has 0 of 2 replicas available for 25m"


def test_a_deployment_not_ready_for_less_than_the_grace_period_is_silent(
    kube_cluster: KubeApiServer, now: datetime
) -> None:
    shop = healthy_shop(now)
    shop.objects["web"]["status"] |= {"availableReplicas": 2, "readyReplicas": 2}
    pod = shop.pods["web"][0]
    for condition in pod["status"]["conditions"]:
        if condition["type"] == "Ready":
            condition |= {"status": "False", "lastTransitionTime": ts(now - timedelta(minutes=2))}
    kube_cluster.load(Cluster.of(shop.all()))
    assert run_probe(ReplicasProbe, config=kube_config(kube_cluster)).findings == ()
    late = run_probe(ReplicasProbe, config=kube_config(kube_cluster), options={"grace": "1m"}).findings
    assert [f.kind for f in late] == ["replicas_unavailable"]


def test_diagnosing_the_past_says_the_state_is_as_of_now(kube_cluster: KubeApiServer, now: datetime) -> None:
    shop = healthy_shop(now)
    shop.objects["web"]["status"]["conditions"] = [
        k.condition(
            "Progressing",
            "False",
            "ProgressDeadlineExceeded",
            'ReplicaSet "web-7d9f" has timed out progressing.',
            since=now - timedelta(days=2),
        )
    ]
    kube_cluster.load(Cluster.of(shop.all()))
    [finding] = run_probe(
        ReplicasProbe, config=kube_config(kube_cluster), at=now - timedelta(hours=3)
    ).findings
    assert finding.kind == "progress_deadline_exceeded"
    assert "Workload state is as of now" in finding.summary
    assert "not as of --at" in finding.summary
