"""Builders of the objects around workloads, as a real cluster stores them.

Services and EndpointSlices, Ingresses and IngressClasses, PersistentVolumeClaims,
PersistentVolumes and StorageClasses, Jobs and CronJobs, HorizontalPodAutoscalers (v2),
PodDisruptionBudgets and admission webhook configurations. Full objects (apiVersion, kind,
metadata, spec, status), times absolute.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from tests.support.kube_meta import Obj, metadata, short_hash, ts

# -- traffic ------------------------------------------------------------------------------------


def service(
    name: str,
    namespace: str,
    *,
    selector: Mapping[str, str] | None,
    created: datetime,
    port: int = 80,
    target_port: int = 8080,
    headless: bool = False,
) -> Obj:
    """A ClusterIP Service (``selector`` None: endpoints managed by hand)."""
    spec: Obj = {
        "type": "ClusterIP",
        "clusterIP": "None" if headless else f"10.96.{len(name) % 250}.{len(namespace) % 250 + 2}",
        "ports": [{"name": "http", "port": port, "protocol": "TCP", "targetPort": target_port}],
        "sessionAffinity": "None",
        "ipFamilies": ["IPv4"],
        "ipFamilyPolicy": "SingleStack",
        "internalTrafficPolicy": "Cluster",
    }
    if selector is not None:
        spec["selector"] = dict(selector)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(name, namespace, "Service", created, labels={"app.kubernetes.io/name": name}),
        "spec": spec,
        "status": {"loadBalancer": {}},
    }


def endpoint_slice(svc: Obj, pods: Iterable[Obj], *, ready: Iterable[bool] | None = None) -> Obj:
    """The EndpointSlice of ``svc`` over ``pods`` (ready as their containers are, unless told)."""
    listed = list(pods)
    flags = (
        list(ready)
        if ready is not None
        else [all(s.get("ready") for s in p["status"].get("containerStatuses") or [{}]) for p in listed]
    )
    meta = svc["metadata"]
    name = f"{meta['name']}-{short_hash(meta['uid'], 5)}"
    endpoints = [
        {
            "addresses": [f"10.244.{i // 250}.{i % 250 + 2}"],
            "conditions": {"ready": flag, "serving": flag, "terminating": False},
            "nodeName": p["spec"].get("nodeName"),
            "targetRef": {
                "kind": "Pod",
                "namespace": meta["namespace"],
                "name": p["metadata"]["name"],
                "uid": p["metadata"]["uid"],
            },
        }
        for i, (p, flag) in enumerate(zip(listed, flags, strict=True))
    ]
    created = datetime.fromisoformat(meta["creationTimestamp"].replace("Z", "+00:00"))
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": metadata(
            name,
            meta["namespace"],
            "EndpointSlice",
            created,
            labels={
                "kubernetes.io/service-name": meta["name"],
                "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
            },
            owner=svc,
            manager="kube-controller-manager",
        ),
        "addressType": "IPv4",
        "endpoints": endpoints or None,
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
    }


def ingress(
    name: str,
    namespace: str,
    *,
    backends: Mapping[str, str],
    created: datetime,
    class_name: str | None = "nginx",
    tls_secret: str | None = None,
) -> Obj:
    """An Ingress routing ``host/path`` keys (``shop.example.com/api``) to Service names."""
    rules: dict[str, list[Obj]] = {}
    for route, target in backends.items():
        host, _, path = route.partition("/")
        rules.setdefault(host, []).append(
            {
                "path": f"/{path}",
                "pathType": "Prefix",
                "backend": {"service": {"name": target, "port": {"number": 80}}},
            }
        )
    spec: Obj = {"rules": [{"host": h, "http": {"paths": p}} for h, p in rules.items()]}
    if class_name:
        spec["ingressClassName"] = class_name
    if tls_secret:
        spec["tls"] = [{"hosts": list(rules), "secretName": tls_secret}]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": metadata(name, namespace, "Ingress", created),
        "spec": spec,
        "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.10"}]}},
    }


def ingress_class(name: str, *, created: datetime, default: bool = False) -> Obj:
    """An IngressClass of ingress-nginx."""
    annotations = {"ingressclass.kubernetes.io/is-default-class": "true"} if default else None
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "IngressClass",
        "metadata": metadata(name, None, "IngressClass", created, annotations=annotations),
        "spec": {"controller": "k8s.io/ingress-nginx"},
    }


def tls_secret(name: str, namespace: str, *, created: datetime) -> Obj:
    """A kubernetes.io/tls secret (placeholder data)."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata(name, namespace, "Secret", created),
        "type": "kubernetes.io/tls",
        "data": {"tls.crt": "LS0tLS1CRUdJTi0tLS0t", "tls.key": "LS0tLS1CRUdJTi0tLS0t"},
    }


def webhook_configuration(
    name: str,
    *,
    kind: str = "ValidatingWebhookConfiguration",
    service: tuple[str, str],
    created: datetime,
    webhooks: Iterable[str] = (),
    failure_policy: str = "Fail",
    resources: Iterable[str] = ("pods",),
) -> Obj:
    """A webhook configuration whose webhooks call ``service`` (namespace, name)."""
    names = list(webhooks) or [f"{name}.example.com"]
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": kind,
        "metadata": metadata(name, None, kind, created),
        "webhooks": [
            {
                "name": hook,
                "admissionReviewVersions": ["v1"],
                "clientConfig": {
                    "service": {
                        "namespace": service[0],
                        "name": service[1],
                        "path": "/validate",
                        "port": 443,
                    },
                    "caBundle": "LS0tLS1CRUdJTi0tLS0t",
                },
                "failurePolicy": failure_policy,
                "matchPolicy": "Equivalent",
                "namespaceSelector": {},
                "objectSelector": {},
                "rules": [
                    {
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": list(resources),
                        "scope": "*",
                    }
                ],
                "sideEffects": "None",
                "timeoutSeconds": 10,
            }
            for hook in names
        ],
    }


# -- storage ------------------------------------------------------------------------------------


def storage_class(
    name: str, *, created: datetime, default: bool = False, binding_mode: str = "WaitForFirstConsumer"
) -> Obj:
    """A StorageClass of the AWS EBS CSI driver."""
    annotations = {"storageclass.kubernetes.io/is-default-class": "true"} if default else None
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": metadata(name, None, "StorageClass", created, annotations=annotations),
        "provisioner": "ebs.csi.aws.com",
        "parameters": {"type": "gp3"},
        "reclaimPolicy": "Delete",
        "volumeBindingMode": binding_mode,
        "allowVolumeExpansion": True,
    }


def claim(
    name: str,
    namespace: str,
    *,
    created: datetime,
    storage_class: str | None = "gp3",
    phase: str = "Bound",
    volume: str | None = None,
    size: str = "10Gi",
) -> Obj:
    """A PersistentVolumeClaim (Bound to ``volume`` unless Pending)."""
    spec: Obj = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": size}},
        "volumeMode": "Filesystem",
    }
    if storage_class is not None:
        spec["storageClassName"] = storage_class
    bound = phase != "Pending"
    if bound:
        spec["volumeName"] = (
            volume or f"pvc-{metadata(name, namespace, 'PersistentVolumeClaim', created)['uid']}"
        )
    status: Obj = {"phase": phase}
    if bound:
        status |= {"accessModes": ["ReadWriteOnce"], "capacity": {"storage": size}}
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": metadata(name, namespace, "PersistentVolumeClaim", created),
        "spec": spec,
        "status": status,
    }


def volume(pvc: Obj, *, created: datetime, phase: str = "Bound", message: str | None = None) -> Obj:
    """The PersistentVolume bound to ``pvc``."""
    name = pvc["spec"]["volumeName"]
    status: Obj = {"phase": phase, "lastPhaseTransitionTime": ts(created)}
    if message:
        status["message"] = message
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": metadata(name, None, "PersistentVolume", created),
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "capacity": {"storage": pvc["spec"]["resources"]["requests"]["storage"]},
            "claimRef": {
                "kind": "PersistentVolumeClaim",
                "namespace": pvc["metadata"]["namespace"],
                "name": pvc["metadata"]["name"],
                "uid": pvc["metadata"]["uid"],
            },
            "csi": {"driver": "ebs.csi.aws.com", "volumeHandle": f"vol-{short_hash(name, 17)}"},
            "persistentVolumeReclaimPolicy": "Delete",
            "storageClassName": pvc["spec"].get("storageClassName", ""),
            "volumeMode": "Filesystem",
        },
        "status": status,
    }


# -- batch --------------------------------------------------------------------------------------


def cron_job(
    name: str,
    namespace: str,
    *,
    schedule: str,
    created: datetime,
    last_schedule: datetime | None,
    last_successful: datetime | None = None,
    suspend: bool = False,
    time_zone: str | None = None,
    concurrency_policy: str = "Forbid",
    active: Iterable[str] = (),
) -> Obj:
    """A CronJob and its status (when it last ran, which of its Jobs are active)."""
    spec: Obj = {
        "schedule": schedule,
        "concurrencyPolicy": concurrency_policy,
        "suspend": suspend,
        "successfulJobsHistoryLimit": 3,
        "failedJobsHistoryLimit": 3,
        "jobTemplate": {"spec": {"backoffLimit": 2, "template": _job_pod_template(name)}},
    }
    if time_zone:
        spec["timeZone"] = time_zone
    status: Obj = {}
    if last_schedule:
        status["lastScheduleTime"] = ts(last_schedule)
    if last_successful:
        status["lastSuccessfulTime"] = ts(last_successful)
    if active:
        status["active"] = [
            {"kind": "Job", "namespace": namespace, "name": n, "apiVersion": "batch/v1"} for n in active
        ]
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": metadata(name, namespace, "CronJob", created),
        "spec": spec,
        "status": status,
    }


def _job_pod_template(name: str) -> Obj:
    return {
        "metadata": {"labels": {"app.kubernetes.io/name": name}},
        "spec": {
            "restartPolicy": "Never",
            "containers": [
                {"name": name, "image": f"registry.example.com/batch/{name}:1.0", "args": ["run"]}
            ],
        },
    }


def job(
    name: str,
    namespace: str,
    *,
    started: datetime,
    finished: datetime | None,
    failed: bool = False,
    owner: Obj | None = None,
    backoff_limit: int = 2,
    reason: str = "BackoffLimitExceeded",
) -> Obj:
    """A Job that succeeded, failed (``reason``) or still runs (``finished`` None)."""
    status: Obj = {"startTime": ts(started), "uncountedTerminatedPods": {}}
    if finished is None:
        status |= {"active": 1, "ready": 1}
    elif failed:
        status |= {
            "failed": backoff_limit + 1,
            "conditions": [
                {
                    "type": "FailureTarget",
                    "status": "True",
                    "reason": reason,
                    "message": "Job has reached the specified backoff limit",
                    "lastProbeTime": ts(finished),
                    "lastTransitionTime": ts(finished),
                },
                {
                    "type": "Failed",
                    "status": "True",
                    "reason": reason,
                    "message": "Job has reached the specified backoff limit",
                    "lastProbeTime": ts(finished),
                    "lastTransitionTime": ts(finished),
                },
            ],
        }
    else:
        status |= {
            "succeeded": 1,
            "completionTime": ts(finished),
            "conditions": [
                {
                    "type": "SuccessCriteriaMet",
                    "status": "True",
                    "lastProbeTime": ts(finished),
                    "lastTransitionTime": ts(finished),
                },
                {
                    "type": "Complete",
                    "status": "True",
                    "lastProbeTime": ts(finished),
                    "lastTransitionTime": ts(finished),
                },
            ],
        }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata(name, namespace, "Job", started, owner=owner, manager="kube-controller-manager"),
        "spec": {
            "backoffLimit": backoff_limit,
            "completions": 1,
            "parallelism": 1,
            "completionMode": "NonIndexed",
            "suspend": False,
            "template": _job_pod_template(name),
        },
        "status": status,
    }


def cron_runs(
    cron: Obj,
    *,
    every: timedelta,
    last: datetime,
    outcomes: Iterable[bool],
    runtime: timedelta = timedelta(seconds=40),
) -> list[Obj]:
    """The Jobs of ``cron``, oldest first, the last started at ``last``; ``outcomes`` True = succeeded."""
    results = list(outcomes)
    jobs = []
    for index, succeeded in enumerate(results):
        started = last - every * (len(results) - 1 - index)
        name = f"{cron['metadata']['name']}-{int(started.timestamp()) // 60}"
        jobs.append(
            job(
                name,
                cron["metadata"]["namespace"],
                started=started,
                finished=started + runtime,
                failed=not succeeded,
                owner=cron,
            )
        )
    return jobs


# -- autoscaling and disruption ------------------------------------------------------------------


def autoscaler(
    name: str,
    namespace: str,
    *,
    target: tuple[str, str],
    created: datetime,
    min_replicas: int = 2,
    max_replicas: int = 10,
    current_replicas: int = 3,
    cpu_target: int = 70,
    cpu_current: int | None = 45,
    conditions: list[Obj] | None = None,
) -> Obj:
    """An autoscaling/v2 HPA on CPU utilisation of ``target`` (kind, name)."""
    current: list[Obj] = []
    if cpu_current is not None:
        current.append(
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "current": {"averageUtilization": cpu_current, "averageValue": "180m"},
                },
            }
        )
    since = created + timedelta(minutes=1)
    default = [
        {
            "type": "AbleToScale",
            "status": "True",
            "reason": "ReadyForNewScale",
            "message": "recommended size matches current size",
            "lastTransitionTime": ts(since),
        },
        {
            "type": "ScalingActive",
            "status": "True",
            "reason": "ValidMetricFound",
            "message": "the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)",
            "lastTransitionTime": ts(since),
        },
        {
            "type": "ScalingLimited",
            "status": "False",
            "reason": "DesiredWithinRange",
            "message": "the desired count is within the acceptable range",
            "lastTransitionTime": ts(since),
        },
    ]
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": metadata(name, namespace, "HorizontalPodAutoscaler", created),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": target[0], "name": target[1]},
            "minReplicas": min_replicas,
            "maxReplicas": max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": cpu_target},
                    },
                }
            ],
        },
        "status": {
            "currentReplicas": current_replicas,
            "desiredReplicas": current_replicas,
            "currentMetrics": current,
            "conditions": conditions if conditions is not None else default,
        },
    }


def hpa_condition(kind: str, status: str, reason: str, message: str, *, since: datetime) -> Obj:
    """An HPA condition."""
    return {
        "type": kind,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": ts(since),
    }


def disruption_budget(
    name: str,
    namespace: str,
    *,
    selector: Mapping[str, str],
    created: datetime,
    min_available: Any,
    expected: int,
    healthy: int,
) -> Obj:
    """A policy/v1 PodDisruptionBudget with ``minAvailable`` over ``expected`` pods, ``healthy`` of them healthy."""
    desired = min_available if isinstance(min_available, int) else expected
    allowed = max(healthy - desired, 0)
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": metadata(name, namespace, "PodDisruptionBudget", created, generation=1),
        "spec": {"minAvailable": min_available, "selector": {"matchLabels": dict(selector)}},
        "status": {
            "observedGeneration": 1,
            "disruptionsAllowed": allowed,
            "currentHealthy": healthy,
            "desiredHealthy": desired,
            "expectedPods": expected,
            "conditions": [
                {
                    "type": "DisruptionAllowed",
                    "status": "True" if allowed else "False",
                    "reason": "SufficientPods" if allowed else "InsufficientPods",
                    "message": "",
                    "observedGeneration": 1,
                    "lastTransitionTime": ts(created + timedelta(seconds=30)),
                }
            ],
        },
    }
