"""``workloads.replicas``: workloads short of replicas, whether or not anything was rolled out.

Signals (four list calls: Deployments, StatefulSets, DaemonSets and ReplicaSets, with the label
selector; a fifth, pods, only when a workload has fewer replicas available than desired): a Deployment whose ``Progressing`` condition is ``ProgressDeadlineExceeded``
(critical, dated from the condition's transition); a ReplicaSet whose ``ReplicaFailure``
condition says the controller cannot create pods (critical, with the message: quota exceeded,
a webhook refusing); fewer replicas available than desired for longer than ``grace`` (5 min),
dated by the unready pods' ``Ready`` transitions (critical when none is available, a warning
otherwise). See :mod:`probes.kubernetes.judge_replicas`.
"""

from __future__ import annotations

from datetime import timedelta

from diagnostics import ChecklistItem, Duration, Finding, ProbeContext, ProbeOptions
from probes.kubernetes.config import KubernetesSettings
from probes.kubernetes.contexts import KubernetesProbe


class ReplicasOptions(ProbeOptions):
    """Settings of ``workloads.replicas``."""

    grace: Duration = timedelta(minutes=5)
    """Replicas missing for less than this are a scale-up or restart in progress, not a finding."""


class ReplicasProbe(KubernetesProbe):
    """Deployments, StatefulSets and DaemonSets stuck, unable to create pods, or short of replicas."""

    id = "workloads.replicas"
    checklist_item = ChecklistItem.RESOURCES
    description = (
        "Kubernetes workloads short of replicas, stuck past their progress deadline, or unable to create pods"
    )
    options_model = ReplicasOptions

    def check(self, ctx: ProbeContext[ReplicasOptions], settings: KubernetesSettings) -> list[Finding]:
        """List workloads, ReplicaSets and pods once; judge each workload's replicas."""
        from probes.kubernetes.client import KubeApi
        from probes.kubernetes.client_cluster import collect_replicas
        from probes.kubernetes.findings import kubectl_suffix, list_call_findings
        from probes.kubernetes.judge_replicas import ReplicaLimits, judge_replicas

        options = ctx.options
        with KubeApi(settings, ctx) as api:
            data = collect_replicas(api, settings)
            cluster = api.host
        suffix = kubectl_suffix(settings.context)
        return [
            *judge_replicas(
                data.workloads,
                data.replica_sets,
                data.pods,
                at=ctx.at,
                server_time=data.observed.server_time,
                limits=ReplicaLimits(grace_s=options.grace.total_seconds(), kubectl_suffix=suffix),
                queries=data.observed.queries,
                make=ctx.finding,
            ),
            *list_call_findings(ctx, data.observed, cluster=cluster, kubectl_suffix=suffix),
        ]
