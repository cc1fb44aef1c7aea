"""Judging autoscalers and disruption budgets.

- ``hpa_target_missing`` (warning): the HPA scales a workload that does not exist;
- ``hpa_cannot_scale`` (warning): its ``AbleToScale`` or ``ScalingActive`` condition is False
  (e.g. ``FailedGetResourceMetric``: the pods have no CPU request), dated from the transition;
  ``ScalingActive`` False with ``ScalingDisabled`` (the target scaled to zero on purpose) is not;
- ``hpa_at_max`` (warning): at ``maxReplicas`` with a metric above its target: the load
  outgrows what the HPA may add; dated from ``ScalingLimited`` (``TooManyReplicas``) when set.
  Its entity is the target workload, so the summary links it to that workload's throttling;
- ``pdb_blocks_disruption`` (warning): a PodDisruptionBudget that allows no disruption now,
  which blocks node drains (dated from its ``DisruptionAllowed`` condition).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from diagnostics import Entity, Finding, Measurement, Severity
from probes.kubernetes.client_cluster import Catalog
from probes.kubernetes.cluster_objects import Autoscaler, DisruptionBudget
from probes.kubernetes.findings import MakeFinding, condition_details, live_state_note


def _target_entity(hpa: Autoscaler) -> Entity:
    namespace = hpa.meta.namespace
    return Entity(
        kind="workload",
        name=f"{namespace}/{hpa.target_name}",
        attributes={"namespace": namespace, "workload_kind": hpa.target_kind, "autoscaler": hpa.meta.name},
    )


def _metric_text(hpa: Autoscaler) -> str:
    above = [m for m in hpa.metrics if m.above_target]
    return ", ".join(
        f"{m.name} at {m.current:g}{m.unit} (target {m.target:g}{m.unit})"
        for m in above
        if m.current is not None and m.target is not None
    )


def judge_autoscalers(
    autoscalers: Iterable[Autoscaler],
    targets: Mapping[str, Catalog],
    *,
    at: datetime,
    server_time: datetime | None,
    queries: Iterable[str],
    kubectl_suffix: str,
    make: MakeFinding,
) -> list[Finding]:
    """A finding per HPA without a target, unable to scale, or at its maximum under load."""
    shown = list(queries)
    note = live_state_note(at, server_time, "Autoscaler state")
    findings = []
    for hpa in sorted(autoscalers, key=lambda a: (a.meta.namespace, a.meta.name)):
        namespace, name = hpa.meta.namespace, hpa.meta.name
        describe = f"kubectl describe hpa {name} -n {namespace}{kubectl_suffix}"
        target = f"{hpa.target_kind} {namespace}/{hpa.target_name}"
        conditions = [condition_details(c) for c in hpa.conditions]
        catalog = targets.get(hpa.target_kind)
        if catalog is not None and catalog.missing(namespace, hpa.target_name):
            findings.append(
                make(
                    kind="hpa_target_missing",
                    severity=Severity.WARNING,
                    title=f"HorizontalPodAutoscaler {namespace}/{name} scales {target}, which does not exist",
                    entity=_target_entity(hpa),
                    summary="Nothing is autoscaled: the target was renamed or deleted." + note,
                    queries=shown,
                    details={"autoscaler": name, "target": target, "conditions": conditions},
                    next_steps=[
                        describe,
                        f"kubectl get {hpa.target_kind.lower()}s -n {namespace}{kubectl_suffix}",
                    ],
                )
            )
            continue
        blocked = [
            c
            for kind in ("AbleToScale", "ScalingActive")
            if (c := hpa.condition(kind)) is not None
            and c.status == "False"
            and c.reason != "ScalingDisabled"
        ]
        if blocked:
            first = blocked[0]
            findings.append(
                make(
                    kind="hpa_cannot_scale",
                    severity=Severity.WARNING,
                    title=f"HorizontalPodAutoscaler {namespace}/{name} cannot scale {target}: "
                    f"{first.type} False ({first.reason or 'no reason'})",
                    entity=_target_entity(hpa),
                    summary=(first.message or "The controller cannot compute a replica count.")
                    + f" Replicas stay at {hpa.current_replicas}."
                    + note,
                    values=[Measurement(name="replicas", value=hpa.current_replicas, unit="count")],
                    queries=shown,
                    details={"autoscaler": name, "target": target, "conditions": conditions},
                    onset=min((c.last_transition for c in blocked if c.last_transition), default=None),
                    next_steps=[describe],
                )
            )
            continue
        load = _metric_text(hpa)
        if hpa.max_replicas and hpa.current_replicas >= hpa.max_replicas and load:
            limited = hpa.condition("ScalingLimited")
            onset = limited.last_transition if limited is not None and limited.status == "True" else None
            findings.append(
                make(
                    kind="hpa_at_max",
                    severity=Severity.WARNING,
                    title=f"HorizontalPodAutoscaler {namespace}/{name} at its maximum of "
                    f"{hpa.max_replicas} replicas with {load}",
                    entity=_target_entity(hpa),
                    summary=f"{target} needs more replicas than maxReplicas allows: the pods it has run "
                    "above their target (throttling, latency)." + note,
                    values=[
                        Measurement(name="replicas", value=hpa.current_replicas, unit="count"),
                        Measurement(name="max replicas", value=hpa.max_replicas, unit="count"),
                        *(
                            Measurement(name=m.name, value=m.current, unit=m.unit or None)
                            for m in hpa.metrics
                            if m.current is not None
                        ),
                    ],
                    queries=shown,
                    details={
                        "autoscaler": name,
                        "target": target,
                        "metrics": [
                            {
                                "name": m.name,
                                "kind": m.kind,
                                "target": m.target,
                                "current": m.current,
                                "unit": m.unit,
                            }
                            for m in hpa.metrics
                        ],
                        "conditions": conditions,
                    },
                    onset=onset,
                    next_steps=[describe, f"kubectl top pods -n {namespace}{kubectl_suffix}"],
                )
            )
    return findings


def judge_budgets(
    budgets: Iterable[DisruptionBudget],
    *,
    queries: Iterable[str],
    kubectl_suffix: str,
    make: MakeFinding,
) -> list[Finding]:
    """A warning per PodDisruptionBudget that allows no disruption (node drains block on it)."""
    shown = list(queries)
    findings = []
    for pdb in sorted(budgets, key=lambda b: (b.meta.namespace, b.meta.name)):
        if pdb.disruptions_allowed > 0 or pdb.expected_pods == 0:
            continue
        namespace, name = pdb.meta.namespace, pdb.meta.name
        rule = (
            f"minAvailable {pdb.min_available}"
            if pdb.min_available
            else f"maxUnavailable {pdb.max_unavailable}"
        )
        why = (
            f"{pdb.desired_healthy - pdb.current_healthy} of its pods are unhealthy"
            if pdb.current_healthy < pdb.desired_healthy
            else "its budget leaves no pod to spare even with every pod healthy"
        )
        allowed = pdb.condition("DisruptionAllowed")
        findings.append(
            make(
                kind="pdb_blocks_disruption",
                severity=Severity.WARNING,
                title=f"PodDisruptionBudget {namespace}/{name} allows no disruption: "
                f"{pdb.current_healthy} of {pdb.expected_pods} pods healthy, {pdb.desired_healthy} required ({rule})",
                entity=Entity(
                    kind="disruption_budget", name=f"{namespace}/{name}", attributes={"namespace": namespace}
                ),
                summary=f"Evictions are refused, so node drains and upgrades block: {why}.",
                values=[
                    Measurement(name="disruptions allowed", value=0, unit="count"),
                    Measurement(name="healthy pods", value=pdb.current_healthy, unit="count"),
                    Measurement(name="required healthy", value=pdb.desired_healthy, unit="count"),
                ],
                queries=shown,
                details={
                    "selector": dict(pdb.selector),
                    "min_available": pdb.min_available,
                    "max_unavailable": pdb.max_unavailable,
                    "conditions": [condition_details(c) for c in pdb.conditions],
                },
                onset=allowed.last_transition if allowed is not None and allowed.status == "False" else None,
                next_steps=[f"kubectl describe pdb {name} -n {namespace}{kubectl_suffix}"],
            )
        )
    return findings
