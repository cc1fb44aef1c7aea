"""``metrics.alerts``: alerts firing or pending in Prometheus (and Alertmanager) as of ``--at``.

Signals: the ``ALERTS`` series at ``at`` (which alerts were pending or firing then, with their
labels) and ``ALERTS_FOR_STATE`` (since when each was active); annotations from
``/api/v1/alerts`` for alerts still active now, else the rule's annotations from
``/api/v1/rules`` (``{{ $labels.x }}`` expanded). With ``alertmanager_url``, Alertmanager's
active alerts that began before ``at`` are added (silenced or inhibited ones as info); when
Alertmanager cannot be read, the Prometheus alerts are still reported, plus one warning
``alertmanager_unreachable`` saying why.

Severity from the alert's ``severity`` label: critical/page/error/high -> critical,
info/none/low -> info, anything else -> warning; a pending alert is one level lower.
Always-firing heartbeat alerts (Watchdog, InfoInhibitor, DeadMansSwitch) are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pydantic import Field

from diagnostics import (
    ChecklistItem,
    Entity,
    Finding,
    Measurement,
    Probe,
    ProbeContext,
    ProbeError,
    ProbeOptions,
    Severity,
)
from probes.prometheus.config import SECTION
from probes.prometheus.keys import series_key

if TYPE_CHECKING:
    from probes.prometheus.client import ActiveAlert, AlertRule, ManagedAlert, Sample

SEVERITY_WORDS = {
    **dict.fromkeys(("critical", "page", "error", "high", "emergency", "fatal"), Severity.CRITICAL),
    **dict.fromkeys(("info", "none", "low", "informational"), Severity.INFO),
}
_TEMPLATE = re.compile(
    r"\{\{\s*(?:\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)|\.Labels\.([a-zA-Z_][a-zA-Z0-9_]*)|\$value|\.Value)\s*\}\}"
)


class AlertsOptions(ProbeOptions):
    """Settings of ``metrics.alerts``."""

    include_pending: bool = True
    """Report pending alerts too (one severity level lower than their label says)."""
    ignore_alerts: tuple[str, ...] = ("Watchdog", "InfoInhibitor", "DeadMansSwitch")
    """Alert names that fire by design and are never findings."""
    max_findings: int = Field(50, ge=1)
    """Alerts reported at most (the worst first)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertState:
    """One alert as of ``at``, merged from the sources that know of it."""

    name: str
    state: str
    """``firing``, ``pending``, or ``suppressed`` (Alertmanager silenced or inhibited it)."""
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    active_since: datetime | None
    source: str


def severity_of(labels: Mapping[str, str], state: str) -> Severity:
    """From the ``severity`` label; pending is one level lower, suppressed is info."""
    base = SEVERITY_WORDS.get(labels.get("severity", "").lower(), Severity.WARNING)
    if state == "suppressed":
        return Severity.INFO
    if state == "pending":
        return Severity(max(int(base) - 1, int(Severity.INFO)))
    return base


def expand(template: str, labels: Mapping[str, str], value: str | None) -> str:
    """The common Go template forms of rule annotations, expanded (others left as written)."""

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name:
            return labels.get(name, "")
        return value if value is not None else match.group(0)

    return _TEMPLATE.sub(substitute, template)


def _identity(labels: Mapping[str, str]) -> frozenset[tuple[str, str]]:
    return frozenset((k, v) for k, v in labels.items() if k not in ("alertstate", "__name__"))


def merge_alerts(
    *,
    at: datetime,
    series: Sequence[Sample],
    for_state: Sequence[Sample],
    current: Sequence[ActiveAlert],
    rules: Sequence[AlertRule],
    managed: Sequence[ManagedAlert],
    ignore: Iterable[str],
) -> list[AlertState]:
    """Alerts active at ``at`` with the best annotations and active-since each source gives."""
    ignored = set(ignore)
    since = {_identity(s.labels): datetime.fromtimestamp(s.value, UTC) for s in for_state if s.value > 0}
    live = {_identity(a.labels): a for a in current}
    rule_annotations = {r.name: r.annotations for r in rules}
    alerts = []
    for sample in series:
        labels = {k: v for k, v in sample.labels.items() if k not in ("alertstate", "__name__")}
        name = labels.get("alertname", "")
        if name in ignored:
            continue
        key = _identity(labels)
        now = live.get(key)
        active: datetime | None
        if now is not None and now.active_at is not None and now.active_at <= at:
            annotations, active = dict(now.annotations), now.active_at
        else:
            templates = rule_annotations.get(name, {})
            annotations = {k: expand(v, labels, None) for k, v in templates.items()}
            active = since.get(key)
        alerts.append(
            AlertState(
                name=name,
                state=sample.labels.get("alertstate", "firing"),
                labels=labels,
                annotations=annotations,
                active_since=active,
                source="prometheus",
            )
        )
    known = [set(a.labels.items()) for a in alerts]
    for alert in managed:
        name = alert.labels.get("alertname", "")
        if name in ignored or alert.starts_at is None or alert.starts_at > at:
            continue
        if alert.ends_at is not None and alert.ends_at < at:
            continue
        if any(labels <= set(alert.labels.items()) for labels in known):
            continue  # the same alert, already seen in Prometheus (plus its external labels)
        alerts.append(
            AlertState(
                name=name,
                state="suppressed" if alert.state == "suppressed" else "firing",
                labels=dict(alert.labels),
                annotations=dict(alert.annotations),
                active_since=alert.starts_at,
                source="alertmanager",
            )
        )
    return alerts


def alert_entity(alert: AlertState) -> Entity:
    for key in ("service", "job", "app"):
        if alert.labels.get(key):
            return Entity(kind="service", name=alert.labels[key], attributes=dict(alert.labels))
    return Entity(kind="alert", name=alert.name, attributes=dict(alert.labels))


def alert_findings(alerts: Sequence[AlertState], ctx: ProbeContext, limit: int) -> list[Finding]:
    """One finding per alert, worst first."""
    findings = []
    for alert in alerts:
        severity = severity_of(alert.labels, alert.state)
        text = alert.annotations.get("summary") or alert.annotations.get("description") or ""
        since = f" since {alert.active_since:%Y-%m-%d %H:%M}Z" if alert.active_since else ""
        entity = alert_entity(alert)
        subject = f" on {entity.name}" if entity.kind == "service" else ""
        title = f"Alert {alert.name} {alert.state}{subject}{since}" + (f": {text}" if text else "")
        age = (ctx.at - alert.active_since).total_seconds() if alert.active_since else None
        findings.append(
            ctx.finding(
                kind="alert_pending" if alert.state == "pending" else "alert_firing",
                key=series_key(alert.name, alert.labels),
                severity=severity,
                title=title,
                entity=entity,
                summary=alert.annotations.get("description") or title,
                values=[Measurement(name="active for", value=age, unit="s")],
                queries=[f'ALERTS{{alertname="{alert.name}"}}'],
                details={
                    "alertname": alert.name,
                    "state": alert.state,
                    "labels": dict(alert.labels),
                    "annotations": dict(alert.annotations),
                    "source": alert.source,
                },
                onset=alert.active_since,
                next_steps=[
                    step
                    for step in (alert.annotations.get("runbook_url"), alert.annotations.get("dashboard"))
                    if step
                ],
            )
        )
    findings.sort(key=lambda f: (-int(f.severity), f.onset or datetime.max.replace(tzinfo=UTC)))
    return findings[:limit]


def alertmanager_failure(error: ProbeError, ctx: ProbeContext, url: str) -> Finding:
    """Alertmanager could not be read: its alerts are missing from the report (a warning)."""
    return ctx.finding(
        kind="alertmanager_unreachable",
        severity=Severity.WARNING,
        title=f"Alertmanager alerts not read: {error}",
        entity=Entity(kind="service", name="alertmanager", attributes={"url": url}),
        summary="Only the alerts Prometheus holds are reported; silenced, inhibited or "
        "externally sent alerts of Alertmanager are missing.",
        queries=["GET /api/v2/alerts"],
        details={"error": str(error), "error_kind": error.kind.value, "url": url},
        next_steps=[f"curl -sS {url}/-/healthy"],
    )


class AlertsProbe(Probe):
    id = "metrics.alerts"
    checklist_item = ChecklistItem.METRICS
    description = "Alerts firing or pending in Prometheus (and Alertmanager) as of --at"
    options_model = AlertsOptions
    backend_section = SECTION

    def run(self, ctx: ProbeContext[AlertsOptions]) -> Iterable[Finding]:
        from probes.prometheus.client import PrometheusClient

        options = ctx.options
        with PrometheusClient.from_context(ctx) as client:
            selector = "ALERTS" if options.include_pending else 'ALERTS{alertstate="firing"}'
            series = client.query(selector, ctx.at)
            for_state = client.query("ALERTS_FOR_STATE", ctx.at) if series else ()
            current = client.alerts() if series else ()
            rules = client.alerting_rules() if series else ()
            failure: Finding | None = None
            try:
                managed = client.alertmanager_alerts()
            except ProbeError as error:  # keep what Prometheus said; report the gap
                managed = ()
                failure = alertmanager_failure(error, ctx, client.alertmanager_where)
        alerts = merge_alerts(
            at=ctx.at,
            series=series,
            for_state=for_state,
            current=current,
            rules=rules,
            managed=managed,
            ignore=options.ignore_alerts,
        )
        findings = alert_findings(alerts, ctx, options.max_findings)
        return [*findings, failure] if failure is not None else findings
