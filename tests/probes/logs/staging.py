"""Shared staging of the log probes' tests: the diagnosed moment, incidents, and assertions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from diagnostics import Finding, Severity
from diagnostics.testing import ProbeRun

AT = datetime(2026, 12, 7, 4, 0, tzinfo=UTC)
WINDOW = "30m"
SPAN = timedelta(hours=7, minutes=10)
"""Covers the 6 h baseline, the 30 min lead-in and the window."""
NEW_PATTERN_AFTER = timedelta(minutes=20)
RISE_AFTER = timedelta(minutes=15)
SPIKE_AFTER = timedelta(minutes=12)
ONSET_TOLERANCE = timedelta(minutes=2)


def close_to(onset: datetime | None, expected: datetime) -> bool:
    return onset is not None and abs(onset - expected) <= ONSET_TOLERANCE


def one(run: ProbeRun, kind: str, contains: str = "") -> Finding:
    found = [f for f in run.of_kind(kind) if contains in str(f.evidence.details.get("template", f.title))]
    assert len(found) == 1, [f.title for f in run.findings]
    return found[0]


def value(finding: Finding, name: str) -> object:
    return next(m.value for m in finding.evidence.values if m.name == name)


def silent(run: ProbeRun) -> bool:
    """Checked, and nothing at warning or above."""
    return run.outcome.status.checked and not run.at_least(Severity.WARNING)
