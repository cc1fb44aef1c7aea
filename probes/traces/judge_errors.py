"""Pure judging of failing traces: is the error ratio up, and where do the errors originate?

- elevated: the window's ratio of failing entry traces is at least ``min_ratio_increase`` times
  the baseline's, above it by ``min_z`` standard errors (two-proportion z-test, the baseline's
  own counts giving the noise), with at least ``min_failing`` failing traces;
- origins: the failing traces grouped by the (service, operation) where their error originates
  (:func:`probes.traces.paths.error_origin`), largest share first, each with its path, message,
  status, an example trace and when it first appeared;
- onset: the change point of failing traces in the window against the baseline's ratio.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from diagnostics import Entity, Finding, Measurement, Severity
from probes.traces.onset import change_point
from probes.traces.paths import Origin, TraceShape

MAX_ORIGINS_SHOWN = 5


@dataclass(frozen=True, slots=True, kw_only=True)
class Rates:
    """Failing and total entry requests (traces, or span-metric counts) in one time range."""

    failing: float
    total: float

    @property
    def ratio(self) -> float:
        return self.failing / self.total if self.total > 0 else 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorLimits:
    """The thresholds of :func:`judge_errors` (from ``probes.traces.errors``)."""

    min_failing: int
    min_ratio_increase: float
    min_z: float
    critical_ratio: float
    min_traces: int


@dataclass(frozen=True, slots=True, kw_only=True)
class OriginGroup:
    """The failing traces whose error originates in one (service, operation)."""

    origin: Origin
    traces: int
    share: float
    example_trace_id: str
    first_us: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorVerdict:
    """An entry service whose traces fail more than in the baseline, and why."""

    entry_service: str
    window: Rates
    baseline: Rates
    z: float
    origins: tuple[OriginGroup, ...]
    failing_examined: int
    onset_us: int | None
    source: str
    """``traces`` or ``span metrics``: where the rates come from."""


def z_score(window: Rates, baseline: Rates) -> float:
    """Two-proportion z statistic of the window's ratio above the baseline's."""
    if window.total <= 0 or baseline.total <= 0:
        return 0.0
    pooled = (window.failing + baseline.failing) / (window.total + baseline.total)
    spread = math.sqrt(max(pooled * (1 - pooled), 1e-12) * (1 / window.total + 1 / baseline.total))
    return (window.ratio - baseline.ratio) / spread


def is_elevated(window: Rates, baseline: Rates, limits: ErrorLimits) -> bool:
    """True when the window fails clearly more than the baseline."""
    if window.failing < limits.min_failing or baseline.total < limits.min_traces:
        return False
    # a baseline without failures is taken as one failure in (total + 1): a ratio, not zero
    floor = max(baseline.ratio, 1.0 / (baseline.total + 1))
    return window.ratio >= limits.min_ratio_increase * floor and z_score(window, baseline) >= limits.min_z


def group_origins(failing: Iterable[TraceShape]) -> tuple[OriginGroup, ...]:
    """Failing traces grouped by where their error originates, largest group first."""
    groups: dict[tuple[str, str, str], list[TraceShape]] = defaultdict(list)
    for shape in failing:
        if shape.origin is not None:
            origin = shape.origin
            groups[(origin.service, origin.operation, origin.unreachable)].append(shape)
    total = sum(len(members) for members in groups.values())
    result = []
    for members in groups.values():
        members.sort(key=lambda s: s.start_us)
        # the most common path, message and status of the group describe it
        path = Counter(m.origin.path for m in members if m.origin).most_common(1)[0][0]
        message = Counter(m.origin.message for m in members if m.origin).most_common(1)[0][0]
        status = Counter(m.origin.status for m in members if m.origin).most_common(1)[0][0]
        first = members[0].origin
        assert first is not None
        example = members[-1]
        result.append(
            OriginGroup(
                origin=Origin(
                    service=first.service,
                    operation=first.operation,
                    path=path,
                    message=message,
                    status=status,
                    unreachable=first.unreachable,
                ),
                traces=len(members),
                share=len(members) / total,
                example_trace_id=example.trace_id,
                first_us=members[0].start_us,
            )
        )
    return tuple(sorted(result, key=lambda g: (-g.traces, g.origin.service, g.origin.operation)))


def judge_errors(
    entry_service: str,
    *,
    window: Sequence[TraceShape],
    baseline: Sequence[TraceShape],
    failing: Sequence[TraceShape],
    limits: ErrorLimits,
    rates: tuple[Rates, Rates] | None = None,
) -> ErrorVerdict | None:
    """The verdict on one entry service, or None when its traces fail no more than before.

    ``window`` and ``baseline`` are unfiltered samples (their failing share is the ratio, unless
    ``rates`` from span metrics are given); ``failing`` adds failing traces fetched on their own.
    """
    if rates is None:
        if len(window) < limits.min_traces:
            return None
        window_rates = Rates(failing=sum(s.failed for s in window), total=len(window))
        baseline_rates = Rates(failing=sum(s.failed for s in baseline), total=len(baseline))
    else:
        window_rates, baseline_rates = rates
    if not is_elevated(window_rates, baseline_rates, limits):
        return None
    by_id = {s.trace_id: s for s in (*window, *failing) if s.failed}
    origins = group_origins(by_id.values())
    if not origins:
        return None
    ordered = sorted(window, key=lambda s: s.start_us)
    onset = change_point([s.start_us for s in ordered], [s.failed for s in ordered], baseline_rates.ratio)
    if onset is None:  # the window sample holds no failing trace: the first one fetched
        onset = origins[0].first_us
    return ErrorVerdict(
        entry_service=entry_service,
        window=window_rates,
        baseline=baseline_rates,
        z=z_score(window_rates, baseline_rates),
        origins=origins,
        failing_examined=len(by_id),
        onset_us=onset,
        source="traces" if rates is None else "span metrics",
    )


def _clock(micros: int) -> datetime:
    return datetime.fromtimestamp(micros / 1_000_000, tz=UTC)


def where(origin: Origin) -> str:
    """``payments POST /charge`` or ``checkout POST /charge -> payments (unreachable)``."""
    if origin.unreachable:
        return f"{origin.service} {origin.operation} -> {origin.unreachable} (unreachable)"
    return f"{origin.service} {origin.operation}"


def error_finding(
    verdict: ErrorVerdict,
    *,
    make: Callable[..., Finding],
    link: Callable[[str], str],
    limits: ErrorLimits,
    bounds: Mapping[str, int | float | list[str]],
) -> Finding:
    """The finding of one verdict: the dominant origin, with the others in the details."""
    top = verdict.origins[0]
    origin = top.origin
    onset = _clock(verdict.onset_us) if verdict.onset_us is not None else None
    since = f" since {onset:%H:%M:%S} UTC" if onset else ""
    path = " -> ".join(origin.path)
    failing = verdict.window.failing
    title = (
        f"errors of {verdict.entry_service} originate in {where(origin)} (via {path}) "
        f"in {top.share:.0%} of {verdict.failing_examined} failing traces{since}"
    )
    service = origin.unreachable or origin.service
    attributes = {"operation": origin.operation, "entry_service": verdict.entry_service}
    if origin.unreachable:
        attributes["called_by"] = origin.service
    severity = Severity.CRITICAL if verdict.window.ratio >= limits.critical_ratio else Severity.WARNING
    return make(
        kind="trace_errors",
        severity=severity,
        title=title,
        summary=(
            f"{verdict.window.ratio:.1%} of {verdict.entry_service}'s requests fail "
            f"({verdict.baseline.ratio:.1%} in the baseline, from {verdict.source}); "
            f"the errors originate in {where(origin)}" + (f": {origin.message}" if origin.message else "")
        ),
        entity=Entity(kind="service", name=service, attributes=attributes),
        key=verdict.entry_service,
        onset=onset,
        values=(
            Measurement(name="error_ratio", value=round(verdict.window.ratio, 4), unit="ratio"),
            Measurement(name="baseline_error_ratio", value=round(verdict.baseline.ratio, 4), unit="ratio"),
            Measurement(name="failing_requests", value=round(failing, 1), unit="count"),
            Measurement(name="origin_share", value=round(top.share, 4), unit="ratio"),
            Measurement(name="failing_traces_examined", value=verdict.failing_examined, unit="count"),
        ),
        details={
            "entry_service": verdict.entry_service,
            "origin_service": origin.service,
            "origin_operation": origin.operation,
            "unreachable": origin.unreachable or None,
            "path": list(origin.path),
            "message": origin.message or None,
            "status": origin.status or None,
            "example_trace_id": top.example_trace_id,
            "example_link": link(top.example_trace_id),
            "rates_from": verdict.source,
            "z": round(verdict.z, 2),
            "origins": [
                {
                    "service": g.origin.service,
                    "operation": g.origin.operation,
                    "unreachable": g.origin.unreachable or None,
                    "path": list(g.origin.path),
                    "traces": g.traces,
                    "share": round(g.share, 4),
                    "message": g.origin.message or None,
                    "example_trace_id": g.example_trace_id,
                }
                for g in verdict.origins[:MAX_ORIGINS_SHOWN]
            ],
            "bounds": {k: list(v) if isinstance(v, list) else v for k, v in bounds.items()},
        },
        next_steps=(
            f"Open an example trace: {link(top.example_trace_id)}",
            f"Check what changed in {service} (rollout, configuration, its own dependencies) around {onset:%H:%M:%S} UTC"
            if onset
            else f"Check what changed in {service}",
        ),
    )
