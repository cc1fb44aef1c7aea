"""Judging nodes from plain values (no server)."""

from __future__ import annotations

from datetime import datetime, timedelta

from diagnostics import Severity
from probes.kubernetes.judge_nodes import judge_nodes
from probes.kubernetes.parse import parse_node
from tests.probes.kubernetes.conftest import finding_factory
from tests.support import kube_objects as k


def _judge(nodes: list[dict], at: datetime, server_time: datetime | None = None, kubectl_suffix: str = ""):
    return judge_nodes(
        [parse_node(n) for n in nodes],
        at=at,
        server_time=server_time or at,
        queries=["GET /api/v1/nodes"],
        kubectl_suffix=kubectl_suffix,
        make=finding_factory("workloads.nodes", at),
    )


def test_a_not_ready_node_is_critical_since_its_transition(now: datetime) -> None:
    down = k.node(
        "node-b",
        created=now - timedelta(days=30),
        ready="Unknown",
        ready_since=now - timedelta(minutes=7),
        ready_reason="NodeStatusUnknown",
        ready_message="Kubelet stopped posting node status.",
        heartbeat=now - timedelta(minutes=8),
        internal_ip="10.0.1.11",
    )
    [finding] = _judge([k.node("node-a", created=now - timedelta(days=30)), down], now)
    assert (finding.kind, finding.severity) == ("node_not_ready", Severity.CRITICAL)
    assert finding.title == "Node node-b NotReady (status Unknown) for 7m: NodeStatusUnknown"
    assert finding.entity.name == "node-b" and finding.entity.attributes == {"host": "10.0.1.11"}
    assert finding.onset == now - timedelta(minutes=7)
    assert "Kubelet stopped posting node status." in finding.summary


def test_pressure_is_a_warning_and_a_cordon_informational(now: datetime) -> None:
    busy = k.node(
        "node-c",
        created=now - timedelta(days=30),
        pressure={"MemoryPressure": now - timedelta(minutes=12), "DiskPressure": now - timedelta(minutes=3)},
    )
    drained = k.node("node-d", created=now - timedelta(days=30), unschedulable=True)
    findings = {f.kind: f for f in _judge([busy, drained], now)}
    pressure = findings["node_pressure"]
    assert pressure.severity is Severity.WARNING
    assert pressure.title == "Node node-c under MemoryPressure, DiskPressure"
    assert pressure.onset == now - timedelta(minutes=12)
    assert "kubelet has insufficient memory available" in pressure.summary
    assert findings["node_cordoned"].severity is Severity.INFO
    assert findings["node_cordoned"].entity.name == "node-d"


def test_a_condition_that_began_after_at_did_not_hold_at_at(now: datetime) -> None:
    down = k.node(
        "node-b", created=now - timedelta(days=30), ready="False", ready_since=now - timedelta(minutes=20)
    )
    assert _judge([down], now - timedelta(hours=1), server_time=now) == []
    [finding] = _judge([down], now - timedelta(minutes=10), server_time=now)
    assert "as of now" in finding.summary


def test_healthy_nodes_yield_nothing(now: datetime) -> None:
    assert _judge([k.node(f"node-{i}", created=now - timedelta(days=30)) for i in range(3)], now) == []


def test_kubectl_commands_name_the_configured_context(now: datetime) -> None:
    nodes = [
        k.node(
            "node-b", created=now - timedelta(days=30), ready="False", ready_since=now - timedelta(minutes=3)
        ),
        k.node(
            "node-c", created=now - timedelta(days=30), pressure={"PIDPressure": now - timedelta(minutes=2)}
        ),
        k.node("node-d", created=now - timedelta(days=30), unschedulable=True),
    ]
    findings = _judge(nodes, now, kubectl_suffix=" --context prod-eu")
    assert sorted(f.kind for f in findings) == ["node_cordoned", "node_not_ready", "node_pressure"]
    steps = [step for f in findings for step in f.next_steps]
    assert "kubectl uncordon node-d --context prod-eu  # once maintenance is over" in steps
    assert all(step.split("#")[0].rstrip().endswith(" --context prod-eu") for step in steps), steps
