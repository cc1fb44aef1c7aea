"""``workloads.admission``: admission webhooks whose Service is missing or has no ready endpoint.

Signals (cluster-scoped list calls): Mutating- and ValidatingWebhookConfigurations; when a
webhook calls a Service, Services (metadata only) and EndpointSlices, cluster-wide or in the
configured namespaces. Findings: critical with ``failurePolicy: Fail`` (every matching create
or update is refused), a warning with ``Ignore``. See :mod:`probes.kubernetes.judge_admission`.
"""

from __future__ import annotations

from diagnostics import ChecklistItem, Finding, ProbeContext, ProbeOptions
from probes.kubernetes.config import KubernetesSettings
from probes.kubernetes.contexts import KubernetesProbe


class AdmissionProbe(KubernetesProbe):
    """Webhooks whose Service is missing or has no ready endpoint."""

    id = "workloads.admission"
    checklist_item = ChecklistItem.RESOURCES
    description = "Kubernetes admission webhooks whose Service is missing or has no ready endpoint"
    options_model = ProbeOptions

    def check(self, ctx: ProbeContext, settings: KubernetesSettings) -> list[Finding]:
        """List webhook configurations, Services and EndpointSlices once; judge each webhook's Service."""
        from probes.kubernetes.client import KubeApi
        from probes.kubernetes.client_cluster import collect_admission
        from probes.kubernetes.findings import kubectl_suffix, list_call_findings
        from probes.kubernetes.judge_admission import judge_webhooks

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
