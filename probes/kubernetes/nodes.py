"""``workloads.nodes``: nodes NotReady, under pressure, or cordoned.

Signals (one list call, cluster-scoped: nodes are not namespaced and the label selector does not
apply to them): the ``Ready`` condition (False or Unknown: critical, onset its last transition),
``MemoryPressure``, ``DiskPressure`` and ``PIDPressure`` (True: warning), ``spec.unschedulable``
(cordoned: informational), every other condition True (``NetworkUnavailable``: critical;
node-problem-detector conditions: warning) or Unknown. A condition counts when its last
transition is before ``--at``.
"""

from __future__ import annotations

from diagnostics import ChecklistItem, Finding, ProbeContext, ProbeOptions
from probes.kubernetes.config import KubernetesSettings
from probes.kubernetes.contexts import KubernetesProbe


class NodesProbe(KubernetesProbe):
    """Nodes NotReady, under pressure, or cordoned."""

    id = "workloads.nodes"
    checklist_item = ChecklistItem.RESOURCES
    description = "Kubernetes nodes: NotReady, memory/disk/PID pressure, NetworkUnavailable and other conditions, cordoned"
    options_model = ProbeOptions

    def check(self, ctx: ProbeContext, settings: KubernetesSettings) -> list[Finding]:
        """List nodes once and judge their conditions as of ``--at``."""
        from probes.kubernetes.client import KubeApi
        from probes.kubernetes.client_workloads import collect_nodes
        from probes.kubernetes.findings import kubectl_suffix, list_call_findings
        from probes.kubernetes.judge_nodes import judge_nodes

        with KubeApi(settings, ctx) as api:
            data = collect_nodes(api)
            cluster = api.host
        suffix = kubectl_suffix(settings.context)
        return [
            *judge_nodes(
                data.nodes,
                at=ctx.at,
                server_time=data.observed.server_time,
                queries=data.observed.queries,
                kubectl_suffix=suffix,
                make=ctx.finding,
            ),
            *list_call_findings(ctx, data.observed, cluster=cluster, kubectl_suffix=suffix),
        ]
