"""Turning the API server's JSON objects into the frozen values of :mod:`probes.kubernetes.objects`.

Pure functions over dicts, tolerant of missing fields (old API servers, partial objects).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from probes.kubernetes.objects import (
    Condition,
    ContainerSpec,
    ContainerState,
    EnvVar,
    Event,
    Meta,
    Node,
    Pod,
    PodTemplate,
    Revision,
    Taint,
    Termination,
    Workload,
    WorkloadRef,
)

JSON = Mapping[str, Any]

REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
REVISION_HISTORY_ANNOTATION = "deployment.kubernetes.io/revision-history"
# annotations and labels the controllers add to templates: not a change anyone made
_GENERATED_TEMPLATE_KEYS = frozenset({"pod-template-hash", "controller-revision-hash"})


def parse_time(value: Any) -> datetime | None:
    """RFC 3339 (``2024-05-01T10:00:00Z``) or MicroTime (``...00.123456Z``) to an aware datetime."""
    if not value or not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def parse_meta(obj: JSON) -> Meta:
    """The metadata of any object, with its controlling owner."""
    meta = obj.get("metadata") or {}
    owner = next((o for o in meta.get("ownerReferences") or () if o.get("controller")), None)
    return Meta(
        namespace=meta.get("namespace") or "",
        name=meta.get("name") or "",
        uid=meta.get("uid") or "",
        created=parse_time(meta.get("creationTimestamp")),
        labels=dict(meta.get("labels") or {}),
        annotations=dict(meta.get("annotations") or {}),
        owner_kind=owner.get("kind") if owner else None,
        owner_name=owner.get("name") if owner else None,
        owner_uid=owner.get("uid") if owner else None,
    )


def parse_conditions(items: Iterable[JSON] | None) -> tuple[Condition, ...]:
    """Status conditions (``lastUpdateTime``, or a node's ``lastHeartbeatTime``, as last update)."""
    return tuple(
        Condition(
            type=c.get("type") or "",
            status=c.get("status") or "Unknown",
            reason=c.get("reason"),
            message=c.get("message"),
            last_transition=parse_time(c.get("lastTransitionTime")),
            last_update=parse_time(c.get("lastUpdateTime") or c.get("lastHeartbeatTime")),
        )
        for c in items or ()
    )


def _env_reference(item: JSON) -> str | None:
    """``secretKeyRef db/password``, ``fieldRef status.podIP``: where a ``valueFrom`` points."""
    source = item.get("valueFrom")
    if not isinstance(source, Mapping):
        return None
    for key, ref in source.items():
        if isinstance(ref, Mapping):
            where = ref.get("name") or ref.get("fieldPath") or ref.get("resource") or ""
            inner = ref.get("key")
            return f"{key} {where}/{inner}" if inner else f"{key} {where}"
    return "valueFrom"


def parse_env(item: JSON) -> EnvVar:
    """An ``env`` entry: its literal value, or the reference it is read from."""
    reference = None if "value" in item else _env_reference(item)
    return EnvVar(name=item.get("name") or "", value=str(item.get("value") or ""), reference=reference)


def _memory_limit(container: JSON) -> str | None:
    limit = ((container.get("resources") or {}).get("limits") or {}).get("memory")
    return str(limit) if limit is not None else None


def parse_container_spec(container: JSON) -> ContainerSpec:
    """A container of a pod template; what is not read is kept as a digest, to tell changes."""
    rest = {k: v for k, v in container.items() if k not in ("name", "image", "env")}
    return ContainerSpec(
        name=container.get("name") or "",
        image=container.get("image") or "",
        env=tuple(parse_env(e) for e in container.get("env") or ()),
        memory_limit=_memory_limit(container),
        digest=_digest(rest),
    )


def parse_template(template: JSON | None) -> PodTemplate:
    """A pod template (``spec.template`` of a workload, ReplicaSet or ControllerRevision)."""
    template = template or {}
    spec = template.get("spec") or {}
    annotations = (template.get("metadata") or {}).get("annotations") or {}
    return PodTemplate(
        containers=tuple(parse_container_spec(c) for c in spec.get("containers") or ()),
        init_containers=tuple(parse_container_spec(c) for c in spec.get("initContainers") or ()),
        annotations={k: str(v) for k, v in annotations.items() if k not in _GENERATED_TEMPLATE_KEYS},
        spec_digests={k: _digest(v) for k, v in spec.items() if k not in ("containers", "initContainers")},
    )


def parse_workload(obj: JSON, kind: str) -> Workload:
    """A Deployment, StatefulSet or DaemonSet (list items carry no ``kind``: the caller knows)."""
    meta = parse_meta(obj)
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    if kind == "DaemonSet":
        desired = _int(status.get("desiredNumberScheduled"))
        updated = _int(status.get("updatedNumberScheduled"))
        ready = _int(status.get("numberReady"))
        available = _int(status.get("numberAvailable"))
        unavailable = _int(status.get("numberUnavailable"), max(desired - available, 0))
    else:
        desired = _int(spec.get("replicas"), 1)
        updated = _int(status.get("updatedReplicas"))
        ready = _int(status.get("readyReplicas"))
        available = _int(status.get("availableReplicas"), ready)
        total = _int(status.get("replicas"))
        unavailable = _int(status.get("unavailableReplicas"), max(max(desired, total) - available, 0))
    strategy = (spec.get("strategy") or spec.get("updateStrategy") or {}).get("type")
    revision = meta.annotations.get(REVISION_ANNOTATION)
    return Workload(
        kind=kind,
        meta=meta,
        generation=_int((obj.get("metadata") or {}).get("generation")),
        observed_generation=_int(status.get("observedGeneration")),
        desired=desired,
        updated=updated,
        ready=ready,
        available=available,
        unavailable=unavailable,
        conditions=parse_conditions(status.get("conditions")),
        revision=_int(revision) if revision is not None else None,
        current_revision_name=status.get("currentRevision"),
        update_revision_name=status.get("updateRevision"),
        strategy=strategy,
        paused=bool(spec.get("paused")),
    )


def parse_replica_set(obj: JSON) -> Revision | None:
    """A Deployment's ReplicaSet as one of its revisions (None when not owned by a Deployment)."""
    meta = parse_meta(obj)
    number = meta.annotations.get(REVISION_ANNOTATION)
    if meta.owner_kind != "Deployment" or number is None:
        return None
    return Revision(
        number=_int(number),
        name=meta.name,
        owner_uid=meta.owner_uid,
        created=meta.created,
        template_source=(obj.get("spec") or {}).get("template") or {},
        earlier_numbers=tuple(
            _int(n) for n in meta.annotations.get(REVISION_HISTORY_ANNOTATION, "").split(",") if n.strip()
        ),
    )


def parse_controller_revision(obj: JSON) -> Revision | None:
    """A StatefulSet's or DaemonSet's ControllerRevision (its data is a patch with the template)."""
    meta = parse_meta(obj)
    if meta.owner_kind not in ("StatefulSet", "DaemonSet"):
        return None
    data = obj.get("data") or {}
    template = dict((data.get("spec") or {}).get("template") or {})
    template.pop("$patch", None)
    return Revision(
        number=_int(obj.get("revision")),
        name=meta.name,
        owner_uid=meta.owner_uid,
        created=meta.created,
        template_source=template,
    )


_POD_HASH_SUFFIX = "pod-template-hash"


def owning_workload(meta: Meta) -> WorkloadRef:
    """The workload a pod belongs to: a ReplicaSet's pods belong to its Deployment."""
    kind, name = meta.owner_kind, meta.owner_name
    if kind == "ReplicaSet" and name:
        template_hash = meta.labels.get(_POD_HASH_SUFFIX)
        if template_hash and name.endswith("-" + template_hash):
            kind, name = "Deployment", name[: -len(template_hash) - 1]
    if not kind or not name:
        kind, name = "Pod", meta.name
    return WorkloadRef(namespace=meta.namespace, kind=kind, name=name, service=meta.service)


def _termination(state: JSON | None) -> Termination | None:
    terminated = (state or {}).get("terminated")
    if not terminated:
        return None
    return Termination(
        reason=terminated.get("reason"),
        exit_code=terminated.get("exitCode"),
        started=parse_time(terminated.get("startedAt")),
        finished=parse_time(terminated.get("finishedAt")),
        signal=terminated.get("signal"),
    )


def _container_states(pod: JSON) -> tuple[ContainerState, ...]:
    spec = pod.get("spec") or {}
    limits = {
        c.get("name"): _memory_limit(c)
        for c in [*spec.get("initContainers", ()), *spec.get("containers", ())]
    }
    status = pod.get("status") or {}
    states = []
    for init, key in ((True, "initContainerStatuses"), (False, "containerStatuses")):
        for item in status.get(key) or ():
            waiting = (item.get("state") or {}).get("waiting") or {}
            states.append(
                ContainerState(
                    name=item.get("name") or "",
                    image=item.get("image") or "",
                    init=init,
                    ready=bool(item.get("ready")),
                    restart_count=_int(item.get("restartCount")),
                    waiting_reason=waiting.get("reason"),
                    waiting_message=waiting.get("message"),
                    terminated=_termination(item.get("state")),
                    last_terminated=_termination(item.get("lastState")),
                    memory_limit=limits.get(item.get("name")),
                )
            )
    return tuple(states)


def parse_pod(obj: JSON) -> Pod:
    """A pod, with the workload owning it and its containers' states."""
    meta = parse_meta(obj)
    status = obj.get("status") or {}
    phase = status.get("phase") or "Unknown"
    # conditions matter only for pods not running (scheduling, eviction); skipping them for the
    # thousands of running pods is a third of the parsing time
    conditions = parse_conditions(status.get("conditions")) if phase != "Running" else ()
    return Pod(
        meta=meta,
        workload=owning_workload(meta),
        node=(obj.get("spec") or {}).get("nodeName"),
        phase=phase,
        started=parse_time(status.get("startTime")),
        reason=status.get("reason"),
        message=status.get("message"),
        conditions=conditions,
        containers=_container_states(obj),
    )


def parse_event(obj: JSON) -> Event:
    """A core/v1 or events.k8s.io/v1 event (``series`` counted when present)."""
    meta = obj.get("metadata") or {}
    involved = obj.get("involvedObject") or obj.get("regarding") or {}
    series = obj.get("series") or {}
    first = parse_time(obj.get("firstTimestamp")) or parse_time(obj.get("eventTime"))
    last = (
        parse_time(series.get("lastObservedTime"))
        or parse_time(obj.get("lastTimestamp"))
        or parse_time(obj.get("eventTime"))
        or first
    )
    count = _int(series.get("count")) or _int(obj.get("count"), 1) or 1
    source = (obj.get("source") or {}).get("component") or obj.get("reportingComponent")
    return Event(
        namespace=meta.get("namespace") or "",
        type=obj.get("type") or "",
        reason=obj.get("reason") or "",
        message=(obj.get("message") or obj.get("note") or "").strip(),
        object_kind=involved.get("kind") or "",
        object_name=involved.get("name") or "",
        object_namespace=involved.get("namespace"),
        count=count,
        first=first or last,
        last=last,
        source=source or None,
    )


_ROLE_LABEL = re.compile(r"^node-role\.kubernetes\.io/(.+)$")


def parse_node(obj: JSON) -> Node:
    """A node with its conditions, cordon, taints, roles and internal IP."""
    meta = parse_meta(obj)
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    addresses = {a.get("type"): a.get("address") for a in status.get("addresses") or ()}
    return Node(
        name=meta.name,
        created=meta.created,
        conditions=parse_conditions(status.get("conditions")),
        unschedulable=bool(spec.get("unschedulable")),
        taints=tuple(
            Taint(key=t.get("key") or "", effect=t.get("effect") or "", value=t.get("value"))
            for t in spec.get("taints") or ()
        ),
        roles=tuple(sorted(m.group(1) for k in meta.labels if (m := _ROLE_LABEL.match(k)))),
        kubelet_version=(status.get("nodeInfo") or {}).get("kubeletVersion"),
        internal_ip=addresses.get("InternalIP"),
    )
