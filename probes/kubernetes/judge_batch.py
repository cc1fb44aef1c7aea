"""Judging Jobs and CronJobs: runs that failed, schedules that did not fire.

- ``job_failed`` (warning): a Job not run by a CronJob whose ``Failed`` condition turned True
  in the window (``BackoffLimitExceeded``, ``DeadlineExceeded``...), with the failed pod count;
- ``cronjob_failing`` (warning; critical from ``critical_streak`` failures in a row): the
  CronJob's most recent finished runs failed, dated from the first failure of the streak;
- ``cronjob_missed`` (warning): a due time passed more than ``grace`` ago and the CronJob was
  not scheduled since (its ``lastScheduleTime``, or its creation), dated from the first missed
  time, with the reason when the status shows one (a run still active under
  ``concurrencyPolicy: Forbid``);
- ``cronjob_suspended`` (info): hygiene, not an incident.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice

from diagnostics import Entity, Finding, Measurement, Severity
from diagnostics.units import format_duration, isoformat
from probes.kubernetes.cluster_objects import CronJob, Job
from probes.kubernetes.cron import ScheduleError, due_times, last_due
from probes.kubernetes.findings import MakeFinding, condition_details, live_state_note, observed_now, plural

MAX_COUNTED_MISSES = 100
"""The CronJob controller gives up after 100 missed times; so does the count."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchLimits:
    """Thresholds of batch findings."""

    grace_s: float
    critical_streak: int = 3
    kubectl_suffix: str = ""


def _entity(kind: str, namespace: str, name: str) -> Entity:
    return Entity(
        kind="workload",
        name=f"{namespace}/{name}",
        attributes={"namespace": namespace, "workload_kind": kind},
    )


def _job_details(job: Job) -> dict[str, object]:
    failure = job.failure
    return {
        "job": job.meta.name,
        "started": isoformat(job.started),
        "finished": isoformat(job.finished),
        "failed_pods": job.failed,
        "succeeded_pods": job.succeeded,
        "backoff_limit": job.backoff_limit,
        "failure": condition_details(failure) if failure else None,
    }


def judge_batch(
    jobs: Iterable[Job],
    cron_jobs: Iterable[CronJob],
    *,
    start: datetime,
    at: datetime,
    server_time: datetime | None,
    limits: BatchLimits,
    queries: Iterable[str],
    make: MakeFinding,
) -> list[Finding]:
    """A finding per failed Job, per CronJob failing, missing its schedule or suspended."""
    shown = list(queries)
    runs: dict[str, list[Job]] = {}
    findings = []
    for job in sorted(jobs, key=lambda j: (j.meta.namespace, j.meta.name)):
        if job.meta.owner_kind == "CronJob" and job.meta.owner_uid:
            runs.setdefault(job.meta.owner_uid, []).append(job)
            continue
        failure = job.failure
        if failure is None or failure.last_transition is None or not start <= failure.last_transition <= at:
            continue
        findings.append(
            make(
                kind="job_failed",
                severity=Severity.WARNING,
                title=f"Job {job.meta.namespace}/{job.meta.name} failed: {failure.reason or 'Failed'}"
                + (f" ({failure.message})" if failure.message else ""),
                entity=_entity("Job", job.meta.namespace, job.meta.name),
                summary=f"{plural(job.failed, 'pod')} failed (backoff limit {job.backoff_limit}).",
                values=[Measurement(name="failed pods", value=job.failed, unit="count")],
                queries=shown,
                details=_job_details(job),
                onset=failure.last_transition,
                next_steps=[
                    f"kubectl describe job {job.meta.name} -n {job.meta.namespace}{limits.kubectl_suffix}",
                    f"kubectl logs -n {job.meta.namespace} job/{job.meta.name} --tail=50{limits.kubectl_suffix}",
                ],
            )
        )
    for cron_job in sorted(cron_jobs, key=lambda c: (c.meta.namespace, c.meta.name)):
        if cron_job.meta.created is not None and cron_job.meta.created > at:
            continue
        own = runs.get(cron_job.meta.uid, [])
        findings += _cron_job(cron_job, own, at, server_time, limits, shown, make)
    return findings


def _cron_job(
    cron_job: CronJob,
    own: list[Job],
    at: datetime,
    server_time: datetime | None,
    limits: BatchLimits,
    queries: list[str],
    make: MakeFinding,
) -> list[Finding]:
    namespace, name = cron_job.meta.namespace, cron_job.meta.name
    entity = _entity("CronJob", namespace, name)
    suffix = limits.kubectl_suffix
    if cron_job.suspended:
        return [
            make(
                kind="cronjob_suspended",
                severity=Severity.INFO,
                title=f"CronJob {namespace}/{name} is suspended",
                entity=entity,
                summary=f"Its schedule ({cron_job.schedule}) does not fire until it is resumed.",
                queries=queries,
                details={"schedule": cron_job.schedule, "last_schedule": isoformat(cron_job.last_schedule)},
                next_steps=[
                    f'kubectl patch cronjob {name} -n {namespace} -p \'{{"spec":{{"suspend":false}}}}\'{suffix}'
                ],
            )
        ]
    findings = []
    finished = sorted((j for j in own if j.finished and j.finished <= at), key=lambda j: j.finished or at)
    streak: list[Job] = []
    for job in reversed(finished):
        if job.failure is None:
            break
        streak.insert(0, job)
    if streak:
        last = streak[-1]
        findings.append(
            make(
                kind="cronjob_failing",
                severity=Severity.CRITICAL if len(streak) >= limits.critical_streak else Severity.WARNING,
                title=f"CronJob {namespace}/{name}: the last {plural(len(streak), 'run')} failed, "
                f"latest {last.meta.name}: {(last.failure.reason if last.failure else None) or 'Failed'}",
                entity=entity,
                summary=f"Last successful run: {isoformat(cron_job.last_successful) or 'none recorded'}."
                + (f" {last.failure.message}." if last.failure and last.failure.message else ""),
                values=[Measurement(name="failed runs in a row", value=len(streak), unit="count")],
                queries=queries,
                details={"schedule": cron_job.schedule, "failed_runs": [_job_details(j) for j in streak]},
                onset=streak[0].finished,
                next_steps=[
                    f"kubectl describe job {last.meta.name} -n {namespace}{suffix}",
                    f"kubectl logs -n {namespace} job/{last.meta.name} --tail=50{suffix}",
                ],
            )
        )
    missed = _missed(cron_job, at, server_time, limits, queries, make)
    if missed is not None:
        findings.append(missed)
    return findings


def _missed(
    cron_job: CronJob,
    at: datetime,
    server_time: datetime | None,
    limits: BatchLimits,
    queries: list[str],
    make: MakeFinding,
) -> Finding | None:
    now = observed_now(at, server_time)
    reference = cron_job.last_schedule or cron_job.meta.created
    if reference is None:
        return None
    try:
        due = last_due(cron_job.schedule, cron_job.time_zone, now - timedelta(seconds=limits.grace_s))
        misses = list(
            islice(due_times(cron_job.schedule, cron_job.time_zone, reference), MAX_COUNTED_MISSES + 1)
        )
    except ScheduleError:
        return None
    if due is None or due <= reference:
        return None
    misses = [m for m in misses if m <= due]
    first = misses[0] if misses else due
    namespace, name = cron_job.meta.namespace, cron_job.meta.name
    why = ""
    if cron_job.active and cron_job.concurrency_policy == "Forbid":
        why = f" A run is still active ({', '.join(cron_job.active)}) and concurrencyPolicy is Forbid."
    elif len(misses) > MAX_COUNTED_MISSES:
        why = (
            " Over 100 missed times: the controller stops scheduling it until startingDeadlineSeconds is set."
        )
    count = f"{len(misses)}+" if len(misses) > MAX_COUNTED_MISSES else str(len(misses))
    return make(
        kind="cronjob_missed",
        severity=Severity.WARNING,
        title=f"CronJob {namespace}/{name} has not run since {isoformat(reference)}: "
        f"{count} scheduled time(s) missed, first at {isoformat(first)}",
        entity=_entity("CronJob", namespace, name),
        summary=f"Schedule {cron_job.schedule}"
        + (f" ({cron_job.time_zone})" if cron_job.time_zone else "")
        + f"; last due {format_duration((now - due).total_seconds())} before now."
        + why
        + live_state_note(at, server_time, "CronJob state"),
        values=[Measurement(name="missed runs", value=min(len(misses), MAX_COUNTED_MISSES), unit="count")],
        queries=queries,
        details={
            "schedule": cron_job.schedule,
            "time_zone": cron_job.time_zone,
            "last_schedule": isoformat(cron_job.last_schedule),
            "last_due": isoformat(due),
            "active": list(cron_job.active),
            "concurrency_policy": cron_job.concurrency_policy,
            "starting_deadline_s": cron_job.starting_deadline_s,
        },
        onset=first,
        next_steps=[
            f"kubectl describe cronjob {name} -n {namespace}{limits.kubectl_suffix}",
            f"kubectl get jobs -n {namespace} --sort-by=.metadata.creationTimestamp{limits.kubectl_suffix}",
        ],
    )
