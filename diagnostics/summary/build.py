"""Building the summary of a report (see :mod:`diagnostics.summary`)."""

from __future__ import annotations

from collections.abc import Mapping

from diagnostics.model import Report
from diagnostics.summary.causes import rank_causes
from diagnostics.summary.entities import EntityIndex
from diagnostics.summary.impact import Impact
from diagnostics.summary.machines import MachineIndex
from diagnostics.summary.model import Summary
from diagnostics.summary.ranking import judge_findings, rank_problems
from diagnostics.summary.settings import ServiceLinks, SummarySettings
from diagnostics.summary.severity import assess_severity
from diagnostics.summary.timeline import build_timeline

NO_CAUSE = (
    "No finding explains another: none shares a service, database, dependency or host with a "
    "later symptom, so no cause is suggested."
)


def summarize(
    report: Report,
    *,
    services: Mapping[str, ServiceLinks] | None = None,
    settings: SummarySettings | None = None,
) -> Summary:
    """Build the summary of a report's findings."""
    options = settings or SummarySettings()
    machines = MachineIndex(report.findings)
    index = EntityIndex(services or {}, machines)
    items = {o.probe: o.checklist_item for o in report.probes}
    judged = judge_findings(report.findings, items)
    ranking = rank_problems(judged, machines)
    saturation = {j.finding.fingerprint for j in judged if j.impact is Impact.SATURATION}
    suspects = rank_causes(
        report.findings, items, index, max_lag=options.max_lag, ranking=ranking, judged=judged
    )
    problems = [f for f in report.findings if f.severity > 0]
    if suspects:
        reason = None
    elif len(problems) > 1:
        reason = NO_CAUSE
    elif problems:
        reason = "A single problem was found; nothing else to correlate it with."
    else:
        reason = "Nothing wrong was found."
    return Summary(
        severity=assess_severity(
            [j.finding for j in judged],
            index,
            options.severity,
            saturation=lambda f: f.fingerprint in saturation,
        ),
        suspects=suspects,
        no_cause_reason=reason,
        timeline=build_timeline(report.findings),
        ranking=ranking,
    )
