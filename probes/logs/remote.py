"""What the remote backends' clients share: histograms on the plan's minutes, capped raw lines."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from probes.logs.model import STEP, LogEvent, ReadPlan


def histogram(points: Iterable[tuple[float, float]], start: float, minutes: int) -> np.ndarray:
    """Per-minute counts from (unix time of the bucket's start, count) pairs."""
    counts = np.zeros(minutes, dtype=np.float64)
    for time, value in points:
        minute = round((time - start) / STEP)
        if 0 <= minute < minutes:
            counts[minute] += value
    return counts


def ranges(plan: ReadPlan) -> tuple[tuple[float, float], tuple[float, float]]:
    """The baseline (lead-in included) and the window: raw error lines are fetched for each."""
    return (plan.start, plan.window_start), (plan.window_start, plan.at)


def keep_sorted(events: list[LogEvent]) -> tuple[LogEvent, ...]:
    return tuple(sorted(events, key=lambda e: e.time))
