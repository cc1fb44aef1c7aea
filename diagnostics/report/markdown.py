"""The report as Markdown, to paste into an incident document or a chat."""

from __future__ import annotations

from diagnostics.model import Finding, Report
from diagnostics.report.overview import coverage, headline, ranked_findings
from diagnostics.summary.ranking import ranking_reason
from diagnostics.units import format_duration, format_value, isoformat

_MARK = {
    "problem": "✗",
    "clean": "✓",
    "not_configured": "–",
    "not_checked": "?",
    "failed": "!",
    "no_probe": "·",
    "not_selected": "·",
}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(report: Report) -> str:
    """The report as Markdown: headline, summary, findings table and details, checklist, probes."""
    lines = [f"## diag: {headline(report)}", ""]
    lines.append(
        f"Diagnosed `{isoformat(report.at - report.window)}` → `{isoformat(report.at)}` "
        f"(window {format_duration(report.window)}), run took {report.duration_s:.2f}s (start-up included)."
    )
    if report.summary is not None:
        lines += ["", *summary_lines(report)]
    if report.comparison is not None:
        lines += ["", *comparison_lines(report)]
    findings = ranked_findings(report)
    if findings:
        lines += ["", "| severity | finding | entity | since |", "|---|---|---|---|"]
        for f in findings:
            lines.append(
                f"| **{f.severity.label}** | {_cell(f.title)} | {_cell(f.entity.display())} "
                f"| {isoformat(f.onset) or ('seen now' if f.seen_at else '—')} |"
            )
        for f in findings:
            lines += ["", *_finding_section(f)]
    if report.summary is not None and report.summary.timeline:
        lines += ["", "### Timeline", "", *timeline_lines(report)]
    lines += ["", "### Checklist", "", "| | item | state | detail |", "|---|---|---|---|"]
    if report.summary is not None:
        assessment = report.summary.severity
        lines.append(f"| {'✗' if assessment.level <= 2 else '!' if assessment.level == 3 else '✓'} | Assess severity "
                     f"| {assessment.label} | {_cell(assessment.reasons[0])} |")  # fmt: skip
    for row in coverage(report):
        lines.append(
            f"| {_MARK[row.state.value]} | {row.item.heading} | {row.state.value.replace('_', ' ')} "
            f"| {_cell(row.detail)} |"
        )
    lines += ["", "### Probes", "", "| probe | status | duration | detail |", "|---|---|---|---|"]
    for o in report.probes:
        detail = o.error or (f"{o.finding_count} findings" if o.finding_count else "")
        if o.hint:
            detail += f" — add `{o.hint}`"
        lines.append(f"| `{o.probe}` | {o.status.value} | {o.duration_s:.2f}s | {_cell(detail)} |")
    return "\n".join(lines) + "\n"


def summary_lines(report: Report) -> list[str]:
    """Severity and likely cause, as Markdown lines."""
    assert report.summary is not None
    summary = report.summary
    by_fingerprint = {f.fingerprint: f for f in report.findings}
    lines = [f"**Severity: {summary.severity.label}** — {'; '.join(summary.severity.reasons)}"]
    if summary.severity.affected_services:
        lines += ["", f"Affected services: {', '.join(summary.severity.affected_services)}"]
    why_first = ranking_reason(summary.ranking, {fp: f.title for fp, f in by_fingerprint.items()})
    if why_first:
        lines += ["", f"**Ranking:** {_cell(why_first)}"]
    lines.append("")
    if not summary.suspects:
        lines.append(f"**Likely cause:** none named — {summary.no_cause_reason}")
        return lines
    lines.append("**Likely cause:**")
    lines.append("")
    for rank, suspect in enumerate(summary.suspects, 1):
        cause = by_fingerprint.get(suspect.cause)
        where = f" ({cause.entity.display()})" if cause else ""
        lines.append(
            f"{rank}. **{suspect.title}**{where}: {suspect.reasoning} _(rule `{suspect.rule}`, score {suspect.score:.2f})_"
        )
        if suspect.containment is not None:
            step = suspect.containment
            lines.append(f"   - {step.step}: `{step.command}` — {step.note}")
    return lines


def timeline_lines(report: Report) -> list[str]:
    """The timeline as a Markdown table."""
    assert report.summary is not None
    lines = ["| time (UTC) | severity | event | entity | probe |", "|---|---|---|---|---|"]
    for event in report.summary.timeline:
        lines.append(
            f"| {isoformat(event.at)} | {event.severity.label} | {_cell(event.title)} "
            f"| {_cell(event.entity.display())} | `{event.probe}` |"
        )
    return lines


def comparison_lines(report: Report) -> list[str]:
    """New, resolved and unchanged findings against the baseline run, as Markdown lines."""
    assert report.comparison is not None
    comparison = report.comparison
    titles = {f.fingerprint: f.title for f in report.findings}
    lines = [
        f"**Since the baseline run** (at `{isoformat(comparison.baseline_at)}`): {len(comparison.new)} new, "
        f"{len(comparison.resolved)} resolved, {len(comparison.unchanged)} unchanged.",
        "",
    ]
    lines += [f"- new: {_cell(titles.get(fp, fp))}" for fp in comparison.new]
    lines += [f"- resolved: {_cell(f.title)} ({f.entity.display()})" for f in comparison.resolved]
    lines += [f"- unchanged: {_cell(titles.get(fp, fp))}" for fp in comparison.unchanged]
    return lines


def _finding_section(finding: Finding) -> list[str]:
    out = [f"### {finding.severity.label.upper()}: {finding.title}", ""]
    out.append(f"*{finding.entity.display()}* · probe `{finding.probe}`")
    if finding.summary and finding.summary != finding.title:
        out += ["", finding.summary]
    if finding.evidence.values:
        out += [""] + [f"- {m.name}: {format_value(m.value, m.unit)}" for m in finding.evidence.values]
    if finding.evidence.queries:
        out += ["", "```", *list(finding.evidence.queries), "```"]
    if finding.next_steps:
        out += ["", "Next steps:", ""] + [f"1. `{s}`" for s in finding.next_steps]
    return out
