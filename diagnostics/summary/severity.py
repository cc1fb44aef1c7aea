"""The overall incident severity (SEV1 worst .. SEV4) from the findings, with the reasons.

- SEV1: a user-facing service's error ratio at or above ``sev1_error_ratio``, or its traffic
  down by ``sev1_traffic_drop`` or more; data at risk with a critical finding (disk full,
  transaction-id wraparound, replication broken); or ``sev1_services`` services with critical
  findings.
- SEV2: any other critical finding, except generic saturation (a busy CPU, memory, disk or
  network that no finding shows anyone suffering from); a user-facing service's error ratio at
  or above ``sev2_error_ratio``; data at risk with a warning.
- SEV3: warnings only, or critical generic saturation alone.

The reasons cite the findings that set the level, worst first: when a critical finding sets
it, no warning is cited.
- SEV4: nothing wrong found.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from diagnostics.model import Finding, Severity
from diagnostics.summary.entities import EntityIndex
from diagnostics.summary.model import SeverityAssessment
from diagnostics.summary.settings import SeverityThresholds

DATA_AT_RISK_WORDS = (
    "wraparound",
    "replication",
    "disk_space",
    "disk_filling",
    "disk_full",
    "slot",
    "inodes",
)


@lru_cache(maxsize=1024)
def puts_data_at_risk(kind: str) -> bool:
    """Whether findings of this kind are about data that can be lost or stop being written."""
    return any(word in kind for word in DATA_AT_RISK_WORDS)


SIGNAL_NAMES = {
    "error_ratio": "error_ratio",
    "errors": "error_ratio",
    "request_rate": "traffic",
    "traffic": "traffic",
    "latency": "latency",
    "latency_p99": "latency",
}
"""The ``details["signal"]`` values metric probes use, by what they measure."""


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def signal_of(finding: Finding) -> str | None:
    """error_ratio, latency or traffic, from the finding's details or kind."""
    signal = finding.evidence.details.get("signal")
    if isinstance(signal, str) and signal in SIGNAL_NAMES:
        return SIGNAL_NAMES[signal]
    text = f"{finding.kind} {finding.title}".lower()
    if "error" in text:
        return "error_ratio"
    if "traffic" in text or "request rate" in text:
        return "traffic"
    if "latency" in text:
        return "latency"
    return None


def current_value(finding: Finding) -> float | None:
    """The finding's current value, from details or a measurement named current/value."""
    details = finding.evidence.details
    for key in ("current", "value"):
        number = _number(details.get(key))
        if number is not None:
            return number
    for measurement in finding.evidence.values:
        if measurement.name in ("current", "current value", "value"):
            return _number(measurement.value)
    return None


def normal_value(finding: Finding) -> float | None:
    """The finding's normal value, from details or a measurement named normal/expected."""
    details = finding.evidence.details
    for key in ("normal", "expected", "baseline", "median"):
        number = _number(details.get(key))
        if number is not None:
            return number
    for measurement in finding.evidence.values:
        if measurement.name in ("normal", "expected", "baseline", "normal median", "median"):
            return _number(measurement.value)
    return None


@dataclass(frozen=True, slots=True)
class Reason:
    """One finding's claim on a SEV level: ``text``, followed by the finding when one is given
    (built only for the reasons cited)."""

    level: int
    severity: Severity
    text: str
    finding: Finding | None = None

    def line(self) -> str:
        if self.finding is None:
            return self.text
        return f"{self.text}{self.finding.title} [{self.finding.entity.display()}]"


def _user_impact(finding: Finding, index: EntityIndex, limits: SeverityThresholds) -> Reason | None:
    services = index.services_of(finding)
    facing = sorted(s for s in services if index.is_user_facing(s)) if services else []
    if not facing:
        return None
    signal, current, normal = signal_of(finding), current_value(finding), normal_value(finding)
    service = facing[0]
    if signal == "error_ratio" and current is not None:
        if current >= limits.sev1_error_ratio:
            return Reason(
                1,
                finding.severity,
                f"user-facing {service}: error ratio {current:.1%} (SEV1 from {limits.sev1_error_ratio:.0%})",
            )
        if current >= limits.sev2_error_ratio:
            return Reason(
                2,
                finding.severity,
                f"user-facing {service}: error ratio {current:.1%} (SEV2 from {limits.sev2_error_ratio:.0%})",
            )
    elif signal == "traffic" and current is not None and normal:
        drop = 1 - current / normal
        if drop >= limits.sev1_traffic_drop:
            return Reason(1, finding.severity, f"user-facing {service}: traffic down {drop:.0%} from normal")
    return None


def _finding_reasons(
    finding: Finding, saturation: bool, index: EntityIndex, limits: SeverityThresholds
) -> list[Reason]:
    """Every level this finding alone calls for."""
    critical = finding.severity is Severity.CRITICAL
    reasons = [r for r in (_user_impact(finding, index, limits),) if r is not None]
    if puts_data_at_risk(finding.kind):
        reasons.append(Reason(1 if critical else 2, finding.severity, "data at risk: ", finding))
    if critical and not saturation:
        reasons.append(Reason(2, finding.severity, "critical: ", finding))
    elif critical:
        # a busy machine nobody is shown to suffer from is not an incident of its own
        reasons.append(
            Reason(3, finding.severity, "critical saturation, no user or data impact shown: ", finding)
        )
    else:
        reasons.append(Reason(3, finding.severity, "warning: ", finding))
    return reasons


def assess_severity(
    findings: Sequence[Finding],
    index: EntityIndex,
    limits: SeverityThresholds,
    *,
    saturation: Callable[[Finding], bool] = lambda _finding: False,
) -> SeverityAssessment:
    """SEV1-SEV4 for these findings, with the findings that set the level, worst first.

    ``findings`` come in rank order (see diagnostics.summary.ranking); ``saturation`` tells
    generic saturation, which alone makes SEV3 at most. A reason from a warning is never cited
    while a critical finding sets the same level.
    """
    problems = [f for f in findings if f.severity >= Severity.WARNING]
    affected = sorted({s for f in problems for s in index.services_of(f)})
    if not problems:
        return SeverityAssessment(level=4, reasons=("no problem found",), affected_services=tuple(affected))
    claims = [r for f in problems for r in _finding_reasons(f, saturation(f), index, limits)]
    critical_services = sorted(
        {
            s
            for f in problems
            if f.severity is Severity.CRITICAL and not saturation(f)
            for s in index.services_of(f)
        }
    )
    if len(critical_services) >= limits.sev1_services:
        claims.append(
            Reason(
                1,
                Severity.CRITICAL,
                f"{len(critical_services)} services with critical findings: {', '.join(critical_services)}",
            )
        )
    level = min(c.level for c in claims)
    setting = [c for c in claims if c.level == level]
    # a level that a real problem sets as well is explained by it, not by generic saturation
    # (a busy CPU that is critical only by its own measure must not be cited over a slow query)
    substantive = [c for c in setting if c.finding is None or not saturation(c.finding)]
    setting = substantive or setting
    worst = max(c.severity for c in setting)
    cited = [c for c in setting if c.severity is worst]  # in the findings' rank order
    return SeverityAssessment(
        level=level,
        reasons=tuple(dict.fromkeys(c.line() for c in cited)),
        affected_services=tuple(affected),
    )
