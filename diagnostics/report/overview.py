"""What every renderer shows first: ordering, the headline, checklist coverage, exit status."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum, StrEnum

from diagnostics.model import DIAGNOSIS_ITEMS, ChecklistItem, Finding, Report, Severity, Status


class ExitStatus(IntEnum):
    """Nagios convention, so sweeps and runbooks can branch on it."""

    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3


class Coverage(StrEnum):
    """What a report can say about one checklist item."""

    PROBLEM = "problem"
    CLEAN = "clean"
    NOT_CONFIGURED = "not_configured"
    NOT_CHECKED = "not_checked"
    """Its probes ran but had nothing to judge (no configured query matched...)."""
    FAILED = "failed"
    NO_PROBE = "no_probe"
    NOT_SELECTED = "not_selected"
    """Its probes exist but ``--probe`` left them out of this run."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CoverageRow:
    """One checklist item's state in a report, with the probes behind it."""

    item: ChecklistItem
    state: Coverage
    detail: str
    probes: tuple[str, ...]


def ordered_findings(findings: tuple[Finding, ...] | list[Finding]) -> list[Finding]:
    """Worst first, then earliest onset (unknown onsets last), then probe id."""
    far_future = datetime.max.replace(tzinfo=UTC)
    return sorted(
        findings,
        key=lambda f: (-int(f.severity), f.onset or far_future, f.probe, f.entity.name, f.title),
    )


def ranked_findings(report: Report) -> list[Finding]:
    """The findings in the summary's rank order (lead, then its group), the rest worst first.

    Without a summary (or a ranking) this is :func:`ordered_findings`.
    """
    ordered = ordered_findings(report.findings)
    if report.summary is None or not report.summary.ranking:
        return ordered
    position: dict[str, int] = {}
    for problem in report.summary.ranking:
        for fingerprint in (problem.lead, *problem.members):
            position.setdefault(fingerprint, len(position))
    last = len(position)
    return sorted(ordered, key=lambda f: position.get(f.fingerprint, last))


def counts(report: Report) -> dict[str, int]:
    """How many findings of each severity, worst first."""
    return {s.label: sum(1 for f in report.findings if f.severity is s) for s in reversed(Severity)}


def exit_status(report: Report) -> ExitStatus:
    """critical (2) > warning (1) > unknown (3) > ok (0).

    Unknown when no warning or critical finding outranks a probe that could not check
    (``error`` or ``timeout``), or when nothing was checked at all: a silent Prometheus or a
    stopped database must never read as healthy.
    """
    worst = report.worst
    if worst is Severity.CRITICAL:
        return ExitStatus.CRITICAL
    if worst is Severity.WARNING:
        return ExitStatus.WARNING
    if unchecked_probes(report) or not any(o.status.checked for o in report.probes):
        return ExitStatus.UNKNOWN
    return ExitStatus.OK


def unchecked_probes(report: Report) -> list[str]:
    """The probes that were to check something and could not (``error`` or ``timeout``)."""
    return [o.probe for o in report.probes if o.status in (Status.ERROR, Status.TIMEOUT)]


def headline(report: Report) -> str:
    """One sentence: how bad, and the worst finding."""
    tally = counts(report)
    problems = [f for f in ordered_findings(report.findings) if f.severity >= Severity.WARNING]
    checked = sum(1 for o in report.probes if o.status.checked)
    failed_text = _unchecked_text(unchecked_probes(report))
    if not problems:
        if checked == 0:
            return f"Nothing could be checked{failed_text}."
        return f"No problem found by {checked} probe{'s' if checked != 1 else ''}{failed_text}."
    parts = [f"{tally[s.label]} {s.label}" for s in (Severity.CRITICAL, Severity.WARNING) if tally[s.label]]
    top, where = problems[0], problems[0].entity.display()
    ranking = report.summary.ranking if report.summary is not None else ()
    by_fingerprint = {f.fingerprint: f for f in problems}
    if ranking and ranking[0].lead in by_fingerprint:
        top, where = by_fingerprint[ranking[0].lead], ranking[0].entity
    since = f" since {top.onset.astimezone(UTC):%H:%M}Z" if top.onset else ""
    more = len(problems) - 1
    tail = f" (+{more} more)" if more else ""
    return f"{', '.join(parts)}: {top.title} [{where}]{since}{tail}{failed_text}."


def _unchecked_text(failed: list[str], shown: int = 4) -> str:
    """``; 2 probes could not check: db.locks, db.queries`` (the first few named)."""
    if not failed:
        return ""
    names = ", ".join(failed[:shown]) + (f" and {len(failed) - shown} more" if len(failed) > shown else "")
    return f"; {len(failed)} probe{'s' if len(failed) != 1 else ''} could not check: {names}"


def coverage(report: Report, items: tuple[ChecklistItem, ...] = DIAGNOSIS_ITEMS) -> list[CoverageRow]:
    """For each checklist item: problem found, checked clean, not checked (nothing to judge),
    not configured, failed, not selected (``--probe``), no probe."""
    rows = []
    for item in items:
        outcomes = [o for o in report.probes if o.checklist_item is item]
        ids = tuple(o.probe for o in outcomes)
        flagged = [
            f for f in ordered_findings(report.findings) if f.severity >= Severity.WARNING and f.probe in ids
        ]
        failed = [o for o in outcomes if o.status in (Status.ERROR, Status.TIMEOUT)]
        clean = [o for o in outcomes if o.status.checked]
        skipped = [o for o in outcomes if o.status is Status.SKIPPED]
        unjudged = [o for o in outcomes if o.status is Status.NOT_CHECKED]
        left_out = [probe for probe, its in report.not_selected if its is item]
        if flagged:
            rows.append(CoverageRow(item=item, state=Coverage.PROBLEM, detail=flagged[0].title, probes=ids))
        elif clean:
            partial = f"; {', '.join(o.probe for o in failed)} could not check" if failed else ""
            partial += "".join(f"; {o.probe} not checked: {o.error}" for o in unjudged)
            names = ", ".join(o.probe for o in clean)
            rows.append(
                CoverageRow(
                    item=item, state=Coverage.CLEAN, detail=f"checked by {names}{partial}", probes=ids
                )
            )
        elif failed:
            detail = "; ".join(f"{o.probe}: {o.error}" for o in failed)
            rows.append(CoverageRow(item=item, state=Coverage.FAILED, detail=detail, probes=ids))
        elif unjudged:
            detail = "; ".join(
                f"{o.probe}: {o.error}" + (f" — add: {o.hint}" if o.hint else "") for o in unjudged
            )
            rows.append(CoverageRow(item=item, state=Coverage.NOT_CHECKED, detail=detail, probes=ids))
        elif skipped:
            # one line to add, the first probe's (in id order); the others' are in `diag probes`
            hints = list(
                dict.fromkeys(
                    o.hint or o.error or "not configured" for o in sorted(skipped, key=lambda o: o.probe)
                )
            )
            detail = hints[0] + (f"  (+{len(hints) - 1} more: diag probes)" if len(hints) > 1 else "")
            rows.append(CoverageRow(item=item, state=Coverage.NOT_CONFIGURED, detail=detail, probes=ids))
        elif left_out:
            rows.append(
                CoverageRow(
                    item=item,
                    state=Coverage.NOT_SELECTED,
                    detail=f"not selected by --probe: {', '.join(left_out)}",
                    probes=tuple(left_out),
                )
            )
        else:
            rows.append(
                CoverageRow(
                    item=item, state=Coverage.NO_PROBE, detail="no probe installed for this item", probes=ids
                )
            )
    return rows
