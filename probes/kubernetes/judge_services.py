"""Judging Services and Ingresses: traffic with nowhere to go.

- ``service_no_pods``: a Service whose selector matches no pod (a warning; critical when an
  Ingress routes to it), with the pods that carry the selector's keys with other values;
- ``service_no_ready_endpoints`` (critical): pods match, but its EndpointSlices hold no ready
  address; the finding names the workloads behind it (``details.workloads``) so the summary
  can link it to their failing pods;
- ``ingress_backend_missing`` (critical), ``ingress_class_missing`` (critical: no controller
  serves the Ingress), ``ingress_tls_secret_missing`` (warning).

Services without a selector (endpoints kept by hand) and ExternalName Services are not judged.
Nothing is judged missing in a namespace that could not be read. Endpoints carry no dates: these
findings have no onset.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime

from diagnostics import Entity, Finding, Measurement, Severity
from probes.kubernetes.client_cluster import ServiceData
from probes.kubernetes.cluster_objects import EndpointSlice, Ingress, PodLabels, Service
from probes.kubernetes.findings import MakeFinding, live_state_note, plural

MAX_LISTED = 10


def selector_text(selector: Mapping[str, str]) -> str:
    """``app=cart,tier=web``."""
    return ",".join(f"{k}={v}" for k, v in sorted(selector.items()))


def selects(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    """Whether a Service-style (equality) selector matches ``labels``."""
    return all(labels.get(k) == v for k, v in selector.items())


class PodIndex:
    """Pods by namespace and label, so each selector is matched without scanning every pod."""

    def __init__(self, pods: Iterable[PodLabels]) -> None:
        self._by_label: dict[tuple[str, str, str], list[PodLabels]] = defaultdict(list)
        self.by_namespace: dict[str, list[PodLabels]] = defaultdict(list)
        for pod in pods:
            self.by_namespace[pod.meta.namespace].append(pod)
            for key, value in pod.meta.labels.items():
                self._by_label[(pod.meta.namespace, key, value)].append(pod)

    def selected(self, namespace: str, selector: Mapping[str, str]) -> list[PodLabels]:
        """The pods of ``namespace`` that carry every label of ``selector``."""
        candidates = [self._by_label.get((namespace, k, v), []) for k, v in selector.items()]
        if not candidates:
            return []
        smallest = min(candidates, key=len)
        return [p for p in smallest if selects(selector, p.meta.labels)]


def service_entity(service: Service, workloads: Iterable[str] = ()) -> Entity:
    """The ``service`` entity ``namespace/name``, with the first workload behind it."""
    attributes = {"namespace": service.meta.namespace}
    first = next(iter(workloads), None)
    if first:
        attributes["workload"] = first
    return Entity(kind="service", name=service.key, attributes=attributes)


def ready_addresses(slices: Iterable[EndpointSlice]) -> dict[tuple[str, str], tuple[int, int, list[str]]]:
    """(namespace, service) -> (ready, not ready, not-ready pods) over its EndpointSlices."""
    totals: dict[tuple[str, str], tuple[int, int, list[str]]] = {}
    for item in slices:
        ready, not_ready, pods = totals.get((item.namespace, item.service), (0, 0, []))
        totals[(item.namespace, item.service)] = (
            ready + item.ready,
            not_ready + item.not_ready,
            pods + list(item.not_ready_pods),
        )
    return totals


def judge_services(
    data: ServiceData, *, at: datetime, server_time: datetime | None, kubectl_suffix: str, make: MakeFinding
) -> list[Finding]:
    """A finding per Service with no pod or no ready endpoint, per broken Ingress."""
    pods = PodIndex(data.pods)
    routed: dict[tuple[str, str], list[str]] = defaultdict(list)
    for ingress in data.ingresses:
        for backend in ingress.backends:
            routed[(ingress.meta.namespace, backend.service)].append(
                f"{ingress.meta.name} ({backend.host}{backend.path})"
            )
    totals = ready_addresses(data.slices)
    note = live_state_note(at, server_time, "Endpoint state")
    queries = list(data.observed.queries)
    findings = []
    for service in sorted(data.services, key=lambda s: s.key):
        namespace = service.meta.namespace
        if not service.selector or service.type == "ExternalName":
            continue
        if not data.pods_listing.covers(namespace):
            continue
        matching = pods.selected(namespace, service.selector)
        ingresses = routed.get((namespace, service.meta.name), [])
        if not matching:
            findings.append(
                _no_pods(
                    service, pods.by_namespace[namespace], ingresses, note, queries, kubectl_suffix, make
                )
            )
            continue
        if not data.slices_listing.covers(namespace):
            continue
        ready, not_ready, waiting = totals.get((namespace, service.meta.name), (0, 0, []))
        if ready > 0:
            continue
        findings.append(
            _no_ready_endpoints(
                service, matching, not_ready, waiting, ingresses, note, queries, kubectl_suffix, make
            )
        )
    findings += judge_ingresses(data, queries=queries, kubectl_suffix=kubectl_suffix, make=make)
    return findings


def _no_ready_endpoints(
    service: Service,
    matching: list[PodLabels],
    not_ready: int,
    waiting: list[str],
    ingresses: list[str],
    note: str,
    queries: list[str],
    suffix: str,
    make: MakeFinding,
) -> Finding:
    namespace, selector = service.meta.namespace, service.selector or {}
    workloads = sorted({p.workload.key for p in matching})
    kinds = sorted({f"{p.workload.kind} {p.workload.key}" for p in matching})
    return make(
        kind="service_no_ready_endpoints",
        severity=Severity.CRITICAL,
        title=f"Service {service.key} has no ready endpoint: "
        f"{plural(len(matching), 'pod')} of {', '.join(kinds[:3])} selected, none ready",
        entity=service_entity(service, workloads),
        summary=f"Requests to {service.meta.name} fail or hang: its EndpointSlices hold "
        f"{not_ready} address(es), none ready."
        + (f" Routed to by Ingress {', '.join(ingresses[:3])}." if ingresses else "")
        + note,
        values=[
            Measurement(name="ready addresses", value=0, unit="count"),
            Measurement(name="not ready addresses", value=not_ready, unit="count"),
            Measurement(name="selected pods", value=len(matching), unit="count"),
        ],
        queries=queries,
        details={
            "selector": selector_text(selector),
            "workloads": workloads,
            "not_ready_pods": waiting[:MAX_LISTED],
            "ingresses": ingresses,
        },
        next_steps=[
            f"kubectl get endpointslices -n {namespace} -l kubernetes.io/service-name={service.meta.name}{suffix}",
            f"kubectl get pods -n {namespace} -l {selector_text(selector)}{suffix}",
        ],
    )


def _no_pods(
    service: Service,
    namespace_pods: list[PodLabels],
    ingresses: list[str],
    note: str,
    queries: list[str],
    suffix: str,
    make: MakeFinding,
) -> Finding:
    selector = service.selector or {}
    # pods that carry the selector's keys with other values: the usual typo or renamed label
    near = sorted(
        {
            f"{p.workload.kind} {p.workload.key} ("
            + ",".join(f"{k}={p.meta.labels[k]}" for k in sorted(selector) if k in p.meta.labels)
            + ")"
            for p in namespace_pods
            if any(k in p.meta.labels for k in selector)
        }
    )
    return make(
        kind="service_no_pods",
        severity=Severity.CRITICAL if ingresses else Severity.WARNING,
        title=f"Service {service.key} selects no pod ({selector_text(selector)})",
        entity=service_entity(service),
        summary="No pod in the namespace carries all of the selector's labels: the Service has no endpoint."
        + (f" Ingress {', '.join(ingresses[:3])} routes to it." if ingresses else "")
        + (f" Pods with other values: {'; '.join(near[:3])}." if near else "")
        + note,
        values=[Measurement(name="selected pods", value=0, unit="count")],
        queries=queries,
        details={
            "selector": selector_text(selector),
            "similar_pods": near[:MAX_LISTED],
            "ingresses": ingresses,
        },
        next_steps=[
            f"kubectl get pods -n {service.meta.namespace} -l {selector_text(selector)}{suffix}",
            f"kubectl get service {service.meta.name} -n {service.meta.namespace} -o yaml{suffix}",
        ],
    )


def _ingress_entity(ingress: Ingress) -> Entity:
    return Entity(
        kind="ingress",
        name=f"{ingress.meta.namespace}/{ingress.meta.name}",
        attributes={"namespace": ingress.meta.namespace},
    )


def judge_ingresses(
    data: ServiceData, *, queries: list[str], kubectl_suffix: str, make: MakeFinding
) -> list[Finding]:
    """Ingresses whose backend Service, IngressClass or TLS secret does not exist."""
    findings = []
    for ingress in sorted(data.ingresses, key=lambda i: (i.meta.namespace, i.meta.name)):
        namespace, name = ingress.meta.namespace, ingress.meta.name
        describe = f"kubectl describe ingress {name} -n {namespace}{kubectl_suffix}"
        if ingress.class_name and data.ingress_classes.missing("", ingress.class_name):
            findings.append(
                make(
                    kind="ingress_class_missing",
                    severity=Severity.CRITICAL,
                    title=f"Ingress {namespace}/{name} names IngressClass {ingress.class_name}, which does not exist",
                    entity=_ingress_entity(ingress),
                    summary="No ingress controller serves this Ingress: its hosts are not routed.",
                    queries=queries,
                    details={"ingress_class": ingress.class_name},
                    next_steps=[f"kubectl get ingressclasses{kubectl_suffix}", describe],
                )
            )
        missing = [b for b in ingress.backends if data.service_names.missing(namespace, b.service)]
        if missing:
            services = sorted({b.service for b in missing})
            findings.append(
                make(
                    kind="ingress_backend_missing",
                    severity=Severity.CRITICAL,
                    title=f"Ingress {namespace}/{name} routes to missing Service {', '.join(services)}",
                    entity=_ingress_entity(ingress),
                    summary="Requests to "
                    + ", ".join(f"{b.host}{b.path}" for b in missing[:5])
                    + " get 503 from the ingress controller: the backend Service does not exist.",
                    values=[Measurement(name="missing backends", value=len(missing), unit="count")],
                    queries=queries,
                    details={
                        "missing": [
                            {"service": b.service, "port": b.port, "host": b.host, "path": b.path}
                            for b in missing
                        ]
                    },
                    next_steps=[f"kubectl get services -n {namespace}{kubectl_suffix}", describe],
                )
            )
        secrets = [s for s in ingress.tls_secrets if data.secrets.missing(namespace, s)]
        if secrets:
            findings.append(
                make(
                    kind="ingress_tls_secret_missing",
                    severity=Severity.WARNING,
                    title=f"Ingress {namespace}/{name} names missing TLS secret {', '.join(secrets)}",
                    entity=_ingress_entity(ingress),
                    summary="The ingress controller serves its default (untrusted) certificate for these hosts.",
                    queries=queries,
                    details={"missing_secrets": secrets},
                    next_steps=[f"kubectl get secrets -n {namespace}{kubectl_suffix}", describe],
                )
            )
    return findings
