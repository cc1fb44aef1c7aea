"""Turning a provider's status summary into findings: pure functions over plain values.

Up to three findings per provider, one fact each: the page's overall indicator
(``statuspage_degraded``), its components not operational (``statuspage_component``) and its
unresolved incidents (``statuspage_incident``, onset = the earliest incident's start).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from diagnostics import Finding, Measurement, Severity
from diagnostics.units import isoformat
from probes.dependencies.attempts import MakeFinding, present_note
from probes.dependencies.client_statuspage import StatuspageCheck
from probes.dependencies.config import display_url
from probes.dependencies.statuspage_schema import StatusComponent, StatusIncident, StatusSummary

INDICATOR_SEVERITY = {
    "minor": Severity.WARNING,
    "major": Severity.CRITICAL,
    "critical": Severity.CRITICAL,
    "maintenance": Severity.INFO,
}
COMPONENT_SEVERITY = {
    "major_outage": Severity.CRITICAL,
    "partial_outage": Severity.WARNING,
    "degraded_performance": Severity.WARNING,
    "under_maintenance": Severity.INFO,
}
IMPACT_SEVERITY = {
    "critical": Severity.CRITICAL,
    "major": Severity.CRITICAL,
    "minor": Severity.WARNING,
    "none": Severity.INFO,
    "maintenance": Severity.INFO,
}
RESOLVED = frozenset({"resolved", "postmortem", "completed"})
SHOWN = 3


def _moment(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%MZ}" if value is not None else "an unknown time"


def _common(check: StatuspageCheck, summary: StatusSummary) -> dict[str, Any]:
    target = check.target
    page = summary.page_url or display_url(target.base_url)
    return {
        "entity": target.entity,
        "queries": [f"GET {target.display_summary_url}"],
        "next_steps": [
            f"open {page}",
            f"curl -s {target.display_summary_url} | jq '.status, .incidents[].name'",
        ],
    }


def judge_indicator(
    check: StatuspageCheck, summary: StatusSummary, *, at: datetime, make: MakeFinding
) -> list[Finding]:
    severity = INDICATOR_SEVERITY.get(summary.indicator)
    if severity is None:
        return []
    name = check.target.name
    return [
        make(
            kind="statuspage_degraded",
            severity=severity,
            title=f"{name} status page: {summary.description or summary.indicator!r} (indicator {summary.indicator})",
            summary=f"The provider declares its overall state as {summary.indicator}; page updated {_moment(summary.updated_at)}."
            + present_note(at, check.observed_at),
            values=[Measurement(name="indicator", value=summary.indicator)],
            details={"page": summary.page_name, "updated_at": isoformat(summary.updated_at)},
            seen_at=at,  # a live check: when it began is unknown
            **_common(check, summary),
        )
    ]


def _component_label(component: StatusComponent) -> str:
    where = f"{component.group} / {component.name}" if component.group else component.name
    return f"{where} ({component.status.replace('_', ' ')})"


def judge_components(
    check: StatuspageCheck, summary: StatusSummary, *, at: datetime, make: MakeFinding
) -> list[Finding]:
    affected = sorted(
        (c for c in summary.components if c.status in COMPONENT_SEVERITY),
        key=lambda c: -COMPONENT_SEVERITY[c.status],
    )
    if not affected:
        return []
    severity = COMPONENT_SEVERITY[affected[0].status]
    shown = ", ".join(_component_label(c) for c in affected[:SHOWN])
    more = f" and {len(affected) - SHOWN} more" if len(affected) > SHOWN else ""
    plural = "s" if len(affected) != 1 else ""
    return [
        make(
            kind="statuspage_component",
            severity=severity,
            title=f"{check.target.name}: {len(affected)} component{plural} not operational: {shown}{more}",
            summary=f"{len(affected)} of {len(summary.components)} components on {check.target.name}'s status page are not operational."
            + present_note(at, check.observed_at),
            values=[
                Measurement(name="components not operational", value=len(affected), unit="count"),
                Measurement(name="components", value=len(summary.components), unit="count"),
            ],
            details={
                "components": [{"name": c.name, "group": c.group, "status": c.status} for c in affected],
            },
            seen_at=at,  # a live check: when it began is unknown
            **_common(check, summary),
        )
    ]


def _incident_label(incident: StatusIncident) -> str:
    return f"{incident.name!r} ({incident.impact}, {incident.status}) since {_moment(incident.started_at)}"


def judge_incidents(
    check: StatuspageCheck, summary: StatusSummary, *, at: datetime, make: MakeFinding
) -> list[Finding]:
    unresolved = [i for i in summary.incidents if i.status not in RESOLVED]
    if not unresolved:
        return []
    ranked = sorted(
        unresolved,
        key=lambda i: (-IMPACT_SEVERITY.get(i.impact, Severity.WARNING), i.started_at or at),
    )
    worst = ranked[0]
    starts = [i.started_at for i in unresolved if i.started_at is not None]
    more = f" (+{len(ranked) - 1} more)" if len(ranked) > 1 else ""
    return [
        make(
            kind="statuspage_incident",
            severity=IMPACT_SEVERITY.get(worst.impact, Severity.WARNING),
            title=f"{check.target.name}: incident {_incident_label(worst)}{more}",
            summary="; ".join(_incident_label(i) for i in ranked)
            + (f". Latest update: {worst.latest_update}" if worst.latest_update else "."),
            values=[Measurement(name="unresolved incidents", value=len(unresolved), unit="count")],
            details={
                "incidents": [
                    {
                        "name": i.name,
                        "status": i.status,
                        "impact": i.impact,
                        "started_at": isoformat(i.started_at),
                        "shortlink": i.shortlink,
                        "latest_update": i.latest_update,
                    }
                    for i in ranked
                ]
            },
            onset=min(starts) if starts else None,
            seen_at=at,
            **_common(check, summary),
        )
    ]


def judge_statuspage(check: StatuspageCheck, *, at: datetime, make: MakeFinding) -> list[Finding]:
    """Every finding for one provider; none when the page says all is operational."""
    summary = check.summary
    if summary is None:
        return []
    return [
        *judge_indicator(check, summary, at=at, make=make),
        *judge_components(check, summary, at=at, make=make),
        *judge_incidents(check, summary, at=at, make=make),
    ]


def judge_unreadable(check: StatuspageCheck, *, at: datetime, make: MakeFinding) -> Finding:
    """A page that could not be read while others could: a gap in what was checked."""
    return make(
        kind="statuspage_unreadable",
        severity=Severity.WARNING,
        title=f"{check.error}",
        entity=check.target.entity,
        summary="This provider's status page could not be read; the other providers' were.",
        values=[
            Measurement(name="error kind", value=check.error_kind.value if check.error_kind else "unknown")
        ],
        queries=[f"GET {check.target.display_summary_url}"],
        seen_at=at,  # a live check: when it began is unknown
        next_steps=[f"curl -sS {check.target.display_summary_url} | head -c 300"],
    )
