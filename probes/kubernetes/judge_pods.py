"""Judging pods: one finding per workload and kind of problem, never one per pod.

Severities: ``crash_loop``, ``image_pull`` and ``container_error`` critical; ``oom_killed``
critical when the container is crash-looping, a warning otherwise; ``pending`` a warning after
``pending_warning``, critical after ``pending_critical``; ``evicted`` and ``restarts`` warnings.
Crashing containers carry the tail of their previous instance's log.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from diagnostics import Finding, Measurement, Severity
from diagnostics.units import format_duration, isoformat
from probes.kubernetes.client_workloads import LogTarget
from probes.kubernetes.findings import MakeFinding, live_state_note, observed_now, plural, workload_entity
from probes.kubernetes.judge_events import EXPLAINED_BY, EventGroup
from probes.kubernetes.pod_problems import Problem, ProblemGroup

CRASHING = ("crash_loop", "oom_killed", "restarts")
MAX_LOG_LINE = 500


@dataclass(frozen=True, slots=True, kw_only=True)
class PodLimits:
    """Thresholds and bounds of pod findings."""

    pending_warning_s: float
    pending_critical_s: float
    max_listed_pods: int = 10
    kubectl_suffix: str = ""
    """`` --context prod-eu`` when a context is configured, appended to every command."""


def _worst_container(group: ProblemGroup) -> Problem:
    return max(
        group.problems, key=lambda p: (p.container.restart_count if p.container else 0, p.pod.meta.name)
    )


def log_targets(groups: Iterable[ProblemGroup], limit: int) -> list[LogTarget]:
    """Whose previous log to read: the most restarted container of each crashing workload.

    One container per workload (of its most urgent crashing group: ``groups`` come most urgent
    first), so a workload both crash-looping and restarting costs one read, not two.
    """
    targets: list[LogTarget] = []
    workloads: set[tuple[str, str]] = set()
    for group in groups:
        if len(targets) >= limit:
            break
        key = (group.workload.kind, group.workload.key)
        if group.kind not in CRASHING or key in workloads:
            continue
        problem = _worst_container(group)
        if problem.container is not None:
            workloads.add(key)
            targets.append(
                LogTarget(
                    namespace=problem.pod.meta.namespace,
                    pod=problem.pod.meta.name,
                    container=problem.container.name,
                )
            )
    return targets


def _exit(problem: Problem) -> str:
    container = problem.container
    ended = container.last_terminated or container.terminated if container else None
    if ended is None:
        return problem.reason
    code = f"exited {ended.exit_code}" if ended.exit_code is not None else "terminated"
    return f"{code} ({ended.reason or 'unknown reason'})"


def _headline(group: ProblemGroup, now: datetime, limits: PodLimits) -> tuple[Severity, str] | None:
    """The severity and title of a group, or None when it is not (yet) a problem."""
    pods = group.pods
    count = plural(len(pods), "pod")
    target = f"{group.workload.kind} {group.workload.key}"
    worst = _worst_container(group)
    container = worst.container.name if worst.container else ""
    restarts = sum(p.container.restart_count for p in group.problems if p.container)
    if group.kind == "crash_loop":
        return Severity.CRITICAL, (
            f"{count} of {target} in CrashLoopBackOff: {container} {_exit(worst)}, {plural(restarts, 'restart')}"
        )
    if group.kind == "oom_killed":
        limit = worst.container.memory_limit if worst.container else None
        looping = ", crash-looping" if group.crash_looping else ""
        return (Severity.CRITICAL if group.crash_looping else Severity.WARNING), (
            f"Container {container} of {target} OOMKilled in {count}"
            + (f" (memory limit {limit})" if limit else "")
            + f"{looping}, {plural(restarts, 'restart')}"
        )
    if group.kind == "image_pull":
        image = worst.container.image if worst.container else "its image"
        return Severity.CRITICAL, f"{count} of {target} cannot pull image {image}: {worst.reason}"
    if group.kind == "container_error":
        return Severity.CRITICAL, f"{count} of {target} cannot start container {container}: {worst.reason}"
    if group.kind == "pending":
        onset = group.onset
        waited = (now - onset).total_seconds() if onset else limits.pending_critical_s
        if waited < limits.pending_warning_s:
            return None
        reason = (worst.message or worst.reason).split(" preemption:")[0].rstrip(".")
        severity = Severity.CRITICAL if waited >= limits.pending_critical_s else Severity.WARNING
        return severity, f"{count} of {target} Pending for {format_duration(waited)}: {reason}"
    if group.kind == "failed":
        return Severity.WARNING, f"{count} of {target} failed: " + (
            f"{container} {_exit(worst)}"
            if worst.container
            else f"{worst.reason}: {worst.message or 'no message'}"
        )
    if group.kind == "evicted":
        return Severity.WARNING, f"{count} of {target} evicted: {worst.message or 'no reason given'}"
    return Severity.WARNING, (
        f"Container {container} of {target} restarted in the window in {count}: last {_exit(worst)}, "
        f"{plural(restarts, 'restart')} in total"
    )


def _pod_details(problem: Problem) -> dict[str, Any]:
    pod, container = problem.pod, problem.container
    ended = (container.last_terminated or container.terminated) if container else None
    return {
        "pod": pod.meta.name,
        "node": pod.node,
        "phase": pod.phase,
        "container": container.name if container else None,
        "image": container.image if container else None,
        "restarts": container.restart_count if container else None,
        "reason": problem.reason,
        "message": problem.message,
        "last_exit_code": ended.exit_code if ended else None,
        "last_reason": ended.reason if ended else None,
        "last_finished": isoformat(ended.finished) if ended else None,
    }


def judge_pod_groups(
    groups: Iterable[ProblemGroup],
    *,
    logs: Mapping[LogTarget, str],
    events: Mapping[tuple[str, str], list[EventGroup]],
    at: datetime,
    server_time: datetime | None,
    limits: PodLimits,
    queries: Iterable[str],
    make: MakeFinding,
) -> list[Finding]:
    """A finding per (workload, problem kind); ``events`` maps (workload, reason) to evidence."""
    now = observed_now(at, server_time)
    note = live_state_note(at, server_time, "Pod state")
    pod_queries = [q for q in queries if "/pods" in q]
    findings = []
    for group in groups:
        headline = _headline(group, now, limits)
        if headline is None:
            continue
        severity, title = headline
        worst = _worst_container(group)
        namespace = group.workload.namespace
        target = LogTarget(
            namespace=namespace,
            pod=worst.pod.meta.name,
            container=worst.container.name if worst.container else "",
        )
        tail = [line[:MAX_LOG_LINE] for line in logs.get(target, "").splitlines() if line.strip()]
        explaining = [
            g
            for reason in _explained_reasons(group.kind)
            for g in events.get((group.workload.key, reason), [])
        ]
        # explaining events may go back further than the pods still show (replaced pods); when
        # the pods' status cannot place the start, events (kept about an hour) cannot either
        onset = (
            min([group.onset, *(g.first for g in explaining if g.first is not None)])
            if group.onset is not None
            else None
        )
        summary = f"{plural(len(group.pods), 'pod')}: {', '.join(p.meta.name for p in group.pods[:5])}."
        if tail:
            summary += f" Last log line of {target.pod}/{target.container} before it died: {tail[-1][:200]}"
        findings.append(
            make(
                kind=group.kind,
                severity=severity,
                title=title,
                entity=workload_entity(group.workload),
                summary=summary + note,
                values=[
                    Measurement(name="pods", value=len(group.pods), unit="count"),
                    Measurement(
                        name="restarts",
                        value=sum(p.container.restart_count for p in group.problems if p.container),
                        unit="count",
                    ),
                    *(
                        [Measurement(name="last exit code", value=ended.exit_code)]
                        if worst.container
                        and (ended := worst.container.last_terminated or worst.container.terminated)
                        else []
                    ),
                ],
                queries=pod_queries
                + (
                    [f"GET /api/v1/namespaces/{namespace}/pods/{target.pod}/log?previous=true"]
                    if tail
                    else []
                ),
                details={
                    "workload_kind": group.workload.kind,
                    "pods": [_pod_details(p) for p in group.problems[: limits.max_listed_pods]],
                    "pod_count": len(group.pods),
                    "log_tail": {"pod": target.pod, "container": target.container, "lines": tail}
                    if tail
                    else None,
                    "events": [g.details() for g in explaining],
                },
                onset=onset,
                next_steps=_next_steps(group, target, limits.kubectl_suffix),
            )
        )
    return findings


def _explained_reasons(kind: str) -> tuple[str, ...]:
    return tuple(sorted(EXPLAINED_BY.get(kind, ())))


def _next_steps(group: ProblemGroup, target: LogTarget, suffix: str) -> list[str]:
    namespace, pod = target.namespace, target.pod
    steps = []
    if group.kind in CRASHING:
        steps.append(f"kubectl logs -n {namespace} {pod} -c {target.container} --previous --tail=100{suffix}")
    steps.append(f"kubectl describe pod -n {namespace} {pod}{suffix}")
    if group.kind == "pending":
        steps.append(f"kubectl describe nodes{suffix} | grep -A 8 'Allocated resources'")
    if group.kind == "oom_killed":
        steps.append(f"kubectl top pod -n {namespace} {pod} --containers{suffix}")
    if group.workload.kind in ("Deployment", "StatefulSet", "DaemonSet"):
        kind = group.workload.kind.lower()
        steps.append(f"kubectl rollout history {kind}/{group.workload.name} -n {namespace}{suffix}")
    return steps
