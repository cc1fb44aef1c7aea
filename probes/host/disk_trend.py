"""Telling a disk that fills from one that churns: pure judging of free-space samples.

A process that writes a 200 MiB file and deletes it a second later makes the free space of a
healthy disk fall fast for that second. Extrapolated, that second says "full in 4 minutes". A
fill counts only when it is *sustained*: the free space falls across the whole observation, never
rises by more than rounding, falls by at least :data:`MIN_MEASURABLE_FILL`, and the rate is a
least-squares fit over every sample. Even then, a trend seen for ``w`` seconds predicts no more
than :data:`EXTRAPOLATION_FACTOR` x ``w`` ahead: a longer time to full is not claimed.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

MIN_MEASURABLE_FILL = 1024 * 1024
"""Bytes the free space must fall over the observation; below this is write noise."""
RISE_TOLERANCE = 64 * 1024
"""A rise of free space larger than this between two samples is a deletion: churn, not a fill."""
EXTRAPOLATION_FACTOR = 24.0
"""A trend observed for w seconds says nothing about the disk beyond 24 w from now (an hour's
trend, a day: resources.nodes applies the same limit to node_exporter history)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FillTrend:
    """A sustained fill: free space falling ``bytes_per_s``, observed for ``observed_s``."""

    bytes_per_s: float
    observed_s: float
    samples: int

    @property
    def horizon_s(self) -> float:
        """How far ahead this trend may be extrapolated."""
        return EXTRAPOLATION_FACTOR * self.observed_s


def still_falling(samples: Sequence[tuple[float, int]]) -> bool:
    """True while every step so far kept the free space from rising (worth observing longer)."""
    return all(b[1] - a[1] <= RISE_TOLERANCE for a, b in itertools.pairwise(samples)) and (
        len(samples) < 2 or samples[0][1] > samples[-1][1]
    )


def sustained_fill(samples: Sequence[tuple[float, int]], *, min_observed_s: float) -> FillTrend | None:
    """The fill rate of ``(seconds, free bytes)`` samples, or None when it is not a sustained fill
    (too short, too small, or free space rose at some step)."""
    if len(samples) < 3:
        return None
    span = samples[-1][0] - samples[0][0]
    if span < min_observed_s or not still_falling(samples):
        return None
    if samples[0][1] - samples[-1][1] < MIN_MEASURABLE_FILL:
        return None
    times = [t - samples[0][0] for t, _ in samples]
    frees = [float(f) for _, f in samples]
    mean_t, mean_f = sum(times) / len(times), sum(frees) / len(frees)
    spread = sum((t - mean_t) ** 2 for t in times)
    if spread <= 0:
        return None
    slope = sum((t - mean_t) * (f - mean_f) for t, f in zip(times, frees, strict=True)) / spread
    if slope >= 0:
        return None
    return FillTrend(bytes_per_s=-slope, observed_s=span, samples=len(samples))
