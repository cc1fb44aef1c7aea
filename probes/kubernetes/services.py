"""``workloads.services``: Services and Ingresses whose traffic has nowhere to go.

Signals (one list call each, cluster-wide or per configured namespace): Services,
EndpointSlices (discovery.k8s.io/v1), pods (metadata only: labels and owners) and Ingresses
(networking.k8s.io/v1); IngressClasses when there are Ingresses, and secrets (metadata only:
names) when an Ingress names TLS secrets. Findings: a Service selecting no pod, a Service whose
pods are all unready (critical, naming the workloads behind it), an Ingress routing to a
missing Service or naming a missing IngressClass (critical) or TLS secret (warning). See
:mod:`probes.kubernetes.judge_services`.
"""

from __future__ import annotations

from diagnostics import ChecklistItem, Finding, ProbeContext, ProbeOptions
from probes.kubernetes.config import KubernetesSettings
from probes.kubernetes.contexts import KubernetesProbe


class ServicesProbe(KubernetesProbe):
    """Services without pods or ready endpoints, Ingresses with missing backends, classes, secrets."""

    id = "workloads.services"
    checklist_item = ChecklistItem.RESOURCES
    description = "Kubernetes Services without ready endpoints, Ingresses with missing backends or classes"
    options_model = ProbeOptions

    def check(self, ctx: ProbeContext, settings: KubernetesSettings) -> list[Finding]:
        """List Services, EndpointSlices, pods and Ingresses once; judge where traffic goes."""
        from probes.kubernetes.client import KubeApi
        from probes.kubernetes.client_cluster import collect_services
        from probes.kubernetes.findings import kubectl_suffix, list_call_findings
        from probes.kubernetes.judge_services import judge_services

        with KubeApi(settings, ctx) as api:
            data = collect_services(api, settings)
            cluster = api.host
        suffix = kubectl_suffix(settings.context)
        return [
            *judge_services(
                data,
                at=ctx.at,
                server_time=data.observed.server_time,
                kubectl_suffix=suffix,
                make=ctx.finding,
            ),
            *list_call_findings(ctx, data.observed, cluster=cluster, kubectl_suffix=suffix),
        ]
