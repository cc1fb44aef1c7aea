"""Comparing two runs by finding fingerprint: what is new, what was resolved, what remains."""

from __future__ import annotations

from diagnostics.model import Report
from diagnostics.summary.model import Comparison


def compare_reports(baseline: Report, current: Report) -> Comparison:
    """Findings of ``current`` against ``baseline`` (info findings included)."""
    old = {f.fingerprint: f for f in baseline.findings}
    new = {f.fingerprint: f for f in current.findings}
    return Comparison(
        baseline_at=baseline.at,
        baseline_started_at=baseline.started_at,
        new=tuple(fp for fp in new if fp not in old),
        unchanged=tuple(fp for fp in new if fp in old),
        resolved=tuple(f for fp, f in old.items() if fp not in new),
    )
