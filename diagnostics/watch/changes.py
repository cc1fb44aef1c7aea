"""What changed between two runs, by finding fingerprint: new, worsened, improved, resolved.

Only warning and critical findings are tracked (info findings never notify). A probe that
could not check this time (error, timeout) keeps its previous findings: a backend that went
silent has not resolved anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from diagnostics.model import Finding, Report, Severity, Status


class ChangeKind(StrEnum):
    NEW = "new"
    WORSENED = "worsened"
    IMPROVED = "improved"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True, kw_only=True)
class TrackedFinding:
    """What the watcher remembers of a current finding (also what it notifies with)."""

    fingerprint: str
    probe: str
    kind: str
    severity: Severity
    title: str
    summary: str
    entity: str
    first_seen: datetime
    onset: datetime | None = None
    next_step: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Change:
    """One change of one finding; ``previous`` is its earlier state (None when new)."""

    kind: ChangeKind
    finding: TrackedFinding
    previous: TrackedFinding | None = None


def track(finding: Finding, *, first_seen: datetime) -> TrackedFinding:
    return TrackedFinding(
        fingerprint=finding.fingerprint,
        probe=finding.probe,
        kind=finding.kind,
        severity=finding.severity,
        title=finding.title,
        summary=finding.summary,
        entity=finding.entity.display(),
        first_seen=first_seen,
        onset=finding.onset,
        next_step=finding.next_steps[0] if finding.next_steps else None,
    )


def changes_between(
    previous: Mapping[str, TrackedFinding], report: Report, *, now: datetime
) -> tuple[list[Change], dict[str, TrackedFinding]]:
    """The changes since ``previous`` and the findings to remember now."""
    could_not_check = {o.probe for o in report.probes if o.status in (Status.ERROR, Status.TIMEOUT)}
    current: dict[str, TrackedFinding] = {}
    for finding in report.findings:
        if finding.severity < Severity.WARNING:
            continue
        before = previous.get(finding.fingerprint)
        current[finding.fingerprint] = track(finding, first_seen=before.first_seen if before else now)
    for fingerprint, before in previous.items():
        if fingerprint not in current and before.probe in could_not_check:
            current[fingerprint] = before
    changes: list[Change] = []
    for fingerprint, tracked in current.items():
        before = previous.get(fingerprint)
        if before is None:
            changes.append(Change(kind=ChangeKind.NEW, finding=tracked))
        elif tracked.severity > before.severity:
            changes.append(Change(kind=ChangeKind.WORSENED, finding=tracked, previous=before))
        elif tracked.severity < before.severity:
            changes.append(Change(kind=ChangeKind.IMPROVED, finding=tracked, previous=before))
    changes += [
        Change(kind=ChangeKind.RESOLVED, finding=before)
        for fingerprint, before in previous.items()
        if fingerprint not in current
    ]
    order = {ChangeKind.NEW: 0, ChangeKind.WORSENED: 1, ChangeKind.IMPROVED: 2, ChangeKind.RESOLVED: 3}
    changes.sort(key=lambda c: (order[c.kind], -c.finding.severity, c.finding.probe, c.finding.title))
    return changes, current


def change_line(change: Change) -> str:
    """One line for the terminal: ``NEW critical deps.http url payments-api: HTTP 503 ...``."""
    finding = change.finding
    severity = finding.severity.label
    if change.previous is not None:
        severity = f"{change.previous.severity.label}->{severity}"
    return (
        f"{change.kind.value.upper():<8} {severity:<8} {finding.probe:<20} {finding.entity}: {finding.title}"
    )
