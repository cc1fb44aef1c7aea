"""Builders of pods (with their containers' states), events and nodes as a real cluster stores them.

Full objects, not just the fields the probes read; times are absolute datetimes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta

from tests.support.kube_meta import Obj, metadata, short_hash, ts

# -- pods -----------------------------------------------------------------------------------


def running(since: datetime) -> Obj:
    """A container state: running since ``since``."""
    return {"running": {"startedAt": ts(since)}}


def waiting(reason: str, message: str = "") -> Obj:
    """A container state: waiting (``CrashLoopBackOff``, ``ImagePullBackOff``...)."""
    return {"waiting": {"reason": reason, "message": message}} if message else {"waiting": {"reason": reason}}


def terminated(reason: str, exit_code: int, started: datetime, finished: datetime) -> Obj:
    """A container state: terminated with ``reason`` and ``exit_code``."""
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
    """The status of the container ``spec`` in a pod: its state, last state and restarts."""
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


def restarted_pod(
    owner: Obj,
    *,
    template: Obj,
    created: datetime,
    node: str,
    reason: str,
    exit_code: int,
    finished: datetime,
    started: datetime | None = None,
    restarts: int = 1,
    crash_looping: bool = False,
    name: str | None = None,
) -> Obj:
    """A pod whose first container last ended with ``reason`` and ``exit_code`` at ``finished``
    (``OOMKilled``, 137 for an OOM kill): running again since, or waiting in CrashLoopBackOff.

    That last instance had started at ``started`` (default: a minute before it ended).
    """
    spec = template["spec"]["containers"][0]
    state = (
        waiting("CrashLoopBackOff", f"back-off 5m0s restarting failed container={spec['name']}")
        if crash_looping
        else running(finished + timedelta(seconds=1))
    )
    last = terminated(reason, exit_code, started or finished - timedelta(minutes=1), finished)
    return pod(
        owner,
        template=template,
        created=created,
        node=node,
        name=name,
        statuses=[container_status(spec, state=state, last_state=last, restarts=restarts)],
    )


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


# -- events and nodes -------------------------------------------------------------------------


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
