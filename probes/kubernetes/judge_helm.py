"""Judging Helm releases: which were upgraded (or installed, or rolled back) in the window.

A release revision created in the window is a warning; one whose status is ``failed``, or still
``pending-*`` ``unhealthy_after`` after it began, is critical. The rollback (and the chart
compared with) is the last revision before it that was deployed successfully (``deployed`` or
``superseded``): never a ``failed`` or ``pending-*`` one.
"""

from __future__ import annotations

from datetime import datetime

from diagnostics import Finding, Measurement, Severity
from diagnostics.units import isoformat
from probes.kubernetes.client_workloads import RolloutData
from probes.kubernetes.findings import MakeFinding, ago, live_state_note, workload_entity
from probes.kubernetes.helm import releases, rollback_target
from probes.kubernetes.objects import HelmChart, HelmRevision, WorkloadRef


def _chart_text(chart: HelmChart | None) -> str | None:
    if chart is None or not chart.version:
        return None
    return f"{chart.chart}-{chart.version}" if chart.chart else chart.version


def _verb(latest: HelmRevision, chart: HelmChart | None) -> str:
    if latest.number == 1:
        return "installed"
    if chart and chart.description and chart.description.lower().startswith("rollback"):
        return "rolled back"
    return "upgraded"


def _skipped_text(skipped: list[HelmRevision], previous: HelmRevision | None) -> str:
    if not skipped:
        return ""
    listed = ", ".join(f"{r.number} ({r.status})" for r in skipped)
    if previous is None:
        return f" No earlier revision was deployed successfully ({listed}): there is no rollback target."
    revisions = "Revision" if len(skipped) == 1 else "Revisions"
    return (
        f" {revisions} {listed} in between never deployed successfully:"
        f" the rollback returns to revision {previous.number}."
    )


def judge_helm(
    data: RolloutData,
    *,
    start: datetime,
    at: datetime,
    unhealthy_after_s: float,
    kube_context: str | None,
    make: MakeFinding,
) -> list[Finding]:
    """One finding per release with a revision created in the window (the latest of them)."""
    findings = []
    server_time = data.observed.server_time
    reference = server_time or at
    context_flag = f" --kube-context {kube_context}" if kube_context else ""
    for (namespace, name), history in sorted(releases(data.helm).items()):
        recent = [r for r in history if r.created is not None and start <= r.created <= at]
        if not recent:
            continue
        latest = recent[-1]
        assert latest.created is not None
        previous = rollback_target(history, latest.number)
        skipped = [r for r in history if (previous.number if previous else 0) < r.number < latest.number]
        chart = data.charts.get((namespace, latest.secret_name))
        old_chart = data.charts.get((namespace, previous.secret_name)) if previous else None
        new_text, old_text = _chart_text(chart), _chart_text(old_chart)
        pending_for = (reference - latest.created).total_seconds()
        failed = latest.status == "failed" or (
            latest.status.startswith("pending-") and pending_for >= unhealthy_after_s
        )
        chart_change = ""
        if new_text and old_text and new_text != old_text:
            chart_change = f" (chart {old_text} → {new_text})"
        elif new_text:
            chart_change = f" (chart {new_text})"
        title = (
            f"Helm release {namespace}/{name} {_verb(latest, chart)} to revision {latest.number}{chart_change} "
            f"{ago(latest.created, at, server_time)}: {latest.status}"
        )
        steps = []
        if previous is not None:
            steps.append(f"helm rollback {name} {previous.number} -n {namespace}{context_flag}")
        steps.append(f"helm history {name} -n {namespace}{context_flag}")
        findings.append(
            make(
                kind="helm_upgrade",
                severity=Severity.CRITICAL if failed else Severity.WARNING,
                title=title,
                entity=workload_entity(
                    WorkloadRef(namespace=namespace, kind="HelmRelease", name=name, service=name)
                ),
                summary=(
                    f"Release revision {latest.number} created at {isoformat(latest.created)}, status {latest.status}"
                    + (f"; {chart.description}" if chart and chart.description else "")
                    + (f". {len(recent)} revisions in the window." if len(recent) > 1 else ".")
                    + _skipped_text(skipped, previous)
                    + (live_state_note(at, server_time, "The release status") if failed else "")
                ),
                values=[
                    Measurement(name="revision", value=latest.number),
                    Measurement(name="previous revision", value=previous.number if previous else None),
                    Measurement(name="chart", value=new_text),
                    Measurement(name="previous chart", value=old_text),
                ],
                queries=[q for q in data.observed.queries if "/secrets" in q],
                details={
                    "release": name,
                    "namespace": namespace,
                    "revision": latest.number,
                    "status": latest.status,
                    "previous_revision": previous.number if previous else None,
                    "previous_status": previous.status if previous else None,
                    "chart": chart.chart if chart else None,
                    "chart_version": chart.version if chart else None,
                    "app_version": chart.app_version if chart else None,
                    "previous_chart_version": old_chart.version if old_chart else None,
                    "skipped_revisions": [{"revision": r.number, "status": r.status} for r in skipped],
                    "revisions_in_window": [r.number for r in recent],
                },
                onset=latest.created,
                next_steps=steps,
            )
        )
    return findings
