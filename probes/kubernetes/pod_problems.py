"""Spotting what is wrong with each pod, and grouping the problems by owning workload.

A pod's status says, per container: waiting in ``CrashLoopBackOff`` or ``ImagePullBackOff``,
last terminated ``OOMKilled`` or with a non-zero exit (and when); per pod: ``Pending`` with the
scheduler's reason, ``Failed``/``Evicted``. Pods created after ``--at`` are ignored; terminations
count when they finished inside the window.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from probes.kubernetes.objects import ContainerState, Pod, Termination, WorkloadRef

IMAGE_PULL_REASONS = frozenset({"ImagePullBackOff", "ErrImagePull", "InvalidImageName", "ErrImageNeverPull"})
START_FAILURE_REASONS = frozenset({"CreateContainerConfigError", "CreateContainerError", "RunContainerError"})

SEVERITY_ORDER = (
    "crash_loop",
    "oom_killed",
    "image_pull",
    "container_error",
    "pending",
    "evicted",
    "restarts",
)
"""Problem kinds, most urgent first; a container has at most one of the container kinds."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Problem:
    kind: str
    pod: Pod
    container: ContainerState | None
    since: datetime | None
    reason: str
    message: str | None = None
    crash_looping: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class ProblemGroup:
    """The same kind of problem on the pods of one workload."""

    workload: WorkloadRef
    kind: str
    problems: tuple[Problem, ...]

    @property
    def pods(self) -> tuple[Pod, ...]:
        return tuple({p.pod.meta.name: p.pod for p in self.problems}.values())

    @property
    def onset(self) -> datetime | None:
        return min((p.since for p in self.problems if p.since), default=None)

    @property
    def crash_looping(self) -> bool:
        return any(p.crash_looping for p in self.problems)


def _in(moment: datetime | None, start: datetime, end: datetime) -> bool:
    return moment is not None and start <= moment <= end


def _when(termination: Termination | None) -> datetime | None:
    return (termination.finished or termination.started) if termination else None


def _container_problem(pod: Pod, container: ContainerState, start: datetime, at: datetime) -> Problem | None:
    waiting = container.waiting_reason
    last = container.last_terminated
    if waiting == "CrashLoopBackOff":
        oom = last is not None and last.reason == "OOMKilled"
        return Problem(
            kind="oom_killed" if oom else "crash_loop",
            pod=pod,
            container=container,
            since=_when(last),
            reason=(last.reason if last and last.reason else "CrashLoopBackOff"),
            message=container.waiting_message,
            crash_looping=True,
        )
    if waiting in IMAGE_PULL_REASONS:
        return Problem(
            kind="image_pull",
            pod=pod,
            container=container,
            since=pod.meta.created,
            reason=waiting,
            message=container.waiting_message,
        )
    if waiting in START_FAILURE_REASONS:
        return Problem(
            kind="container_error",
            pod=pod,
            container=container,
            since=pod.meta.created,
            reason=waiting,
            message=container.waiting_message,
        )
    for ended in (last, container.terminated):
        if ended is None or not _in(_when(ended), start, at):
            continue
        if ended.reason == "OOMKilled":
            return Problem(
                kind="oom_killed", pod=pod, container=container, since=_when(ended), reason="OOMKilled"
            )
        if ended is last and ended.exit_code not in (None, 0):
            return Problem(
                kind="restarts",
                pod=pod,
                container=container,
                since=_when(ended),
                reason=ended.reason or "Error",
            )
    return None


def pod_problems(pod: Pod, start: datetime, at: datetime) -> list[Problem]:
    """What is wrong with ``pod`` as its status shows it (an empty list: nothing)."""
    if pod.meta.created is not None and pod.meta.created > at:
        return []  # did not exist yet at the diagnosed moment
    if pod.phase == "Failed" and pod.reason == "Evicted":
        condition = pod.condition("DisruptionTarget") or pod.condition("Ready")
        moment = condition.last_transition if condition and condition.last_transition else None
        if moment is not None and not _in(moment, start, at):
            return []
        return [
            Problem(
                kind="evicted", pod=pod, container=None, since=moment, reason="Evicted", message=pod.message
            )
        ]
    if pod.phase in ("Succeeded", "Failed"):
        return []
    problems = []
    scheduled = pod.condition("PodScheduled")
    if pod.phase == "Pending" and scheduled is not None and scheduled.status == "False":
        problems.append(
            Problem(
                kind="pending",
                pod=pod,
                container=None,
                since=scheduled.last_transition or pod.meta.created,
                reason=scheduled.reason or "Unschedulable",
                message=scheduled.message,
            )
        )
    for container in pod.containers:
        problem = _container_problem(pod, container, start, at)
        if problem is not None:
            problems.append(problem)
    return problems


def group_problems(problems: Iterable[Problem]) -> list[ProblemGroup]:
    """Problems grouped by (workload, kind), most urgent kinds first."""
    grouped: dict[tuple[str, str, str], list[Problem]] = {}
    refs: dict[tuple[str, str, str], WorkloadRef] = {}
    for problem in problems:
        ref = problem.pod.workload
        key = (ref.kind, ref.key, problem.kind)
        grouped.setdefault(key, []).append(problem)
        refs[key] = ref
    groups = [ProblemGroup(workload=refs[k], kind=k[2], problems=tuple(v)) for k, v in grouped.items()]
    return sorted(groups, key=lambda g: (SEVERITY_ORDER.index(g.kind), g.workload.key))
