"""Pieces every Kubernetes finding shares: entities, the server's "now", refused list calls."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from diagnostics import Entity, Finding, Severity
from diagnostics.units import format_duration, isoformat
from probes.kubernetes.objects import Forbidden, WorkloadRef

MakeFinding = Callable[..., Finding]

PAST_TOLERANCE = timedelta(minutes=5)
"""``--at`` further than this behind the API server's clock means "diagnosing the past"."""


def workload_entity(ref: WorkloadRef) -> Entity:
    attributes = {"namespace": ref.namespace, "workload_kind": ref.kind}
    if ref.service:
        attributes["service"] = ref.service
    return Entity(kind="workload", name=ref.key, attributes=attributes)


def node_entity(name: str, internal_ip: str | None = None) -> Entity:
    return Entity(kind="node", name=name, attributes={"host": internal_ip} if internal_ip else {})


def observed_now(at: datetime, server_time: datetime | None) -> datetime:
    """The API server's clock when it answered; ``at`` when it sent no Date header."""
    return server_time if server_time is not None else at


def in_the_past(at: datetime, server_time: datetime | None) -> bool:
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


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def forbidden_findings(forbidden: Iterable[Forbidden], make: MakeFinding, *, cluster: str) -> list[Finding]:
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
                    next_steps=[f"kubectl auth can-i list {group[0].resource} -n {namespace}"],
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
                    f"kubectl auth can-i list {group[0].resource} -A",
                    "set kubernetes.namespaces to the namespaces these credentials may read",
                ],
            )
        )
    return findings
