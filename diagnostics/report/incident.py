"""The post-incident report draft: timeline, suspected root cause with evidence, impact, the
diagnosis that was run, and the post-incident checklist left to fill in."""

from __future__ import annotations

from diagnostics.model import Finding, Report, Severity
from diagnostics.report.markdown import timeline_lines
from diagnostics.report.overview import coverage, headline, ranked_findings
from diagnostics.units import format_duration, format_value, isoformat

TO_FILL = "_to fill in_"

POST_INCIDENT_CHECKLIST = (
    "Preventive measures: what change stops this from happening again?",
    "Monitoring: which alert would have caught this earlier, and at what threshold?",
    "Error handling: which component should have degraded gracefully?",
    "Tests: which test would have caught the faulty change?",
    "Runbook: what should the next on-call engineer do first? Update it.",
    "Follow-up: owners and dates for each action item.",
)


def render_incident_report(report: Report) -> str:
    """A Markdown skeleton for the post-incident review, filled from the run's findings."""
    by_fingerprint = {f.fingerprint: f for f in report.findings}
    first_onset = min((f.onset for f in report.findings if f.onset), default=None)
    lines = [
        f"# Incident report (draft): {headline(report)}",
        "",
        f"- Diagnosed window: `{isoformat(report.at - report.window)}` → `{isoformat(report.at)}` "
        f"({format_duration(report.window)})",
        f"- Diagnosis run: `{isoformat(report.started_at)}`, {report.duration_s:.1f}s",
        f"- First signal: `{isoformat(first_onset) or 'unknown'}`",
    ]
    if report.summary is not None:
        severity = report.summary.severity
        lines.append(f"- Severity: **{severity.label}** — {'; '.join(severity.reasons)}")
    lines += ["", "## Timeline", ""]
    if report.summary is not None and report.summary.timeline:
        lines += timeline_lines(report)
    else:
        lines.append("No finding carries a time.")
    lines += ["", "| time (UTC) | action taken | by |", "|---|---|---|", f"| {TO_FILL} | | |"]
    lines += ["", "## Suspected root cause", ""]
    if report.summary is not None and report.summary.suspects:
        for rank, suspect in enumerate(report.summary.suspects, 1):
            lines.append(f"{rank}. **{suspect.title}**: {suspect.reasoning} _(rule `{suspect.rule}`)_")
            cause = by_fingerprint.get(suspect.cause)
            if cause is not None:
                lines += _evidence(cause, indent="   ")
        lines += ["", f"Confirmed root cause: {TO_FILL}"]
    else:
        reason = report.summary.no_cause_reason if report.summary else "No summary in this report."
        lines += [reason or "", "", f"Root cause: {TO_FILL}"]
    lines += ["", "## Impact", ""]
    lines += _impact(report)
    lines += ["", "## Diagnosis", "", "| check | result | detail |", "|---|---|---|"]
    for row in coverage(report):
        lines.append(
            f"| {row.item.heading} | {row.state.value.replace('_', ' ')} | {row.detail.replace('|', '/')} |"
        )
    queries = sorted({q for f in report.findings for q in f.evidence.queries})
    if queries:
        lines += ["", "Queries and API calls behind the findings:", "", "```", *queries, "```"]
    lines += ["", "## Resolution", "", TO_FILL, "", "## Post-incident checklist", ""]
    lines += [f"- [ ] {item} {TO_FILL}" for item in POST_INCIDENT_CHECKLIST]
    return "\n".join(lines) + "\n"


def _evidence(finding: Finding, indent: str) -> list[str]:
    out = [f"{indent}- {m.name}: {format_value(m.value, m.unit)}" for m in finding.evidence.values[:8]]
    out += [f"{indent}- query: `{q}`" for q in finding.evidence.queries[:2]]
    return out


def _impact(report: Report) -> list[str]:
    lines = []
    if report.summary is not None and report.summary.severity.affected_services:
        lines.append(f"Affected services: {', '.join(report.summary.severity.affected_services)}.")
        lines.append("")
    problems = [f for f in ranked_findings(report) if f.severity >= Severity.WARNING]
    if not problems:
        return [*lines, "No problem was found by the diagnosis.", "", f"Customer impact: {TO_FILL}"]
    lines += [f"- **{f.severity.label}** {f.title} ({f.entity.display()})" for f in problems]
    return [*lines, "", f"Customer impact (users, duration, data): {TO_FILL}"]
