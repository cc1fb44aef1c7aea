"""Every finding with a time, merged into one ordered timeline."""

from __future__ import annotations

from collections.abc import Iterable

from diagnostics.model import Finding
from diagnostics.summary.model import TimelineEvent


def build_timeline(findings: Iterable[Finding]) -> tuple[TimelineEvent, ...]:
    """Findings with an onset, earliest first (ties: worst first)."""
    events = [
        TimelineEvent(
            at=f.onset,
            fingerprint=f.fingerprint,
            probe=f.probe,
            kind=f.kind,
            severity=f.severity,
            title=f.title,
            entity=f.entity,
        )
        for f in findings
        if f.onset is not None
    ]
    return tuple(sorted(events, key=lambda e: (e.at, -int(e.severity), e.probe, e.title)))
