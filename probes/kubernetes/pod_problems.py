"""Spotting what is wrong with each pod, and grouping the problems by owning workload.

A pod's status says, per container: waiting in ``CrashLoopBackOff`` or ``ImagePullBackOff``,
last terminated ``OOMKilled`` or with a non-zero exit (and when); per pod: ``Pending`` with the
scheduler's reason, ``Failed``/``Evicted``. Pods created after ``--at`` are ignored; terminations
count when they finished inside the window.

When a container's failures began: its status shows only the last termination and a restart
count. With one restart that termination is the first failure. With more, the earlier ones
happened at unknown times since the pod started: when the pod's whole life fits the restart
count (each earlier instance running no longer than the last one and waiting at most the
kubelet's back-off cap, 5 min, before the next), the container has been failing since it first
started, and the onset is the pod's start; otherwise it ran fine for a while first, and the
onset is unknown (None), never the last crash, which would make a later rollout look like the
cause. An eviction is dated by the pod's ``DisruptionTarget`` or ``Ready`` condition, else by
its containers' termination; failing both it counts only when the pod started in the window.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from probes.kubernetes.objects import ContainerState, Pod, Termination, WorkloadRef

IMAGE_PULL_REASONS = frozenset(
    {
        "ImagePullBackOff",
        "ErrImagePull",
        "InvalidImageName",
        "ErrImageNeverPull",
        "ImageInspectError",
        "RegistryUnavailable",
        "SignatureValidationFailed",
    }
)
START_FAILURE_REASONS = frozenset(
    {
        "CreateContainerConfigError",
        "CreateContainerError",
        "RunContainerError",
        "PreStartHookError",
        "PostStartHookError",
        "ContainerCannotRun",
    }
)
"""Known reasons a container cannot start; any other waiting reason except the transient ones
(:data:`STARTING_REASONS`) blocks it too and is reported the same way."""
STARTING_REASONS = frozenset({"ContainerCreating", "PodInitializing"})
"""Waiting reasons of a container on its way to running: not a problem by themselves."""

SEVERITY_ORDER = (
    "crash_loop",
    "oom_killed",
    "image_pull",
    "container_error",
    "pending",
    "evicted",
    "failed",
    "restarts",
)
"""Problem kinds, most urgent first; a container has at most one of the container kinds."""
BACKOFF_CAP = timedelta(minutes=5)
"""The kubelet's longest wait before restarting a crashed container (its MaxContainerBackOff)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Problem:
    """One thing wrong with one pod (or one of its containers)."""

    kind: str
    pod: Pod
    container: ContainerState | None
    since: datetime | None
    """When it began; None when the pod's status cannot tell."""
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
        """The pods concerned, each once."""
        return tuple({p.pod.meta.name: p.pod for p in self.problems}.values())

    @property
    def onset(self) -> datetime | None:
        """When the first of the problems began; None when one that cannot be placed may be it.

        A problem without a start began after its pod started: only a pod started after the
        earliest known start cannot hide an earlier one.
        """
        known = [p.since for p in self.problems if p.since is not None]
        if not known:
            return None
        first = min(known)
        for problem in self.problems:
            began = _pod_start(problem.pod)
            if problem.since is None and (began is None or began < first):
                return None
        return first

    @property
    def crash_looping(self) -> bool:
        """Whether any of the containers is waiting in CrashLoopBackOff."""
        return any(p.crash_looping for p in self.problems)


def _in(moment: datetime | None, start: datetime, end: datetime) -> bool:
    return moment is not None and start <= moment <= end


def _when(termination: Termination | None) -> datetime | None:
    return (termination.finished or termination.started) if termination else None


def _pod_start(pod: Pod) -> datetime | None:
    return pod.started or pod.meta.created


def first_failure(pod: Pod, container: ContainerState, ended: Termination | None) -> datetime | None:
    """When ``container`` began failing, ``ended`` being the last termination its status shows.

    None when that cannot be told (see the module's docstring): never the last crash of many.
    """
    moment = _when(ended)
    if ended is None or moment is None:
        return None
    if container.restart_count <= 1:
        return moment  # the only termination there was
    began = _pod_start(pod)
    if began is None:
        return None
    run = ended.finished - ended.started if ended.finished and ended.started else timedelta(0)
    longest_life = container.restart_count * (max(run, timedelta(0)) + BACKOFF_CAP)
    return began if moment - began <= longest_life else None


def _evicted_at(pod: Pod) -> datetime | None:
    condition = pod.condition("DisruptionTarget") or pod.condition("Ready")
    if condition is not None and condition.last_transition is not None:
        return condition.last_transition
    return max(
        (c.terminated.finished for c in pod.containers if c.terminated and c.terminated.finished),
        default=None,
    )


def _container_problem(pod: Pod, container: ContainerState, start: datetime, at: datetime) -> Problem | None:
    waiting = container.waiting_reason
    last = container.last_terminated
    if waiting == "CrashLoopBackOff":
        oom = last is not None and last.reason == "OOMKilled"
        return Problem(
            kind="oom_killed" if oom else "crash_loop",
            pod=pod,
            container=container,
            since=first_failure(pod, container, last),
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
    if waiting is not None and waiting not in STARTING_REASONS:
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
                kind="oom_killed",
                pod=pod,
                container=container,
                since=first_failure(pod, container, ended),
                reason="OOMKilled",
            )
        if ended is last and ended.exit_code not in (None, 0):
            return Problem(
                kind="restarts",
                pod=pod,
                container=container,
                since=first_failure(pod, container, ended),
                reason=ended.reason or "Error",
            )
    return None


def pod_problems(pod: Pod, start: datetime, at: datetime) -> list[Problem]:
    """What is wrong with ``pod`` as its status shows it (an empty list: nothing)."""
    if pod.meta.created is not None and pod.meta.created > at:
        return []  # did not exist yet at the diagnosed moment
    if pod.phase == "Failed" and pod.reason == "Evicted":
        moment = _evicted_at(pod)
        if moment is None:
            # evicted at an unrecorded time after it started: in the window if it started in it
            moment = _pod_start(pod)
        if not _in(moment, start, at):
            return []
        return [
            Problem(
                kind="evicted", pod=pod, container=None, since=moment, reason="Evicted", message=pod.message
            )
        ]
    if pod.phase == "Failed":
        return _failed(pod, start, at)
    if pod.phase == "Succeeded":
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


def _failed(pod: Pod, start: datetime, at: datetime) -> list[Problem]:
    """A pod that ended Failed (not evicted) in the window: its containers' non-zero exits,
    or the pod's own reason (``DeadlineExceeded``, ``NodeAffinity``...) when none exited."""
    exits = [
        (c, c.terminated)
        for c in pod.containers
        if c.terminated is not None
        and c.terminated.exit_code not in (None, 0)
        and _in(_when(c.terminated), start, at)
    ]
    if exits:
        return [
            Problem(
                kind="failed",
                pod=pod,
                container=container,
                since=_when(ended),
                reason=ended.reason or "Error",
                message=pod.message,
            )
            for container, ended in exits
        ]
    moment = _evicted_at(pod)
    if pod.reason is None or not _in(moment, start, at):
        return []
    return [
        Problem(kind="failed", pod=pod, container=None, since=moment, reason=pod.reason, message=pod.message)
    ]


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
