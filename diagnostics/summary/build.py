"""Building the summary of a report (see :mod:`diagnostics.summary`)."""

from __future__ import annotations

from collections.abc import Mapping

from diagnostics.model import Report
from diagnostics.summary.causes import rank_causes
from diagnostics.summary.entities import EntityIndex
from diagnostics.summary.model import Summary
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
    index = EntityIndex(services or {})
    items = {o.probe: o.checklist_item for o in report.probes}
    suspects = rank_causes(report.findings, items, index, max_lag=options.max_lag)
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
        severity=assess_severity(report.findings, index, options.severity),
        suspects=suspects,
        no_cause_reason=reason,
        timeline=build_timeline(report.findings),
    )
