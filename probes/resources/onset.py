"""When did a breach begin? Pure functions over range queries whose series exist only in breach.

An onset query is a threshold filter (``node_load1 / cores >= 1.5``) evaluated over the
diagnosed window: a series has a point wherever its entity was past the threshold, so only
breaching entities come back, whatever the size of the fleet.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

import numpy as np

from probes.prometheus.client import RangeResult
from probes.resources.fetch import Key


def _key(labels: Mapping[str, str], key_labels: tuple[str, ...]) -> Key:
    return tuple(labels.get(name, "") for name in key_labels)


def breach_onsets(result: RangeResult, key_labels: tuple[str, ...]) -> dict[Key, float]:
    """Per key, the start (unix seconds) of the latest unbroken run of breaching points.

    A gap of one missing point is tolerated (a late scrape), two are not.
    """
    onsets: dict[Key, float] = {}
    for series in result.series:
        present = series.timestamps[~np.isnan(series.values)]
        if present.size == 0:
            continue
        gaps = np.flatnonzero(np.diff(present) > 2.5 * result.step)
        start = float(present[gaps[-1] + 1] if gaps.size else present[0])
        key = _key(series.labels, key_labels)
        onsets[key] = min(start, onsets.get(key, start))
    return onsets


def first_events(result: RangeResult, key_labels: tuple[str, ...]) -> dict[Key, float]:
    """Per key, the first point (unix seconds) at which an event query saw an event."""
    firsts: dict[Key, float] = {}
    for series in result.series:
        present = series.timestamps[~np.isnan(series.values)]
        if present.size:
            key = _key(series.labels, key_labels)
            firsts[key] = min(float(present[0]), firsts.get(key, float(present[0])))
    return firsts


def earliest(onsets: Mapping[Key, float], keys: Iterable[Key]) -> datetime | None:
    """The earliest onset among ``keys`` (a workload's containers), as a UTC time."""
    found = [onsets[k] for k in keys if k in onsets]
    return datetime.fromtimestamp(min(found), UTC) if found else None
