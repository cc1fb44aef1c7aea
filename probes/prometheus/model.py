"""What the Prometheus API answers, as frozen dataclasses of plain values and numpy arrays.

:mod:`probes.prometheus.client` builds them; judging code and other probes read them. They are
re-exported by the client module, so ``from probes.prometheus.client import Series`` works.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import numpy.typing as npt

    FloatArray = npt.NDArray[np.float64]
    BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True, kw_only=True)
class Sample:
    """One element of an instant vector."""

    labels: Mapping[str, str]
    timestamp: float
    value: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Series:
    """One series of a range query: unix timestamps and values (NaN where Prometheus said NaN)."""

    labels: Mapping[str, str]
    timestamps: FloatArray
    values: FloatArray


@dataclass(frozen=True, slots=True, kw_only=True)
class SeriesGrid:
    """Every series of a range query aligned on the query's evaluation grid."""

    timestamps: FloatArray
    """Shape (points,): the evaluation times start, start + step, ... <= end."""
    values: FloatArray
    """Shape (series, points): NaN where a series has no sample or its value is NaN."""
    present: BoolArray
    """Shape (series, points): True where a sample exists (even a NaN one)."""
    labels: tuple[Mapping[str, str], ...]
    step: float


@dataclass(frozen=True, slots=True, kw_only=True)
class RangeResult:
    """The answer to one ``query_range``."""

    query: str
    start: float
    end: float
    step: float
    series: tuple[Series, ...]

    def grid(self) -> SeriesGrid:
        """The series as aligned matrices (vectorized per series, not per point)."""
        points = round((self.end - self.start) / self.step) + 1
        timestamps = self.start + self.step * np.arange(points, dtype=np.float64)
        values = np.full((len(self.series), points), np.nan)
        present = np.zeros((len(self.series), points), dtype=bool)
        for row, series in enumerate(self.series):
            index = np.rint((series.timestamps - self.start) / self.step).astype(np.int64)
            keep = (index >= 0) & (index < points)
            values[row, index[keep]] = series.values[keep]
            present[row, index[keep]] = True
        return SeriesGrid(
            timestamps=timestamps,
            values=values,
            present=present,
            labels=tuple(s.labels for s in self.series),
            step=self.step,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ActiveAlert:
    """An alert Prometheus currently holds pending or firing (``/api/v1/alerts``)."""

    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    state: str
    active_at: datetime | None
    value: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertRule:
    """An alerting rule as loaded by Prometheus (``/api/v1/rules?type=alert``)."""

    name: str
    query: str
    group: str
    for_seconds: float
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    health: str
    last_error: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ScrapeTarget:
    """An active scrape target and the result of its last scrape (``/api/v1/targets``)."""

    job: str
    instance: str
    labels: Mapping[str, str]
    scrape_url: str
    health: str
    last_error: str
    last_scrape: datetime | None
    last_scrape_duration_s: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricMetadata:
    """What the scraped targets say a metric is (``/api/v1/metadata``)."""

    metric: str
    type: str
    help: str
    unit: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ManagedAlert:
    """An alert held by Alertmanager (``/api/v2/alerts``)."""

    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    state: str
    """``active``, ``suppressed`` (silenced or inhibited) or ``unprocessed``."""
    starts_at: datetime | None
    ends_at: datetime | None
    silenced_by: tuple[str, ...]
    inhibited_by: tuple[str, ...]
    receivers: tuple[str, ...]


def parse_time(text: Any) -> datetime | None:
    """An RFC 3339 time from the API, or None for absent and zero times."""
    if not isinstance(text, str) or not text or text.startswith("0001-01-01"):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


def joined_series(parts: Sequence[Sequence[Series]]) -> tuple[Series, ...]:
    """The series of consecutive slices of one range query joined by label set, in the order
    they first appear; a series missing from a slice simply has no points there."""
    points: dict[tuple[tuple[str, str], ...], list[Series]] = {}
    for part in parts:
        for series in part:
            points.setdefault(tuple(sorted(series.labels.items())), []).append(series)
    return tuple(
        pieces[0]
        if len(pieces) == 1
        else Series(
            labels=pieces[0].labels,
            timestamps=np.concatenate([piece.timestamps for piece in pieces]),
            values=np.concatenate([piece.values for piece in pieces]),
        )
        for pieces in points.values()
    )
