"""The terminal report (rich): colour on a terminal, plain text in a pipe or with NO_COLOR."""

from __future__ import annotations

import io
import os
from datetime import UTC

from rich.console import Console
from rich.markup import escape
from rich.text import Text

from diagnostics.model import Finding, ProbeOutcome, Report, Severity, Status
from diagnostics.report.summary import Coverage, coverage, headline, ordered_findings
from diagnostics.units import format_duration, format_value, isoformat

SEVERITY_STYLE = {Severity.CRITICAL: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}
STATUS_STYLE = {
    Status.OK: "green",
    Status.WARNING: "yellow",
    Status.CRITICAL: "bold red",
    Status.SKIPPED: "dim",
    Status.ERROR: "magenta",
    Status.TIMEOUT: "magenta",
}
COVERAGE_MARK = {
    Coverage.PROBLEM: ("✗", "bold red"),
    Coverage.CLEAN: ("✓", "green"),
    Coverage.NOT_CONFIGURED: ("-", "dim"),
    Coverage.FAILED: ("!", "magenta"),
    Coverage.NO_PROBE: ("·", "dim"),
}
MAX_EVIDENCE_VALUES = 8


def render_text(report: Report, *, color: bool | None = None, width: int | None = None) -> str:
    """The report as text; ``color=None``: styled only on a terminal and without NO_COLOR."""
    if color is None and os.environ.get("NO_COLOR"):
        color = False
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        force_terminal=color,
        no_color=True if color is False else None,
        width=width or 200,
        highlight=False,
        soft_wrap=True,
    )
    write_report(console, report)
    return buffer.getvalue()


def write_report(console: Console, report: Report) -> None:
    console.print(Text(headline(report), style="bold"))
    start = report.at - report.window
    console.print(
        f"Diagnosed {isoformat(start)} → {isoformat(report.at)} "
        f"(window {format_duration(report.window)}) in {report.duration_s:.2f}s",
        style="dim",
    )
    findings = ordered_findings(report.findings)
    if findings:
        console.print()
        console.print(Text("Findings", style="bold underline"))
        for finding in findings:
            _write_finding(console, finding)
    console.print()
    console.print(Text("Checklist", style="bold underline"))
    for row in coverage(report):
        mark, style = COVERAGE_MARK[row.state]
        state = row.state.value.replace("_", " ")
        console.print(
            Text.assemble(
                (f" {mark} ", style), (f"{row.item.heading}: ", "bold"), (f"{state} — ", style), row.detail
            )
        )
    console.print()
    console.print(Text("Probes", style="bold underline"))
    for outcome in report.probes:
        console.print(_outcome_line(outcome))


def _write_finding(console: Console, finding: Finding) -> None:
    since = f"  since {finding.onset.astimezone(UTC):%Y-%m-%d %H:%M:%S}Z" if finding.onset else ""
    console.print()
    console.print(
        Text.assemble(
            (f"{finding.severity.label.upper():<8} ", SEVERITY_STYLE[finding.severity]),
            (finding.title, "bold"),
            (f"  [{finding.entity.display()}]{since}", "dim"),
        )
    )
    if finding.summary and finding.summary != finding.title:
        console.print(f"         {escape(finding.summary)}")
    values = finding.evidence.values[:MAX_EVIDENCE_VALUES]
    if values:
        shown = " · ".join(f"{m.name} {format_value(m.value, m.unit)}" for m in values)
        extra = len(finding.evidence.values) - len(values)
        console.print(f"         evidence: {escape(shown)}" + (f" (+{extra} more)" if extra else ""))
    for query in finding.evidence.queries[:3]:
        console.print(Text(f"         query: {query}", style="dim"))
    for step in finding.next_steps:
        console.print(Text.assemble(("         next: ", "green"), step))


def _outcome_line(outcome: ProbeOutcome) -> Text:
    detail = ""
    if outcome.status is Status.SKIPPED:
        detail = f"{outcome.error or 'skipped'}" + (f" — add: {outcome.hint}" if outcome.hint else "")
    elif outcome.error:
        detail = outcome.error
    elif outcome.finding_count:
        detail = f"{outcome.finding_count} finding{'s' if outcome.finding_count != 1 else ''}"
    return Text.assemble(
        (f" {outcome.probe:<24}", "bold"),
        (f"{outcome.status.value:<9}", STATUS_STYLE[outcome.status]),
        (f"{outcome.duration_s:>7.2f}s  ", "dim"),
        detail,
    )
