"""Judging nodes: NotReady, under memory/disk/PID pressure, other abnormal conditions, cordoned.

A condition counts when it held at ``--at``: its last transition happened before ``at`` (a
later transition means the state at ``at`` was the other one). NotReady (``Ready`` False or
Unknown) is critical, pressure a warning, a cordon informational (it is often maintenance).
Every other condition is abnormal when True (``NetworkUnavailable``: critical; the
node-problem-detector's ``KernelDeadlock``, ``ReadonlyFilesystem``... and any custom one: a
warning) or Unknown (a warning: whatever reports it stopped), except on a node already NotReady,
whose conditions all turn Unknown with it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from diagnostics import Finding, Measurement, Severity
from diagnostics.units import isoformat
from probes.kubernetes.findings import MakeFinding, elapsed, live_state_note, node_entity
from probes.kubernetes.objects import Condition, Node

PRESSURE_CONDITIONS = ("MemoryPressure", "DiskPressure", "PIDPressure")
UNSCHEDULABLE_TAINT = "node.kubernetes.io/unschedulable"
HEALTHY_WHEN_TRUE = frozenset({"Ready", "EtcdIsVoter"})
"""Conditions whose True is the good state (k3s adds EtcdIsVoter); every other is a problem when True."""
CRITICAL_CONDITIONS = frozenset({"NetworkUnavailable"})


def _held_at(condition: Condition, at: datetime) -> bool:
    return condition.last_transition is None or condition.last_transition <= at


def judge_nodes(
    nodes: Iterable[Node],
    *,
    at: datetime,
    server_time: datetime | None,
    queries: Iterable[str],
    kubectl_suffix: str,
    make: MakeFinding,
) -> list[Finding]:
    """A finding per node NotReady, per node under pressure and per cordoned node."""
    findings = []
    shown_queries = list(queries)
    note = live_state_note(at, server_time, "Node state")
    for node in sorted(nodes, key=lambda n: n.name):
        entity = node_entity(node.name, node.internal_ip)
        ready = node.condition("Ready")
        if ready is not None and ready.status != "True" and _held_at(ready, at):
            since = f" for {elapsed(ready.last_transition, at, server_time)}" if ready.last_transition else ""
            state = "NotReady" if ready.status == "False" else "NotReady (status Unknown)"
            findings.append(
                make(
                    kind="node_not_ready",
                    severity=Severity.CRITICAL,
                    title=f"Node {node.name} {state}{since}: {ready.reason or 'no reason given'}",
                    entity=entity,
                    summary=(ready.message or "The kubelet reports the node not ready.")
                    + " Its pods are evicted after the toleration period (5 min by default)."
                    + note,
                    values=[
                        Measurement(name="ready", value=ready.status),
                        Measurement(name="last heartbeat", value=isoformat(ready.last_update)),
                    ],
                    queries=shown_queries,
                    details=_node_details(node),
                    onset=ready.last_transition,
                    next_steps=[
                        f"kubectl describe node {node.name}{kubectl_suffix}",
                        f"kubectl get pods -A --field-selector spec.nodeName={node.name}{kubectl_suffix}",
                    ],
                )
            )
        pressures = [
            c
            for name in PRESSURE_CONDITIONS
            if (c := node.condition(name)) is not None and c.status == "True" and _held_at(c, at)
        ]
        if pressures:
            onset = min((c.last_transition for c in pressures if c.last_transition), default=None)
            findings.append(
                make(
                    kind="node_pressure",
                    severity=Severity.WARNING,
                    title=f"Node {node.name} under {', '.join(c.type for c in pressures)}",
                    entity=entity,
                    summary="; ".join(c.message or c.reason or c.type for c in pressures)
                    + ". The kubelet evicts pods and refuses new ones while under pressure."
                    + note,
                    values=[Measurement(name=c.type, value=c.status) for c in pressures],
                    queries=shown_queries,
                    details=_node_details(node),
                    onset=onset,
                    next_steps=[
                        f"kubectl describe node {node.name}{kubectl_suffix}",
                        f"kubectl top node {node.name}{kubectl_suffix}",
                    ],
                )
            )
        if ready is None or ready.status == "True":
            other = _abnormal_conditions(node, at)
            if other:
                findings.append(_condition_finding(node, other, note, shown_queries, kubectl_suffix, make))
        if node.unschedulable:
            findings.append(
                make(
                    kind="node_cordoned",
                    severity=Severity.INFO,
                    title=f"Node {node.name} is cordoned (unschedulable)",
                    entity=entity,
                    summary="No new pods are scheduled on it; when it was cordoned is not recorded." + note,
                    queries=shown_queries,
                    details=_node_details(node),
                    next_steps=[f"kubectl uncordon {node.name}{kubectl_suffix}  # once maintenance is over"],
                )
            )
    return findings


def _abnormal_conditions(node: Node, at: datetime) -> list[Condition]:
    """Conditions other than Ready and the True pressures that say something is wrong."""
    found = []
    for condition in node.conditions:
        if condition.type == "Ready" or not _held_at(condition, at):
            continue
        if condition.status == "Unknown" or (
            condition.status == "True"
            and condition.type not in HEALTHY_WHEN_TRUE
            and condition.type not in PRESSURE_CONDITIONS
        ):
            found.append(condition)
    return sorted(found, key=lambda c: (c.type not in CRITICAL_CONDITIONS, c.type))


def _condition_finding(
    node: Node, conditions: list[Condition], note: str, queries: list[str], suffix: str, make: MakeFinding
) -> Finding:
    critical = any(c.type in CRITICAL_CONDITIONS and c.status == "True" for c in conditions)
    names = ", ".join(c.type if c.status == "True" else f"{c.type} (status Unknown)" for c in conditions)
    return make(
        kind="node_condition",
        severity=Severity.CRITICAL if critical else Severity.WARNING,
        title=f"Node {node.name} reports {names}",
        entity=node_entity(node.name, node.internal_ip),
        summary="; ".join(f"{c.type}: {c.message or c.reason or c.status}" for c in conditions) + "." + note,
        values=[Measurement(name=c.type, value=c.status) for c in conditions],
        queries=queries,
        details=_node_details(node),
        onset=min((c.last_transition for c in conditions if c.last_transition), default=None),
        next_steps=[
            f"kubectl describe node {node.name}{suffix}",
            f"kubectl get events -A --field-selector involvedObject.name={node.name}{suffix}",
        ],
    )


def _node_details(node: Node) -> dict[str, object]:
    return {
        "roles": list(node.roles),
        "kubelet_version": node.kubelet_version,
        "internal_ip": node.internal_ip,
        "unschedulable": node.unschedulable,
        "taints": [{"key": t.key, "effect": t.effect} for t in node.taints],
        "conditions": [
            {
                "type": c.type,
                "status": c.status,
                "reason": c.reason,
                "message": c.message,
                "since": isoformat(c.last_transition),
            }
            for c in node.conditions
        ],
    }
