"""When pod problems began, from what a pod's status shows (no server).

A crash loop's onset is not its last crash: the status shows only the last termination and a
restart count, so the onset is the pod's start when its restarts fill its life, and unknown
otherwise; an eviction without a recorded time counts only when the pod started in the window.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from diagnostics import ChecklistItem, Entity, Severity
from diagnostics.summary.causes import rank_causes
from diagnostics.summary.entities import EntityIndex
from tests.probes.kubernetes.conftest import (
    crash_looping_pod,
    finding_factory,
    judge_pods_of,
    ledger_workload,
)
from tests.support import kube_objects as k


def test_a_crash_loop_since_its_pods_started_hours_ago_dates_from_their_start(now: datetime) -> None:
    checkout = k.steady_deployment(
        "checkout", "shop", container_name="checkout", image="c:v2", created=now - timedelta(hours=3)
    )
    started = now - timedelta(hours=3) + timedelta(seconds=10)
    # 40 restarts, the back-off at its 5-minute cap: crashing since they started; no events left
    pods = [
        crash_looping_pod(
            checkout,
            created=started + timedelta(seconds=i),
            restarts=40,
            last_crash=now - timedelta(minutes=1),
            name=f"checkout-{i}",
        )
        for i in range(2)
    ]
    [crash] = judge_pods_of(pods, now)
    assert crash.kind == "crash_loop"
    assert crash.onset == started  # not the last crash a minute ago
    # so a Helm upgrade of the same service 20 minutes ago is not taken for its cause
    make = finding_factory("deploys.rollouts", now)
    upgrade = make(
        kind="helm_upgrade",
        severity=Severity.WARNING,
        title="Helm release shop/checkout upgraded to revision 9 20m ago: deployed",
        entity=Entity(
            kind="workload",
            name="shop/checkout",
            attributes={"namespace": "shop", "workload_kind": "HelmRelease", "service": "checkout"},
        ),
        onset=now - timedelta(minutes=20),
    )
    items = {"deploys.rollouts": ChecklistItem.DEPLOYMENTS, "workloads.pods": ChecklistItem.RESOURCES}
    suspects = rank_causes([upgrade, crash], items, EntityIndex({}), max_lag=timedelta(minutes=30))
    assert [s.cause for s in suspects] == []


def test_a_crash_loop_of_long_running_pods_has_no_onset_rather_than_its_last_crash(now: datetime) -> None:
    checkout = k.steady_deployment(
        "checkout", "shop", container_name="checkout", image="c:v2", created=now - timedelta(days=3)
    )
    # running fine for days, then crash-looping: 36 restarts cannot fill 3 days, so when the
    # loop began is not in the pods' status, and the events that could tell have expired
    old = crash_looping_pod(
        checkout,
        created=now - timedelta(days=3),
        restarts=36,
        last_crash=now - timedelta(minutes=1),
        name="checkout-old",
    )
    [crash] = judge_pods_of([old], now)
    assert crash.kind == "crash_loop" and crash.onset is None
    # a replacement pod crashing since it started 5 minutes ago cannot date the older pod's loop
    fresh = crash_looping_pod(
        checkout,
        created=now - timedelta(minutes=5),
        restarts=3,
        last_crash=now - timedelta(seconds=30),
        name="checkout-new",
    )
    [both] = judge_pods_of([old, fresh], now)
    assert both.evidence.details["pod_count"] == 2 and both.onset is None
    # nor can BackOff events, which the API server keeps about an hour
    backoff = k.event(
        old,
        reason="BackOff",
        message="Back-off restarting failed container",
        first=now - timedelta(minutes=50),
        last=now,
    )
    [with_events] = judge_pods_of([old], now, events=[backoff])
    assert with_events.onset is None and with_events.evidence.details["events"][0]["reason"] == "BackOff"
    # on its own, the fresh pod dates its loop from its start
    [alone] = judge_pods_of([fresh], now)
    assert alone.onset == now - timedelta(minutes=5)


def test_an_eviction_without_a_recorded_time_counts_only_when_the_pod_started_in_the_window(
    now: datetime,
) -> None:
    template, _, rs = ledger_workload(now)
    message = "The node was low on resource: ephemeral-storage."

    def evicted(name: str, created: datetime, statuses: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        return k.pod(
            rs,
            template=template,
            created=created,
            node="node-c",
            name=name,
            phase="Failed",
            reason="Evicted",
            message=message,
            conditions=[],  # no DisruptionTarget nor Ready transition recorded
            statuses=statuses,
        )

    spec = template["spec"]["containers"][0]
    old = evicted("ledger-old", now - timedelta(days=5))
    assert judge_pods_of([old], now) == []  # evicted some time in five days: cannot be placed in the window
    killed = now - timedelta(minutes=12)
    by_status = evicted(
        "ledger-killed",
        now - timedelta(days=5),
        statuses=[
            k.container_status(spec, state=k.terminated("Error", 137, now - timedelta(days=5), killed))
        ],
    )
    [finding] = judge_pods_of([old, by_status], now)
    assert finding.kind == "evicted" and finding.evidence.details["pod_count"] == 1
    assert finding.onset == killed  # dated by its container's termination
    recent = evicted("ledger-recent", now - timedelta(minutes=25))
    [finding] = judge_pods_of([old, recent], now)
    assert [p["pod"] for p in finding.evidence.details["pods"]] == ["ledger-recent"]
    assert finding.onset == now - timedelta(minutes=25)  # evicted after it started, in the window
