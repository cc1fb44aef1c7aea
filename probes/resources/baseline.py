"""Departures from a series' own baseline, with the metrics probes' anomaly method.

For a rate that has no universal threshold (major page faults, network drops, disk queue depth)
a host is judged against itself: the recent range (the window plus a lead-in for the onset) and
the baseline before it are fetched with two range queries, and
:func:`probes.prometheus.judge_series.judge` says which series departed upwards. Both queries keep
only the series at or past ``floor`` at the diagnosed time (the ``@`` modifier), so a healthy
fleet costs no range query at all and a sick one costs two per signal, whatever its size.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from probes.prometheus.client import nice_step
from probes.prometheus.judge_series import DetectorSettings, judge, observations
from probes.resources import promql
from probes.resources.client import Fetcher, Key, Vector
from probes.resources.problem import OnsetQuery

RECENT_POINTS = 240
BASELINE_POINTS = 720


@dataclass(frozen=True, slots=True, kw_only=True)
class BaselineSettings:
    """How a departure is judged; durations in seconds."""

    baseline: float
    """How far back before the window normal behaviour is learnt."""
    threshold: float
    """Robust z-score beyond which a point departs."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Departure:
    """A series above its normal range now, and since when."""

    value: float
    expected: float
    normal_high: float
    score: float
    onset: float
    onset_censored: bool
    """The departure was already there when the lead-in began: it started earlier still."""


def candidate_filter(
    template: str,
    matchers: Mapping[str, str],
    ranges: promql.Ranges,
    key_labels: tuple[str, ...],
    floor: float,
    at: float,
) -> str:
    """``template`` restricted to the series at or above ``floor`` at unix time ``at``."""
    series = promql.render(template, matchers, ranges)
    pinned = promql.render(template, matchers, ranges, at=at)
    return f"({series}) and on ({', '.join(key_labels)}) (({pinned}) >= {floor:g})"


def departures(
    fetcher: Fetcher,
    current: Vector,
    template: str,
    matchers: Mapping[str, str],
    ranges: promql.Ranges,
    *,
    floor: float,
    window: timedelta,
    settings: BaselineSettings,
) -> dict[Key, Departure]:
    """The series of ``template`` that departed upwards from their baseline and still do."""
    if not any(value >= floor for value in current.values.values()):
        return {}
    at = fetcher.at
    query = candidate_filter(template, matchers, ranges, current.key_labels, floor, at.timestamp())
    judged_from = at - window
    lead_in = window / 2
    recent_step = nice_step((window + lead_in).total_seconds(), RECENT_POINTS, minimum=15.0)
    recent_start = judged_from - lead_in
    recent = fetcher.range(query, recent_start, at, recent_step)
    if not recent.series:
        return {}
    baseline_step = nice_step(settings.baseline, BASELINE_POINTS, minimum=recent_step)
    baseline_end = recent_start - timedelta(seconds=baseline_step)
    baseline = fetcher.range(
        query, baseline_end - timedelta(seconds=settings.baseline), baseline_end, baseline_step
    )
    labels, obs = observations(baseline.grid(), recent.grid(), judged_from.timestamp())
    verdicts = judge(
        obs,
        DetectorSettings(
            threshold=settings.threshold,
            min_deviation=floor,
            direction="up",
        ),
    )
    found: dict[Key, Departure] = {}
    for row in np.flatnonzero(verdicts.anomalous & verdicts.ongoing & (verdicts.sign > 0)):
        key = tuple(labels[row].get(name, "") for name in current.key_labels)
        found[key] = Departure(
            value=float(verdicts.current_value[row]),
            expected=float(verdicts.current_expected[row]),
            normal_high=float(verdicts.normal_high[row]),
            score=float(verdicts.score[row]),
            onset=float(verdicts.onset[row]),
            onset_censored=bool(verdicts.onset_censored[row]),
        )
    return found


def onset_time(departure: Departure | None) -> datetime | None:
    """When ``departure`` began; None without one or when it began before the range it was judged on."""
    if departure is None or departure.onset_censored:
        return None
    return datetime.fromtimestamp(departure.onset, UTC)


def dating(
    departure: Departure | None, threshold: OnsetQuery | None
) -> tuple[datetime | None, OnsetQuery | None, bool]:
    """(onset, onset query, began before the window) of a problem dated by ``departure`` when
    given (a censored departure began before the window), else by the ``threshold`` filter it
    crossed, whose range is looked up later by :func:`~probes.resources.problem.with_onsets`."""
    if departure is None:
        return None, threshold, False
    return onset_time(departure), None, departure.onset_censored
