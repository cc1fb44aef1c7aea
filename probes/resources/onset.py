"""When did a breach begin? Pure functions over range queries whose series exist only in breach.

An onset query is a threshold filter (``node_load1 / cores >= 1.5``) evaluated over the
diagnosed window: a series has a point wherever its entity was past the threshold, so only
breaching entities come back, whatever the size of the fleet. A breach that already held at the
range's first point began before the range: its onset is unknown, and said so
(:attr:`Onset.before_range`), rather than reported as the range's start.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from probes.prometheus.client import RangeResult
from probes.resources.client import Key

TOLERATED_GAP = 2.5
"""Steps between two points of one run: one missing point (a late evaluation) is tolerated."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Onset:
    """When a breach or an event began, as far as one range query shows."""

    at: float
    """Unix seconds of the run's first point (the range's start when :attr:`before_range`)."""
    before_range: bool = False
    """The breach already held at the range's first point: it began earlier, at an unknown time."""


def _key(labels: Mapping[str, str], key_labels: tuple[str, ...]) -> Key:
    return tuple(labels.get(name, "") for name in key_labels)


def _runs(result: RangeResult, key_labels: tuple[str, ...], gap: float) -> Iterable[tuple[Key, np.ndarray]]:
    """Per series, its key and the start of each run of points (breaks where points are ``gap`` steps apart)."""
    for series in result.series:
        present = series.timestamps[~np.isnan(series.values)]
        if present.size:
            breaks = np.flatnonzero(np.diff(present) > gap * result.step) + 1
            yield _key(series.labels, key_labels), present[np.concatenate(([0], breaks))]


def breach_onsets(result: RangeResult, key_labels: tuple[str, ...]) -> dict[Key, Onset]:
    """Per key, the start of the latest unbroken run of breaching points.

    A gap of one missing point is tolerated (a late scrape), two are not. A run that reaches
    back to the range's first point (with the same tolerance) began before the range.
    """
    onsets: dict[Key, Onset] = {}
    for key, starts in _runs(result, key_labels, TOLERATED_GAP):
        start = float(starts[-1])
        onset = Onset(at=start, before_range=start - result.start < (TOLERATED_GAP - 1) * result.step)
        onsets[key] = min(onset, onsets.get(key, onset), key=_order)
    return onsets


def first_events(result: RangeResult, key_labels: tuple[str, ...]) -> dict[Key, Onset]:
    """Per key, the first point at which an event query saw an event."""
    firsts: dict[Key, Onset] = {}
    for key, starts in _runs(result, key_labels, TOLERATED_GAP):
        onset = Onset(at=float(starts[0]))
        firsts[key] = min(onset, firsts.get(key, onset), key=_order)
    return firsts


def last_events(result: RangeResult, key_labels: tuple[str, ...]) -> dict[Key, Onset]:
    """Per key, when an event query's last run of points began: the latest event (or burst)."""
    lasts: dict[Key, Onset] = {}
    for key, starts in _runs(result, key_labels, 1.5):  # an event query has no late points
        onset = Onset(at=float(starts[-1]))
        lasts[key] = max(onset, lasts.get(key, onset), key=_order)
    return lasts


def earliest(onsets: Mapping[Key, Onset], keys: Iterable[Key]) -> Onset | None:
    """The earliest onset among ``keys`` (a workload's containers); one before the range wins."""
    found = [onsets[k] for k in keys if k in onsets]
    return min(found, key=_order) if found else None


def _order(onset: Onset) -> tuple[bool, float]:
    return (not onset.before_range, onset.at)
