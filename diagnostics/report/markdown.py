"""The report as Markdown, to paste into an incident document or a chat."""

from __future__ import annotations

from diagnostics.model import Finding, Report
from diagnostics.report.summary import coverage, headline, ordered_findings
from diagnostics.units import format_duration, format_value, isoformat

_MARK = {"problem": "✗", "clean": "✓", "not_configured": "–", "failed": "!", "no_probe": "·"}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(report: Report) -> str:
    lines = [f"## diag: {headline(report)}", ""]
    lines.append(
        f"Diagnosed `{isoformat(report.at - report.window)}` → `{isoformat(report.at)}` "
        f"(window {format_duration(report.window)}), run took {report.duration_s:.2f}s."
    )
    findings = ordered_findings(report.findings)
    if findings:
        lines += ["", "| severity | finding | entity | since |", "|---|---|---|---|"]
        for f in findings:
            lines.append(
                f"| **{f.severity.label}** | {_cell(f.title)} | {_cell(f.entity.display())} "
                f"| {isoformat(f.onset) or '—'} |"
            )
        for f in findings:
            lines += ["", *_finding_section(f)]
    lines += ["", "### Checklist", "", "| | item | state | detail |", "|---|---|---|---|"]
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
