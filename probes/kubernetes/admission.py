"""``workloads.admission``: admission webhooks whose Service is missing or has no ready endpoint.

Signals (cluster-scoped list calls): Mutating- and ValidatingWebhookConfigurations; when a
webhook calls a Service, Services (metadata only) and EndpointSlices, cluster-wide or in the
configured namespaces. Findings: critical with ``failurePolicy: Fail`` (every matching create
or update is refused), a warning with ``Ignore``. See :mod:`probes.kubernetes.judge_admission`.
"""

from __future__ import annotations

from collections.abc import Iterable

from diagnostics import ChecklistItem, Finding, Probe, ProbeContext, ProbeOptions
from probes.kubernetes.backend import SECTION, KubernetesSettings


class AdmissionProbe(Probe):
    """Webhooks whose Service is missing or has no ready endpoint."""

    id = "workloads.admission"
    checklist_item = ChecklistItem.RESOURCES
    description = "Kubernetes admission webhooks whose Service is missing or has no ready endpoint"
    options_model = ProbeOptions
    backend_section = SECTION

    def run(self, ctx: ProbeContext) -> Iterable[Finding]:
        """List webhook configurations, Services and EndpointSlices once; judge each webhook's Service."""
        from probes.kubernetes.cluster_reads import collect_admission
        from probes.kubernetes.collect import KubeApi
        from probes.kubernetes.findings import kubectl_suffix, list_call_findings
        from probes.kubernetes.judge_admission import judge_webhooks

        settings = ctx.backend
        assert isinstance(settings, KubernetesSettings)
        with KubeApi(settings, ctx) as api:
            data = collect_admission(api)
            cluster = api.host
        suffix = kubectl_suffix(settings.context)
        return [
            *judge_webhooks(
                data,
                at=ctx.at,
                server_time=data.observed.server_time,
                kubectl_suffix=suffix,
                make=ctx.finding,
            ),
            *list_call_findings(ctx, data.observed, cluster=cluster, kubectl_suffix=suffix),
        ]
