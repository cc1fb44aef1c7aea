"""Classifying pod problems and grouping them by workload; which logs to read (no server)."""

from __future__ import annotations

from datetime import datetime, timedelta

from diagnostics import Severity
from probes.kubernetes.judge_events import group_events, judge_events
from probes.kubernetes.judge_pods import PodLimits, judge_pod_groups, log_targets
from probes.kubernetes.parse import parse_event, parse_pod
from probes.kubernetes.pod_problems import group_problems, pod_problems
from tests.probes.kubernetes.conftest import (
    HOUR,
    crash_looping_pod,
    finding_factory,
    judge_pods_of,
    ledger_workload,
)
from tests.support import kube_objects as k


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
    findings = judge_pods_of(
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
    # the pods have crashed since they started (their restarts fill their lives): the loop began
    # when the first of them started, before the first BackOff event and the last terminations
    assert finding.onset == now - timedelta(minutes=10) + timedelta(seconds=5)


def test_an_oom_kill_that_recovered_is_a_warning_with_the_memory_limit(now: datetime) -> None:
    template, _, rs = ledger_workload(now)
    killed_at = now - timedelta(minutes=8)
    pod = k.restarted_pod(
        rs,
        template=template,
        created=now - timedelta(days=1),
        node="node-b",
        reason="OOMKilled",
        exit_code=137,
        started=now - timedelta(hours=5),
        finished=killed_at,
    )
    [finding] = judge_pods_of([pod], now)
    assert (finding.kind, finding.severity) == ("oom_killed", Severity.WARNING)
    assert (
        finding.title
        == "Container worker of Deployment payments/ledger OOMKilled in 1 pod (memory limit 256Mi), 1 restart"
    )
    assert finding.onset == killed_at  # its only restart: the kill is when it began
    assert {m.name: m.value for m in finding.evidence.values}["last exit code"] == 137


def test_an_oom_kill_outside_the_window_is_not_reported(now: datetime) -> None:
    template, _, rs = ledger_workload(now)
    pod = k.restarted_pod(
        rs,
        template=template,
        created=now - timedelta(days=1),
        node="node-b",
        reason="OOMKilled",
        exit_code=137,
        finished=now - timedelta(hours=3),
    )
    assert judge_pods_of([pod], now) == []


def test_an_oom_crash_loop_is_critical(now: datetime) -> None:
    template, _, rs = ledger_workload(now)
    pod = k.restarted_pod(
        rs,
        template=template,
        created=now - timedelta(hours=2),
        node="node-b",
        reason="OOMKilled",
        exit_code=137,
        finished=now - timedelta(minutes=2),
        restarts=9,
        crash_looping=True,
    )
    [finding] = judge_pods_of([pod], now)
    assert (finding.kind, finding.severity) == ("oom_killed", Severity.CRITICAL)
    assert "crash-looping" in finding.title


def test_pending_pods_report_the_scheduler_reason_once_past_the_threshold(now: datetime) -> None:
    template, _, rs = ledger_workload(now)
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
    [finding] = judge_pods_of(old, now)
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
    assert judge_pods_of([fresh], now) == []
    waiting = k.pod(
        rs,
        template=template,
        created=now - timedelta(minutes=5),
        node=None,
        conditions=k.unschedulable(now - timedelta(minutes=5), message),
    )
    assert judge_pods_of([waiting], now)[0].severity is Severity.WARNING


def test_image_pull_failures_and_config_errors_are_critical(now: datetime) -> None:
    template, _, rs = ledger_workload(now)
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
    findings = {f.kind: f for f in judge_pods_of([pull, config], now)}
    assert (
        findings["image_pull"].title
        == "1 pod of Deployment payments/ledger cannot pull image ledger:3.1: ImagePullBackOff"
    )
    assert findings["container_error"].severity is Severity.CRITICAL
    assert (
        findings["container_error"].evidence.details["pods"][0]["message"] == 'secret "ledger-db" not found'
    )


def test_evictions_in_the_window_are_grouped(now: datetime) -> None:
    template, _, rs = ledger_workload(now)
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
    [finding] = judge_pods_of([*evicted, long_ago], now)
    assert (finding.kind, finding.severity) == ("evicted", Severity.WARNING)
    assert finding.title.startswith(
        "3 pods of Deployment payments/ledger evicted: The node was low on resource: memory"
    )
    assert finding.onset == now - timedelta(minutes=22)


def test_a_non_zero_exit_in_the_window_is_a_restart_warning(now: datetime) -> None:
    template, _, rs = ledger_workload(now)
    pod = k.restarted_pod(
        rs,
        template=template,
        created=now - timedelta(days=1),
        node="node-a",
        reason="Error",
        exit_code=3,
        started=now - timedelta(hours=6),
        finished=now - timedelta(minutes=4),
        restarts=2,
    )
    [finding] = judge_pods_of([pod], now)
    assert (finding.kind, finding.severity) == ("restarts", Severity.WARNING)
    assert "last exited 3 (Error)" in finding.title
    # its first restart happened at some unknown time of its day-long life: not the one seen
    assert finding.onset is None


def test_healthy_pods_and_pods_created_after_at_yield_nothing(now: datetime) -> None:
    staged = k.deployment_rollout(
        "web", "shop", old_image="w:1", new_image="w:2", rolled_out_at=now - timedelta(days=1)
    )
    assert judge_pods_of(staged.new_pods, now) == []
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


def test_a_workload_crashing_and_restarting_costs_one_log_read(now: datetime) -> None:
    checkout = k.steady_deployment(
        "checkout", "shop", container_name="checkout", image="c:v2", created=now - timedelta(days=3)
    )
    looping = crash_looping_pod(
        checkout,
        created=now - timedelta(minutes=20),
        restarts=5,
        last_crash=now - timedelta(minutes=1),
        name="checkout-a",
    )
    restarted = k.restarted_pod(
        checkout.replica_set,
        template=checkout.template,
        created=now - timedelta(days=2),
        node="node-b",
        reason="Error",
        exit_code=2,
        finished=now - timedelta(minutes=7),
        name="checkout-b",
    )
    ledger_template, _, ledger_rs = ledger_workload(now)
    ledger = k.restarted_pod(
        ledger_rs,
        template=ledger_template,
        created=now - timedelta(days=1),
        node="node-b",
        reason="OOMKilled",
        exit_code=137,
        finished=now - timedelta(minutes=3),
    )
    parsed = [parse_pod(p) for p in (looping, restarted, ledger)]
    groups = group_problems(p for pod in parsed for p in pod_problems(pod, now - HOUR, now))
    assert sorted((g.workload.key, g.kind) for g in groups) == [
        ("payments/ledger", "oom_killed"),
        ("shop/checkout", "crash_loop"),
        ("shop/checkout", "restarts"),
    ]
    targets = log_targets(groups, limit=5)
    assert [(t.pod, t.container) for t in targets] == [
        ("checkout-a", "checkout"),
        (ledger["metadata"]["name"], "worker"),
    ]
    assert len(log_targets(groups, limit=1)) == 1


def test_kubectl_commands_of_pod_and_event_findings_name_the_context(now: datetime) -> None:
    template, _, rs = ledger_workload(now)
    pending = k.pod(
        rs,
        template=template,
        created=now - timedelta(minutes=15),
        node=None,
        conditions=k.unschedulable(
            now - timedelta(minutes=15), "0/3 nodes are available: 3 Insufficient memory."
        ),
    )
    oom = k.restarted_pod(
        rs,
        template=template,
        created=now - timedelta(days=1),
        node="node-b",
        reason="OOMKilled",
        exit_code=137,
        finished=now - timedelta(minutes=3),
    )
    parsed = [parse_pod(pending), parse_pod(oom)]
    groups = group_problems(p for pod in parsed for p in pod_problems(pod, now - HOUR, now))
    findings = judge_pod_groups(
        groups,
        logs={},
        events={},
        at=now,
        server_time=now,
        limits=PodLimits(pending_warning_s=120, pending_critical_s=600, kubectl_suffix=" --context prod-eu"),
        queries=[],
        make=finding_factory("workloads.pods", now),
    )
    node = k.node("node-a", created=now - timedelta(days=9))
    event_groups = group_events(
        [
            parse_event(
                k.event(
                    node, reason="FreeDiskSpaceFailed", message="failed", first=now - timedelta(minutes=5)
                )
            )
        ],
        parsed,
        now - HOUR,
        now,
        selected_only=False,
    )
    findings += judge_events(
        event_groups,
        explained=set(),
        limit=5,
        queries=[],
        kubectl_suffix=" --context prod-eu",
        make=finding_factory("workloads.pods", now),
    )
    assert sorted(f.kind for f in findings) == ["oom_killed", "pending", "warning_events"]
    steps = [step for f in findings for step in f.next_steps]
    assert "kubectl describe nodes --context prod-eu | grep -A 8 'Allocated resources'" in steps
    assert all(
        step.split("|")[0].rstrip().endswith(" --context prod-eu")
        for step in steps
        if step.startswith("kubectl")
    ), steps
