"""Judging rollouts and Helm upgrades from plain values (no server)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from diagnostics import Severity
from probes.kubernetes.client_workloads import Observed, RolloutData
from probes.kubernetes.helm import decode_chart, helm_revision
from probes.kubernetes.history import histories
from probes.kubernetes.judge_helm import judge_helm
from probes.kubernetes.judge_rollouts import RolloutLimits, judge_rollouts, rollout_state
from probes.kubernetes.parse import parse_controller_revision, parse_replica_set, parse_workload
from tests.probes.kubernetes.conftest import finding_factory, texts
from tests.support import kube_objects as k

LIMITS = RolloutLimits(unhealthy_after_s=300)
HOUR = timedelta(hours=1)


def _data(objects: Iterable[dict[str, Any]], server_time: datetime, charts: Any = None) -> RolloutData:
    workloads, revisions, helm = [], [], []
    for obj in objects:
        if obj["kind"] in ("Deployment", "StatefulSet", "DaemonSet"):
            workloads.append(parse_workload(obj, obj["kind"]))
        elif obj["kind"] in ("ReplicaSet", "ControllerRevision"):
            parse = parse_replica_set if obj["kind"] == "ReplicaSet" else parse_controller_revision
            if (revision := parse(obj)) is not None:
                revisions.append(revision)
        elif obj["kind"] == "Secret" and (h := helm_revision(obj)):
            helm.append(h)
    return RolloutData(
        histories=tuple(histories(workloads, revisions)),
        helm=tuple(helm),
        charts=charts or {},
        observed=Observed(server_time=server_time, queries=("GET /apis/apps/v1/deployments",)),
    )


def _judge(objects: Iterable[dict[str, Any]], at: datetime, server_time: datetime | None = None):
    data = _data(objects, server_time or at)
    return judge_rollouts(
        data, start=at - HOUR, at=at, limits=LIMITS, make=finding_factory("deploys.rollouts", at)
    )


def test_a_completed_rollout_in_the_window_is_a_warning_with_the_rollback_command(now: datetime) -> None:
    staged = k.deployment_rollout(
        "checkout",
        "shop",
        old_image="reg/checkout:v1.4.2",
        new_image="reg/checkout:v1.5.0",
        rolled_out_at=now - timedelta(minutes=20),
    )
    [finding] = _judge(staged.objects(), now)
    assert (finding.kind, finding.severity) == ("rollout", Severity.WARNING)
    assert "revision 6 → 7" in finding.title and "v1.4.2 → v1.5.0" in finding.title
    assert finding.entity.name == "shop/checkout"
    assert finding.entity.attributes == {
        "namespace": "shop",
        "workload_kind": "Deployment",
        "service": "checkout",
    }
    assert finding.onset == now - timedelta(minutes=20)
    assert finding.next_steps[0] == "kubectl rollout undo deployment/checkout -n shop --to-revision=6"
    assert finding.evidence.details["state"] == "complete"
    assert finding.evidence.details["images"] == [
        {"container": "checkout", "old": "reg/checkout:v1.4.2", "new": "reg/checkout:v1.5.0"}
    ]


def test_a_crash_looping_rollout_past_the_grace_period_is_unhealthy(now: datetime) -> None:
    staged = k.deployment_rollout(
        "checkout",
        "shop",
        old_image="c:v1",
        new_image="c:v2",
        rolled_out_at=now - timedelta(minutes=10),
        crash_new_pods=2,
    )
    [finding] = _judge(staged.objects(), now)
    assert (finding.kind, finding.severity) == ("rollout_unhealthy", Severity.CRITICAL)
    assert finding.title.endswith("2 replicas unavailable")
    values = {m.name: m.value for m in finding.evidence.values}
    assert values["unavailable replicas"] == 2 and values["since rollout"] == 600


def test_a_rollout_still_within_its_grace_period_is_only_a_warning(now: datetime) -> None:
    staged = k.deployment_rollout(
        "checkout",
        "shop",
        old_image="c:v1",
        new_image="c:v2",
        rolled_out_at=now - timedelta(minutes=2),
        crash_new_pods=2,
    )
    [finding] = _judge(staged.objects(), now)
    assert (finding.kind, finding.severity) == ("rollout", Severity.WARNING)
    assert finding.evidence.details["state"] == "progressing"


def test_a_stuck_rollout_is_critical_even_when_it_began_before_the_window(now: datetime) -> None:
    template = k.pod_template("search", [k.container("search", "search:v9")])
    began = now - timedelta(hours=3)
    deploy = k.deployment(
        "search",
        "shop",
        template=template,
        revision=4,
        created=now - timedelta(days=9),
        status={"updatedReplicas": 1, "availableReplicas": 2, "unavailableReplicas": 1},
        conditions=[
            k.condition(
                "Progressing",
                "False",
                "ProgressDeadlineExceeded",
                'ReplicaSet "search-x" has timed out progressing.',
                since=began + timedelta(minutes=10),
            )
        ],
    )
    old = k.replica_set(
        deploy,
        template=k.pod_template("search", [k.container("search", "search:v8")]),
        revision=3,
        created=now - timedelta(days=9),
        replicas=2,
    )
    new = k.replica_set(deploy, template=template, revision=4, created=began, replicas=1, ready=0)
    [finding] = _judge([deploy, old, new], now)
    assert (finding.kind, finding.severity) == ("rollout_stuck", Severity.CRITICAL)
    assert "revision 4" in finding.title and "ProgressDeadlineExceeded" in finding.title
    assert finding.onset == began
    assert finding.next_steps[0] == "kubectl rollout undo deployment/search -n shop --to-revision=3"
    assert rollout_state(parse_workload(deploy, "Deployment")).phase == "stuck"


def test_with_at_in_the_past_a_later_rollout_is_ignored_and_the_earlier_one_superseded(now: datetime) -> None:
    at = now - timedelta(hours=2)
    template_v1 = k.pod_template("api", [k.container("api", "api:v1")])
    template_v2 = k.pod_template("api", [k.container("api", "api:v2")])
    template_v3 = k.pod_template("api", [k.container("api", "api:v3")])
    deploy = k.deployment("api", "shop", template=template_v3, revision=3, created=now - timedelta(days=5))
    rs = [
        k.replica_set(deploy, template=template_v1, revision=1, created=now - timedelta(days=5), replicas=0),
        k.replica_set(
            deploy, template=template_v2, revision=2, created=at - timedelta(minutes=15), replicas=0
        ),
        k.replica_set(
            deploy, template=template_v3, revision=3, created=now - timedelta(minutes=30), replicas=3
        ),
    ]
    [finding] = _judge([deploy, *rs], at, server_time=now)
    assert finding.evidence.details["revision"] == 2
    assert "v1 → v2" in finding.title and "15m before --at" in finding.title
    assert finding.evidence.details["state"] == "superseded"
    assert "superseded since by revision 3" in finding.summary
    assert "as of now" in finding.summary


def test_a_statefulset_update_is_read_from_its_controller_revisions(now: datetime) -> None:
    old = k.pod_template("db", [k.container("db", "postgres:16.2")])
    new = k.pod_template("db", [k.container("db", "postgres:16.3")])
    update = k.revision_name("db", new)
    sts = k.stateful_set(
        "db",
        "data",
        template=new,
        created=now - timedelta(days=40),
        current_revision=update,
        update_revision=update,
    )
    revisions = [
        k.controller_revision(sts, template=old, revision=3, created=now - timedelta(days=40)),
        k.controller_revision(sts, template=new, revision=4, created=now - timedelta(minutes=25)),
    ]
    [finding] = _judge([sts, *revisions], now)
    assert (finding.kind, finding.severity) == ("rollout", Severity.WARNING)
    assert finding.title.startswith("StatefulSet data/db rolled out 25m ago: revision 3 → 4, db 16.2 → 16.3")
    assert finding.next_steps[0] == "kubectl rollout undo statefulset/db -n data --to-revision=3"
    assert finding.evidence.details["dated_by"] == "ControllerRevision created"


def test_a_daemonset_with_unavailable_pods_after_its_update_is_unhealthy(now: datetime) -> None:
    old = k.pod_template("agent", [k.container("agent", "agent:1.0")])
    new = k.pod_template("agent", [k.container("agent", "agent:1.1")])
    ds = k.daemon_set(
        "agent",
        "ops",
        template=new,
        created=now - timedelta(days=3),
        desired=5,
        updated=5,
        available=3,
        generation=2,
    )
    revisions = [
        k.controller_revision(ds, template=old, revision=1, created=now - timedelta(days=3)),
        k.controller_revision(ds, template=new, revision=2, created=now - timedelta(minutes=15)),
    ]
    [finding] = _judge([ds, *revisions], now)
    assert (finding.kind, finding.severity) == ("rollout_unhealthy", Severity.CRITICAL)
    assert "2 replicas unavailable" in finding.title


def test_a_healthy_cluster_without_recent_changes_yields_nothing(now: datetime) -> None:
    staged = k.deployment_rollout(
        "checkout", "shop", old_image="c:v1", new_image="c:v2", rolled_out_at=now - timedelta(days=2)
    )
    assert _judge(staged.objects(), now) == []


def _release(now: datetime, *, status: str = "deployed") -> list[dict[str, Any]]:
    return [
        k.helm_release_secret(
            "checkout",
            "shop",
            revision=11,
            status="superseded",
            chart="checkout",
            chart_version="1.4.2",
            created=now - timedelta(days=6),
            values={"db": {"password": "hunter2"}},
        ),
        k.helm_release_secret(
            "checkout",
            "shop",
            revision=12,
            status=status,
            chart="checkout",
            chart_version="1.5.0",
            created=now - timedelta(minutes=12),
            values={"db": {"password": "hunter2"}},
        ),
    ]


def test_decoding_a_release_reads_the_chart_and_never_the_values(now: datetime) -> None:
    secret = _release(now)[1]
    chart = decode_chart(secret)
    assert chart is not None
    assert (chart.chart, chart.version, chart.description) == ("checkout", "1.5.0", "Upgrade complete")
    assert "hunter2" not in repr(chart)
    assert decode_chart({"data": {"release": "not base64!"}}) is None


def test_a_helm_upgrade_in_the_window_names_revision_and_chart_versions(now: datetime) -> None:
    secrets = _release(now)
    charts = {("shop", s["metadata"]["name"]): decode_chart(s) for s in secrets}
    data = _data(secrets, now, charts)
    [finding] = judge_helm(
        data,
        start=now - HOUR,
        at=now,
        unhealthy_after_s=300,
        kube_context="prod-eu",
        make=finding_factory("deploys.rollouts", now),
    )
    assert (finding.kind, finding.severity) == ("helm_upgrade", Severity.WARNING)
    assert (
        finding.title
        == "Helm release shop/checkout upgraded to revision 12 (chart checkout-1.4.2 → checkout-1.5.0) 12m ago: deployed"
    )
    assert finding.next_steps[0] == "helm rollback checkout 11 -n shop --kube-context prod-eu"
    assert finding.entity.name == "shop/checkout"
    assert "hunter2" not in texts([finding])


def test_a_failed_helm_upgrade_is_critical_even_without_its_chart(now: datetime) -> None:
    data = _data(_release(now, status="failed"), now)
    [finding] = judge_helm(
        data,
        start=now - HOUR,
        at=now,
        unhealthy_after_s=300,
        kube_context=None,
        make=finding_factory("deploys.rollouts", now),
    )
    assert finding.severity is Severity.CRITICAL
    assert finding.title.endswith(": failed") and "chart" not in finding.title


def test_a_helm_rollback_returns_to_the_last_revision_deployed_successfully(now: datetime) -> None:
    def revision(number: int, status: str, version: str, created: datetime) -> dict[str, Any]:
        return k.helm_release_secret(
            "checkout",
            "shop",
            revision=number,
            status=status,
            chart="checkout",
            chart_version=version,
            created=created,
        )

    secrets = [
        revision(10, "superseded", "1.4.1", now - timedelta(days=9)),
        revision(11, "deployed", "1.4.2", now - timedelta(days=6)),
        revision(12, "failed", "1.5.0", now - timedelta(hours=2)),
        revision(13, "pending-upgrade", "1.5.1", now - timedelta(minutes=40)),
        revision(14, "failed", "1.5.1", now - timedelta(minutes=10)),
    ]
    charts = {("shop", s["metadata"]["name"]): decode_chart(s) for s in secrets}
    [finding] = judge_helm(
        _data(secrets, now, charts),
        start=now - HOUR,
        at=now,
        unhealthy_after_s=300,
        kube_context="prod-eu",
        make=finding_factory("deploys.rollouts", now),
    )
    assert finding.severity is Severity.CRITICAL
    assert finding.next_steps[0] == "helm rollback checkout 11 -n shop --kube-context prod-eu"
    assert "(chart checkout-1.4.2 → checkout-1.5.1)" in finding.title  # compared with what ran
    details = finding.evidence.details
    assert (details["previous_revision"], details["previous_status"]) == (11, "deployed")
    assert details["skipped_revisions"] == [
        {"revision": 12, "status": "failed"},
        {"revision": 13, "status": "pending-upgrade"},
    ]
    assert "the rollback returns to revision 11" in finding.summary
    # nothing ever deployed successfully: no rollback command at all
    [first] = judge_helm(
        _data(secrets[2:], now),
        start=now - HOUR,
        at=now,
        unhealthy_after_s=300,
        kube_context=None,
        make=finding_factory("deploys.rollouts", now),
    )
    assert first.next_steps == ("helm history checkout -n shop",)
    assert "No earlier revision was deployed successfully" in first.summary


def test_rollout_commands_carry_the_configured_context(now: datetime) -> None:
    staged = k.deployment_rollout(
        "checkout", "shop", old_image="c:v1", new_image="c:v2", rolled_out_at=now - timedelta(minutes=20)
    )
    data = _data(staged.objects(), now)
    [finding] = judge_rollouts(
        data,
        start=now - HOUR,
        at=now,
        limits=RolloutLimits(unhealthy_after_s=300, kubectl_suffix=" --context prod-eu"),
        make=finding_factory("deploys.rollouts", now),
    )
    assert finding.next_steps and all(s.endswith(" --context prod-eu") for s in finding.next_steps)
