"""``workloads.storage`` and ``workloads.batch``: staged incidents through the real client."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from diagnostics import Severity
from diagnostics.testing import run_probe
from probes.kubernetes.batch import BatchProbe
from probes.kubernetes.storage import StorageProbe
from tests.probes.kubernetes.conftest import kube_config
from tests.probes.kubernetes.healthy import healthy_shop
from tests.support import kube_around as a
from tests.support import kube_objects as k
from tests.support.kube_api import Cluster, KubeApiServer

pytestmark = pytest.mark.integration


def test_a_pending_claim_with_the_provisioners_event(kube_cluster: KubeApiServer, now: datetime) -> None:
    shop = healthy_shop(now)
    # over 10 minutes: whole minutes, so the second the probe runs in does not show
    created = now - timedelta(minutes=19)
    pvc = a.claim("uploads", "shop", created=created, storage_class="io2", phase="Pending")
    message = (
        'failed to provision volume with StorageClass "io2": rpc error: code = Internal desc = '
        "Could not create volume: VolumeLimitExceeded"
    )
    failed = k.event(
        pvc,
        reason="ProvisioningFailed",
        message=message,
        first=created + timedelta(seconds=5),
        last=now - timedelta(minutes=1),
        count=11,
        component="ebs.csi.aws.com_ebs-csi-controller-7d4f",
    )
    kube_cluster.load(Cluster.of(shop.all(), pvc, failed))
    [finding] = run_probe(StorageProbe, config=kube_config(kube_cluster)).findings
    assert (finding.kind, finding.severity) == ("pvc_pending", Severity.WARNING)
    assert (
        finding.title == f"PersistentVolumeClaim shop/uploads Pending for 19m: ProvisioningFailed: {message}"
    )
    assert finding.onset == created
    assert finding.evidence.details["event"]["count"] == 11
    assert "Provisioner: ebs.csi.aws.com." in finding.summary


def test_a_claim_of_a_missing_storage_class_is_critical(kube_cluster: KubeApiServer, now: datetime) -> None:
    shop = healthy_shop(now)
    pvc = a.claim(
        "cache", "shop", created=now - timedelta(minutes=30), storage_class="fast-ssd", phase="Pending"
    )
    kube_cluster.load(Cluster.of(shop.all(), pvc))
    [finding] = run_probe(StorageProbe, config=kube_config(kube_cluster)).findings
    assert (finding.kind, finding.severity) == ("pvc_pending", Severity.CRITICAL)
    assert finding.title.endswith("Pending for 30m: StorageClass fast-ssd does not exist")


def test_a_lost_claim_and_a_failed_volume(kube_cluster: KubeApiServer, now: datetime) -> None:
    shop = healthy_shop(now)
    shop.objects["pvc-2"]["status"]["phase"] = "Lost"
    del shop.objects["pv-2"]
    old = a.claim("old-logs", "shop", created=now - timedelta(days=90))
    released = a.volume(
        old,
        created=now - timedelta(days=90),
        phase="Failed",
        message="error deleting EBS volume: VolumeInUse: vol-0a1b2c is attached to i-0f9e8d",
    )
    kube_cluster.load(Cluster.of(shop.all(), released))
    findings = {f.kind: f for f in run_probe(StorageProbe, config=kube_config(kube_cluster)).findings}
    assert sorted(findings) == ["pv_failed", "pvc_lost"]
    assert findings["pvc_lost"].severity is Severity.CRITICAL
    assert findings["pvc_lost"].title.startswith("PersistentVolumeClaim shop/data-orders-db-2 is Lost")
    assert findings["pv_failed"].title.endswith(
        "error deleting EBS volume: VolumeInUse: vol-0a1b2c is attached to i-0f9e8d"
    )


def test_a_stateful_set_missing_its_storage_class_and_service(
    kube_cluster: KubeApiServer, now: datetime
) -> None:
    shop = healthy_shop(now)
    template = k.pod_template("events-db", [k.container("postgres", "postgres:16.3")])
    revision = k.revision_name("events-db", template)
    sts = k.stateful_set(
        "events-db",
        "shop",
        template=template,
        created=now - timedelta(hours=2),
        current_revision=revision,
        update_revision=revision,
        ready=0,
        volume_claims={"data": "premium-rwo", "wal": "gp3"},
        service_name="events-db-headless",
    )
    kube_cluster.load(Cluster.of(shop.all(), sts))
    findings = {f.kind: f for f in run_probe(StorageProbe, config=kube_config(kube_cluster)).findings}
    assert sorted(findings) == ["statefulset_service_missing", "statefulset_storage_class_missing"]
    missing_class = findings["statefulset_storage_class_missing"]
    assert (
        missing_class.title
        == "StatefulSet shop/events-db claims storage from missing StorageClass premium-rwo"
    )
    assert missing_class.evidence.details["claim_templates"] == ["data"]
    assert findings["statefulset_service_missing"].entity.name == "shop/events-db"


def test_a_failed_job_in_the_window(kube_cluster: KubeApiServer, now: datetime) -> None:
    shop = healthy_shop(now)
    failed_at = now - timedelta(minutes=14)
    job = a.job(
        "reindex-9f2", "shop", started=failed_at - timedelta(minutes=5), finished=failed_at, failed=True
    )
    kube_cluster.load(Cluster.of(shop.all(), job))
    [finding] = run_probe(BatchProbe, config=kube_config(kube_cluster)).findings
    assert (finding.kind, finding.severity) == ("job_failed", Severity.WARNING)
    assert finding.title == (
        "Job shop/reindex-9f2 failed: BackoffLimitExceeded (Job has reached the specified backoff limit)"
    )
    assert finding.onset == failed_at
    assert finding.evidence.details["failed_pods"] == 3


def test_a_cron_job_whose_last_runs_failed(kube_cluster: KubeApiServer, now: datetime) -> None:
    shop = healthy_shop(now)
    last = now.replace(second=0) - timedelta(minutes=now.minute % 15)
    cron = a.cron_job(
        "sync", "shop", schedule="*/15 * * * *", created=now - timedelta(days=20), last_schedule=last
    )
    runs = a.cron_runs(
        cron,
        every=timedelta(minutes=15),
        last=last - timedelta(minutes=15),
        outcomes=[True, False, False, False],
    )
    kube_cluster.load(Cluster.of(shop.all(), cron, runs))
    [finding] = run_probe(BatchProbe, config=kube_config(kube_cluster)).findings
    assert (finding.kind, finding.severity) == ("cronjob_failing", Severity.CRITICAL)
    assert finding.title.startswith("CronJob shop/sync: the last 3 runs failed, latest sync-")
    first_failure = runs[1]["status"]["conditions"][-1]["lastTransitionTime"]
    assert finding.evidence.details["failed_runs"][0]["finished"] == first_failure
    assert finding.onset is not None and finding.onset.isoformat().startswith(first_failure[:16])


def test_a_cron_job_that_has_not_been_scheduled_when_due(kube_cluster: KubeApiServer, now: datetime) -> None:
    shop = healthy_shop(now)
    stopped = now.replace(second=0) - timedelta(minutes=now.minute % 5) - timedelta(minutes=35)
    cron = a.cron_job(
        "exporter",
        "shop",
        schedule="*/5 * * * *",
        created=now - timedelta(days=20),
        last_schedule=stopped,
        active=["exporter-29871"],
    )
    kube_cluster.load(Cluster.of(shop.all(), cron))
    [finding] = run_probe(BatchProbe, config=kube_config(kube_cluster)).findings
    assert (finding.kind, finding.severity) == ("cronjob_missed", Severity.WARNING)
    assert finding.onset == stopped + timedelta(minutes=5)
    missed = finding.evidence.values[0].value
    assert missed in (6, 7)  # every 5 min since 35 min ago, the last due within the 5 min grace excluded
    assert "A run is still active (exporter-29871) and concurrencyPolicy is Forbid." in finding.summary


def test_a_suspended_cron_job_is_only_information(kube_cluster: KubeApiServer, now: datetime) -> None:
    shop = healthy_shop(now)
    shop.objects["cleanup"]["spec"]["suspend"] = True
    kube_cluster.load(Cluster.of(shop.all()))
    [finding] = run_probe(BatchProbe, config=kube_config(kube_cluster)).findings
    assert (finding.kind, finding.severity) == ("cronjob_suspended", Severity.INFO)
