"""``workloads.services`` and ``workloads.admission``: staged incidents through the real client."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from diagnostics import Severity
from diagnostics.testing import run_probe
from probes.kubernetes.admission import AdmissionProbe
from probes.kubernetes.services import ServicesProbe
from tests.probes.kubernetes.conftest import kube_config
from tests.probes.kubernetes.healthy import healthy_shop
from tests.support import kube_around as a
from tests.support.kube_api import Cluster, KubeApiServer

pytestmark = pytest.mark.integration


def test_a_service_whose_selector_matches_no_pod(kube_cluster: KubeApiServer, now: datetime) -> None:
    shop = healthy_shop(now)
    shop.objects["web-svc"]["spec"]["selector"] = {"app.kubernetes.io/name": "web-frontend"}
    del shop.objects["web-slice"]
    kube_cluster.load(Cluster.of(shop.all()))
    [finding] = run_probe(ServicesProbe, config=kube_config(kube_cluster)).findings
    assert (finding.kind, finding.severity) == (
        "service_no_pods",
        Severity.CRITICAL,
    )  # the Ingress routes to it
    assert finding.title == "Service shop/web selects no pod (app.kubernetes.io/name=web-frontend)"
    assert finding.evidence.details["similar_pods"][0].startswith(
        "Deployment shop/api (app.kubernetes.io/name=api)"
    )
    assert "Deployment shop/web (app.kubernetes.io/name=web)" in finding.evidence.details["similar_pods"]
    assert finding.evidence.details["ingresses"] == ["web (shop.example.com/)"]


def test_a_service_whose_pods_are_all_unready(kube_cluster: KubeApiServer, now: datetime) -> None:
    shop = healthy_shop(now)
    shop.objects["web-slice"] = a.endpoint_slice(
        shop.objects["web-svc"], shop.pods["web"], ready=[False] * len(shop.pods["web"])
    )
    kube_cluster.load(Cluster.of(shop.all()))
    [finding] = run_probe(ServicesProbe, config=kube_config(kube_cluster)).findings
    assert (finding.kind, finding.severity) == ("service_no_ready_endpoints", Severity.CRITICAL)
    assert (
        finding.title
        == "Service shop/web has no ready endpoint: 3 pods of Deployment shop/web selected, none ready"
    )
    assert finding.evidence.details["workloads"] == ["shop/web"]
    assert sorted(finding.evidence.details["not_ready_pods"]) == sorted(
        p["metadata"]["name"] for p in shop.pods["web"]
    )
    assert finding.entity.attributes["workload"] == "shop/web"


def test_an_ingress_with_a_missing_backend_class_and_secret(
    kube_cluster: KubeApiServer, now: datetime
) -> None:
    shop = healthy_shop(now)
    shop.objects["admin-ingress"] = a.ingress(
        "admin",
        "shop",
        backends={"admin.example.com/": "admin", "admin.example.com/api": "api"},
        created=now - timedelta(hours=3),
        class_name="nginx-internal",
        tls_secret="admin-tls",
    )
    kube_cluster.load(Cluster.of(shop.all()))
    findings = {f.kind: f for f in run_probe(ServicesProbe, config=kube_config(kube_cluster)).findings}
    assert sorted(findings) == [
        "ingress_backend_missing",
        "ingress_class_missing",
        "ingress_tls_secret_missing",
    ]
    backend = findings["ingress_backend_missing"]
    assert (backend.severity, backend.title) == (
        Severity.CRITICAL,
        "Ingress shop/admin routes to missing Service admin",
    )
    assert backend.evidence.details["missing"] == [
        {"service": "admin", "port": "80", "host": "admin.example.com", "path": "/"}
    ]
    assert findings["ingress_class_missing"].title == (
        "Ingress shop/admin names IngressClass nginx-internal, which does not exist"
    )
    assert findings["ingress_tls_secret_missing"].severity is Severity.WARNING
    assert findings["ingress_tls_secret_missing"].evidence.details["missing_secrets"] == ["admin-tls"]


def test_forbidden_ingresses_are_reported_while_services_are_checked(
    kube_cluster: KubeApiServer, now: datetime
) -> None:
    shop = healthy_shop(now)
    shop.objects["web-slice"] = a.endpoint_slice(shop.objects["web-svc"], shop.pods["web"], ready=[False] * 3)
    kube_cluster.load(Cluster.of(shop.all(), forbidden_resources={"ingresses"}))
    findings = {f.kind: f for f in run_probe(ServicesProbe, config=kube_config(kube_cluster)).findings}
    assert sorted(findings) == ["forbidden", "service_no_ready_endpoints"]
    assert findings["forbidden"].title.startswith("Not allowed to list ingresses")


def test_nothing_is_called_missing_in_a_namespace_rbac_refuses(
    kube_cluster: KubeApiServer, now: datetime
) -> None:
    shop = healthy_shop(now)
    kube_cluster.load(Cluster.of(shop.all(), forbidden_namespaces={"policy-system"}))
    run = run_probe(AdmissionProbe, config=kube_config(kube_cluster, namespaces=["shop", "policy-system"]))
    assert [f.kind for f in run.findings] == ["forbidden"]


def test_a_webhook_whose_service_has_no_ready_endpoint_blocks_creations(
    kube_cluster: KubeApiServer, now: datetime
) -> None:
    shop = healthy_shop(now)
    shop.objects["policy-slice"] = a.endpoint_slice(
        shop.objects["policy-svc"], shop.pods["policy"], ready=[False]
    )
    kube_cluster.load(Cluster.of(shop.all()))
    [finding] = run_probe(AdmissionProbe, config=kube_config(kube_cluster)).findings
    assert (finding.kind, finding.severity) == ("webhook_no_endpoints", Severity.CRITICAL)
    assert finding.title == (
        "ValidatingWebhookConfiguration policy-validating calls Service policy-system/policy-webhook, "
        "which has no ready endpoint (failurePolicy Fail)"
    )
    assert finding.summary.startswith("The API server refuses CREATE/UPDATE of pods in every namespace")
    assert finding.evidence.details["webhooks"] == ["pods.policy.example.com"]


def test_a_webhook_with_ignore_calling_a_missing_service_is_a_warning(
    kube_cluster: KubeApiServer, now: datetime
) -> None:
    shop = healthy_shop(now)
    shop.objects["mutator"] = a.webhook_configuration(
        "sidecar-injector",
        kind="MutatingWebhookConfiguration",
        service=("mesh-system", "injector"),
        created=now - timedelta(days=3),
        failure_policy="Ignore",
    )
    kube_cluster.load(Cluster.of(shop.all()))
    [finding] = run_probe(AdmissionProbe, config=kube_config(kube_cluster)).findings
    assert (finding.kind, finding.severity) == ("webhook_service_missing", Severity.WARNING)
    assert "Service mesh-system/injector, which does not exist (failurePolicy Ignore)" in finding.title
