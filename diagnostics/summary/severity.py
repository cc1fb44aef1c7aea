"""The overall incident severity (SEV1 worst .. SEV4) from the findings, with the reasons.

- SEV1: a user-facing service's error ratio at or above ``sev1_error_ratio``, or its traffic
  down by ``sev1_traffic_drop`` or more; data at risk with a critical finding (disk full,
  transaction-id wraparound, replication broken); or ``sev1_services`` services with critical
  findings.
- SEV2: any other critical finding; a user-facing service's error ratio at or above
  ``sev2_error_ratio``; data at risk with a warning.
- SEV3: warnings only.
- SEV4: nothing wrong found.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

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


def _user_impact(
    findings: Iterable[Finding], index: EntityIndex, limits: SeverityThresholds
) -> tuple[int, list[str]]:
    level, reasons = 4, []
    for finding in findings:
        facing = sorted(s for s in index.services_of(finding) if index.is_user_facing(s))
        if not facing:
            continue
        signal, current, normal = signal_of(finding), current_value(finding), normal_value(finding)
        service = facing[0]
        if signal == "error_ratio" and current is not None:
            if current >= limits.sev1_error_ratio:
                level = min(level, 1)
                reasons.append(
                    f"user-facing {service}: error ratio {current:.1%} (SEV1 from {limits.sev1_error_ratio:.0%})"
                )
            elif current >= limits.sev2_error_ratio:
                level = min(level, 2)
                reasons.append(
                    f"user-facing {service}: error ratio {current:.1%} (SEV2 from {limits.sev2_error_ratio:.0%})"
                )
        elif signal == "traffic" and current is not None and normal:
            drop = 1 - current / normal
            if drop >= limits.sev1_traffic_drop:
                level = min(level, 1)
                reasons.append(f"user-facing {service}: traffic down {drop:.0%} from normal")
    return level, reasons


def assess_severity(
    findings: Sequence[Finding], index: EntityIndex, limits: SeverityThresholds
) -> SeverityAssessment:
    """SEV1-SEV4 for these findings, with every reason that set the level."""
    problems = [f for f in findings if f.severity >= Severity.WARNING]
    affected = sorted({s for f in problems for s in index.services_of(f)})
    critical_services = sorted(
        {s for f in problems if f.severity is Severity.CRITICAL for s in index.services_of(f)}
    )
    level, reasons = _user_impact(problems, index, limits)
    for finding in problems:
        if any(word in finding.kind for word in DATA_AT_RISK_WORDS):
            severe = finding.severity is Severity.CRITICAL
            level = min(level, 1 if severe else 2)
            reasons.append(f"data at risk: {finding.title} [{finding.entity.display()}]")
    if len(critical_services) >= limits.sev1_services:
        level = 1
        reasons.append(
            f"{len(critical_services)} services with critical findings: {', '.join(critical_services)}"
        )
    criticals = [f for f in problems if f.severity is Severity.CRITICAL]
    if criticals and level > 2:
        level = 2
        reasons.append(
            f"{len(criticals)} critical finding{'s' if len(criticals) != 1 else ''}, worst: {criticals[0].title}"
        )
    if problems and level > 3:
        level = 3
        reasons.append(f"{len(problems)} warning{'s' if len(problems) != 1 else ''}, no critical finding")
    if not problems:
        reasons.append("no problem found")
    return SeverityAssessment(
        level=level, reasons=tuple(dict.fromkeys(reasons)), affected_services=tuple(affected)
    )
