"""Judging the objects around workloads on plain parsed values (no server): the edges."""

from __future__ import annotations

from datetime import datetime, timedelta

from diagnostics import Severity
from probes.kubernetes.judge_batch import BatchLimits, judge_batch
from probes.kubernetes.judge_replicas import ReplicaLimits, judge_replicas
from probes.kubernetes.parse import parse_workload
from probes.kubernetes.parse_cluster import parse_cron_job, parse_job, parse_replica_set_state
from tests.probes.kubernetes.conftest import HOUR, finding_factory
from tests.support import kube_around as a
from tests.support import kube_objects as k

LIMITS = BatchLimits(grace_s=300)


def batch(now: datetime, *objects: dict[str, object]) -> list[tuple[str, Severity]]:
    jobs = [parse_job(o) for o in objects if o["kind"] == "Job"]
    crons = [parse_cron_job(o) for o in objects if o["kind"] == "CronJob"]
    findings = judge_batch(
        jobs,
        crons,
        start=now - HOUR,
        at=now,
        server_time=now,
        limits=LIMITS,
        queries=["GET /apis/batch/v1/cronjobs"],
        make=finding_factory("workloads.batch", now),
    )
    return [(f.kind, f.severity) for f in findings]


def test_a_cron_job_never_scheduled_is_dated_from_its_creation(now: datetime) -> None:
    created = now.replace(second=0) - timedelta(minutes=now.minute % 10 + 40)
    never = a.cron_job("audit", "ops", schedule="*/10 * * * *", created=created, last_schedule=None)
    assert batch(now, never) == [("cronjob_missed", Severity.WARNING)]
    fresh = a.cron_job(
        "fresh", "ops", schedule="0 3 * * *", created=now - timedelta(minutes=3), last_schedule=None
    )
    assert batch(now, fresh) == []


def test_a_failed_run_followed_by_a_success_is_not_a_streak(now: datetime) -> None:
    cron = a.cron_job(
        "sync",
        "ops",
        schedule="0 * * * *",
        created=now - 50 * HOUR,
        last_schedule=now.replace(minute=0, second=0),
    )
    last = now.replace(minute=0, second=0) - HOUR
    assert batch(now, cron, *a.cron_runs(cron, every=HOUR, last=last, outcomes=[False, False, True])) == []
    assert batch(now, cron, *a.cron_runs(cron, every=HOUR, last=last, outcomes=[True, True, False])) == [
        ("cronjob_failing", Severity.WARNING)
    ]


def test_a_job_that_failed_before_the_window_is_history(now: datetime) -> None:
    old = a.job("backfill", "ops", started=now - 3 * HOUR, finished=now - 2 * HOUR, failed=True)
    assert batch(now, old) == []


def test_an_invalid_schedule_is_not_judged(now: datetime) -> None:
    broken = a.cron_job("odd", "ops", schedule="every tuesday", created=now - 50 * HOUR, last_schedule=None)
    assert batch(now, broken) == []


def test_a_short_workload_with_nothing_dating_it_waits_for_the_grace_period(now: datetime) -> None:
    staged = k.steady_deployment(
        "cart", "shop", container_name="cart", image="cart:1", created=now - timedelta(minutes=2)
    )
    staged.deployment["status"] |= {"availableReplicas": 0, "readyReplicas": 0}
    # a ReplicaSet scaled to zero with a stale ReplicaFailure is not a failure to create pods
    staged.replica_set["spec"]["replicas"] = 0
    staged.replica_set["status"]["conditions"] = [
        {"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate", "message": "quota"}
    ]

    def judge(at: datetime) -> list[str]:
        findings = judge_replicas(
            [parse_workload(staged.deployment, "Deployment")],
            [parse_replica_set_state(staged.replica_set)],
            [],
            at=at,
            server_time=at,
            limits=ReplicaLimits(grace_s=300),
            queries=[],
            make=finding_factory("workloads.replicas", at),
        )
        return [f.title for f in findings]

    assert judge(now) == []
    assert judge(now + timedelta(minutes=10)) == ["Deployment shop/cart has 0 of 3 replicas available"]
