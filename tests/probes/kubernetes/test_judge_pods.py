"""Classifying pod problems, grouping them by workload, and Warning events (no server)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from diagnostics import Finding, Severity
from probes.kubernetes.judge_events import by_subject, group_events, judge_events
from probes.kubernetes.judge_pods import PodLimits, judge_pod_groups, log_targets
from probes.kubernetes.parse import parse_event, parse_pod
from probes.kubernetes.pod_problems import group_problems, pod_problems
from probes.kubernetes.snapshots import LogTarget
from tests.probes.kubernetes.conftest import finding_factory
from tests.support import kube_objects as k

HOUR = timedelta(hours=1)
LIMITS = PodLimits(pending_warning_s=120, pending_critical_s=600)


def _judge(
    pods: list[dict[str, Any]],
    now: datetime,
    *,
    logs: dict[LogTarget, str] | None = None,
    events: list[dict[str, Any]] = (),
) -> list[Finding]:
    parsed = [parse_pod(p) for p in pods]
    groups = group_problems(p for pod in parsed for p in pod_problems(pod, now - HOUR, now))
    event_groups = group_events(
        [parse_event(e) for e in events], parsed, now - HOUR, now, selected_only=False
    )
    return judge_pod_groups(
        groups,
        logs=logs or {},
        events=by_subject(event_groups),
        at=now,
        server_time=now,
        limits=LIMITS,
        queries=["GET /api/v1/pods"],
        make=finding_factory("workloads.pods", now),
    )


def _worker(now: datetime, memory: str = "256Mi") -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    template = k.pod_template("ledger", [k.container("worker", "ledger:3.1", memory_limit=memory)])
    deploy = k.deployment(
        "ledger", "payments", template=template, revision=2, created=now - timedelta(days=4)
    )
    rs = k.replica_set(deploy, template=template, revision=2, created=now - timedelta(days=4), replicas=3)
    return template, deploy, rs


def test_crash_looping_replicas_are_grouped_into_one_finding_with_the_log_tail(now: datetime) -> None:
    staged = k.deployment_rollout(
        "checkout",
        "shop",
        old_image="c:v1.4.2",
        new_image="c:v1.5.0",
        rolled_out_at=now - timedelta(minutes=10),
        crash_new_pods=3,
        crash_exit_code=2,
    )
    parsed = [parse_pod(p) for p in staged.new_pods]
    groups = group_problems(p for pod in parsed for p in pod_problems(pod, now - HOUR, now))
    [target] = log_targets(groups, limit=5)
    assert target.pod == max(parsed, key=lambda p: p.containers[0].restart_count).meta.name
    findings = _judge(
        staged.new_pods + staged.old_pods,
        now,
        logs={target: "connecting to payments\npanic: PAYMENT_URL not set\n"},
        events=staged.events,
    )
    [finding] = findings
    assert (finding.kind, finding.severity) == ("crash_loop", Severity.CRITICAL)
    assert (
        finding.title
        == "3 pods of Deployment shop/checkout in CrashLoopBackOff: checkout exited 2 (Error), 21 restarts"
    )
    assert finding.evidence.details["log_tail"]["lines"][-1] == "panic: PAYMENT_URL not set"
    assert "panic: PAYMENT_URL not set" in finding.summary
    assert finding.evidence.details["pod_count"] == 3
    [events] = finding.evidence.details["events"]
    assert events["reason"] == "BackOff" and events["count"] == 75
    # the first BackOff event is earlier than the last terminations the pods still show
    assert finding.onset == now - timedelta(minutes=10) + timedelta(seconds=35)


def test_an_oom_kill_that_recovered_is_a_warning_with_the_memory_limit(now: datetime) -> None:
    template, _, rs = _worker(now)
    spec = template["spec"]["containers"][0]
    killed_at = now - timedelta(minutes=8)
    pod = k.pod(
        rs,
        template=template,
        created=now - timedelta(days=1),
        node="node-b",
        statuses=[
            k.container_status(
                spec,
                state=k.running(killed_at + timedelta(seconds=2)),
                last_state=k.terminated("OOMKilled", 137, now - timedelta(hours=5), killed_at),
                restarts=1,
            )
        ],
    )
    [finding] = _judge([pod], now)
    assert (finding.kind, finding.severity) == ("oom_killed", Severity.WARNING)
    assert (
        finding.title
        == "Container worker of Deployment payments/ledger OOMKilled in 1 pod (memory limit 256Mi), 1 restart"
    )
    assert finding.onset == killed_at
    assert {m.name: m.value for m in finding.evidence.values}["last exit code"] == 137


def test_an_oom_kill_outside_the_window_is_not_reported(now: datetime) -> None:
    template, _, rs = _worker(now)
    spec = template["spec"]["containers"][0]
    killed_at = now - timedelta(hours=3)
    pod = k.pod(
        rs,
        template=template,
        created=now - timedelta(days=1),
        node="node-b",
        statuses=[
            k.container_status(
                spec,
                state=k.running(killed_at),
                last_state=k.terminated("OOMKilled", 137, killed_at - HOUR, killed_at),
                restarts=1,
            )
        ],
    )
    assert _judge([pod], now) == []


def test_an_oom_crash_loop_is_critical(now: datetime) -> None:
    template, _, rs = _worker(now)
    spec = template["spec"]["containers"][0]
    pod = k.pod(
        rs,
        template=template,
        created=now - timedelta(hours=2),
        node="node-b",
        statuses=[
            k.container_status(
                spec,
                state=k.waiting("CrashLoopBackOff"),
                last_state=k.terminated(
                    "OOMKilled", 137, now - timedelta(minutes=3), now - timedelta(minutes=2)
                ),
                restarts=9,
            )
        ],
    )
    [finding] = _judge([pod], now)
    assert (finding.kind, finding.severity) == ("oom_killed", Severity.CRITICAL)
    assert "crash-looping" in finding.title


def test_pending_pods_report_the_scheduler_reason_once_past_the_threshold(now: datetime) -> None:
    template, _, rs = _worker(now)
    message = (
        "0/3 nodes are available: 3 Insufficient memory. preemption: 0/3 nodes are available: "
        "3 No preemption victims found for incoming pod."
    )
    old = [
        k.pod(
            rs,
            template=template,
            created=now - timedelta(minutes=15, seconds=i),
            node=None,
            conditions=k.unschedulable(now - timedelta(minutes=15), message),
        )
        for i in range(2)
    ]
    [finding] = _judge(old, now)
    assert (finding.kind, finding.severity) == ("pending", Severity.CRITICAL)
    assert (
        finding.title
        == "2 pods of Deployment payments/ledger Pending for 15m: 0/3 nodes are available: 3 Insufficient memory"
    )
    fresh = k.pod(
        rs,
        template=template,
        created=now - timedelta(seconds=30),
        node=None,
        conditions=k.unschedulable(now - timedelta(seconds=30), message),
    )
    assert _judge([fresh], now) == []
    waiting = k.pod(
        rs,
        template=template,
        created=now - timedelta(minutes=5),
        node=None,
        conditions=k.unschedulable(now - timedelta(minutes=5), message),
    )
    assert _judge([waiting], now)[0].severity is Severity.WARNING


def test_image_pull_failures_and_config_errors_are_critical(now: datetime) -> None:
    template, _, rs = _worker(now)
    spec = template["spec"]["containers"][0]
    pull = k.pod(
        rs,
        template=template,
        created=now - timedelta(minutes=6),
        node="node-a",
        statuses=[
            k.container_status(
                spec, state=k.waiting("ImagePullBackOff", 'Back-off pulling image "ledger:3.1"')
            )
        ],
    )
    config = k.pod(
        rs,
        template=template,
        created=now - timedelta(minutes=6),
        node="node-b",
        name="ledger-config",
        statuses=[
            k.container_status(
                spec, state=k.waiting("CreateContainerConfigError", 'secret "ledger-db" not found')
            )
        ],
    )
    findings = {f.kind: f for f in _judge([pull, config], now)}
    assert (
        findings["image_pull"].title
        == "1 pod of Deployment payments/ledger cannot pull image ledger:3.1: ImagePullBackOff"
    )
    assert findings["container_error"].severity is Severity.CRITICAL
    assert (
        findings["container_error"].evidence.details["pods"][0]["message"] == 'secret "ledger-db" not found'
    )


def test_evictions_in_the_window_are_grouped(now: datetime) -> None:
    template, _, rs = _worker(now)
    message = "The node was low on resource: memory. Threshold quantity: 100Mi, available: 91Mi."
    evicted = [
        k.pod(
            rs,
            template=template,
            created=now - timedelta(days=1),
            node="node-c",
            name=f"ledger-ev{i}",
            phase="Failed",
            reason="Evicted",
            message=message,
            conditions=[
                {
                    "type": "Ready",
                    "status": "False",
                    "lastTransitionTime": k.ts(now - timedelta(minutes=20 + i)),
                }
            ],
        )
        for i in range(3)
    ]
    long_ago = k.pod(
        rs,
        template=template,
        created=now - timedelta(days=3),
        node="node-c",
        name="ledger-old",
        phase="Failed",
        reason="Evicted",
        message=message,
        conditions=[
            {"type": "Ready", "status": "False", "lastTransitionTime": k.ts(now - timedelta(days=2))}
        ],
    )
    [finding] = _judge([*evicted, long_ago], now)
    assert (finding.kind, finding.severity) == ("evicted", Severity.WARNING)
    assert finding.title.startswith(
        "3 pods of Deployment payments/ledger evicted: The node was low on resource: memory"
    )
    assert finding.onset == now - timedelta(minutes=22)


def test_a_non_zero_exit_in_the_window_is_a_restart_warning(now: datetime) -> None:
    template, _, rs = _worker(now)
    spec = template["spec"]["containers"][0]
    pod = k.pod(
        rs,
        template=template,
        created=now - timedelta(days=1),
        node="node-a",
        statuses=[
            k.container_status(
                spec,
                state=k.running(now - timedelta(minutes=4)),
                last_state=k.terminated("Error", 3, now - timedelta(hours=6), now - timedelta(minutes=4)),
                restarts=2,
            )
        ],
    )
    [finding] = _judge([pod], now)
    assert (finding.kind, finding.severity) == ("restarts", Severity.WARNING)
    assert "last exited 3 (Error)" in finding.title


def test_healthy_pods_and_pods_created_after_at_yield_nothing(now: datetime) -> None:
    staged = k.deployment_rollout(
        "web", "shop", old_image="w:1", new_image="w:2", rolled_out_at=now - timedelta(days=1)
    )
    assert _judge(staged.new_pods, now) == []
    crashing = k.deployment_rollout(
        "web",
        "shop",
        old_image="w:1",
        new_image="w:2",
        rolled_out_at=now - timedelta(minutes=10),
        crash_new_pods=2,
    )
    at = now - timedelta(minutes=30)
    parsed = [parse_pod(p) for p in crashing.new_pods]
    assert [p for pod in parsed for p in pod_problems(pod, at - HOUR, at)] == []


def test_unexplained_warning_events_become_findings_grouped_by_workload_and_reason(now: datetime) -> None:
    template, deploy, rs = _worker(now)
    pods = [
        k.pod(rs, template=template, created=now - timedelta(days=1, minutes=i), node="node-a")
        for i in range(2)
    ]
    events = [
        k.event(
            p,
            reason="Unhealthy",
            message="Readiness probe failed: HTTP probe failed with statuscode: 503",
            first=now - timedelta(minutes=30),
            last=now - timedelta(minutes=1),
            count=12,
        )
        for p in pods
    ]
    node = k.node("node-a", created=now - timedelta(days=9))
    events.append(
        k.event(
            node,
            reason="FreeDiskSpaceFailed",
            message="failed to free 2.1GB",
            first=now - timedelta(minutes=5),
        )
    )
    other_node = k.node("node-z", created=now - timedelta(days=9))
    events.append(
        k.event(
            other_node, reason="SystemOOM", message="System OOM encountered", first=now - timedelta(minutes=9)
        )
    )
    events.append(
        k.event(
            deploy,
            reason="Unhealthy",
            message="stale",
            first=now - timedelta(hours=3),
            last=now - timedelta(hours=2),
        )
    )
    parsed = [parse_pod(p) for p in pods]
    groups = group_events([parse_event(e) for e in events], parsed, now - HOUR, now, selected_only=False)
    findings = judge_events(
        groups,
        explained=set(),
        limit=10,
        queries=["GET /api/v1/events"],
        make=finding_factory("workloads.pods", now),
    )
    by_entity = {f.entity.name: f for f in findings}
    assert set(by_entity) == {"payments/ledger", "node-a", "node-z"}
    ledger = by_entity["payments/ledger"]
    assert ledger.title == (
        "24 Warning events Unhealthy on Deployment payments/ledger: Readiness probe failed: HTTP probe failed with statuscode: 503"
    )
    assert len(ledger.evidence.details["objects"]) == 2
    assert by_entity["node-a"].entity.kind == "node"
    explained = judge_events(
        groups,
        explained={("payments/ledger", "Unhealthy")},
        limit=10,
        queries=[],
        make=finding_factory("workloads.pods", now),
    )
    assert sorted(f.entity.name for f in explained) == ["node-a", "node-z"]
    # with a label selector, only the selected pods' workloads and the nodes they run on
    selected = group_events([parse_event(e) for e in events], parsed, now - HOUR, now, selected_only=True)
    assert [g.entity.name for g in selected] == ["payments/ledger", "node-a"]
