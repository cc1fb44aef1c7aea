"""Rollback safety next to the rollback command: how long the previous revision ran, what else changed."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from diagnostics import Finding
from probes.kubernetes.client_workloads import Observed, RolloutData
from probes.kubernetes.history import histories
from probes.kubernetes.judge_rollouts import RolloutLimits, judge_rollouts
from probes.kubernetes.parse import parse_replica_set, parse_workload
from tests.probes.kubernetes.conftest import finding_factory
from tests.support import kube_objects as k
from tests.support.kube_workloads import container, deployment, pod_template, replica_set

MIGRATION = "migrations.example.com/schema-version"


def judged(objects: Iterable[dict[str, Any]], at: datetime) -> Finding:
    objects = list(objects)
    workloads = [parse_workload(o, o["kind"]) for o in objects if o["kind"] == "Deployment"]
    revisions = [r for o in objects if o["kind"] == "ReplicaSet" and (r := parse_replica_set(o)) is not None]
    data = RolloutData(
        histories=tuple(histories(workloads, revisions)),
        helm=(),
        charts={},
        observed=Observed(server_time=at, queries=()),
    )
    (finding,) = judge_rollouts(
        data,
        start=at - timedelta(hours=1),
        at=at,
        limits=RolloutLimits(unhealthy_after_s=300),
        make=finding_factory("deploys.rollouts", at),
    )
    return finding


def two_revisions(
    now: datetime, *, old_ran: timedelta, old: dict[str, Any], new: dict[str, Any]
) -> list[dict[str, Any]]:
    rolled_out_at = now - timedelta(minutes=15)
    deploy = deployment("orders", "shop", template=new, revision=4, created=now - timedelta(days=90))
    return [
        deploy,
        replica_set(deploy, template=old, revision=3, created=rolled_out_at - old_ran, replicas=0),
        replica_set(deploy, template=new, revision=4, created=rolled_out_at, replicas=3),
    ]


def test_an_image_only_change_after_a_long_run_is_safe_to_roll_back(now: datetime) -> None:
    staged = k.deployment_rollout(
        "checkout", "shop", old_image="reg/checkout:v1.4.2", new_image="reg/checkout:v1.5.0",
        rolled_out_at=now - timedelta(minutes=20),
    )  # fmt: skip
    finding = judged(staged.objects(), now)
    safety = finding.evidence.details["rollback_safety"]
    assert safety["safe"] is True
    assert (
        safety["summary"]
        == "Rollback looks safe: revision 6 ran 29d before the change; only the image changed."
    )
    assert safety["summary"] in finding.summary
    assert finding.next_steps[0] == "kubectl rollout undo deployment/checkout -n shop --to-revision=6"


def test_an_environment_change_is_named_because_the_rollback_reverts_it(now: datetime) -> None:
    staged = k.deployment_rollout(
        "checkout", "shop", old_image="c:v1", new_image="c:v2", rolled_out_at=now - timedelta(minutes=20),
        old_env={"DB_POOL": "10"}, new_env={"DB_POOL": "40"},
    )  # fmt: skip
    safety = judged(staged.objects(), now).evidence.details["rollback_safety"]
    assert safety["safe"] is False
    assert safety["other_changes"] == ["env DB_POOL"]
    assert safety["summary"].startswith(
        "Rollback needs care: revision 6 ran 29d before the change; it also reverts env DB_POOL"
    )
    assert "10" not in safety["summary"] and "40" not in safety["summary"]  # names only


def test_a_migration_annotation_marks_a_schema_change_the_rollback_does_not_revert(now: datetime) -> None:
    old = pod_template("orders", [container("orders", "reg/orders:v7")], annotations={MIGRATION: "41"})
    new = pod_template("orders", [container("orders", "reg/orders:v8")], annotations={MIGRATION: "42"})
    safety = judged(two_revisions(now, old_ran=timedelta(days=6), old=old, new=new), now).evidence.details[
        "rollback_safety"
    ]
    assert safety["safe"] is False
    assert safety["migrations"] == [f"annotation {MIGRATION}"]
    assert "schema migration" in safety["summary"] and "does not revert" in safety["summary"]


def test_a_previous_revision_replaced_within_the_hour_is_not_proven(now: datetime) -> None:
    old = pod_template("orders", [container("orders", "reg/orders:v7")])
    new = pod_template("orders", [container("orders", "reg/orders:v8")])
    safety = judged(
        two_revisions(now, old_ran=timedelta(minutes=20), old=old, new=new), now
    ).evidence.details["rollback_safety"]
    assert safety["safe"] is False
    assert safety["previous_ran_for_s"] == 1200
    assert safety["summary"] == "Rollback is not proven safe: revision 3 ran only 20m before the change."
