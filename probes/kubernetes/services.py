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

from collections.abc import Iterable

from diagnostics import ChecklistItem, Finding, Probe, ProbeContext, ProbeOptions
from probes.kubernetes.backend import SECTION, KubernetesSettings


class ServicesProbe(Probe):
    """Services without pods or ready endpoints, Ingresses with missing backends, classes, secrets."""

    id = "workloads.services"
    checklist_item = ChecklistItem.RESOURCES
    description = "Kubernetes Services without ready endpoints, Ingresses with missing backends or classes"
    options_model = ProbeOptions
    backend_section = SECTION

    def run(self, ctx: ProbeContext) -> Iterable[Finding]:
        """List Services, EndpointSlices, pods and Ingresses once; judge where traffic goes."""
        from probes.kubernetes.cluster_reads import collect_services
        from probes.kubernetes.collect import KubeApi
        from probes.kubernetes.findings import kubectl_suffix, list_call_findings
        from probes.kubernetes.judge_services import judge_services

        settings = ctx.backend
        assert isinstance(settings, KubernetesSettings)
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
