"""Turning the API's JSON into the frozen values of :mod:`probes.kubernetes.cluster_objects`.

Pure functions over dicts, tolerant of missing fields, like :mod:`probes.kubernetes.parse`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from probes.kubernetes.cluster_objects import (
    Autoscaler,
    Claim,
    ClaimTemplate,
    CronJob,
    DisruptionBudget,
    EndpointSlice,
    Ingress,
    IngressBackend,
    Job,
    MetricTarget,
    PodLabels,
    PodReadiness,
    ReplicaSetState,
    Service,
    StatefulSetStorage,
    StorageClass,
    Volume,
    Webhook,
)
from probes.kubernetes.parse import _int, owning_workload, parse_conditions, parse_meta, parse_time

JSON = Mapping[str, Any]

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
INGRESS_CLASS_ANNOTATION = "kubernetes.io/ingress.class"
DEFAULT_INGRESS_CLASS = "ingressclass.kubernetes.io/is-default-class"
DEFAULT_STORAGE_CLASS = (
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
)
_QUANTITY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)([a-zA-Z]*)$")
_SUFFIXES = {
    "": 1.0,
    "n": 1e-9,
    "u": 1e-6,
    "m": 1e-3,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "P": 1e15,
    "E": 1e18,
    "Ki": 2.0**10,
    "Mi": 2.0**20,
    "Gi": 2.0**30,
    "Ti": 2.0**40,
    "Pi": 2.0**50,
    "Ei": 2.0**60,
}


def quantity(value: Any) -> float | None:
    """A Kubernetes quantity (``250m``, ``512Mi``, ``1.5``, ``3``) as a number; None if not one."""
    if isinstance(value, int | float):
        return float(value)
    match = _QUANTITY.match(str(value or "").strip())
    if not match or match[2] not in _SUFFIXES:
        return None
    try:
        return float(match[1]) * _SUFFIXES[match[2]]
    except ValueError:
        return None


def parse_pod_labels(obj: JSON) -> PodLabels:
    """A pod from a metadata-only list: labels and owner."""
    meta = parse_meta(obj)
    return PodLabels(meta=meta, workload=owning_workload(meta))


def parse_pod_readiness(obj: JSON) -> PodReadiness:
    """A pod's phase and its ``Ready`` condition, nothing else."""
    meta = parse_meta(obj)
    status = obj.get("status") or {}
    ready: JSON = next((c for c in status.get("conditions") or () if c.get("type") == "Ready"), {})
    return PodReadiness(
        workload=owning_workload(meta),
        name=meta.name,
        phase=status.get("phase") or "Unknown",
        created=meta.created,
        ready=ready.get("status") == "True",
        ready_since=parse_time(ready.get("lastTransitionTime")),
    )


def parse_replica_set_state(obj: JSON) -> ReplicaSetState:
    """A ReplicaSet's desired and ready replicas and its conditions."""
    status = obj.get("status") or {}
    return ReplicaSetState(
        meta=parse_meta(obj),
        desired=_int((obj.get("spec") or {}).get("replicas"), 1),
        ready=_int(status.get("readyReplicas")),
        conditions=parse_conditions(status.get("conditions")),
    )


def parse_service(obj: JSON) -> Service:
    """A Service with its selector (None when it has none) and ports."""
    spec = obj.get("spec") or {}
    selector = spec.get("selector")
    return Service(
        meta=parse_meta(obj),
        type=spec.get("type") or "ClusterIP",
        selector={str(k): str(v) for k, v in selector.items()} if selector else None,
        ports=tuple(str(p.get("name") or p.get("port") or "") for p in spec.get("ports") or ()),
    )


def parse_endpoint_slice(obj: JSON) -> EndpointSlice | None:
    """A slice's ready and not-ready addresses (None when no Service owns it)."""
    meta = obj.get("metadata") or {}
    service = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL)
    if not service:
        return None
    ready = not_ready = 0
    waiting: list[str] = []
    for endpoint in obj.get("endpoints") or ():
        # ``ready`` absent means ready ("unknown state should be interpreted as ready")
        is_ready = (endpoint.get("conditions") or {}).get("ready") is not False
        count = len(endpoint.get("addresses") or ()) or 1
        if is_ready:
            ready += count
        else:
            not_ready += count
            target = endpoint.get("targetRef") or {}
            if target.get("kind") == "Pod" and target.get("name"):
                waiting.append(str(target["name"]))
    return EndpointSlice(
        namespace=meta.get("namespace") or "",
        service=str(service),
        ready=ready,
        not_ready=not_ready,
        not_ready_pods=tuple(waiting),
    )


def _backend(backend: JSON | None, host: str, path: str) -> IngressBackend | None:
    service = (backend or {}).get("service") or {}
    if not service.get("name"):
        return None
    port = service.get("port") or {}
    return IngressBackend(
        service=str(service["name"]),
        port=str(port.get("name") or port.get("number") or ""),
        host=host,
        path=path,
    )


def parse_ingress(obj: JSON) -> Ingress:
    """An Ingress with every Service backend (rules and default), its class and TLS secrets."""
    meta = parse_meta(obj)
    spec = obj.get("spec") or {}
    backends = [b for b in [_backend(spec.get("defaultBackend"), "*", "/")] if b]
    for rule in spec.get("rules") or ():
        host = rule.get("host") or "*"
        for item in (rule.get("http") or {}).get("paths") or ():
            found = _backend(item.get("backend"), host, item.get("path") or "/")
            if found is not None:
                backends.append(found)
    return Ingress(
        meta=meta,
        class_name=spec.get("ingressClassName") or meta.annotations.get(INGRESS_CLASS_ANNOTATION),
        backends=tuple(backends),
        tls_secrets=tuple(str(t["secretName"]) for t in spec.get("tls") or () if t.get("secretName")),
    )


def parse_ingress_class(obj: JSON) -> tuple[str, bool]:
    """An IngressClass's name and whether it is the default."""
    meta = parse_meta(obj)
    return meta.name, meta.annotations.get(DEFAULT_INGRESS_CLASS) == "true"


def parse_stateful_set_storage(obj: JSON) -> StatefulSetStorage:
    """A StatefulSet's governing Service and volume claim templates."""
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    return StatefulSetStorage(
        meta=parse_meta(obj),
        service_name=spec.get("serviceName") or None,
        claims=tuple(
            ClaimTemplate(
                name=(t.get("metadata") or {}).get("name") or "",
                storage_class=(t.get("spec") or {}).get("storageClassName"),
            )
            for t in spec.get("volumeClaimTemplates") or ()
        ),
        desired=_int(spec.get("replicas"), 1),
        ready=_int(status.get("readyReplicas")),
    )


def parse_claim(obj: JSON) -> Claim:
    """A PersistentVolumeClaim."""
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    requests = (spec.get("resources") or {}).get("requests") or {}
    return Claim(
        meta=parse_meta(obj),
        phase=status.get("phase") or "Pending",
        storage_class=spec.get("storageClassName"),
        volume=spec.get("volumeName") or None,
        requested=str(requests["storage"]) if requests.get("storage") else None,
        conditions=parse_conditions(status.get("conditions")),
    )


def parse_volume(obj: JSON) -> Volume:
    """A PersistentVolume."""
    meta = parse_meta(obj)
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    claim = spec.get("claimRef") or {}
    return Volume(
        name=meta.name,
        created=meta.created,
        phase=status.get("phase") or "Pending",
        reason=status.get("reason"),
        message=status.get("message"),
        storage_class=spec.get("storageClassName"),
        claim=f"{claim.get('namespace')}/{claim.get('name')}" if claim.get("name") else None,
    )


def parse_storage_class(obj: JSON) -> StorageClass:
    """A StorageClass."""
    meta = parse_meta(obj)
    return StorageClass(
        name=meta.name,
        provisioner=obj.get("provisioner") or "",
        binding_mode=obj.get("volumeBindingMode") or "Immediate",
        default=any(meta.annotations.get(a) == "true" for a in DEFAULT_STORAGE_CLASS),
    )


def parse_job(obj: JSON) -> Job:
    """A Job with its conditions and pod counts."""
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    return Job(
        meta=parse_meta(obj),
        conditions=parse_conditions(status.get("conditions")),
        active=_int(status.get("active")),
        succeeded=_int(status.get("succeeded")),
        failed=_int(status.get("failed")),
        backoff_limit=_int(spec.get("backoffLimit"), 6),
        started=parse_time(status.get("startTime")),
        completed=parse_time(status.get("completionTime")),
        suspended=bool(spec.get("suspend")),
    )


def parse_cron_job(obj: JSON) -> CronJob:
    """A CronJob with its schedule and last runs."""
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    deadline = spec.get("startingDeadlineSeconds")
    return CronJob(
        meta=parse_meta(obj),
        schedule=str(spec.get("schedule") or ""),
        time_zone=spec.get("timeZone") or None,
        suspended=bool(spec.get("suspend")),
        concurrency_policy=spec.get("concurrencyPolicy") or "Allow",
        starting_deadline_s=_int(deadline) if deadline is not None else None,
        last_schedule=parse_time(status.get("lastScheduleTime")),
        last_successful=parse_time(status.get("lastSuccessfulTime")),
        active=tuple(str(a.get("name")) for a in status.get("active") or () if a.get("name")),
    )


_METRIC_SOURCES = {
    "Resource": "resource",
    "ContainerResource": "containerResource",
    "Pods": "pods",
    "Object": "object",
    "External": "external",
}


def _metric_key(metric: JSON) -> tuple[str, str] | None:
    kind = metric.get("type") or ""
    source = metric.get(_METRIC_SOURCES.get(kind, "")) or {}
    name = source.get("name") or (source.get("metric") or {}).get("name")
    return (kind, str(name)) if name else None


def _target_value(target: JSON) -> tuple[str, float | None, str]:
    if target.get("averageUtilization") is not None:
        return "Utilization", quantity(target["averageUtilization"]), "%"
    if target.get("averageValue") is not None:
        return "AverageValue", quantity(target["averageValue"]), ""
    return "Value", quantity(target.get("value")), ""


def parse_autoscaler(obj: JSON) -> Autoscaler:
    """An autoscaling/v2 HorizontalPodAutoscaler with each metric's target and current value."""
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    current: dict[tuple[str, str], JSON] = {}
    for metric in status.get("currentMetrics") or ():
        key = _metric_key(metric)
        if key is not None:
            source = metric.get(_METRIC_SOURCES[key[0]]) or {}
            current[key] = source.get("current") or {}
    metrics = []
    for metric in spec.get("metrics") or ():
        key = _metric_key(metric)
        if key is None:
            continue
        source = metric.get(_METRIC_SOURCES[key[0]]) or {}
        kind, target, unit = _target_value(source.get("target") or {})
        now = current.get(key) or {}
        field = {"Utilization": "averageUtilization", "AverageValue": "averageValue"}.get(kind, "value")
        metrics.append(
            MetricTarget(name=key[1], kind=kind, target=target, current=quantity(now.get(field)), unit=unit)
        )
    reference = spec.get("scaleTargetRef") or {}
    return Autoscaler(
        meta=parse_meta(obj),
        target_kind=reference.get("kind") or "",
        target_name=reference.get("name") or "",
        min_replicas=_int(spec.get("minReplicas"), 1),
        max_replicas=_int(spec.get("maxReplicas")),
        current_replicas=_int(status.get("currentReplicas")),
        desired_replicas=_int(status.get("desiredReplicas")),
        metrics=tuple(metrics),
        conditions=parse_conditions(status.get("conditions")),
    )


def parse_disruption_budget(obj: JSON) -> DisruptionBudget:
    """A policy/v1 PodDisruptionBudget."""
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    labels = (spec.get("selector") or {}).get("matchLabels") or {}
    return DisruptionBudget(
        meta=parse_meta(obj),
        min_available=str(spec["minAvailable"]) if spec.get("minAvailable") is not None else None,
        max_unavailable=str(spec["maxUnavailable"]) if spec.get("maxUnavailable") is not None else None,
        disruptions_allowed=_int(status.get("disruptionsAllowed")),
        current_healthy=_int(status.get("currentHealthy")),
        desired_healthy=_int(status.get("desiredHealthy")),
        expected_pods=_int(status.get("expectedPods")),
        selector={str(k): str(v) for k, v in labels.items()},
        conditions=parse_conditions(status.get("conditions")),
    )


def parse_webhooks(obj: JSON, kind: str) -> list[Webhook]:
    """Every webhook of a Mutating- or ValidatingWebhookConfiguration."""
    configuration = (obj.get("metadata") or {}).get("name") or ""
    hooks = []
    for hook in obj.get("webhooks") or ():
        service = (hook.get("clientConfig") or {}).get("service") or {}
        rules = hook.get("rules") or ()
        hooks.append(
            Webhook(
                configuration=configuration,
                kind=kind,
                name=hook.get("name") or "",
                failure_policy=hook.get("failurePolicy") or "Fail",
                service_namespace=service.get("namespace"),
                service_name=service.get("name"),
                operations=tuple(dict.fromkeys(str(o) for r in rules for o in r.get("operations") or ())),
                resources=tuple(dict.fromkeys(str(x) for r in rules for x in r.get("resources") or ())),
                namespace_selector=dict(hook.get("namespaceSelector") or {}),
            )
        )
    return hooks
