"""``workloads.storage``: volumes that cannot bind, are lost or failed; StatefulSets that cannot start.

Signals (one list call each): PersistentVolumeClaims, PersistentVolumes and StorageClasses
(cluster-scoped), StatefulSets (label selector); Services (metadata only) when there are
StatefulSets, and the events about claims (``involvedObject.kind=PersistentVolumeClaim``) when
one is Pending. Findings: a claim Pending longer than ``pending_after`` (2 min; critical when
its StorageClass does not exist) with the provisioner's event, a claim Lost (critical), a
volume Failed (warning), a StatefulSet whose claim templates name a missing StorageClass
(critical) or whose governing Service is missing (warning). See
:mod:`probes.kubernetes.judge_storage`.
"""

from __future__ import annotations

from datetime import timedelta

from diagnostics import ChecklistItem, Duration, Finding, ProbeContext, ProbeOptions
from probes.kubernetes.config import KubernetesSettings
from probes.kubernetes.contexts import KubernetesProbe


class StorageOptions(ProbeOptions):
    """Settings of ``workloads.storage``."""

    pending_after: Duration = timedelta(minutes=2)
    """A claim Pending this long (and not waiting for its first consumer) is a finding."""


class StorageProbe(KubernetesProbe):
    """Claims Pending or Lost, volumes Failed, StatefulSets missing a StorageClass or Service."""

    id = "workloads.storage"
    checklist_item = ChecklistItem.RESOURCES
    description = (
        "Kubernetes storage: PVCs Pending or Lost, PVs Failed, StatefulSets missing a StorageClass or Service"
    )
    options_model = StorageOptions

    def check(self, ctx: ProbeContext[StorageOptions], settings: KubernetesSettings) -> list[Finding]:
        """List claims, volumes, classes and StatefulSets once; judge them."""
        from probes.kubernetes.client import KubeApi
        from probes.kubernetes.client_cluster import collect_storage
        from probes.kubernetes.findings import kubectl_suffix, list_call_findings
        from probes.kubernetes.judge_storage import judge_storage

        options = ctx.options
        with KubeApi(settings, ctx) as api:
            data = collect_storage(api, settings)
            cluster = api.host
        suffix = kubectl_suffix(settings.context)
        return [
            *judge_storage(
                data,
                at=ctx.at,
                server_time=data.observed.server_time,
                pending_after_s=options.pending_after.total_seconds(),
                kubectl_suffix=suffix,
                make=ctx.finding,
            ),
            *list_call_findings(ctx, data.observed, cluster=cluster, kubectl_suffix=suffix),
        ]
