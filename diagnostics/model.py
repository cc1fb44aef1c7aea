"""The report model: every probe's outcome and finding of one diagnosis, and its summary.

The values it gathers live in :mod:`diagnostics.findings` and are re-exported here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from diagnostics.findings import (
    CHECKLIST_TITLES,
    DIAGNOSIS_ITEMS,
    SYMPTOM_OF,
    ChecklistItem,
    Entity,
    ErrorKind,
    Evidence,
    Finding,
    JSONValue,
    Measurement,
    ProbeOutcome,
    Severity,
    Status,
    fingerprint_of,
)
from diagnostics.summary.model import Comparison, Summary

__all__ = [
    "CHECKLIST_TITLES",
    "DIAGNOSIS_ITEMS",
    "SYMPTOM_OF",
    "ChecklistItem",
    "Entity",
    "ErrorKind",
    "Evidence",
    "Finding",
    "JSONValue",
    "Measurement",
    "ProbeOutcome",
    "Report",
    "Severity",
    "Status",
    "fingerprint_of",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Report:
    """The result of one diagnosis: every probe's outcome and every finding."""

    at: datetime
    window: timedelta
    started_at: datetime
    """When the run began: ``diag``'s process start, or the ``diagnose()`` call."""
    duration_s: float
    """Wall time from ``started_at`` to the finished summary (start-up included; only
    rendering the report is not)."""
    probes: tuple[ProbeOutcome, ...]
    findings: tuple[Finding, ...]
    summary: Summary | None = None
    """Timeline, suspects and severity (see diagnostics.summary)."""
    comparison: Comparison | None = None
    """Against a baseline run, when one was given."""
    not_selected: tuple[tuple[str, ChecklistItem], ...] = ()
    """Registered probes left out by ``--probe`` (id, checklist item): their items read
    "not selected", never "no probe installed"."""

    @property
    def worst(self) -> Severity | None:
        return max((f.severity for f in self.findings), default=None)

    def findings_of(self, probe_id: str) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.probe == probe_id)

    def outcome_of(self, probe_id: str) -> ProbeOutcome | None:
        return next((o for o in self.probes if o.probe == probe_id), None)
