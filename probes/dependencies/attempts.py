"""Judging repeated attempts, shared by the HTTP and TCP probes: pure functions.

One failed attempt is not an outage: more than half of the attempts failing is critical,
fewer is a warning (a flaky dependency). Latency is judged on the median of the successful
attempts, the worst one only raising a warning.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TypeVar

from diagnostics import Entity, Finding, Measurement, Severity
from diagnostics.units import format_duration, isoformat

MakeFinding = Callable[..., Finding]
Kind = TypeVar("Kind")

PAST_AT_TOLERANCE = timedelta(minutes=2)
"""``--at`` further than this before the check: the findings say the check is of the run's time."""


def failure_severity(failed: int, total: int) -> Severity:
    """Critical when more than half of the attempts failed, else a warning."""
    return Severity.CRITICAL if failed * 2 > total else Severity.WARNING


def latency_severity(median_s: float, worst_s: float, warning_s: float, critical_s: float) -> Severity | None:
    """Median at or above critical: critical; above warning: warning; one slow outlier: warning."""
    if median_s >= critical_s:
        return Severity.CRITICAL
    if median_s >= warning_s or worst_s >= critical_s:
        return Severity.WARNING
    return None


def dominant(kinds: Sequence[Kind], order: Sequence[Kind]) -> Kind:
    """The most frequent kind; ties go to the one listed first in ``order``."""
    counts = Counter(kinds)
    return max(counts, key=lambda kind: (counts[kind], -order.index(kind) if kind in order else -len(order)))


def attempts_text(of_kind: int, failed: int, total: int) -> str:
    """``on 3/3 attempts``, or ``on 2/3 attempts (+1 other failure)`` when kinds were mixed."""
    others = failed - of_kind
    tail = f" (+{others} other failure{'s' if others != 1 else ''})" if others else ""
    return f"on {of_kind}/{total} attempts{tail}"


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else 0.0


def seconds(value: float | None) -> str:
    return format_duration(value) if value is not None else "?"


def present_note(at: datetime, observed_at: datetime) -> str:
    """A sentence for findings of a check made long after ``--at`` (it saw the present)."""
    if observed_at - at < PAST_AT_TOLERANCE:
        return ""
    return (
        f" Checked at {isoformat(observed_at)}, the time of the run, not at {isoformat(at)}:"
        " a dependency check sees only the present."
    )


def not_checked(
    names: Sequence[str], *, probe_id: str, timeout_s: float, make: MakeFinding, at: datetime
) -> Finding:
    """One warning for the entries the probe had no time left to check."""
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    return make(
        kind="not_checked",
        severity=Severity.WARNING,
        title=f"{len(names)} dependencies not checked before the {format_duration(timeout_s)} deadline: {shown}",
        entity=Entity(kind="dependency", name=f"{probe_id} (unchecked)"),
        summary=(
            "The probe ran out of time before checking these; hung dependencies hold a worker "
            "for their whole timeout."
        ),
        values=[Measurement(name="not checked", value=len(names), unit="count")],
        details={"not_checked": list(names)},
        seen_at=at,  # a live check: when it began is unknown
        next_steps=[
            f"raise probes.{probe_id}.timeout or probes.{probe_id}.concurrency, or lower the entries' timeout"
        ],
    )


def latency_values(median_s: float, worst_s: float, warning_s: float, critical_s: float) -> list[Measurement]:
    """The measurements every latency finding carries: median, worst and both thresholds."""
    return [
        Measurement(name="latency (median)", value=round(median_s, 4), unit="s"),
        Measurement(name="latency (worst)", value=round(worst_s, 4), unit="s"),
        Measurement(name="latency warning", value=warning_s, unit="s"),
        Measurement(name="latency critical", value=critical_s, unit="s"),
    ]
