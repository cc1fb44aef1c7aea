"""``workloads.autoscaling``: autoscalers that cannot scale or are at their limit; budgets that block drains.

Signals (one list call each): HorizontalPodAutoscalers (autoscaling/v2), PodDisruptionBudgets
(policy/v1), and the metadata of each kind of workload the HPAs target (Deployments,
StatefulSets, ReplicaSets: at most three calls). Findings (warnings): an HPA whose target does
not exist, whose ``AbleToScale`` or ``ScalingActive`` is False, or that sits at ``maxReplicas``
with a metric above its target; a PDB allowing no disruption. See
:mod:`probes.kubernetes.judge_autoscaling`.
"""

from __future__ import annotations

from diagnostics import ChecklistItem, Finding, ProbeContext, ProbeOptions
from probes.kubernetes.config import KubernetesSettings
from probes.kubernetes.contexts import KubernetesProbe


class AutoscalingProbe(KubernetesProbe):
    """HPAs without target, unable to scale or at their maximum; PDBs allowing no disruption."""

    id = "workloads.autoscaling"
    checklist_item = ChecklistItem.RESOURCES
    description = (
        "Kubernetes HPAs missing their target, unable to scale or at maxReplicas; PDBs blocking drains"
    )
    options_model = ProbeOptions

    def check(self, ctx: ProbeContext, settings: KubernetesSettings) -> list[Finding]:
        """List HPAs, PDBs and the HPAs' target kinds once; judge them."""
        from probes.kubernetes.client import KubeApi
        from probes.kubernetes.client_cluster import collect_autoscaling
        from probes.kubernetes.findings import kubectl_suffix, list_call_findings
        from probes.kubernetes.judge_autoscaling import judge_autoscalers, judge_budgets

        with KubeApi(settings, ctx) as api:
            data = collect_autoscaling(api, settings)
            cluster = api.host
        suffix = kubectl_suffix(settings.context)
        queries = data.observed.queries
        return [
            *judge_autoscalers(
                data.autoscalers,
                data.targets,
                at=ctx.at,
                server_time=data.observed.server_time,
                queries=[q for q in queries if "/poddisruptionbudgets" not in q],
                kubectl_suffix=suffix,
                make=ctx.finding,
            ),
            *judge_budgets(
                data.budgets,
                queries=[q for q in queries if "/poddisruptionbudgets" in q],
                kubectl_suffix=suffix,
                make=ctx.finding,
            ),
            *list_call_findings(ctx, data.observed, cluster=cluster, kubectl_suffix=suffix),
        ]
