"""The summary links Kubernetes findings across objects: a webhook to the creations it blocks,
failing pods to the Service they leave without endpoints, an HPA at its maximum to the
throttling of the workload it scales. Findings come from the real probes over real HTTP."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

import pytest

from diagnostics import Entity, Finding, Severity, Status
from diagnostics.model import Evidence, ProbeOutcome, Report
from diagnostics.summary.build import summarize
from diagnostics.testing import ProbeRun, run_probe
from probes.kubernetes.admission import AdmissionProbe
from probes.kubernetes.autoscaling import AutoscalingProbe
from probes.kubernetes.pods import PodsProbe
from probes.kubernetes.replicas import ReplicasProbe
from probes.kubernetes.services import ServicesProbe
from tests.probes.kubernetes.conftest import crashing_rollout, kube_config
from tests.probes.kubernetes.healthy import healthy_shop
from tests.support import kube_around as a
from tests.support.kube_api import Cluster, KubeApiServer
from tests.support.kube_meta import ts

pytestmark = pytest.mark.integration


def report_of(runs: Iterable[ProbeRun], *extra: tuple[ProbeOutcome, Finding], at: datetime) -> Report:
    listed = list(runs)
    outcomes = [r.outcome for r in listed] + [o for o, _ in extra]
    findings = [f for r in listed for f in r.findings] + [f for _, f in extra]
    return Report(
        at=at,
        window=timedelta(hours=1),
        started_at=at,
        duration_s=1.0,
        probes=tuple(outcomes),
        findings=tuple(findings),
    )


def test_a_webhook_without_endpoints_explains_the_pod_creations_it_refuses(
    kube_cluster: KubeApiServer, now: datetime
) -> None:
    shop = healthy_shop(now)
    shop.objects["policy-slice"] = a.endpoint_slice(
        shop.objects["policy-svc"], shop.pods["policy"], ready=[False]
    )
    shop.objects["api-rs"]["status"]["conditions"] = [
        {
            "type": "ReplicaFailure",
            "status": "True",
            "reason": "FailedCreate",
            "message": 'Internal error occurred: failed calling webhook "pods.policy.example.com": failed to call '
            'webhook: Post "https://policy-webhook.policy-system.svc:443/validate?timeout=10s": no endpoints '
            'available for service "policy-webhook"',
            "lastTransitionTime": ts(now - timedelta(minutes=7)),
        }
    ]
    kube_cluster.load(Cluster.of(shop.all()))
    config = kube_config(kube_cluster)
    runs = [run_probe(AdmissionProbe, config=config), run_probe(ReplicasProbe, config=config)]
    summary = summarize(report_of(runs, at=now))
    [suspect] = summary.suspects
    webhook, blocked = runs[0].findings[0], runs[1].findings[0]
    assert (webhook.kind, blocked.kind) == ("webhook_no_endpoints", "replica_failure")
    assert (suspect.rule, suspect.cause, suspect.supports) == (
        "webhook_blocks_creations",
        webhook.fingerprint,
        (blocked.fingerprint,),
    )
    assert "Webhook pods.policy.example.com has no ready endpoint behind it" in suspect.reasoning


def test_a_service_without_ready_endpoints_is_explained_by_its_crashing_pods(
    kube_cluster: KubeApiServer, now: datetime
) -> None:
    staged = crashing_rollout(now)
    selector = {"app.kubernetes.io/name": "checkout"}
    svc = a.service("checkout", "shop", selector=selector, created=now - timedelta(days=30))
    crashing = staged.new_pods
    # only the crashing pods remain behind the Service (the old ones are gone)
    kube_cluster.load(
        Cluster.of(
            staged.deployment,
            staged.new_replica_set,
            crashing,
            staged.events,
            svc,
            a.endpoint_slice(svc, crashing),
            logs=staged.logs,
        )
    )
    config = kube_config(kube_cluster)
    runs = [run_probe(PodsProbe, config=config), run_probe(ServicesProbe, config=config)]
    crash = next(f for f in runs[0].findings if f.kind == "crash_loop")
    [no_endpoints] = runs[1].findings
    assert no_endpoints.kind == "service_no_ready_endpoints"
    suspects = {s.rule: s for s in summarize(report_of(runs, at=now)).suspects}
    linked = suspects["failing_pods_behind_service"]
    assert (linked.cause, linked.supports) == (crash.fingerprint, (no_endpoints.fingerprint,))
    assert "because the pods of shop/checkout behind it fail" in linked.reasoning


def test_an_autoscaler_at_its_maximum_explains_the_throttling_of_its_target(
    kube_cluster: KubeApiServer, now: datetime
) -> None:
    shop = healthy_shop(now)
    limited = now - timedelta(minutes=20)
    shop.objects["api-hpa"]["status"]["currentMetrics"][0]["resource"]["current"]["averageUtilization"] = 140
    shop.objects["api-hpa"]["status"]["conditions"][2] = a.hpa_condition(
        "ScalingLimited",
        "True",
        "TooManyReplicas",
        "the desired replica count is more than the maximum",
        since=limited,
    )
    kube_cluster.load(Cluster.of(shop.all()))
    run = run_probe(AutoscalingProbe, config=kube_config(kube_cluster))
    [at_max] = run.findings
    throttling = Finding(
        probe="resources.containers",
        kind="cpu_throttling",
        severity=Severity.WARNING,
        title="Container api of shop/api throttled in 38% of CFS periods",
        summary="",
        entity=Entity(kind="workload", name="shop/api", attributes={"namespace": "shop", "workload": "api"}),
        evidence=Evidence(),
        onset=now - timedelta(minutes=15),
    )
    outcome = ProbeOutcome(
        probe="resources.containers",
        checklist_item=run.outcome.checklist_item,
        status=Status.WARNING,
        duration_s=0.1,
    )
    [suspect] = summarize(report_of([run], (outcome, throttling), at=now)).suspects
    assert (suspect.rule, suspect.cause, suspect.supports) == (
        "autoscaler_at_max_under_load",
        at_max.fingerprint,
        (throttling.fingerprint,),
    )
    assert "5m before" in suspect.reasoning
