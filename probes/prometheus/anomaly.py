"""Does a series depart from its own normal behaviour? Pure, vectorized functions over arrays.

Every series of a query is one row; all rows are judged at once with numpy (no Python loop per
point or per series). The method, for each row:

1. **Normal behaviour from the baseline** (e.g. the 7 days before the diagnosed window): the
   median level and a robust spread, 1.4826 x the median absolute deviation (MAD), falling back
   to 1.2533 x the mean absolute deviation when more than half the points equal the median.
2. **Seasonality**: the baseline is folded into days; the median of the same time of day over
   the days before the last one is the *daily profile*. When it predicts the last baseline day
   with a spread at most ``seasonality_gain`` x the level spread, the series is seasonal: it is
   expected to follow its profile.
3. **Departure**: robust z = (value - expected) / spread. A point is out when
   ``|z| >= threshold`` *and* the absolute deviation is at least ``min_deviation`` *and* at
   least ``min_relative`` x the series' typical magnitude (median |value|), so flat series and
   tiny ratios do not alarm on noise; *and* it departs as much, on the same side, from the same
   time a day earlier and a week earlier (seasonal series) or from the last baseline day's
   level (others): a level held for a day is the new normal, a pattern of last week is not news.
4. **Persistence**: only a run of at least ``persistence`` consecutive out points, all on the
   same side, that reaches into the diagnosed window counts (spikes, drops and level shifts
   alike); points ``extreme_factor`` x further out *and* beyond anything in the baseline need
   half as many. The latest such run is reported with its peak.
5. **Onset**: from the run, walk back while the series stays beyond ``onset_fraction`` x the
   threshold on the same side (hysteresis): that first point is when the departure began.
6. **Vanished**: a series present in 90 % of the baseline that has had no sample for the last
   ``persistence`` points stopped reporting.

Series with less than ``min_coverage`` of their baseline present (new or sparse series) are not
judged. Counters must be judged through ``rate()``/``increase()``, never raw.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:
    import numpy.typing as npt

    from probes.prometheus.model import SeriesGrid

    FloatArray = npt.NDArray[np.float64]
    Floats = npt.NDArray[np.floating[Any]]
    BoolArray = npt.NDArray[np.bool_]
    IntArray = npt.NDArray[np.int64]

DAY = 86_400.0
WEEK = 7 * DAY
MAD_TO_SIGMA = 1.4826
MEAN_AD_TO_SIGMA = 1.2533
Direction = Literal["up", "down", "both"]


@dataclass(frozen=True, slots=True, kw_only=True)
class DetectorSettings:
    """Thresholds of the detection; points are points of the recent grid."""

    threshold: float = 5.0
    """Robust z-score beyond which a point is out."""
    persistence: int = 12
    """Consecutive out points needed (the caller converts a duration with the grid's step)."""
    onset_fraction: float = 0.5
    extreme_factor: float = 2.0
    """Departures this many times the threshold out, beyond anything in the baseline, need only
    half the persistence (a single sample of a series sampled every 5 minutes)."""
    min_deviation: float = 0.0
    """Absolute floor: smaller departures never count, whatever their z-score."""
    min_relative: float = 0.1
    """Relative floor, times the series' typical magnitude (median of |baseline|)."""
    direction: Direction = "both"
    seasonality_gain: float = 0.7
    min_seasonal_days: int = 3
    weekly_check: bool = True
    recent_check: bool = True
    """Confirm against the last baseline day (its level, or the same time a day earlier when
    seasonal): a level held for most of a day is the new normal, not an incident."""
    min_coverage: float = 0.3
    vanish_coverage: float = 0.9
    level_shift_points: int = 30
    """A run still ongoing after this many points is a level shift rather than a spike or drop."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Observations:
    """Aligned rows of one query: the baseline and the recent range (lead-in + window)."""

    baseline: FloatArray
    """(series, baseline points); NaN where absent or not a finite number."""
    baseline_present: BoolArray
    baseline_start: float
    baseline_step: float
    recent: FloatArray
    """(series, recent points): the diagnosed window, preceded by a lead-in for the onset."""
    recent_present: BoolArray
    recent_start: float
    recent_step: float
    judged_from: float
    """Start of the diagnosed window; departures must reach past it."""

    @property
    def recent_times(self) -> FloatArray:
        return self.recent_start + self.recent_step * np.arange(self.recent.shape[1], dtype=np.float64)


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdicts:
    """One entry per series (row); timestamps are unix seconds, NaN when not applicable."""

    judged: BoolArray
    anomalous: BoolArray
    vanished: BoolArray
    seasonal: BoolArray
    sign: IntArray
    """+1 above normal, -1 below, 0 when not anomalous."""
    score: FloatArray
    """Peak |robust z| of the reported run (0 when not anomalous); ranks findings."""
    level_shift: BoolArray
    ongoing: BoolArray
    onset: FloatArray
    onset_censored: BoolArray
    """The departure was already there at the first recent point: it began earlier."""
    run_end: FloatArray
    peak_time: FloatArray
    peak_value: FloatArray
    peak_expected: FloatArray
    normal_low: FloatArray
    normal_high: FloatArray
    """Normal range at the peak: what the series could be without counting as out."""
    current_value: FloatArray
    current_expected: FloatArray
    day_ago: FloatArray
    week_ago: FloatArray
    """Baseline values a day and a week before the peak."""
    level: FloatArray
    spread: FloatArray
    last_seen: FloatArray


def nanmedian(values: Floats, axis: int = -1) -> Floats:
    """Median ignoring NaN along ``axis`` (vectorized; NaN where a slice is all NaN)."""
    ordered = np.sort(values, axis=axis)  # NaN sort last
    count = np.expand_dims(np.sum(~np.isnan(values), axis=axis), axis)
    low = np.take_along_axis(ordered, np.maximum((count - 1) // 2, 0), axis=axis)
    high = np.take_along_axis(ordered, count // 2, axis=axis)
    middle = np.squeeze((low + high) / 2, axis=axis)
    return np.where(np.squeeze(count, axis=axis) > 0, middle, np.nan)


def nanmean(values: Floats, axis: int = -1) -> Floats:
    """Mean ignoring NaN, without numpy's warning on all-NaN slices."""
    finite = ~np.isnan(values)
    count = finite.sum(axis=axis)
    total = np.where(finite, values, 0).sum(axis=axis)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def robust_spread(values: Floats, center: Floats) -> Floats:
    """Per row: 1.4826 x MAD around ``center``; 1.2533 x mean absolute deviation when the MAD is 0."""
    deviation = np.abs(values - center[:, None])
    spread = MAD_TO_SIGMA * nanmedian(deviation)
    flat = np.flatnonzero(spread == 0)  # more than half the points equal the median
    if len(flat):
        spread[flat] = MEAN_AD_TO_SIGMA * nanmean(deviation[flat])
    return spread


def run_lengths(mask: BoolArray) -> IntArray:
    """For each position, the length of the run of True ending there (0 where False)."""
    index = np.arange(mask.shape[1])
    last_false = np.maximum.accumulate(np.where(mask, -1, index), axis=1)
    return np.where(mask, index - last_false, 0)


def last_true(mask: BoolArray) -> IntArray:
    """Index of the last True of each row, -1 when none."""
    width = mask.shape[1]
    found = mask.any(axis=1)
    return np.where(found, width - 1 - np.argmax(mask[:, ::-1], axis=1), -1)


def _pick(array: npt.NDArray[Any], columns: IntArray) -> npt.NDArray[Any]:
    """``array[i, columns[i]]`` for every row (columns clipped into range)."""
    safe = np.clip(columns, 0, array.shape[1] - 1)
    return np.take_along_axis(array, safe[:, None], axis=1)[:, 0]


def _rows(array: FloatArray, columns: IntArray) -> FloatArray:
    """``array[i, columns[i]]`` for every row, NaN where the column is -1."""
    return np.where(columns >= 0, _pick(array, columns).astype(np.float64), np.nan)


@dataclass(frozen=True, slots=True)
class _Normal:
    """Expected values and spread of every row over the recent grid."""

    expected: FloatArray
    spread: FloatArray
    level: FloatArray
    typical: FloatArray
    seasonal: BoolArray
    day_ago: FloatArray
    week_ago: FloatArray
    coverage: FloatArray
    recent_level: FloatArray
    lowest: FloatArray
    highest: FloatArray


def normal_behaviour(obs: Observations, settings: DetectorSettings) -> _Normal:
    """Level, spread, daily profile and week-ago values from the baseline (see module doc)."""
    baseline = obs.baseline
    rows, width = baseline.shape
    finite = np.isfinite(baseline)
    coverage = finite.sum(axis=1) / max(width, 1)
    clean = np.where(finite, baseline, np.nan)
    lowest, highest = np.fmin.reduce(clean, axis=1), np.fmax.reduce(clean, axis=1)  # NaN-skipping
    # centred on the mid-range then float32: halves the sorting time, keeps the rows' precision
    reference = np.nan_to_num((lowest + highest) / 2)
    centred = (clean - reference[:, None]).astype(np.float32)
    level32 = nanmedian(centred)
    spread = robust_spread(centred, level32).astype(np.float64)
    level = level32.astype(np.float64) + reference
    typical = np.abs(level)
    crossing = np.flatnonzero((lowest < 0) & (highest > 0))  # only there is median |x| not |median|
    if len(crossing):
        typical[crossing] = nanmedian(np.abs(clean[crossing])).astype(np.float64)
    times = obs.recent_times
    expected = np.broadcast_to(level[:, None], obs.recent.shape).copy()
    seasonal = np.zeros(rows, dtype=bool)
    day_points = DAY / obs.baseline_step
    days = int(width // day_points) if day_points == int(day_points) else 0
    if days >= settings.min_seasonal_days:
        period = int(day_points)
        folded = centred[:, width - days * period :].reshape(rows, days, period)
        earlier = nanmedian(folded[:, :-1, :], axis=1)
        last_day_spread = robust_spread(folded[:, -1, :] - earlier, np.zeros(rows, np.float32))
        profile = earlier.astype(np.float64) + reference[:, None]
        seasonal = (coverage >= settings.min_coverage) & (
            last_day_spread.astype(np.float64) < settings.seasonality_gain * spread
        )
        first_day = obs.baseline_start + (width - days * period) * obs.baseline_step
        phase = np.rint(((times - first_day) % DAY) / obs.baseline_step).astype(np.int64) % period
        expected = np.where(seasonal[:, None], profile[:, phase], expected)
        spread = np.where(seasonal, last_day_spread.astype(np.float64), spread)
    day_ago = _values_before(obs, times, DAY)
    week_ago = _values_before(obs, times, WEEK)
    last_day = max(1, min(width, int(DAY // obs.baseline_step)))
    recent_level = nanmedian(centred[:, width - last_day :]).astype(np.float64) + reference
    return _Normal(
        expected=expected,
        spread=spread,
        level=level,
        typical=typical,
        seasonal=seasonal,
        day_ago=day_ago,
        week_ago=week_ago,
        coverage=coverage,
        recent_level=recent_level,
        lowest=lowest,
        highest=highest,
    )


def _values_before(obs: Observations, times: FloatArray, lag: float) -> FloatArray:
    """Baseline values ``lag`` before each recent time: median of the 3 nearest points."""
    column = np.rint((times - lag - obs.baseline_start) / obs.baseline_step).astype(np.int64)
    width = obs.baseline.shape[1]
    nearby = []
    for offset in (-1, 0, 1):
        at = column + offset
        inside = (at >= 0) & (at < width)
        nearby.append(np.where(inside[None, :], obs.baseline[:, np.clip(at, 0, width - 1)], np.nan))
    before, here, after = nearby
    # median of three with fmin/fmax, which skip NaN (two values give the larger)
    return np.fmax(np.fmin(before, here), np.fmin(np.fmax(before, here), after))


def _latest_run(
    out: BoolArray, extreme: BoolArray, first_judged: int, persistence: int, extreme_persistence: int
) -> tuple[BoolArray, IntArray, IntArray]:
    """The latest run of out points reaching ``first_judged`` that lasted ``persistence``
    points, or ``extreme_persistence`` points of extreme departure: (has, start, end)."""
    lengths = run_lengths(out)
    qualifying = (lengths >= persistence) | (run_lengths(extreme) >= extreme_persistence)
    qualifying[:, :first_judged] = False
    last = last_true(qualifying)
    has = last >= 0
    # extend to the end of the out run holding the last qualifying point
    after = np.where(out, 0, 1).cumsum(axis=1)
    run_id = _pick(after, last)
    end = np.where(has, last_true(out & (after == run_id[:, None])), -1)
    start = np.where(has, end - _pick(lengths, end) + 1, -1)
    return has, start, end


@dataclass(frozen=True, slots=True)
class _Departures:
    """Per point of the recent grid: robust z, deviation, and which points are out."""

    z: FloatArray
    deviation: FloatArray
    spread: FloatArray
    floor: FloatArray
    out: BoolArray
    soft: BoolArray


def _departures(recent: FloatArray, normal: _Normal, settings: DetectorSettings) -> _Departures:
    """Steps 3 of the method: z-scores, floors, and the day/week/last-day confirmations."""
    spread = np.maximum(normal.spread, 1e-12 * np.maximum(np.abs(normal.level), 1.0))
    deviation = recent - normal.expected
    with np.errstate(invalid="ignore"):
        z = deviation / spread[:, None]
        floor = np.maximum(settings.min_deviation, settings.min_relative * normal.typical)
        out = (np.abs(z) >= settings.threshold) & (np.abs(deviation) >= floor[:, None])
        references = []
        if settings.weekly_check:
            references.append(np.where(normal.seasonal[:, None], normal.week_ago, np.nan))
        if settings.recent_check:
            references.append(
                np.where(normal.seasonal[:, None], normal.day_ago, normal.recent_level[:, None])
            )
        for reference in references:
            gap = recent - reference
            held = (np.abs(gap) >= settings.threshold * spread[:, None]) & (
                np.sign(gap) == np.sign(deviation)
            )
            out &= ~np.isfinite(reference) | held
        soft = np.abs(z) >= settings.threshold * settings.onset_fraction
    return _Departures(z=z, deviation=deviation, spread=spread, floor=floor, out=out, soft=soft)


def _latest_departure(
    recent: FloatArray,
    normal: _Normal,
    found: _Departures,
    judged: BoolArray,
    first_judged: int,
    settings: DetectorSettings,
) -> tuple[IntArray, IntArray, IntArray, BoolArray]:
    """Step 4: the latest persistent run on either side: (sign, start, end, soft points of that side)."""
    rows = recent.shape[0]
    sign_of = np.zeros(rows, dtype=np.int64)
    start = np.full(rows, -1, dtype=np.int64)
    end = np.full(rows, -1, dtype=np.int64)
    soft_side = np.zeros_like(recent, dtype=bool)
    for sign in (1, -1):
        if settings.direction == ("down" if sign > 0 else "up"):
            continue
        side = (np.sign(found.deviation) == sign) & judged[:, None]
        unseen = recent > normal.highest[:, None] if sign > 0 else recent < normal.lowest[:, None]
        far = np.abs(found.z) >= settings.extreme_factor * settings.threshold
        has, run_start, run_end = _latest_run(
            found.out & side,
            found.out & side & unseen & far,
            first_judged,
            settings.persistence,
            max(2, settings.persistence // 2),
        )
        later = has & (run_end > end)  # the most recent departure wins
        sign_of = np.where(later, sign, sign_of)
        start = np.where(later, run_start, start)
        end = np.where(later, run_end, end)
        soft_side = np.where(later[:, None], found.soft & side, soft_side)
    return sign_of, start, end, soft_side


def judge(obs: Observations, settings: DetectorSettings) -> Verdicts:
    """Judge every row of ``obs`` against its own baseline (see the module docstring)."""
    normal = normal_behaviour(obs, settings)
    recent = np.where(np.isfinite(obs.recent), obs.recent, np.nan)
    rows, width = recent.shape
    index = np.arange(width)
    times = obs.recent_times
    first_judged = int(np.searchsorted(times, obs.judged_from - 1e-6))
    found = _departures(recent, normal, settings)
    judged = (normal.coverage >= settings.min_coverage) & (
        np.isfinite(recent).sum(axis=1) >= settings.persistence
    )
    sign_of, start, end, soft_side = _latest_departure(recent, normal, found, judged, first_judged, settings)
    anomalous = end >= 0
    # step 5, onset: walk back from the run's start while the series stays beyond the soft threshold
    last_not_soft = np.maximum.accumulate(np.where(soft_side, -1, index), axis=1)
    onset_index = np.where(anomalous, np.minimum(_pick(last_not_soft, start) + 1, start), -1)
    in_run = anomalous[:, None] & (index >= start[:, None]) & (index <= end[:, None])
    strength = np.where(in_run, np.abs(np.nan_to_num(found.z, nan=0.0)), -1.0)
    peak = np.where(anomalous, np.argmax(strength, axis=1), -1)
    last_finite = last_true(np.isfinite(recent))
    ongoing = anomalous & (end >= last_finite)
    half_width = np.where(anomalous, np.maximum(settings.threshold * found.spread, found.floor), np.nan)
    peak_expected = _rows(normal.expected, peak)
    last_present = last_true(obs.recent_present)
    nan = np.full(rows, np.nan)
    return Verdicts(
        judged=judged,
        anomalous=anomalous,
        vanished=(normal.coverage >= settings.vanish_coverage)
        & (last_present >= 0)
        & (last_present < width - settings.persistence),
        seasonal=normal.seasonal,
        sign=sign_of,
        score=np.where(anomalous, _rows(strength, peak), 0.0),
        level_shift=ongoing & (end - start + 1 >= settings.level_shift_points),
        ongoing=ongoing,
        onset=np.where(anomalous, times[np.maximum(onset_index, 0)], nan),
        onset_censored=anomalous & (onset_index == 0),
        run_end=np.where(anomalous, times[np.maximum(end, 0)], nan),
        peak_time=np.where(anomalous, times[np.maximum(peak, 0)], nan),
        peak_value=_rows(recent, peak),
        peak_expected=peak_expected,
        normal_low=peak_expected - half_width,
        normal_high=peak_expected + half_width,
        current_value=_rows(recent, last_finite),
        current_expected=_rows(normal.expected, last_finite),
        day_ago=_rows(normal.day_ago, peak),
        week_ago=_rows(normal.week_ago, peak),
        level=normal.level,
        spread=found.spread,
        last_seen=np.where(last_present >= 0, times[np.maximum(last_present, 0)], nan),
    )


def observations(
    baseline: SeriesGrid, recent: SeriesGrid, judged_from: float
) -> tuple[tuple[Mapping[str, str], ...], Observations]:
    """Align the rows of two range queries of the same PromQL by label set.

    Series only in the baseline (gone before the recent range) are dropped; series only in the
    recent range get an empty baseline (and so are not judged: they are new).
    """
    keys = [tuple(sorted(labels.items())) for labels in recent.labels]
    position = {key: row for row, key in enumerate(keys)}
    base_values = np.full((len(keys), baseline.values.shape[1]), np.nan)
    base_present = np.zeros((len(keys), baseline.values.shape[1]), dtype=bool)
    source = [position.get(tuple(sorted(labels.items())), -1) for labels in baseline.labels]
    rows = np.array(source, dtype=np.int64)
    keep = rows >= 0
    base_values[rows[keep]] = baseline.values[keep]
    base_present[rows[keep]] = baseline.present[keep]
    return recent.labels, Observations(
        baseline=base_values,
        baseline_present=base_present,
        baseline_start=float(baseline.timestamps[0]) if len(baseline.timestamps) else 0.0,
        baseline_step=baseline.step,
        recent=recent.values,
        recent_present=recent.present,
        recent_start=float(recent.timestamps[0]) if len(recent.timestamps) else 0.0,
        recent_step=recent.step,
        judged_from=judged_from,
    )
