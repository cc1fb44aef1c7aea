"""Judging containers, grouped by workload. Pure functions over a ContainerSnapshot.

Each container past a threshold is one *observation*; observations of one kind are grouped by
workload (``namespace/deployment``...), so that ten throttled replicas are one finding naming
the worst pod, not ten. A container whose workload cannot be told is its own ``container``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from diagnostics import Entity, Measurement, Severity
from diagnostics.units import format_bytes, format_duration
from probes.resources import promql
from probes.resources.client import Key
from probes.resources.client_containers import CONTAINER, ContainerSnapshot
from probes.resources.judge_nodes import grade
from probes.resources.problem import OnsetQuery, Problem
from probes.resources.workload import Workload, from_owner, from_pod_name

DETAIL_LIMIT = 20
"""Containers listed in a finding's details, worst first."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ContainerThresholds:
    """Thresholds of ``resources.containers``; ratios are 0..1, counts over the window."""

    throttling_warning: float = 0.25
    throttling_critical: float = 0.50
    memory_limit_warning: float = 0.90
    memory_limit_critical: float = 0.95
    ooms_critical: float = 1.0
    restarts_warning: float = 1.0
    restarts_critical: float = 5.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Observation:
    """One container past one threshold."""

    kind: str
    severity: Severity
    key: Key
    value: float
    extra: Mapping[str, Any] = field(default_factory=dict)


def observe(snapshot: ContainerSnapshot, limits: ContainerThresholds) -> list[Observation]:
    """Every container past a threshold, one observation per kind."""
    found: list[Observation] = []
    usage, cpu_limit = snapshot["cpu_usage"], snapshot["cpu_limit"]
    for key, share in snapshot["throttled_share"].values.items():
        severity = grade(share, limits.throttling_warning, limits.throttling_critical)
        if severity is not None:
            extra: dict[str, Any] = {
                "cpu_usage_cores": _round(usage.get(key), 3),
                "cpu_limit_cores": _round(cpu_limit.get(key), 3),
            }
            found.append(
                Observation(kind="cpu_throttling", severity=severity, key=key, value=share, extra=extra)
            )
    limits_bytes = snapshot["memory_limit"]
    for key, working_set in snapshot["working_set"].values.items():
        limit = limits_bytes.get(key)
        if not limit:
            continue
        severity = grade(working_set / limit, limits.memory_limit_warning, limits.memory_limit_critical)
        if severity is not None:
            extra = {"working_set_bytes": working_set, "limit_bytes": limit}
            if "memory_limit" in snapshot.limits_from_kube_state:
                extra["limit_source"] = "kube-state-metrics"
            found.append(
                Observation(
                    kind="memory_limit", severity=severity, key=key, value=working_set / limit, extra=extra
                )
            )
    reasons = {key: labels.get("reason", "") for key, labels in snapshot["last_terminated"].labels.items()}
    found += _ooms(snapshot, reasons, limits)
    for key, count in snapshot["restarts"].values.items():
        severity = grade(events(count), limits.restarts_warning, limits.restarts_critical)
        if severity is not None:
            extra = {"last_terminated_reason": reasons.get(key) or None}
            found.append(
                Observation(
                    kind="container_restarts", severity=severity, key=key, value=events(count), extra=extra
                )
            )
    return found


def _ooms(
    snapshot: ContainerSnapshot, reasons: Mapping[Key, str], limits: ContainerThresholds
) -> list[Observation]:
    """OOM kills from cAdvisor's counter; without it, from kube-state-metrics' last termination
    reason, which tells of one kill only (the last restart), however many restarts there were."""
    kills: dict[Key, tuple[int, dict[str, Any]]] = {}
    if snapshot["ooms"].query:
        for key, count in snapshot["ooms"].values.items():
            kills[key] = (events(count), {"source": "cadvisor"})
    else:
        for key, count in snapshot["restarts"].values.items():
            if reasons.get(key) == "OOMKilled":
                kills[key] = (1, {"source": "kube-state-metrics", "restarts": events(count)})
    return [
        Observation(kind="container_oom", severity=Severity.CRITICAL, key=key, value=count, extra=extra)
        for key, (count, extra) in kills.items()
        if count >= limits.ooms_critical
    ]


def workloads(snapshot: ContainerSnapshot) -> dict[tuple[str, str], Workload]:
    """(namespace, pod) -> workload, from kube_pod_owner (empty without kube-state-metrics)."""
    return {
        (key[0], key[1]): from_owner(labels.get("owner_kind", ""), labels.get("owner_name", ""))
        for key, labels in snapshot["owners"].labels.items()
        if labels.get("owner_name")
    }


def judge_containers(
    snapshot: ContainerSnapshot, queries: promql.QuerySet, limits: ContainerThresholds, window: timedelta
) -> list[Problem]:
    """One problem per kind and workload (or unmanaged container)."""
    owners = workloads(snapshot)
    groups: dict[tuple[str, str, str], list[tuple[Observation, Workload | None]]] = defaultdict(list)
    for observation in observe(snapshot, limits):
        namespace, pod, container = observation.key
        workload = owners.get((namespace, pod)) or from_pod_name(pod)
        group = f"{namespace}/{workload.name}" if workload else f"{namespace}/{pod}/{container}"
        groups[(observation.kind, group, namespace)].append((observation, workload))
    problems = []
    for (kind, group, _), members in sorted(groups.items()):
        members.sort(key=lambda m: (-m[0].severity, -m[0].value, m[0].key))
        problems.append(_problem(kind, group, members, queries, limits, window))
    return problems


def _entity(group: str, worst: Observation, workload: Workload | None) -> Entity:
    namespace, pod, container = worst.key
    if workload is None:
        return Entity(
            kind="container",
            name=group,
            attributes={"namespace": namespace, "pod": pod, "container": container},
        )
    attributes = {"namespace": namespace, "workload": workload.name, "pod": pod, "container": container}
    if workload.kind != "?":
        attributes["workload_kind"] = workload.kind
    return Entity(kind="workload", name=group, attributes=attributes)


def _problem(
    kind: str,
    group: str,
    members: list[tuple[Observation, Workload | None]],
    q: promql.QuerySet,
    limits: ContainerThresholds,
    window: timedelta,
) -> Problem:
    worst, workload = members[0]
    namespace, pod, container = worst.key
    entity = _entity(group, worst, workload)
    pods = sorted({o.key[1] for o, _ in members})
    where = f"Container {container} of {group}" if workload else f"Container {group}"
    also = f" ({len(pods)} pods)" if len(pods) > 1 else ""
    scope: dict[str, str] = {"namespace": namespace, "container": container}
    regex = {"pod": promql.regex_literal(workload.name) + "-.+"} if workload else None
    if workload is None:
        scope["pod"] = pod
    wording = _wording(kind, worst, where, also, q, limits, window)
    return Problem(
        kind=kind,
        severity=worst.severity,
        title=wording.title,
        summary=wording.summary,
        entity=entity,
        values=_values(kind, worst, len(pods)),
        queries=(q.scoped(wording.template, scope, regex=regex),),
        details={
            "containers": [
                {"pod": o.key[1], "container": o.key[2], "value": round(o.value, 4), **o.extra}
                for o, _ in members[:DETAIL_LIMIT]
            ],
            "affected_containers": len(members),
        },
        next_steps=wording.next_steps,
        onset_query=wording.onset,
        onset_keys=tuple(o.key for o, _ in members),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class _Wording:
    template: str
    title: str
    summary: str
    next_steps: tuple[str, ...]
    onset: OnsetQuery


def _wording(
    kind: str,
    worst: Observation,
    where: str,
    also: str,
    q: promql.QuerySet,
    limits: ContainerThresholds,
    window: timedelta,
) -> _Wording:
    ns, pod, c = worst.key
    logs = f"kubectl -n {ns} logs {pod} -c {c} --previous --tail=50"
    describe = f"kubectl -n {ns} describe pod {pod}"
    top = f"kubectl -n {ns} top pod {pod} --containers"
    times = "" if int(worst.value) == 1 else "s"
    if kind == "cpu_throttling":
        return _Wording(
            template=promql.THROTTLED_SHARE,
            title=f"{where} throttled in {worst.value * 100:.0f} % of CPU periods{also}",
            summary="The container hits its CPU limit (CFS quota): it waits for the next period, which adds latency.",
            next_steps=(top, describe),
            onset=OnsetQuery(
                promql=q.breach(promql.THROTTLED_SHARE, ">=", limits.throttling_warning), key_labels=CONTAINER
            ),
        )
    if kind == "memory_limit":
        ratio = (
            promql.KSM_MEMORY_LIMIT_RATIO
            if worst.extra.get("limit_source") == "kube-state-metrics"
            else promql.MEMORY_LIMIT_RATIO
        )
        return _Wording(
            template=ratio,
            title=f"{where} at {worst.value * 100:.0f} % of its {format_bytes(float(worst.extra['limit_bytes']))} memory limit{also}",
            summary="The working set is close to the memory limit: the kernel reclaims cache and the OOM killer is near.",
            next_steps=(top, describe),
            onset=OnsetQuery(
                promql=q.breach(ratio, ">=", limits.memory_limit_warning),
                key_labels=CONTAINER,
            ),
        )
    if kind == "container_oom" and worst.extra.get("source") == "cadvisor":
        return _Wording(
            template=promql.CONTAINER_OOMS,
            title=f"{where} OOM-killed {int(worst.value)} time{times} in the last {format_duration(window)}{also}",
            summary="The container went over its memory limit and the kernel killed it.",
            next_steps=(describe, logs),
            onset=OnsetQuery(
                promql=q.fleet(promql.CONTAINER_OOM_EVENTS), key_labels=CONTAINER, dating="first_event"
            ),
        )
    if kind == "container_oom":  # kube-state-metrics: only the last restart's reason is known
        restarts = int(worst.extra["restarts"])
        return _Wording(
            template=promql.LAST_TERMINATED,
            title=f"{where} OOM-killed at its last restart ({restarts} restart{'' if restarts == 1 else 's'} in the last {format_duration(window)}){also}",
            summary="The container went over its memory limit and the kernel killed it. kube-state-metrics keeps the reason of the last termination only: earlier restarts may have other causes.",
            next_steps=(describe, logs),
            onset=OnsetQuery(
                promql=q.fleet(promql.RESTART_EVENTS), key_labels=CONTAINER, dating="last_event"
            ),
        )
    reason = worst.extra.get("last_terminated_reason")
    return _Wording(
        template=promql.RESTARTS,
        title=f"{where} restarted {int(worst.value)} time{times} in the last {format_duration(window)}"
        + (f" (last terminated: {reason})" if reason else "")
        + also,
        summary="The container keeps exiting and the kubelet restarts it.",
        next_steps=(logs, describe),
        onset=OnsetQuery(promql=q.fleet(promql.RESTART_EVENTS), key_labels=CONTAINER, dating="first_event"),
    )


def _values(kind: str, worst: Observation, pods: int) -> tuple[Measurement, ...]:
    values = [Measurement(name="affected pods", value=pods, unit="count")]
    if kind == "cpu_throttling":
        values.insert(0, Measurement(name="throttled periods", value=round(worst.value, 4), unit="ratio"))
        values += [
            Measurement(name="cpu usage", value=worst.extra.get("cpu_usage_cores"), unit="cores"),
            Measurement(name="cpu limit", value=worst.extra.get("cpu_limit_cores"), unit="cores"),
        ]
    elif kind == "memory_limit":
        values.insert(0, Measurement(name="limit used", value=round(worst.value, 4), unit="ratio"))
        values += [
            Measurement(name="working set", value=worst.extra["working_set_bytes"], unit="bytes"),
            Measurement(name="memory limit", value=worst.extra["limit_bytes"], unit="bytes"),
        ]
    else:
        name = "oom kills" if kind == "container_oom" else "restarts"
        values.insert(0, Measurement(name=name, value=int(worst.value), unit="count"))
        if "restarts" in worst.extra:  # an OOM kill known from the last restart's reason
            values.insert(1, Measurement(name="restarts", value=worst.extra["restarts"], unit="count"))
    return tuple(values)


def events(increase: float) -> int:
    """A counter's ``increase()`` as a whole number of events: at least 1 when it rose at all."""
    return max(1, round(increase)) if increase > 0 else 0


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)
