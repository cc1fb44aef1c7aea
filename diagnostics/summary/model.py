"""What the summary adds to a report: timeline, suspects, severity, comparison with a baseline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from diagnostics.findings import Entity, Finding, Severity


@dataclass(frozen=True, slots=True, kw_only=True)
class TimelineEvent:
    """A finding placed in time (its onset)."""

    at: datetime
    fingerprint: str
    probe: str
    kind: str
    severity: Severity
    title: str
    entity: Entity


@dataclass(frozen=True, slots=True, kw_only=True)
class Containment:
    """What undoes a suspected change before diagnosis ends: a flag switch or a rollback."""

    step: str
    """The checklist step it answers: "Check feature toggles" or "Consider rollback"."""
    command: str
    """The exact command; never run by diag."""
    note: str
    """What it does, and for a rollback whether it is safe."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Suspect:
    """A candidate cause: one finding that explains others, by a named rule."""

    rule: str
    cause: str
    """Fingerprint of the finding suspected to be the cause."""
    title: str
    reasoning: str
    """One sentence: why this finding explains the others."""
    score: float
    supports: tuple[str, ...]
    """Fingerprints of the findings it explains."""
    containment: Containment | None = None
    """For a suspected change, the step that undoes it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SeverityAssessment:
    """The incident's SEV level with the reasons for it and the services affected."""

    level: int
    """1 (worst) to 4."""
    reasons: tuple[str, ...]
    affected_services: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"SEV{self.level}"


@dataclass(frozen=True, slots=True, kw_only=True)
class RankedProblem:
    """One problem of the report in rank order: a lead finding and the findings grouped under
    it (its symptoms, other findings about the same machine)."""

    lead: str
    """Fingerprint of the finding that leads the group."""
    entity: str
    """What the group is about, one machine being one entity (``host vm``)."""
    impact: str
    """failing, blocked, data_at_risk, degraded or saturation (see diagnostics.summary.impact)."""
    severity: Severity
    reach: int | None
    """How many sessions, requests, pods or users it touches, when known."""
    members: tuple[str, ...]
    """Fingerprints of the other findings grouped under the lead."""
    reason: str
    """Why it ranks where it does, in one line."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Summary:
    """Severity, suspects (or why none), the ranked problems and the timeline of a report."""

    severity: SeverityAssessment
    suspects: tuple[Suspect, ...]
    no_cause_reason: str | None
    """Why no suspect is named, when none is."""
    timeline: tuple[TimelineEvent, ...]
    ranking: tuple[RankedProblem, ...] = ()
    """Every warning or critical finding, grouped, most impact on users and data first."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Comparison:
    """Findings of this run against a baseline run's, by fingerprint."""

    baseline_at: datetime
    baseline_started_at: datetime
    new: tuple[str, ...]
    unchanged: tuple[str, ...]
    resolved: tuple[Finding, ...]
    """Findings of the baseline that this run no longer has."""
