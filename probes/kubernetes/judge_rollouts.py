"""Judging rollouts: which workloads changed in the window, from what to what, and how it went.

Pure functions over :class:`~probes.kubernetes.client_workloads.RolloutData`. A rollout in the window is
a warning; one that is stuck (``ProgressDeadlineExceeded``) or still has unavailable replicas
``unhealthy_after`` after it began is critical. Rollout state is the API's live state: when
``--at`` is in the past it is reported as of now, and a rollout superseded since is said so.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from diagnostics import Finding, Measurement, Severity
from diagnostics.units import isoformat
from probes.kubernetes.client_workloads import RolloutData
from probes.kubernetes.findings import (
    MakeFinding,
    ago,
    live_state_note,
    observed_now,
    plural,
    workload_entity,
)
from probes.kubernetes.history import History, Rollout, TemplateChange, rolled_out_at, rollouts_between
from probes.kubernetes.objects import Workload, WorkloadRef
from probes.kubernetes.rollback_safety import rollback_safety


@dataclass(frozen=True, slots=True, kw_only=True)
class RolloutLimits:
    """Thresholds of rollout findings, and what every kubectl command gets appended."""

    unhealthy_after_s: float
    kubectl_suffix: str = ""
    """`` --context prod-eu`` when a context is configured, appended to every command."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RolloutState:
    """Where a rollout stands, as ``kubectl rollout status`` would say."""

    phase: str
    """complete, progressing, stuck, paused or waiting (OnDelete)."""
    detail: str


def rollout_state(workload: Workload) -> RolloutState:
    """What ``kubectl rollout status`` would say, from the workload's status alone."""
    if workload.paused:
        return RolloutState(phase="paused", detail="the rollout is paused")
    if workload.observed_generation < workload.generation:
        return RolloutState(phase="progressing", detail="waiting for the controller to observe the change")
    progressing = workload.condition("Progressing")
    if progressing is not None and progressing.reason == "ProgressDeadlineExceeded":
        return RolloutState(phase="stuck", detail=progressing.message or "progress deadline exceeded")
    desired, updated = workload.desired, workload.updated
    on_delete = workload.kind == "StatefulSet" and workload.strategy == "OnDelete"
    if on_delete and workload.update_revision_name != workload.current_revision_name:
        return RolloutState(phase="waiting", detail="OnDelete: pods take the new revision when deleted")
    if updated < desired:
        return RolloutState(phase="progressing", detail=f"{updated} of {desired} replicas updated")
    if workload.kind == "StatefulSet" and workload.update_revision_name != workload.current_revision_name:
        return RolloutState(phase="progressing", detail="the update revision is not current yet")
    if workload.available < desired:
        return RolloutState(
            phase="progressing", detail=f"{workload.available} of {desired} updated replicas available"
        )
    return RolloutState(phase="complete", detail=f"{desired} of {desired} replicas updated and available")


_LISTED_WITH = {
    "Deployment": ("/deployments", "/replicasets"),
    "StatefulSet": ("/statefulsets", "/controllerrevisions"),
    "DaemonSet": ("/daemonsets", "/controllerrevisions"),
}


def _queries_about(workload: Workload, queries: Iterable[str]) -> list[str]:
    """The list calls that read this kind of workload and its revisions."""
    wanted = _LISTED_WITH.get(workload.kind, ())
    return [q for q in queries if any(part in q.split("?")[0] for part in wanted)]


def _ref(workload: Workload) -> WorkloadRef:
    meta = workload.meta
    return WorkloadRef(namespace=meta.namespace, kind=workload.kind, name=meta.name, service=meta.service)


def describe_change(rollout: Rollout) -> str:
    """The change in a few words: images first, then env, then whatever else differs."""
    changes: TemplateChange = rollout.changes
    if rollout.previous is None:
        images = ", ".join(f"{c.name} {c.image}" for c in rollout.template.containers[:3])
        if rollout.to.number <= 1:
            return f"new workload ({images})"
        return f"previous revision not kept; now {images}"
    if changes.images:
        shown = ", ".join(c.short() for c in changes.images[:3])
        return shown + (f" (+{len(changes.images) - 3} more)" if len(changes.images) > 3 else "")
    if changes.env:
        names = ", ".join(dict.fromkeys(e.name for e in changes.env[:5]))
        return f"env {names} changed"  # names only: values may be secrets
    if changes.restart_only:
        return "restart (kubectl rollout restart), template otherwise unchanged"
    if changes.containers_added or changes.containers_removed:
        return "containers " + ", ".join(
            [f"+{n}" for n in changes.containers_added] + [f"-{n}" for n in changes.containers_removed]
        )
    if changes.other:
        return "changed " + ", ".join(changes.other[:4])
    return "template unchanged"


def _change_details(rollout: Rollout) -> dict[str, Any]:
    changes = rollout.changes
    return {
        "images": [{"container": c.container, "old": c.old, "new": c.new} for c in changes.images],
        "env": [
            {"container": e.container, "name": e.name, "change": e.change, "old": e.old, "new": e.new}
            for e in changes.env
        ],
        "containers_added": list(changes.containers_added),
        "containers_removed": list(changes.containers_removed),
        "other_changes": list(changes.other),
    }


def _commands(workload: Workload, to: int | None, previous: int | None, limits: RolloutLimits) -> list[str]:
    target = f"{workload.kind.lower()}/{workload.meta.name} -n {workload.meta.namespace}"
    suffix = limits.kubectl_suffix
    steps = []
    if previous is not None:
        steps.append(f"kubectl rollout undo {target} --to-revision={previous}{suffix}")
    steps.append(f"kubectl rollout status {target}{suffix}")
    if to is not None:
        steps.append(f"kubectl rollout history {target} --revision={to}{suffix}")
    return steps


def judge_rollouts(
    data: RolloutData, *, start: datetime, at: datetime, limits: RolloutLimits, make: MakeFinding
) -> list[Finding]:
    """One finding per workload rolled out in the window, or stuck since before it."""
    findings = []
    for history in data.histories:
        rollouts = rollouts_between(history, start, at)
        if rollouts:
            findings.append(_rollout_finding(history, rollouts, data, at, limits, make))
        else:
            stuck = _stuck_before_window(history, data, at, limits, make)
            if stuck is not None:
                findings.append(stuck)
    return findings


def _rollout_finding(
    history: History,
    rollouts: list[Rollout],
    data: RolloutData,
    at: datetime,
    limits: RolloutLimits,
    make: MakeFinding,
) -> Finding:
    workload = history.workload
    rollout = rollouts[-1]
    server_time = data.observed.server_time
    now = observed_now(at, server_time)
    state = rollout_state(workload)
    age_s = (now - rollout.at).total_seconds()
    kind, severity, state_text = "rollout", Severity.WARNING, state.detail
    if not rollout.current:
        current = history.current
        state_text = f"superseded since by revision {current.number}" if current else "superseded since"
    elif state.phase == "stuck":
        kind, severity = "rollout_stuck", Severity.CRITICAL
    elif state.phase == "progressing" and workload.unavailable > 0 and age_s >= limits.unhealthy_after_s:
        kind, severity = "rollout_unhealthy", Severity.CRITICAL
    previous = rollout.previous
    revisions = (
        f"revision {previous.number} → {rollout.to.number}" if previous else f"revision {rollout.to.number}"
    )
    title = (
        f"{workload.kind} {workload.meta.namespace}/{workload.meta.name} rolled out {ago(rollout.at, at, server_time)}: "
        f"{revisions}, {describe_change(rollout)}"
    )
    if kind == "rollout_stuck":
        title += "; stuck (ProgressDeadlineExceeded)"
    elif kind == "rollout_unhealthy":
        title += f"; {plural(workload.unavailable, 'replica')} unavailable"
    earlier = (
        f" {len(rollouts)} rollouts in the window: revisions {', '.join(str(r.to.number) for r in rollouts)}."
        if len(rollouts) > 1
        else ""
    )
    safety = rollback_safety(rollout)
    summary = (
        f"Pod template changed at {isoformat(rollout.at)} (dated by {rollout.dated_by}). "
        f"Rollout state: {state.phase}, {state_text}.{earlier}"
        + (f" {safety.summary}" if safety else "")
        + live_state_note(at, server_time, "The rollout state")
    )
    return make(
        kind=kind,
        severity=severity,
        title=title,
        entity=workload_entity(_ref(workload)),
        summary=summary,
        values=[
            Measurement(name="revision", value=rollout.to.number),
            Measurement(name="previous revision", value=previous.number if previous else None),
            Measurement(name="since rollout", value=round(age_s), unit="s"),
            Measurement(name="desired replicas", value=workload.desired, unit="count"),
            Measurement(name="updated replicas", value=workload.updated, unit="count"),
            Measurement(name="available replicas", value=workload.available, unit="count"),
            Measurement(name="unavailable replicas", value=workload.unavailable, unit="count"),
        ],
        queries=_queries_about(workload, data.observed.queries),
        details={
            "workload_kind": workload.kind,
            "revision": rollout.to.number,
            "previous_revision": previous.number if previous else None,
            "revision_object": rollout.to.name,
            "previous_revision_object": previous.name if previous else None,
            "rolled_out_at": isoformat(rollout.at),
            "dated_by": rollout.dated_by,
            "rollback_of": list(rollout.to.earlier_numbers),
            "state": state.phase if rollout.current else "superseded",
            "state_detail": state_text,
            "rollouts_in_window": [
                {"revision": r.to.number, "at": isoformat(r.at), "change": describe_change(r)}
                for r in rollouts
            ],
            **_change_details(rollout),
            "rollback_safety": safety.details() if safety else None,
        },
        onset=rollout.at,
        next_steps=_commands(workload, rollout.to.number, previous.number if previous else None, limits),
    )


def _stuck_before_window(
    history: History, data: RolloutData, at: datetime, limits: RolloutLimits, make: MakeFinding
) -> Finding | None:
    workload = history.workload
    progressing = workload.condition("Progressing")
    if progressing is None or progressing.reason != "ProgressDeadlineExceeded":
        return None
    if progressing.last_transition is not None and progressing.last_transition > at:
        return None  # it got stuck after the diagnosed moment
    began = rolled_out_at(history, history.current)[0] if history.current else None
    onset = began or progressing.last_transition
    number = history.current.number if history.current else workload.revision
    previous = max(
        (r.number for r in history.revisions if number is not None and r.number < number), default=None
    )
    server_time = data.observed.server_time
    since = f" since {ago(onset, at, server_time)}" if onset else ""
    return make(
        kind="rollout_stuck",
        severity=Severity.CRITICAL,
        title=(
            f"{workload.kind} {workload.meta.namespace}/{workload.meta.name} rollout of revision {number} "
            f"stuck{since}: ProgressDeadlineExceeded"
        ),
        entity=workload_entity(_ref(workload)),
        summary=(progressing.message or "The rollout exceeded its progress deadline.")
        + " It began before the window."
        + live_state_note(at, server_time, "The rollout state"),
        values=[
            Measurement(name="revision", value=number),
            Measurement(name="desired replicas", value=workload.desired, unit="count"),
            Measurement(name="updated replicas", value=workload.updated, unit="count"),
            Measurement(name="unavailable replicas", value=workload.unavailable, unit="count"),
        ],
        queries=_queries_about(workload, data.observed.queries),
        details={"workload_kind": workload.kind, "revision": number, "state": "stuck"},
        onset=onset,
        next_steps=_commands(workload, number, previous, limits),
    )
