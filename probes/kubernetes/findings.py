"""Pieces every Kubernetes finding shares: entities, the server's "now", kubectl commands, refused list calls."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from diagnostics import Entity, Finding, ProbeContext, Severity
from diagnostics.units import format_duration, isoformat
from probes.kubernetes.objects import Condition, Forbidden, WorkloadRef

if TYPE_CHECKING:
    from probes.kubernetes.client_workloads import Observed

MakeFinding = Callable[..., Finding]

PAST_TOLERANCE = timedelta(minutes=5)
"""``--at`` further than this behind the API server's clock means "diagnosing the past"."""


def kubectl_suffix(context: str | None) -> str:
    """`` --context prod-eu`` when a context is configured, appended to every kubectl command."""
    return f" --context {context}" if context else ""


def workload_entity(ref: WorkloadRef) -> Entity:
    """The ``workload`` entity of ``NS/NAME``, with its kind and service when known."""
    attributes = {"namespace": ref.namespace, "workload_kind": ref.kind}
    if ref.service:
        attributes["service"] = ref.service
    return Entity(kind="workload", name=ref.key, attributes=attributes)


def node_entity(name: str, internal_ip: str | None = None) -> Entity:
    """The ``node`` entity, with its internal IP as ``host`` when known."""
    return Entity(kind="node", name=name, attributes={"host": internal_ip} if internal_ip else {})


def observed_now(at: datetime, server_time: datetime | None) -> datetime:
    """The API server's clock when it answered; ``at`` when it sent no Date header."""
    return server_time if server_time is not None else at


def in_the_past(at: datetime, server_time: datetime | None) -> bool:
    """Whether ``--at`` is more than :data:`PAST_TOLERANCE` behind the API server's clock."""
    return server_time is not None and server_time - at > PAST_TOLERANCE


def live_state_note(at: datetime, server_time: datetime | None, what: str) -> str:
    """A sentence saying ``what`` is as of now when ``--at`` is in the past; "" otherwise."""
    if server_time is None or not in_the_past(at, server_time):
        return ""
    return f" {what} is as of now ({isoformat(server_time)}), not as of --at: the API keeps no history of it."


def elapsed(moment: datetime, at: datetime, server_time: datetime | None) -> str:
    """How long before the diagnosed moment (``--at`` in the past, the server's now otherwise)."""
    reference = at if in_the_past(at, server_time) else observed_now(at, server_time)
    return format_duration(max((reference - moment).total_seconds(), 0))


def ago(moment: datetime, at: datetime, server_time: datetime | None) -> str:
    """``10m ago``, or ``10m before --at`` when diagnosing the past."""
    suffix = "before --at" if in_the_past(at, server_time) else "ago"
    return f"{elapsed(moment, at, server_time)} {suffix}"


def condition_details(condition: Condition) -> dict[str, str | None]:
    """A status condition as evidence details (JSON-ready)."""
    return {
        "type": condition.type,
        "status": condition.status,
        "reason": condition.reason,
        "message": condition.message,
        "since": isoformat(condition.last_transition),
    }


def plural(count: int, word: str) -> str:
    """``1 pod``, ``3 pods``."""
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def list_call_findings(
    ctx: ProbeContext, observed: Observed, *, cluster: str, kubectl_suffix: str
) -> list[Finding]:
    """What every probe says about its list calls: a logged warning if one was cut short, and
    a finding per scope RBAC refused."""
    if observed.truncated:
        ctx.logger.warning(
            "%s: a list call was cut short (page bound or expired continue token)", ctx.probe_id
        )
    return forbidden_findings(observed.forbidden, ctx.finding, cluster=cluster, kubectl_suffix=kubectl_suffix)


def forbidden_findings(
    forbidden: Iterable[Forbidden], make: MakeFinding, *, cluster: str, kubectl_suffix: str
) -> list[Finding]:
    """One warning per namespace, or for the cluster-wide scope, where RBAC refused list calls."""
    items = list(forbidden)
    refused_everywhere = {i.resource for i in items if i.namespace is None}
    by_scope: dict[str | None, list[Forbidden]] = {}
    for item in items:
        # the context's namespace refused after the cluster-wide call: one finding for both
        scope = None if item.namespace is not None and item.resource in refused_everywhere else item.namespace
        by_scope.setdefault(scope, []).append(item)
    findings = []
    for namespace, group in by_scope.items():
        resources = ", ".join(dict.fromkeys(i.resource for i in group))
        refused = [{"resource": i.resource, "namespace": i.namespace, "message": i.message} for i in group]
        if namespace is not None:
            findings.append(
                make(
                    kind="forbidden",
                    severity=Severity.WARNING,
                    title=f"Not allowed to list {resources} in namespace {namespace}",
                    entity=Entity(kind="namespace", name=namespace),
                    summary=f"RBAC refused these list calls: namespace {namespace} was not checked, the others were.",
                    details={"refused": refused},
                    next_steps=[
                        f"kubectl auth can-i list {group[0].resource} -n {namespace}{kubectl_suffix}"
                    ],
                )
            )
            continue
        instead = sorted({i.read_instead for i in group if i.read_instead})
        also = sorted({i.namespace for i in group if i.namespace})
        title = f"Not allowed to list {resources} in all namespaces (cluster-wide)"
        if also:
            title += f", nor in namespace {', '.join(also)}"
        checked = (
            f"only namespace {', '.join(instead)} (the context's) was checked"
            if instead
            else "they were not checked"
        )
        findings.append(
            make(
                kind="forbidden",
                severity=Severity.WARNING,
                title=title,
                entity=Entity(kind="cluster", name=cluster, attributes={"server": cluster}),
                summary=f"RBAC refused the cluster-wide list calls: {checked}.",
                details={"refused": refused, "read_instead": instead},
                next_steps=[
                    f"kubectl auth can-i list {group[0].resource} -A{kubectl_suffix}",
                    "set kubernetes.namespaces to the namespaces these credentials may read",
                ],
            )
        )
    return findings
