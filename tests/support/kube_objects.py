"""Builders of Kubernetes API objects shaped like a real cluster's, for staging incidents.

Every builder returns a full object as the API server stores it (apiVersion, kind, metadata with
uid, resourceVersion, creationTimestamp, labels, annotations, ownerReferences, managedFields;
spec; status with conditions), not just the fields the probes read. Times are absolute
datetimes: stage relative to ``datetime.now(UTC)`` so the API server's Date header agrees.

The higher-level :func:`deployment_rollout` stages a Deployment rolled from one image to another
(old and new ReplicaSets, their pods, the events), e.g. for "rollout followed by an error spike".
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import itertools
import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

Obj = dict[str, Any]
_VERSIONS = itertools.count(48_213_907)
_HASH_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
SERVICE_ACCOUNT = "system:serviceaccount:diag:diag-reader"


def ts(moment: datetime | None) -> str | None:
    """RFC 3339 as the API writes it: ``2026-01-02T03:04:05Z``."""
    if moment is None:
        return None
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def micro_ts(moment: datetime) -> str:
    """MicroTime (events' ``eventTime``): ``2026-01-02T03:04:05.123456Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def uid_of(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "k8s://" + "/".join(parts)))


def short_hash(value: Any, length: int = 10) -> str:
    """A stable hash in the alphabet the controllers use for pod-template-hash and pod suffixes."""
    digest = hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).digest()
    return "".join(_HASH_ALPHABET[b % len(_HASH_ALPHABET)] for b in digest[:length])


def metadata(
    name: str,
    namespace: str | None,
    kind: str,
    created: datetime,
    *,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    owner: Obj | None = None,
    generation: int | None = None,
    manager: str = "kubectl-client-side-apply",
) -> Obj:
    meta: Obj = {
        "name": name,
        "uid": uid_of(kind, namespace or "", name),
        "resourceVersion": str(next(_VERSIONS)),
        "creationTimestamp": ts(created),
        "labels": dict(labels or {}),
        "annotations": dict(annotations or {}),
        "managedFields": [
            {
                "manager": manager,
                "operation": "Update",
                "apiVersion": "v1",
                "time": ts(created),
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:metadata": {"f:labels": {f"f:{k}": {} for k in labels or {}}}, "f:spec": {}},
            }
        ],
    }
    if namespace is not None:
        meta["namespace"] = namespace
    if generation is not None:
        meta["generation"] = generation
    if owner is not None:
        meta["ownerReferences"] = [
            {
                "apiVersion": owner["apiVersion"],
                "kind": owner["kind"],
                "name": owner["metadata"]["name"],
                "uid": owner["metadata"]["uid"],
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
    if not meta["annotations"]:
        del meta["annotations"]
    return meta


# -- pod templates ------------------------------------------------------------------------


def container(
    name: str,
    image: str,
    *,
    env: Mapping[str, str] | None = None,
    secret_env: Mapping[str, tuple[str, str]] | None = None,
    memory_limit: str = "512Mi",
    port: int = 8080,
) -> Obj:
    """A container spec with the defaults the API server fills in."""
    variables: list[Obj] = [{"name": k, "value": v} for k, v in (env or {}).items()]
    variables += [
        {"name": k, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}
        for k, (secret, key) in (secret_env or {}).items()
    ]
    return {
        "name": name,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": "http", "containerPort": port, "protocol": "TCP"}],
        "env": variables,
        "resources": {
            "limits": {"cpu": "1", "memory": memory_limit},
            "requests": {"cpu": "250m", "memory": memory_limit},
        },
        "readinessProbe": {
            "httpGet": {"path": "/ready", "port": port, "scheme": "HTTP"},
            "periodSeconds": 10,
            "timeoutSeconds": 1,
            "successThreshold": 1,
            "failureThreshold": 3,
        },
        "livenessProbe": {
            "httpGet": {"path": "/healthz", "port": port, "scheme": "HTTP"},
            "initialDelaySeconds": 10,
            "periodSeconds": 10,
            "timeoutSeconds": 1,
            "successThreshold": 1,
            "failureThreshold": 3,
        },
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
    }


def pod_template(
    app: str,
    containers: Iterable[Obj],
    *,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
) -> Obj:
    template: Obj = {
        "metadata": {
            "creationTimestamp": None,
            "labels": {"app.kubernetes.io/name": app, **(labels or {})},
        },
        "spec": {
            "containers": list(containers),
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst",
            "serviceAccountName": app,
            "serviceAccount": app,
            "securityContext": {"runAsNonRoot": True},
            "schedulerName": "default-scheduler",
        },
    }
    if annotations:
        template["metadata"]["annotations"] = dict(annotations)
    return template


def template_hash(template: Obj) -> str:
    return short_hash(template)


# -- workloads ------------------------------------------------------------------------------


def condition(
    kind: str,
    status: str,
    reason: str,
    message: str,
    *,
    since: datetime,
    updated: datetime | None = None,
) -> Obj:
    return {
        "type": kind,
        "status": status,
        "reason": reason,
        "message": message,
        "lastUpdateTime": ts(updated or since),
        "lastTransitionTime": ts(since),
    }


def deployment(
    name: str,
    namespace: str,
    *,
    template: Obj,
    revision: int,
    created: datetime,
    replicas: int = 3,
    status: Obj | None = None,
    conditions: list[Obj] | None = None,
    labels: Mapping[str, str] | None = None,
    generation: int | None = None,
    progress_deadline_s: int = 600,
) -> Obj:
    """A Deployment; ``status`` overrides the healthy default (all replicas updated and available)."""
    app = template["metadata"]["labels"]["app.kubernetes.io/name"]
    obj: Obj = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(
            name,
            namespace,
            "Deployment",
            created,
            labels={"app.kubernetes.io/name": app, **(labels or {})},
            annotations={"deployment.kubernetes.io/revision": str(revision)},
            generation=generation or revision,
        ),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app.kubernetes.io/name": app}},
            "template": template,
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
            },
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": progress_deadline_s,
        },
    }
    default_status = {
        "observedGeneration": generation or revision,
        "replicas": replicas,
        "updatedReplicas": replicas,
        "readyReplicas": replicas,
        "availableReplicas": replicas,
    }
    obj["status"] = {**default_status, **(status or {}), "conditions": conditions or []}
    return obj


def replica_set(
    owner: Obj,
    *,
    template: Obj,
    revision: int,
    created: datetime,
    replicas: int,
    ready: int | None = None,
    revision_history: Iterable[int] = (),
) -> Obj:
    """A Deployment's ReplicaSet named ``<deployment>-<pod-template-hash>``."""
    hashed = template_hash(template)
    labels = {**template["metadata"]["labels"], "pod-template-hash": hashed}
    stamped = json.loads(json.dumps(template))
    stamped["metadata"]["labels"] = labels
    desired = owner["spec"]["replicas"]
    annotations = {
        "deployment.kubernetes.io/desired-replicas": str(desired),
        "deployment.kubernetes.io/max-replicas": str(desired + max(1, desired // 4)),
        "deployment.kubernetes.io/revision": str(revision),
    }
    history = ",".join(str(n) for n in revision_history)
    if history:
        annotations["deployment.kubernetes.io/revision-history"] = history
    ready_count = replicas if ready is None else ready
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": metadata(
            f"{owner['metadata']['name']}-{hashed}",
            owner["metadata"]["namespace"],
            "ReplicaSet",
            created,
            labels=labels,
            annotations=annotations,
            owner=owner,
            generation=1,
            manager="kube-controller-manager",
        ),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": stamped,
        },
        "status": {
            "replicas": replicas,
            "fullyLabeledReplicas": replicas,
            "readyReplicas": ready_count,
            "availableReplicas": ready_count,
            "observedGeneration": 1,
        },
    }


def stateful_set(
    name: str,
    namespace: str,
    *,
    template: Obj,
    created: datetime,
    current_revision: str,
    update_revision: str,
    replicas: int = 3,
    updated: int | None = None,
    ready: int | None = None,
    generation: int = 1,
) -> Obj:
    app = template["metadata"]["labels"]["app.kubernetes.io/name"]
    ready_count = replicas if ready is None else ready
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": metadata(
            name,
            namespace,
            "StatefulSet",
            created,
            labels={"app.kubernetes.io/name": app},
            generation=generation,
        ),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app.kubernetes.io/name": app}},
            "serviceName": name,
            "template": template,
            "podManagementPolicy": "OrderedReady",
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
            "revisionHistoryLimit": 10,
            "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
        },
        "status": {
            "observedGeneration": generation,
            "replicas": replicas,
            "readyReplicas": ready_count,
            "currentReplicas": replicas if current_revision == update_revision else replicas - (updated or 0),
            "updatedReplicas": replicas if updated is None else updated,
            "availableReplicas": ready_count,
            "currentRevision": current_revision,
            "updateRevision": update_revision,
            "collisionCount": 0,
        },
    }


def daemon_set(
    name: str,
    namespace: str,
    *,
    template: Obj,
    created: datetime,
    desired: int = 3,
    updated: int | None = None,
    available: int | None = None,
    generation: int = 1,
) -> Obj:
    app = template["metadata"]["labels"]["app.kubernetes.io/name"]
    available_count = desired if available is None else available
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": metadata(
            name,
            namespace,
            "DaemonSet",
            created,
            labels={"app.kubernetes.io/name": app},
            generation=generation,
        ),
        "spec": {
            "selector": {"matchLabels": {"app.kubernetes.io/name": app}},
            "template": template,
            "updateStrategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0},
            },
            "revisionHistoryLimit": 10,
        },
        "status": {
            "currentNumberScheduled": desired,
            "desiredNumberScheduled": desired,
            "numberMisscheduled": 0,
            "numberReady": available_count,
            "numberAvailable": available_count,
            "numberUnavailable": desired - available_count,
            "updatedNumberScheduled": desired if updated is None else updated,
            "observedGeneration": generation,
        },
    }


def controller_revision(owner: Obj, *, template: Obj, revision: int, created: datetime) -> Obj:
    """A StatefulSet's or DaemonSet's ControllerRevision: the template as a replace patch."""
    hashed = revision_name(owner["metadata"]["name"], template).rsplit("-", 1)[1]
    patch = json.loads(json.dumps(template))
    patch["$patch"] = "replace"
    return {
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": metadata(
            f"{owner['metadata']['name']}-{hashed}",
            owner["metadata"]["namespace"],
            "ControllerRevision",
            created,
            labels={**template["metadata"]["labels"], "controller-revision-hash": hashed},
            owner=owner,
            manager="kube-controller-manager",
        ),
        "data": {"spec": {"template": patch}},
        "revision": revision,
    }


def revision_name(owner_name: str, template: Obj) -> str:
    """The name :func:`controller_revision` gives ``template``'s revision of ``owner_name``."""
    return f"{owner_name}-{short_hash(template, 9)}"


# -- pods -----------------------------------------------------------------------------------


def running(since: datetime) -> Obj:
    return {"running": {"startedAt": ts(since)}}


def waiting(reason: str, message: str = "") -> Obj:
    return {"waiting": {"reason": reason, "message": message}} if message else {"waiting": {"reason": reason}}


def terminated(reason: str, exit_code: int, started: datetime, finished: datetime) -> Obj:
    return {
        "terminated": {
            "exitCode": exit_code,
            "reason": reason,
            "startedAt": ts(started),
            "finishedAt": ts(finished),
            "containerID": f"containerd://{short_hash([reason, ts(finished)], 32)}",
        }
    }


def container_status(
    spec: Obj,
    *,
    state: Obj,
    last_state: Obj | None = None,
    restarts: int = 0,
    ready: bool | None = None,
) -> Obj:
    is_running = "running" in state
    return {
        "name": spec["name"],
        "image": spec["image"],
        "imageID": f"{spec['image'].rsplit(':', 1)[0]}@sha256:{short_hash(spec['image'], 32)}",
        "containerID": f"containerd://{short_hash([spec['name'], state], 32)}",
        "state": state,
        "lastState": last_state or {},
        "ready": is_running if ready is None else ready,
        "restartCount": restarts,
        "started": is_running,
    }


def pod(
    owner: Obj,
    *,
    template: Obj,
    created: datetime,
    node: str | None,
    statuses: list[Obj] | None = None,
    phase: str | None = None,
    conditions: list[Obj] | None = None,
    name: str | None = None,
    reason: str | None = None,
    message: str | None = None,
) -> Obj:
    """A pod of ``owner`` (a ReplicaSet, StatefulSet, DaemonSet or Job) from ``template``."""
    # a ReplicaSet's pods carry its pod-template-hash label: take the labels from the owner's template
    owner_template = (owner.get("spec") or {}).get("template") or template
    labels = dict(owner_template["metadata"]["labels"])
    pod_name = (
        name or f"{owner['metadata']['name']}-{short_hash([owner['metadata']['uid'], ts(created), node], 5)}"
    )
    spec = json.loads(json.dumps(template["spec"]))
    if node:
        spec["nodeName"] = node
    spec["tolerations"] = [
        {
            "key": "node.kubernetes.io/not-ready",
            "operator": "Exists",
            "effect": "NoExecute",
            "tolerationSeconds": 300,
        },
        {
            "key": "node.kubernetes.io/unreachable",
            "operator": "Exists",
            "effect": "NoExecute",
            "tolerationSeconds": 300,
        },
    ]
    if statuses is None:
        statuses = [
            container_status(c, state=running(created + timedelta(seconds=5))) for c in spec["containers"]
        ]
    all_ready = all(s.get("ready") for s in statuses) and bool(statuses)
    if phase is None:
        phase = "Running" if node else "Pending"
    if conditions is None:
        started = created + timedelta(seconds=1)
        conditions = [
            {"type": "PodReadyToStartContainers", "status": "True", "lastTransitionTime": ts(started)},
            {"type": "Initialized", "status": "True", "lastTransitionTime": ts(started)},
            {
                "type": "Ready",
                "status": "True" if all_ready else "False",
                "lastTransitionTime": ts(started),
                **({} if all_ready else {"reason": "ContainersNotReady"}),
            },
            {
                "type": "ContainersReady",
                "status": "True" if all_ready else "False",
                "lastTransitionTime": ts(started),
            },
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": ts(created)},
        ]
    status: Obj = {
        "phase": phase,
        "conditions": conditions,
        "qosClass": "Burstable",
        "startTime": ts(created) if node else None,
    }
    if node:
        status.update({"hostIP": "10.0.1.12", "podIP": f"10.244.{len(pod_name) % 250}.{created.second + 2}"})
        status["containerStatuses"] = statuses
    if reason:
        status["reason"] = reason
    if message:
        status["message"] = message
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata(
            pod_name,
            owner["metadata"]["namespace"],
            "Pod",
            created,
            labels=labels,
            owner=owner,
            manager="kube-controller-manager",
        ),
        "spec": spec,
        "status": {k: v for k, v in status.items() if v is not None},
    }


def unschedulable(since: datetime, message: str) -> list[Obj]:
    """Conditions of a pod the scheduler could not place."""
    return [
        {
            "type": "PodScheduled",
            "status": "False",
            "reason": "Unschedulable",
            "message": message,
            "lastProbeTime": None,
            "lastTransitionTime": ts(since),
        }
    ]


# -- events, nodes, secrets -----------------------------------------------------------------


def event(
    involved: Obj,
    *,
    reason: str,
    message: str,
    first: datetime,
    last: datetime | None = None,
    count: int = 1,
    kind: str = "Warning",
    component: str = "kubelet",
) -> Obj:
    """A core/v1 Event about ``involved`` (any object built here)."""
    meta = involved["metadata"]
    namespace = meta.get("namespace", "default")
    name = f"{meta['name']}.{short_hash([meta['uid'], reason, ts(first)], 16)}"
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": metadata(name, namespace, "Event", first, manager=component),
        "involvedObject": {
            "kind": involved["kind"],
            "namespace": meta.get("namespace"),
            "name": meta["name"],
            "uid": meta["uid"],
            "apiVersion": involved["apiVersion"],
            "resourceVersion": meta["resourceVersion"],
        },
        "reason": reason,
        "message": message,
        "source": {"component": component, "host": "node-a"}
        if component == "kubelet"
        else {"component": component},
        "firstTimestamp": ts(first),
        "lastTimestamp": ts(last or first),
        "count": count,
        "type": kind,
        "eventTime": None,
        "reportingComponent": component,
        "reportingInstance": "node-a" if component == "kubelet" else "",
    }


def node(
    name: str,
    *,
    created: datetime,
    ready: str = "True",
    ready_since: datetime | None = None,
    ready_reason: str | None = None,
    ready_message: str | None = None,
    pressure: Mapping[str, datetime] | None = None,
    unschedulable: bool = False,
    heartbeat: datetime | None = None,
    internal_ip: str = "10.0.1.10",
) -> Obj:
    """A node; ``pressure`` maps MemoryPressure/DiskPressure/PIDPressure to since when it holds."""
    since = ready_since or created
    beat = ts(heartbeat or since)
    pressures = pressure or {}
    texts = {
        "MemoryPressure": ("KubeletHasInsufficientMemory", "kubelet has insufficient memory available"),
        "DiskPressure": ("KubeletHasDiskPressure", "kubelet has disk pressure"),
        "PIDPressure": ("KubeletHasInsufficientPID", "kubelet has insufficient PID available"),
    }
    fine = {
        "MemoryPressure": ("KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
        "DiskPressure": ("KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        "PIDPressure": ("KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    }
    conditions = []
    for kind in ("MemoryPressure", "DiskPressure", "PIDPressure"):
        active = kind in pressures
        reason, message = texts[kind] if active else fine[kind]
        conditions.append(
            {
                "type": kind,
                "status": "True" if active else "False",
                "reason": reason,
                "message": message,
                "lastHeartbeatTime": beat,
                "lastTransitionTime": ts(pressures[kind] if active else created),
            }
        )
    conditions.append(
        {
            "type": "Ready",
            "status": ready,
            "reason": ready_reason or ("KubeletReady" if ready == "True" else "KubeletNotReady"),
            "message": ready_message
            or ("kubelet is posting ready status" if ready == "True" else "container runtime is down"),
            "lastHeartbeatTime": beat,
            "lastTransitionTime": ts(since),
        }
    )
    spec: Obj = {"podCIDR": "10.244.1.0/24", "providerID": f"aws:///eu-west-1a/i-{short_hash(name, 17)}"}
    if unschedulable:
        spec["unschedulable"] = True
        spec["taints"] = [
            {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule", "timeAdded": None}
        ]
    if ready != "True":
        spec.setdefault("taints", []).append(
            {"key": "node.kubernetes.io/not-ready", "effect": "NoExecute", "timeAdded": ts(since)}
        )
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": metadata(
            name,
            None,
            "Node",
            created,
            labels={
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "node-role.kubernetes.io/worker": "",
                "topology.kubernetes.io/zone": "eu-west-1a",
            },
            annotations={"node.alpha.kubernetes.io/ttl": "0"},
            manager="kubelet",
        ),
        "spec": spec,
        "status": {
            "capacity": {
                "cpu": "4",
                "memory": "16318788Ki",
                "pods": "110",
                "ephemeral-storage": "101430960Ki",
            },
            "allocatable": {
                "cpu": "3920m",
                "memory": "15397188Ki",
                "pods": "110",
                "ephemeral-storage": "93478772582",
            },
            "conditions": conditions,
            "addresses": [
                {"type": "InternalIP", "address": internal_ip},
                {"type": "Hostname", "address": name},
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "kubeletVersion": "v1.30.4",
                "kubeProxyVersion": "v1.30.4",
                "containerRuntimeVersion": "containerd://1.7.20",
                "osImage": "Ubuntu 22.04.4 LTS",
                "kernelVersion": "6.5.0-1024-aws",
                "architecture": "amd64",
                "operatingSystem": "linux",
            },
        },
    }


def helm_release_secret(
    release: str,
    namespace: str,
    *,
    revision: int,
    status: str,
    chart: str,
    chart_version: str,
    created: datetime,
    app_version: str = "",
    values: Mapping[str, Any] | None = None,
    description: str | None = None,
) -> Obj:
    """A Helm 3 release secret: ``data.release`` is base64 (API) of base64 (Helm) of gzip JSON."""
    body = {
        "name": release,
        "namespace": namespace,
        "version": revision,
        "info": {
            "first_deployed": ts(created),
            "last_deployed": ts(created),
            "deleted": "",
            "description": description or ("Install complete" if revision == 1 else "Upgrade complete"),
            "status": status,
        },
        "chart": {
            "metadata": {
                "name": chart,
                "version": chart_version,
                "appVersion": app_version,
                "apiVersion": "v2",
            },
            "templates": [
                {"name": "templates/deployment.yaml", "data": base64.b64encode(b"kind: Deployment").decode()}
            ],
            "values": {"replicaCount": 3},
        },
        "config": dict(values or {}),
        "manifest": f"---\n# Source: {chart}/templates/deployment.yaml\nkind: Deployment\n",
    }
    helm_encoded = base64.b64encode(gzip.compress(json.dumps(body).encode())).decode()
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "helm.sh/release.v1",
        "metadata": metadata(
            f"sh.helm.release.v1.{release}.v{revision}",
            namespace,
            "Secret",
            created,
            labels={
                "name": release,
                "owner": "helm",
                "status": status,
                "version": str(revision),
                "modifiedAt": str(int(created.timestamp())),
            },
            manager="helm",
        ),
        "data": {"release": base64.b64encode(helm_encoded.encode()).decode()},
    }


# -- a whole rollout --------------------------------------------------------------------------


@dataclass
class StagedRollout:
    """A Deployment rolled from one template to another, with everything the cluster would hold."""

    deployment: Obj
    old_replica_set: Obj
    new_replica_set: Obj
    old_pods: list[Obj] = field(default_factory=list)
    new_pods: list[Obj] = field(default_factory=list)
    events: list[Obj] = field(default_factory=list)
    logs: dict[tuple[str, str, str, bool], str] = field(default_factory=dict)

    def objects(self) -> list[Obj]:
        return [
            self.deployment,
            self.old_replica_set,
            self.new_replica_set,
            *self.old_pods,
            *self.new_pods,
            *self.events,
        ]


def deployment_rollout(
    name: str,
    namespace: str,
    *,
    old_image: str,
    new_image: str,
    rolled_out_at: datetime,
    old_revision: int = 6,
    replicas: int = 3,
    crash_new_pods: int = 0,
    crash_exit_code: int = 1,
    crash_reason: str = "Error",
    crash_log: str = "",
    old_env: Mapping[str, str] | None = None,
    new_env: Mapping[str, str] | None = None,
    created: datetime | None = None,
    nodes: tuple[str, ...] = ("node-a", "node-b", "node-c"),
) -> StagedRollout:
    """A Deployment rolled out at ``rolled_out_at`` from ``old_image`` to ``new_image``.

    With ``crash_new_pods`` the new ReplicaSet's pods crash-loop (the rollout stalls: the old
    pods keep serving); otherwise the rollout completed and only new pods run.
    """
    born = created or rolled_out_at - timedelta(days=30)
    old_template = pod_template(name, [container(name, old_image, env=old_env or {"LOG_LEVEL": "info"})])
    new_template = pod_template(
        name, [container(name, new_image, env=new_env or old_env or {"LOG_LEVEL": "info"})]
    )
    new_revision = old_revision + 1
    new_rs_name = f"{name}-{template_hash(new_template)}"
    crashing = crash_new_pods > 0
    if crashing:
        status = {
            "replicas": replicas + crash_new_pods,
            "updatedReplicas": crash_new_pods,
            "readyReplicas": replicas,
            "availableReplicas": replicas,
            "unavailableReplicas": crash_new_pods,
        }
        conditions = [
            condition(
                "Available",
                "True",
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.",
                since=born,
            ),
            condition(
                "Progressing",
                "True",
                "ReplicaSetUpdated",
                f'ReplicaSet "{new_rs_name}" is progressing.',
                since=born,
                updated=rolled_out_at + timedelta(seconds=20),
            ),
        ]
    else:
        status = {}
        conditions = [
            condition(
                "Available",
                "True",
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.",
                since=born,
            ),
            condition(
                "Progressing",
                "True",
                "NewReplicaSetAvailable",
                f'ReplicaSet "{new_rs_name}" has successfully progressed.',
                since=born,
                updated=rolled_out_at + timedelta(seconds=45),
            ),
        ]
    deploy = deployment(
        name,
        namespace,
        template=new_template,
        revision=new_revision,
        created=born,
        replicas=replicas,
        status=status,
        conditions=conditions,
    )
    old_rs = replica_set(
        deploy,
        template=old_template,
        revision=old_revision,
        created=born + timedelta(days=1),
        replicas=replicas if crashing else 0,
    )
    new_rs = replica_set(
        deploy,
        template=new_template,
        revision=new_revision,
        created=rolled_out_at,
        replicas=crash_new_pods if crashing else replicas,
        ready=0 if crashing else None,
    )
    staged = StagedRollout(deployment=deploy, old_replica_set=old_rs, new_replica_set=new_rs)
    if crashing:
        staged.old_pods = [
            pod(
                old_rs,
                template=old_template,
                created=born + timedelta(days=1, minutes=i),
                node=nodes[i % len(nodes)],
            )
            for i in range(replicas)
        ]
        spec = new_template["spec"]["containers"][0]
        for i in range(crash_new_pods):
            started = rolled_out_at + timedelta(seconds=5 + i)
            last_start = rolled_out_at + timedelta(minutes=4, seconds=i)
            new_pod = pod(
                new_rs,
                template=new_template,
                created=started,
                node=nodes[i % len(nodes)],
                statuses=[
                    container_status(
                        spec,
                        state=waiting(
                            "CrashLoopBackOff", f"back-off 2m40s restarting failed container={name}"
                        ),
                        last_state=terminated(
                            crash_reason, crash_exit_code, last_start, last_start + timedelta(seconds=3)
                        ),
                        restarts=6 + i,
                        ready=False,
                    )
                ],
            )
            staged.new_pods.append(new_pod)
            staged.events.append(
                event(
                    new_pod,
                    reason="BackOff",
                    message=f"Back-off restarting failed container {name} in pod {new_pod['metadata']['name']}",
                    first=started + timedelta(seconds=30),
                    last=rolled_out_at + timedelta(minutes=9),
                    count=25,
                )
            )
            if crash_log:
                staged.logs[(namespace, new_pod["metadata"]["name"], name, True)] = crash_log
    else:
        staged.new_pods = [
            pod(
                new_rs,
                template=new_template,
                created=rolled_out_at + timedelta(seconds=5 + i),
                node=nodes[i % len(nodes)],
            )
            for i in range(replicas)
        ]
    return staged
