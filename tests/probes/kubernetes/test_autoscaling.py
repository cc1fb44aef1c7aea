"""``workloads.autoscaling``: staged incidents through the real client."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from diagnostics import Severity
from diagnostics.testing import run_probe
from probes.kubernetes.autoscaling import AutoscalingProbe
from tests.probes.kubernetes.conftest import kube_config
from tests.probes.kubernetes.healthy import healthy_shop
from tests.support import kube_around as a
from tests.support.kube_api import Cluster, KubeApiServer

pytestmark = pytest.mark.integration


def test_an_autoscaler_whose_target_is_missing(kube_cluster: KubeApiServer, now: datetime) -> None:
    shop = healthy_shop(now)
    shop.objects["web-hpa"]["spec"]["scaleTargetRef"]["name"] = "web-v2"
    kube_cluster.load(Cluster.of(shop.all()))
    [finding] = run_probe(AutoscalingProbe, config=kube_config(kube_cluster)).findings
    assert (finding.kind, finding.severity) == ("hpa_target_missing", Severity.WARNING)
    assert (
        finding.title
        == "HorizontalPodAutoscaler shop/web scales Deployment shop/web-v2, which does not exist"
    )


def test_an_autoscaler_of_pods_without_cpu_requests(kube_cluster: KubeApiServer, now: datetime) -> None:
    shop = healthy_shop(now)
    since = now - timedelta(minutes=40)
    shop.objects["web-hpa"]["status"]["conditions"][1] = a.hpa_condition(
        "ScalingActive",
        "False",
        "FailedGetResourceMetric",
        "the HPA was unable to compute the replica count: failed to get cpu utilization: "
        "missing request for cpu in container web of Pod web-5d8f",
        since=since,
    )
    kube_cluster.load(Cluster.of(shop.all()))
    [finding] = run_probe(AutoscalingProbe, config=kube_config(kube_cluster)).findings
    assert (finding.kind, finding.severity) == ("hpa_cannot_scale", Severity.WARNING)
    assert finding.title == (
        "HorizontalPodAutoscaler shop/web cannot scale Deployment shop/web: ScalingActive False (FailedGetResourceMetric)"
    )
    assert finding.onset == since
    assert "missing request for cpu" in finding.summary


def test_an_autoscaler_at_its_maximum_with_cpu_above_target(
    kube_cluster: KubeApiServer, now: datetime
) -> None:
    shop = healthy_shop(now)
    limited = now - timedelta(minutes=22)
    shop.objects["api-hpa"] = a.autoscaler(
        "api",
        "shop",
        target=("Deployment", "api"),
        created=now - timedelta(days=9),
        max_replicas=4,
        current_replicas=4,
        cpu_current=163,
        conditions=[
            a.hpa_condition(
                "AbleToScale", "True", "ReadyForNewScale", "recommended size matches", since=limited
            ),
            a.hpa_condition("ScalingActive", "True", "ValidMetricFound", "valid metric", since=limited),
            a.hpa_condition(
                "ScalingLimited",
                "True",
                "TooManyReplicas",
                "the desired replica count is more than the maximum",
                since=limited,
            ),
        ],
    )
    kube_cluster.load(Cluster.of(shop.all()))
    [finding] = run_probe(AutoscalingProbe, config=kube_config(kube_cluster)).findings
    assert (finding.kind, finding.severity) == ("hpa_at_max", Severity.WARNING)
    assert (
        finding.title
        == "HorizontalPodAutoscaler shop/api at its maximum of 4 replicas with cpu at 163% (target 70%)"
    )
    assert finding.onset == limited
    assert (finding.entity.kind, finding.entity.name) == ("workload", "shop/api")


def test_a_disruption_budget_that_allows_no_disruption(kube_cluster: KubeApiServer, now: datetime) -> None:
    shop = healthy_shop(now)
    shop.objects["web-pdb"] = a.disruption_budget(
        "web",
        "shop",
        selector={"app.kubernetes.io/name": "web"},
        created=now - timedelta(days=9),
        min_available=3,
        expected=3,
        healthy=3,
    )
    kube_cluster.load(Cluster.of(shop.all()))
    [finding] = run_probe(AutoscalingProbe, config=kube_config(kube_cluster)).findings
    assert (finding.kind, finding.severity) == ("pdb_blocks_disruption", Severity.WARNING)
    assert finding.title == (
        "PodDisruptionBudget shop/web allows no disruption: 3 of 3 pods healthy, 3 required (minAvailable 3)"
    )
    assert "leaves no pod to spare" in finding.summary
