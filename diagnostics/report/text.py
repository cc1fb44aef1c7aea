"""The terminal report (rich): colour on a terminal, plain text in a pipe or with NO_COLOR."""

from __future__ import annotations

import io
import os
from datetime import UTC

from rich.console import Console
from rich.markup import escape
from rich.text import Text

from diagnostics.model import Finding, ProbeOutcome, Report, Severity, Status
from diagnostics.report.overview import Coverage, coverage, headline, ranked_findings
from diagnostics.summary.ranking import ranking_reason
from diagnostics.units import format_duration, format_value, isoformat

SEVERITY_STYLE = {Severity.CRITICAL: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}
STATUS_STYLE = {
    Status.OK: "green",
    Status.WARNING: "yellow",
    Status.CRITICAL: "bold red",
    Status.SKIPPED: "dim",
    Status.NOT_CHECKED: "yellow",
    Status.ERROR: "magenta",
    Status.TIMEOUT: "magenta",
}
COVERAGE_MARK = {
    Coverage.PROBLEM: ("✗", "bold red"),
    Coverage.CLEAN: ("✓", "green"),
    Coverage.NOT_CONFIGURED: ("-", "dim"),
    Coverage.FAILED: ("!", "magenta"),
    Coverage.NO_PROBE: ("·", "dim"),
    Coverage.NOT_CHECKED: ("?", "yellow"),
    Coverage.NOT_SELECTED: ("·", "dim"),
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
    """Print the report on a rich console (used for files, pipes and terminals alike)."""
    console.print(Text(headline(report), style="bold"))
    start = report.at - report.window
    console.print(
        f"Diagnosed {isoformat(start)} → {isoformat(report.at)} "
        f"(window {format_duration(report.window)}) in {report.duration_s:.2f}s, start-up included",
        style="dim",
    )
    if report.summary is not None:
        _write_summary(console, report)
    if report.comparison is not None:
        _write_comparison(console, report)
    findings = ranked_findings(report)
    if findings:
        console.print()
        console.print(Text("Findings", style="bold underline"))
        for finding in findings:
            _write_finding(console, finding)
    if report.summary is not None and report.summary.timeline:
        console.print()
        console.print(Text("Timeline", style="bold underline"))
        for event in report.summary.timeline:
            console.print(
                Text.assemble(
                    (f" {event.at.astimezone(UTC):%Y-%m-%d %H:%M:%S}Z  ", "dim"),
                    (f"{event.severity.label.upper():<8} ", SEVERITY_STYLE[event.severity]),
                    f"{event.title}",
                    (f"  [{event.entity.display()}] {event.probe}", "dim"),
                )
            )
    console.print()
    console.print(Text("Checklist", style="bold underline"))
    if report.summary is not None:
        assessment = report.summary.severity
        mark, style = (
            ("✗", "bold red")
            if assessment.level <= 2
            else ("✓", "green")
            if assessment.level == 4
            else ("!", "yellow")
        )
        console.print(
            Text.assemble(
                (f" {mark} ", style),
                ("Assess severity: ", "bold"),
                f"{assessment.label} — {assessment.reasons[0]}",
            )
        )
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


def _write_summary(console: Console, report: Report) -> None:
    assert report.summary is not None
    summary = report.summary
    titles = {f.fingerprint: f for f in report.findings}
    severity = summary.severity
    console.print()
    console.print(
        Text.assemble(
            ("Severity: ", "bold"),
            (
                severity.label,
                "bold red" if severity.level <= 2 else "yellow" if severity.level == 3 else "green",
            ),
            f" — {'; '.join(severity.reasons)}",
        )
    )
    if severity.affected_services:
        console.print(Text(f"Affected services: {', '.join(severity.affected_services)}", style="dim"))
    why_first = ranking_reason(summary.ranking, {fp: f.title for fp, f in titles.items()})
    if why_first:
        console.print(Text.assemble(("Ranking: ", "bold"), why_first))
    if not summary.suspects:
        console.print(Text.assemble(("Likely cause: ", "bold"), f"none named — {summary.no_cause_reason}"))
        return
    console.print(Text("Likely cause:", style="bold"))
    for rank, suspect in enumerate(summary.suspects, 1):
        cause = titles.get(suspect.cause)
        where = f" [{cause.entity.display()}]" if cause else ""
        console.print(
            Text.assemble(
                f" {rank}. ",
                (suspect.title, "bold"),
                where,
                (f"  ({suspect.rule}, score {suspect.score:.2f})", "dim"),
            )
        )
        console.print(f"    {escape(suspect.reasoning)}")
        supports = [titles[fp].title for fp in suspect.supports if fp in titles]
        if supports:
            console.print(Text(f"    explains: {'; '.join(supports)}", style="dim"))
        if suspect.containment is not None:
            step = suspect.containment
            console.print(Text.assemble(("    ", ""), (f"{step.step}: ", "bold"), f"{step.note}"))
            console.print(Text(f"      {step.command}", style="cyan"))


def _write_comparison(console: Console, report: Report) -> None:
    assert report.comparison is not None
    comparison = report.comparison
    titles = {f.fingerprint: f.title for f in report.findings}
    console.print()
    console.print(
        Text.assemble(
            ("Since the baseline run ", "bold"),
            f"(at {isoformat(comparison.baseline_at)}): ",
            (f"{len(comparison.new)} new", "bold red" if comparison.new else "green"),
            ", ",
            (f"{len(comparison.resolved)} resolved", "green"),
            f", {len(comparison.unchanged)} unchanged",
        )
    )
    for fingerprint in comparison.new:
        console.print(Text.assemble(("   new       ", "bold red"), titles.get(fingerprint, fingerprint)))
    for finding in comparison.resolved:
        console.print(
            Text.assemble(
                ("   resolved  ", "green"), finding.title, (f"  [{finding.entity.display()}]", "dim")
            )
        )
    for fingerprint in comparison.unchanged:
        console.print(Text.assemble(("   unchanged ", "dim"), titles.get(fingerprint, fingerprint)))


def _write_finding(console: Console, finding: Finding) -> None:
    since = f"  since {finding.onset.astimezone(UTC):%Y-%m-%d %H:%M:%S}Z" if finding.onset else ""
    if finding.onset is None and finding.seen_at is not None:
        since = "  seen now, onset unknown"
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
    if outcome.status in (Status.SKIPPED, Status.NOT_CHECKED):
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
