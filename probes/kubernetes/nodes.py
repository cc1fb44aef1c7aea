"""``workloads.nodes``: nodes NotReady, under pressure, or cordoned.

Signals (one list call, cluster-scoped: nodes are not namespaced and the label selector does not
apply to them): the ``Ready`` condition (False or Unknown: critical, onset its last transition),
``MemoryPressure``, ``DiskPressure`` and ``PIDPressure`` (True: warning), ``spec.unschedulable``
(cordoned: informational), every other condition True (``NetworkUnavailable``: critical;
node-problem-detector conditions: warning) or Unknown. A condition counts when its last
transition is before ``--at``.
"""

from __future__ import annotations

from collections.abc import Iterable

from diagnostics import ChecklistItem, Finding, Probe, ProbeContext, ProbeOptions
from probes.kubernetes.backend import SECTION, KubernetesSettings


class NodesProbe(Probe):
    """Nodes NotReady, under pressure, or cordoned."""

    id = "workloads.nodes"
    checklist_item = ChecklistItem.RESOURCES
    description = "Kubernetes nodes: NotReady, memory/disk/PID pressure, NetworkUnavailable and other conditions, cordoned"
    options_model = ProbeOptions
    backend_section = SECTION

    def run(self, ctx: ProbeContext) -> Iterable[Finding]:
        """List nodes once and judge their conditions as of ``--at``."""
        from probes.kubernetes.collect import KubeApi
        from probes.kubernetes.findings import kubectl_suffix, list_call_findings
        from probes.kubernetes.judge_nodes import judge_nodes
        from probes.kubernetes.snapshots import collect_nodes

        settings = ctx.backend
        assert isinstance(settings, KubernetesSettings)
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
