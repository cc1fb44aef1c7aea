"""Findings and probe outcomes: the frozen values that probes return.

The report that gathers them (and its summary) is :mod:`diagnostics.model`; this module imports
nothing of diagnostics, so the summary's model can use these values without an import cycle.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum, StrEnum
from typing import Any

JSONValue = Any
"""A value that serializes to JSON (str, int, float, bool, None, lists and dicts of those)."""


class Severity(IntEnum):
    """How bad a finding is; ordered so that ``>=`` compares badness."""

    INFO = 0
    WARNING = 1
    CRITICAL = 2

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        return cls[text.upper()]


class Status(StrEnum):
    """The one outcome every selected probe ends in."""

    OK = "ok"
    WARNING = "warning"
    CRITICAL = "critical"
    SKIPPED = "skipped"
    NOT_CHECKED = "not_checked"
    """The backend answered but held nothing to judge (e.g. no configured query matched)."""
    ERROR = "error"
    TIMEOUT = "timeout"

    @property
    def checked(self) -> bool:
        """True when the probe could look at its backend (whatever it found)."""
        return self in (Status.OK, Status.WARNING, Status.CRITICAL)

    @classmethod
    def from_worst(cls, worst: Severity | None) -> Status:
        if worst is Severity.CRITICAL:
            return cls.CRITICAL
        if worst is Severity.WARNING:
            return cls.WARNING
        return cls.OK


class ChecklistItem(StrEnum):
    """The incident checklist items that probes serve."""

    SEVERITY = "severity"
    FEATURE_TOGGLES = "feature_toggles"
    DEPLOYMENTS = "deployments"
    METRICS = "metrics"
    LOGS = "logs"
    TRACES = "traces"
    DEPENDENCIES = "dependencies"
    DATABASE = "database"
    RESOURCES = "resources"

    @property
    def heading(self) -> str:
        return CHECKLIST_TITLES[self]


CHECKLIST_TITLES: Mapping[ChecklistItem, str] = {
    ChecklistItem.SEVERITY: "Assess severity",
    ChecklistItem.FEATURE_TOGGLES: "Check feature toggles",
    ChecklistItem.DEPLOYMENTS: "Check recent deployments",
    ChecklistItem.METRICS: "Check dashboards and metrics",
    ChecklistItem.LOGS: "Check logs",
    ChecklistItem.TRACES: "Check distributed traces",
    ChecklistItem.DEPENDENCIES: "Check external dependencies",
    ChecklistItem.DATABASE: "Check database",
    ChecklistItem.RESOURCES: "Check resource utilization",
}

DIAGNOSIS_ITEMS: tuple[ChecklistItem, ...] = (
    ChecklistItem.DEPLOYMENTS,
    ChecklistItem.FEATURE_TOGGLES,
    ChecklistItem.METRICS,
    ChecklistItem.LOGS,
    ChecklistItem.TRACES,
    ChecklistItem.DEPENDENCIES,
    ChecklistItem.DATABASE,
    ChecklistItem.RESOURCES,
)
"""The checklist items whose coverage every report states."""


class ErrorKind(StrEnum):
    """Why a probe could not check: lets reports say why, not only that."""

    CONFIG = "config"
    DNS = "dns"
    CONNECT = "connect"
    TLS = "tls"
    AUTH = "auth"
    PERMISSION = "permission"
    TIMEOUT = "timeout"
    QUERY = "query"
    PROTOCOL = "protocol"
    TOO_LARGE = "too_large"
    PLUGIN = "plugin"
    INTERRUPTED = "interrupted"
    INTERNAL = "internal"


@dataclass(frozen=True, slots=True, kw_only=True)
class Measurement:
    """One measured value with its unit (``s``, ``bytes``, ``%``, ``ratio``, ``count``...)."""

    name: str
    value: JSONValue
    unit: str | None = None

    def display(self) -> str:
        from diagnostics.units import format_value

        return f"{self.name}: {format_value(self.value, self.unit)}"


SYMPTOM_OF = "symptom_of"
"""``Evidence.details`` key: the fingerprint of the finding this one is a symptom of.

A probe sets it when it knows the cause (a statement slow only because it waits behind a lock
tree points at that tree's finding); the summary then ranks and groups the symptom under its
cause instead of treating it as a problem of its own. A link to a finding absent from the
report (its probe not selected) is ignored.
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class Evidence:
    """What backs a finding: measured values, the queries or API calls, structured details."""

    values: tuple[Measurement, ...] = ()
    queries: tuple[str, ...] = ()
    details: Mapping[str, JSONValue] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class Entity:
    """What a finding is about: ``kind`` is service, database, pod, workload, host, url, ..."""

    kind: str
    name: str
    attributes: Mapping[str, str] = field(default_factory=dict)

    def display(self) -> str:
        return f"{self.kind} {self.name}"


@functools.lru_cache(maxsize=65536)
def fingerprint_of(probe: str, kind: str, entity_kind: str, entity_name: str, key: str = "") -> str:
    """16 hex digits identifying (probe, kind, entity, key) across runs."""
    import hashlib  # here, not at the top: `diag --help` and `diag probes` never hash

    parts = (probe, kind, entity_kind, entity_name, key) if key else (probe, kind, entity_kind, entity_name)
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """One observed problem (or notable fact) with its evidence and what to do next."""

    probe: str
    kind: str
    severity: Severity
    title: str
    summary: str
    entity: Entity
    evidence: Evidence = field(default_factory=Evidence)
    onset: datetime | None = None
    seen_at: datetime | None = None
    """When the probe observed the problem, for a finding whose onset is unknown (no history
    says when it began): reports say "seen now" rather than inventing an onset."""
    next_steps: tuple[str, ...] = ()
    key: str = ""
    """Tells apart findings of one kind on one entity (the metric, the alert, the root blocker)."""
    _fingerprint: str = field(default="", init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # computed once: the summary looks it up for every finding many times
        fingerprint = fingerprint_of(self.probe, self.kind, self.entity.kind, self.entity.name, self.key)
        object.__setattr__(self, "_fingerprint", fingerprint)

    @property
    def fingerprint(self) -> str:
        """Stable across runs for the same problem on the same entity."""
        return self._fingerprint


@dataclass(frozen=True, slots=True, kw_only=True)
class ProbeOutcome:
    """How one selected probe ended: exactly one per probe, findings or not."""

    probe: str
    checklist_item: ChecklistItem
    status: Status
    duration_s: float
    error: str | None = None
    error_kind: ErrorKind | None = None
    hint: str | None = None
    """For ``skipped``: the one line of configuration that enables the probe."""
    finding_count: int = 0
