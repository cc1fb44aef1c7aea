"""Judging workload health whether or not anything was rolled out: one finding per workload.

- ``progress_deadline_exceeded`` (critical): a Deployment's ``Progressing`` condition False
  with reason ``ProgressDeadlineExceeded``, dated from that condition's transition;
- ``replica_failure`` (critical): a ReplicaSet of the Deployment cannot create pods (its
  ``ReplicaFailure`` condition: quota exceeded, a webhook refusing...), with the message;
- ``replicas_unavailable``: fewer replicas available than desired for longer than the grace
  period; critical when none is available. Dated by the earliest of the unready pods' ``Ready``
  transitions and the ``Available=False`` transition; with nothing to date it, the onset is
  unknown and the workload must be older than the grace period.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from diagnostics import Finding, Measurement, Severity
from diagnostics.units import format_duration, isoformat
from probes.kubernetes.cluster_objects import PodReadiness, ReplicaSetState
from probes.kubernetes.findings import (
    MakeFinding,
    condition_details,
    live_state_note,
    observed_now,
    workload_entity,
)
from probes.kubernetes.objects import Workload, WorkloadRef


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplicaLimits:
    """The grace period of missing replicas and the kubectl context suffix."""

    grace_s: float
    kubectl_suffix: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class _Run:
    """What every finding of one judging shares."""

    at: datetime
    server_time: datetime | None
    limits: ReplicaLimits
    queries: list[str]
    make: MakeFinding

    @property
    def note(self) -> str:
        return live_state_note(self.at, self.server_time, "Workload state")


def workload_ref(workload: Workload) -> WorkloadRef:
    """The reference of a Deployment, StatefulSet or DaemonSet (what pod findings group by)."""
    meta = workload.meta
    return WorkloadRef(namespace=meta.namespace, kind=workload.kind, name=meta.name, service=meta.service)


def _steps(ref: WorkloadRef, suffix: str) -> list[str]:
    kind = ref.kind.lower()
    return [
        f"kubectl describe {kind} {ref.name} -n {ref.namespace}{suffix}",
        f"kubectl get events -n {ref.namespace} --field-selector involvedObject.name={ref.name}{suffix}",
    ]


def judge_replicas(
    workloads: Iterable[Workload],
    replica_sets: Iterable[ReplicaSetState],
    pods: Iterable[PodReadiness],
    *,
    at: datetime,
    server_time: datetime | None,
    limits: ReplicaLimits,
    queries: Iterable[str],
    make: MakeFinding,
) -> list[Finding]:
    """A finding per workload stuck, unable to create pods, or short of replicas."""
    failures: dict[str, list[ReplicaSetState]] = {}
    for rs in replica_sets:
        failure = rs.condition("ReplicaFailure")
        if failure is not None and failure.status == "True" and rs.meta.owner_uid and rs.desired > 0:
            failures.setdefault(rs.meta.owner_uid, []).append(rs)
    pods_of: dict[tuple[str, str, str], list[PodReadiness]] = {}
    for pod in pods:
        ref = pod.workload
        pods_of.setdefault((ref.kind, ref.namespace, ref.name), []).append(pod)
    run = _Run(at=at, server_time=server_time, limits=limits, queries=list(queries), make=make)
    findings = []
    for workload in sorted(workloads, key=lambda w: (w.meta.namespace, w.meta.name, w.kind)):
        if workload.desired == 0 or (workload.meta.created is not None and workload.meta.created > at):
            continue
        ref = workload_ref(workload)
        members = pods_of.get((ref.kind, ref.namespace, ref.name), [])
        finding = (
            _stuck(workload, ref, run)
            or _cannot_create(workload, ref, failures.get(workload.meta.uid, []), run)
            or _short(workload, ref, members, run)
        )
        if finding is not None:
            findings.append(finding)
    return findings


def _counts(workload: Workload) -> list[Measurement]:
    return [
        Measurement(name="desired", value=workload.desired, unit="count"),
        Measurement(name="available", value=workload.available, unit="count"),
        Measurement(name="ready", value=workload.ready, unit="count"),
    ]


def _stuck(
    workload: Workload,
    ref: WorkloadRef,
    run: _Run,
) -> Finding | None:
    progressing = workload.condition("Progressing")
    if (
        progressing is None
        or progressing.status != "False"
        or progressing.reason != "ProgressDeadlineExceeded"
    ):
        return None
    since = progressing.last_transition
    held = (
        f" {format_duration((observed_now(run.at, run.server_time) - since).total_seconds())} ago"
        if since
        else ""
    )
    return run.make(
        kind="progress_deadline_exceeded",
        severity=Severity.CRITICAL,
        title=f"{ref.kind} {ref.key} exceeded its progress deadline{held}: "
        f"{workload.available} of {workload.desired} replicas available",
        entity=workload_entity(ref),
        summary=(progressing.message or "The rollout made no progress within progressDeadlineSeconds.")
        + run.note,
        values=_counts(workload),
        queries=run.queries,
        details={"condition": condition_details(progressing), "revision": workload.revision},
        onset=since,
        next_steps=[
            f"kubectl rollout status deployment/{ref.name} -n {ref.namespace}{run.limits.kubectl_suffix}",
            *_steps(ref, run.limits.kubectl_suffix),
        ],
    )


def _cannot_create(
    workload: Workload,
    ref: WorkloadRef,
    failing: list[ReplicaSetState],
    run: _Run,
) -> Finding | None:
    if not failing:
        return None
    conditions = [(rs, c) for rs in failing if (c := rs.condition("ReplicaFailure")) is not None]
    rs, first = min(conditions, key=lambda item: item[1].last_transition or run.at)
    message = first.message or first.reason or "no message"
    return run.make(
        kind="replica_failure",
        severity=Severity.CRITICAL,
        title=f"{ref.kind} {ref.key} cannot create pods ({first.reason or 'ReplicaFailure'}): {message}",
        entity=workload_entity(ref),
        summary=f"ReplicaSet {rs.meta.name} wants {rs.desired} pods and has {rs.ready} ready: "
        "the controller's pod creations are refused." + run.note,
        values=_counts(workload),
        queries=run.queries,
        details={
            "replica_sets": [
                {
                    "name": r.meta.name,
                    "desired": r.desired,
                    "ready": r.ready,
                    "condition": condition_details(c),
                }
                for r, c in conditions
            ]
        },
        onset=min((c.last_transition for _, c in conditions if c.last_transition), default=None),
        next_steps=[
            f"kubectl describe replicaset {rs.meta.name} -n {ref.namespace}{run.limits.kubectl_suffix}",
            f"kubectl describe resourcequota -n {ref.namespace}{run.limits.kubectl_suffix}",
        ],
    )


def _short(
    workload: Workload,
    ref: WorkloadRef,
    members: list[PodReadiness],
    run: _Run,
) -> Finding | None:
    if workload.available >= workload.desired:
        return None
    now = observed_now(run.at, run.server_time)
    live = [p for p in members if p.phase not in ("Succeeded", "Failed")]
    unready = [p for p in live if not p.ready]
    dates = [p.ready_since or p.created for p in unready]
    available = workload.condition("Available")
    if available is not None and available.status == "False":
        dates.append(available.last_transition)
    known = [d for d in dates if d is not None]
    onset = min(known) if known else None
    reference = onset or workload.meta.created
    if reference is None or (now - reference).total_seconds() < run.limits.grace_s:
        return None  # still starting: a scale-up or a restart within the grace period
    lasting = f" for {format_duration((now - onset).total_seconds())}" if onset else ""
    missing = max(workload.desired - len(live), 0)
    parts = []
    if unready:
        parts.append(f"{len(unready)} pod(s) not ready: {', '.join(p.name for p in unready[:5])}")
    if missing:
        parts.append(f"{missing} pod(s) not created")
    if available is not None and available.message and available.status == "False":
        parts.append(available.message)
    return run.make(
        kind="replicas_unavailable",
        severity=Severity.CRITICAL if workload.available == 0 else Severity.WARNING,
        title=f"{ref.kind} {ref.key} has {workload.available} of {workload.desired} replicas available{lasting}",
        entity=workload_entity(ref),
        summary=("; ".join(parts) or "Replicas are missing.") + "." + run.note,
        values=_counts(workload),
        queries=run.queries,
        details={
            "unready_pods": [
                {"pod": p.name, "phase": p.phase, "not_ready_since": isoformat(p.ready_since)}
                for p in unready[:10]
            ],
            "missing_pods": missing,
            "conditions": [condition_details(c) for c in workload.conditions],
        },
        onset=onset,
        next_steps=_steps(ref, run.limits.kubectl_suffix),
    )
