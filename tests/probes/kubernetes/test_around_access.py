"""RBAC and reach for the probes of the objects around workloads: what is refused is reported per
resource type, what is unknown is never called missing, a probe refused everything is an error,
and secrets never show up."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from diagnostics import ErrorKind, Status
from diagnostics.testing import run_probe
from probes.kubernetes.batch import BatchProbe
from probes.kubernetes.client import SERVICES, Listing
from probes.kubernetes.client_cluster import Catalog
from probes.kubernetes.objects import Forbidden
from probes.kubernetes.services import ServicesProbe
from probes.kubernetes.storage import StorageProbe
from tests.probes.kubernetes.conftest import kube_config, leaks
from tests.probes.kubernetes.healthy import healthy_shop
from tests.support import kube_around as a
from tests.support.kube_api import TOKEN, Cluster, KubeApiServer

pytestmark = pytest.mark.integration


def listing(
    *forbidden: Forbidden, namespaces: tuple[str, ...] = (), readable: int = 1, truncated: bool = False
) -> Listing:
    return Listing(
        resource=SERVICES,
        items=({"metadata": {"namespace": "shop", "name": "web"}},),
        forbidden=forbidden,
        readable_scopes=readable,
        namespaces=namespaces,
        truncated=truncated,
    )


def test_missing_means_looked_for_where_it_could_be_seen() -> None:
    everywhere = Catalog.of(listing())
    assert everywhere.missing("shop", "api") and not everywhere.missing("shop", "web")
    refused = Forbidden(resource="services", namespace="payments", message="forbidden")
    assert not Catalog.of(listing(refused)).missing("payments", "api")
    assert not Catalog.of(listing(namespaces=("shop",))).missing("ops", "api")
    cluster_wide = Forbidden(resource="services", namespace=None, message="forbidden", read_instead="shop")
    fell_back = Catalog.of(listing(cluster_wide))
    assert fell_back.missing("shop", "api") and not fell_back.missing("ops", "api")
    assert not Catalog.of(listing(readable=0)).missing("shop", "api")
    assert not Catalog.of(listing(truncated=True)).missing("shop", "api")


def test_refused_storage_classes_are_reported_and_not_called_missing(
    kube_cluster: KubeApiServer, now: datetime
) -> None:
    shop = healthy_shop(now)
    pvc = a.claim(
        "cache", "shop", created=now - timedelta(minutes=30), storage_class="fast-ssd", phase="Pending"
    )
    kube_cluster.load(Cluster.of(shop.all(), pvc, forbidden_resources={"storageclasses"}))
    findings = {f.kind: f for f in run_probe(StorageProbe, config=kube_config(kube_cluster)).findings}
    assert sorted(findings) == ["forbidden", "pvc_pending"]
    assert (
        findings["forbidden"].title == "Not allowed to list storageclasses in all namespaces (cluster-wide)"
    )
    assert findings["pvc_pending"].title.endswith("Pending for 30m: no provisioner event")


def test_a_probe_refused_every_list_call_ends_in_a_permission_error(
    kube_cluster: KubeApiServer, now: datetime
) -> None:
    kube_cluster.load(Cluster.of(healthy_shop(now).all(), forbidden_resources={"jobs", "cronjobs"}))
    run = run_probe(BatchProbe, config=kube_config(kube_cluster))
    assert run.outcome.status is Status.ERROR
    assert run.outcome.error_kind is ErrorKind.PERMISSION
    assert "not allowed to list jobs, cronjobs" in (run.outcome.error or "")


def test_the_services_probe_reads_secret_names_only_and_never_prints_them(
    kube_cluster: KubeApiServer, now: datetime
) -> None:
    kube_cluster.load(Cluster.of(healthy_shop(now).all()))
    run = run_probe(ServicesProbe, config=kube_config(kube_cluster))
    secret_calls = [r for r in kube_cluster.requests if r.path.endswith("/secrets")]
    assert [r.accept.split(";")[1] for r in secret_calls] == ["as=PartialObjectMetadataList"]
    assert leaks(run, TOKEN, "LS0tLS1CRUdJTi0tLS0t") == []
