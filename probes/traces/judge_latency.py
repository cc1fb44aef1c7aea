"""Pure judging of trace durations: did an entry operation get slower, and where is the time spent?

Per entry operation (the root span's service and operation):

- slower: its p50 or p95 in the window is at least ``ratio_needed`` times the baseline's and
  ``min_increase`` longer. ``ratio_needed`` comes from the baseline itself: it is cut into
  :data:`CHUNKS` time-ordered chunks, and the larger of ``min_ratio`` and 1 + 2 x the chunks'
  relative spread (max - min over median) of that percentile is needed;
- culprit: the (service, operation) whose self time per trace grew most (mean over the traces
  of the window minus the baseline's), with before/after figures and the path to it;
- onset: the change point of traces slower than the baseline's p95.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from diagnostics import Entity, Finding, Measurement, Severity
from probes.traces.onset import change_point
from probes.traces.paths import Operation, TraceShape

CHUNKS = 4
MIN_CHUNK = 5


@dataclass(frozen=True, slots=True, kw_only=True)
class LatencyLimits:
    """The thresholds of :func:`judge_latency` (from ``probes.traces.latency``), in microseconds."""

    min_ratio: float
    min_increase_us: int
    critical_ratio: float
    min_traces: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SelfTimeChange:
    """Mean self time per trace of one (service, operation), before and in the window (µs)."""

    operation: Operation
    before_us: float
    after_us: float

    @property
    def growth_us(self) -> float:
        return self.after_us - self.before_us


@dataclass(frozen=True, slots=True, kw_only=True)
class LatencyVerdict:
    """An entry operation that got slower, and where the time went."""

    entry: Operation
    p50: tuple[float, float]
    p95: tuple[float, float]
    ratio_needed: tuple[float, float]
    """(p50, p95) ratios the window had to reach, from the baseline's spread."""
    culprit: SelfTimeChange
    growth_share: float
    """The culprit's self-time growth over the growth of the entry's p50 (may exceed 1)."""
    window_traces: int
    baseline_traces: int
    example_trace_id: str
    onset_us: int | None


def chunk_spread(durations_in_time_order: npt.NDArray[np.float64], q: float) -> float:
    """Relative spread of the ``q`` percentile over :data:`CHUNKS` consecutive chunks (0 when too few)."""
    size = len(durations_in_time_order) // CHUNKS
    if size < MIN_CHUNK:
        return 0.0
    values = durations_in_time_order[: size * CHUNKS].reshape(CHUNKS, size)
    levels = np.percentile(values, q, axis=1)
    middle = float(np.median(levels))
    return float((levels.max() - levels.min()) / middle) if middle > 0 else 0.0


def self_time_changes(window: Sequence[TraceShape], baseline: Sequence[TraceShape]) -> list[SelfTimeChange]:
    """Mean self time per trace of every (service, operation), largest growth first."""
    sums: dict[Operation, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for index, shapes in ((0, baseline), (1, window)):
        for shape in shapes:
            for operation, micros in shape.self_time_us.items():
                sums[operation][index] += micros
    changes = [
        SelfTimeChange(operation=op, before_us=b / max(len(baseline), 1), after_us=a / max(len(window), 1))
        for op, (b, a) in sums.items()
    ]
    return sorted(changes, key=lambda c: (-c.growth_us, c.operation))


def judge_latency(
    entry: Operation, *, window: Sequence[TraceShape], baseline: Sequence[TraceShape], limits: LatencyLimits
) -> LatencyVerdict | None:
    """The verdict on one entry operation, or None when it is not clearly slower."""
    if len(window) < limits.min_traces or len(baseline) < limits.min_traces:
        return None
    before = sorted(baseline, key=lambda s: s.start_us)
    after = sorted(window, key=lambda s: s.start_us)
    before_d = np.fromiter((s.duration_us for s in before), dtype=np.float64, count=len(before))
    after_d = np.fromiter((s.duration_us for s in after), dtype=np.float64, count=len(after))
    p50 = (float(np.percentile(before_d, 50)), float(np.percentile(after_d, 50)))
    p95 = (float(np.percentile(before_d, 95)), float(np.percentile(after_d, 95)))
    needed = (
        max(limits.min_ratio, 1 + 2 * chunk_spread(before_d, 50)),
        max(limits.min_ratio, 1 + 2 * chunk_spread(before_d, 95)),
    )
    slower = any(
        new >= old * ratio and new - old >= limits.min_increase_us
        for (old, new), ratio in zip((p50, p95), needed, strict=True)
    )
    if not slower:
        return None
    changes = self_time_changes(after, before)
    if not changes or changes[0].growth_us <= 0:
        return None
    culprit = changes[0]
    mean_growth = float(after_d.mean() - before_d.mean())
    # slow = beyond the baseline's p95: about 5 % of baseline traces, many more after the change
    slow = [bool(d > p95[0]) for d in after_d]
    baseline_slow = float(np.mean(before_d > p95[0]))
    onset = change_point([s.start_us for s in after], slow, baseline_slow)
    # the example: the window trace where the culprit spent the most time
    example = max(after, key=lambda s: s.self_time_us.get(culprit.operation, 0))
    return LatencyVerdict(
        entry=entry,
        p50=p50,
        p95=p95,
        ratio_needed=needed,
        culprit=culprit,
        growth_share=culprit.growth_us / mean_growth if mean_growth > 0 else 1.0,
        window_traces=len(after),
        baseline_traces=len(before),
        example_trace_id=example.trace_id,
        onset_us=onset,
    )


def _ms(micros: float) -> float:
    return round(micros / 1000, 2)


def latency_finding(
    verdict: LatencyVerdict,
    *,
    path: tuple[str, ...],
    make: Callable[..., Finding],
    link: Callable[[str], str],
    limits: LatencyLimits,
    bounds: Mapping[str, int | float | list[str]],
) -> Finding:
    """The finding of one verdict."""
    service, operation = verdict.culprit.operation
    entry = f"{verdict.entry[0]} {verdict.entry[1]}"
    onset = datetime.fromtimestamp(verdict.onset_us / 1e6, tz=UTC) if verdict.onset_us is not None else None
    culprit = verdict.culprit
    title = (
        f"{entry} p95 {_ms(verdict.p95[0]):g} -> {_ms(verdict.p95[1]):g} ms; self time of {service} "
        f"{operation} grew {_ms(culprit.before_us):g} -> {_ms(culprit.after_us):g} ms per trace"
    )
    ratio = verdict.p95[1] / verdict.p95[0] if verdict.p95[0] > 0 else float("inf")
    severity = Severity.CRITICAL if ratio >= limits.critical_ratio else Severity.WARNING
    return make(
        kind="trace_latency",
        severity=severity,
        title=title,
        summary=f"{entry} got slower; the time is spent in {service} {operation} (via {' -> '.join(path)})",
        entity=Entity(
            kind="service",
            name=service,
            attributes={
                "operation": operation,
                "entry_service": verdict.entry[0],
                "entry_operation": verdict.entry[1],
            },
        ),
        key=entry,
        onset=onset,
        values=(
            Measurement(name="p50_before", value=_ms(verdict.p50[0]), unit="ms"),
            Measurement(name="p50_after", value=_ms(verdict.p50[1]), unit="ms"),
            Measurement(name="p95_before", value=_ms(verdict.p95[0]), unit="ms"),
            Measurement(name="p95_after", value=_ms(verdict.p95[1]), unit="ms"),
            Measurement(name="self_time_before", value=_ms(culprit.before_us), unit="ms"),
            Measurement(name="self_time_after", value=_ms(culprit.after_us), unit="ms"),
            Measurement(name="traces", value=verdict.window_traces, unit="count"),
            Measurement(name="baseline_traces", value=verdict.baseline_traces, unit="count"),
        ),
        details={
            "entry_service": verdict.entry[0],
            "entry_operation": verdict.entry[1],
            "service": service,
            "operation": operation,
            "path": list(path),
            "growth_share": round(verdict.growth_share, 3),
            "ratio_needed": {
                "p50": round(verdict.ratio_needed[0], 3),
                "p95": round(verdict.ratio_needed[1], 3),
            },
            "example_trace_id": verdict.example_trace_id,
            "example_link": link(verdict.example_trace_id),
            "bounds": {k: list(v) if isinstance(v, list) else v for k, v in bounds.items()},
        },
        next_steps=(f"Open an example trace: {link(verdict.example_trace_id)}",),
    )
