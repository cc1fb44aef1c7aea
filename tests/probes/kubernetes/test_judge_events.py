"""Warning events in the window, grouped by workload (or node) and reason (no server)."""

from __future__ import annotations

from datetime import datetime, timedelta

from probes.kubernetes.judge_events import group_events, judge_events
from probes.kubernetes.parse import parse_event, parse_pod
from tests.probes.kubernetes.conftest import HOUR, finding_factory, ledger_workload
from tests.support import kube_objects as k


def test_unexplained_warning_events_become_findings_grouped_by_workload_and_reason(now: datetime) -> None:
    template, deploy, rs = ledger_workload(now)
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
        kubectl_suffix="",
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
        kubectl_suffix="",
        make=finding_factory("workloads.pods", now),
    )
    assert sorted(f.entity.name for f in explained) == ["node-a", "node-z"]
    # with a label selector, only the selected pods' workloads and the nodes they run on
    selected = group_events([parse_event(e) for e in events], parsed, now - HOUR, now, selected_only=True)
    assert [g.entity.name for g in selected] == ["payments/ledger", "node-a"]
