"""Warning events in the window, grouped by reason and by the workload (or node) they concern.

The API server keeps events for about an hour (``--event-ttl``): they are evidence of what is
happening, not a history. An event counts when its first..last occurrence overlaps the window.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from diagnostics import Entity, Finding, Measurement, Severity
from diagnostics.units import isoformat
from probes.kubernetes.findings import MakeFinding, node_entity, plural, workload_entity
from probes.kubernetes.objects import Event, Pod, WorkloadRef

EXPLAINED_BY = {
    "crash_loop": frozenset({"BackOff"}),
    "oom_killed": frozenset({"BackOff", "OOMKilling"}),
    "restarts": frozenset({"BackOff"}),
    "image_pull": frozenset({"Failed", "BackOff", "ErrImagePull", "InspectFailed"}),
    "container_error": frozenset({"Failed", "BackOff"}),
    "pending": frozenset({"FailedScheduling"}),
    "evicted": frozenset({"Evicted", "Evicting"}),
}
"""Event reasons a pod finding of each kind already explains (they become its evidence)."""
WORKLOAD_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "ReplicaSet"})


@dataclass(frozen=True, slots=True, kw_only=True)
class EventGroup:
    """Warning events with the same reason about one workload, node or other object."""

    entity: Entity
    reason: str
    count: int
    first: datetime | None
    last: datetime | None
    objects: tuple[str, ...]
    messages: tuple[str, ...]

    def details(self) -> dict[str, Any]:
        """The group as evidence details (JSON-ready)."""
        return {
            "reason": self.reason,
            "count": self.count,
            "first": isoformat(self.first),
            "last": isoformat(self.last),
            "objects": list(self.objects),
            "messages": list(self.messages),
        }


def _workload_of(
    event: Event, pods: Mapping[tuple[str, str], Pod], hashes: Collection[str]
) -> WorkloadRef | None:
    namespace = event.object_namespace or event.namespace
    if event.object_kind == "Pod":
        pod = pods.get((namespace, event.object_name))
        return pod.workload if pod else WorkloadRef(namespace=namespace, kind="Pod", name=event.object_name)
    if event.object_kind == "ReplicaSet":
        base, _, suffix = event.object_name.rpartition("-")
        if base and suffix in hashes:
            return WorkloadRef(namespace=namespace, kind="Deployment", name=base)
    if event.object_kind in WORKLOAD_KINDS:
        return WorkloadRef(namespace=namespace, kind=event.object_kind, name=event.object_name)
    return None


def group_events(
    events: Iterable[Event], pods: Iterable[Pod], start: datetime, at: datetime, *, selected_only: bool
) -> list[EventGroup]:
    """Warning events overlapping the window, one group per (object, reason), biggest first.

    ``selected_only``: a label selector is configured, so only events about the selected pods'
    workloads and the nodes they run on are kept.
    """
    by_name = {(p.meta.namespace, p.meta.name): p for p in pods}
    hashes = {h for p in by_name.values() if (h := p.meta.labels.get("pod-template-hash"))}
    selected = {p.workload.key for p in by_name.values()}
    hosts = {p.node for p in by_name.values() if p.node}
    grouped: dict[tuple[str, str, str], list[Event]] = {}
    entities: dict[tuple[str, str, str], Entity] = {}
    for event in events:
        if event.type != "Warning" or event.last is None or event.last < start:
            continue
        if event.first is not None and event.first > at:
            continue
        if event.object_kind == "Node":
            if selected_only and event.object_name not in hosts:
                continue
            entity = node_entity(event.object_name)
        else:
            ref = _workload_of(event, by_name, hashes)
            if ref is not None:
                if selected_only and ref.key not in selected:
                    continue
                entity = workload_entity(ref)
            elif selected_only:
                continue
            else:
                namespace = event.object_namespace or event.namespace
                entity = Entity(
                    kind=event.object_kind.lower() or "object",
                    name=f"{namespace}/{event.object_name}" if namespace else event.object_name,
                    attributes={"namespace": namespace} if namespace else {},
                )
        key = (entity.kind, entity.name, event.reason)
        grouped.setdefault(key, []).append(event)
        entities[key] = entity
    groups = [
        EventGroup(
            entity=entities[key],
            reason=key[2],
            count=sum(e.count for e in items),
            first=min((e.first for e in items if e.first), default=None),
            last=max((e.last for e in items if e.last), default=None),
            objects=tuple(dict.fromkeys(f"{e.object_kind}/{e.object_name}" for e in items))[:10],
            messages=tuple(dict.fromkeys(e.message for e in items if e.message))[:3],
        )
        for key, items in grouped.items()
    ]
    return sorted(groups, key=lambda g: (-g.count, g.entity.name, g.reason))


def by_subject(groups: Iterable[EventGroup]) -> dict[tuple[str, str], list[EventGroup]]:
    """Groups indexed by (entity name, reason), to attach them to the findings they explain."""
    indexed: dict[tuple[str, str], list[EventGroup]] = {}
    for group in groups:
        indexed.setdefault((group.entity.name, group.reason), []).append(group)
    return indexed


def judge_events(
    groups: Iterable[EventGroup],
    *,
    explained: Collection[tuple[str, str]],
    limit: int,
    queries: Iterable[str],
    kubectl_suffix: str,
    make: MakeFinding,
) -> list[Finding]:
    """A warning per event group no pod finding explains, the ``limit`` biggest."""
    findings: list[Finding] = []
    for group in groups:
        if (group.entity.name, group.reason) in explained:
            continue
        if len(findings) >= limit:
            break
        workload_kind = group.entity.attributes.get("workload_kind", group.entity.kind)
        message = group.messages[0] if group.messages else ""
        findings.append(
            make(
                kind="warning_events",
                key=group.reason,
                severity=Severity.WARNING,
                title=f"{plural(group.count, 'Warning event')} {group.reason} on {workload_kind} {group.entity.name}"
                + (f": {message}" if message else ""),
                entity=group.entity,
                summary=f"{group.reason} reported for {', '.join(group.objects[:5])}"
                + (f" (+{len(group.objects) - 5} more)" if len(group.objects) > 5 else "")
                + ". Events are kept about an hour: counts are a lower bound.",
                values=[Measurement(name="events", value=group.count, unit="count")],
                queries=[q for q in queries if "/events" in q],
                details=group.details(),
                onset=group.first,
                next_steps=[
                    f"kubectl get events -n {group.entity.attributes.get('namespace', 'default')} "
                    f"--field-selector type=Warning,reason={group.reason} --sort-by=.lastTimestamp{kubectl_suffix}"
                ],
            )
        )
    return findings
