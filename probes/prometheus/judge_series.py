"""Does a series depart from its own normal behaviour? Pure, vectorized functions over arrays.

Every series of a query is one row; all rows are judged at once with numpy. Every rule is
stated in the series' *own samples* (the points it has on the baseline's grid, whatever its
sampling interval) and calibrated on its *own baseline*, so that it holds for series scraped
every 15 s as for hourly recording rules, for a week of history as for a day. For each row:

1. **Grid.** The recent range is judged at the baseline's step and phase, so the recent points
   and the baseline points are the same kind of statistic (a point every ``baseline_step``);
   its finer points only date the onset. A sample seen by two grid points (at the edge of
   Prometheus' lookback) counts once.
2. **Expected value.** Three models: the *level* (median of the baseline), the *daily* one
   (median of the same time on the previous days) and, with two weeks of history, the *weekly*
   one (the same time a week earlier). Each is scored by its mean absolute residual over the
   whole baseline (a model wrong one day in seven loses to one right every day); a seasonal
   model is chosen only when it is below ``seasonality_gain`` x the level model's. Its
   statistics below come only from the points it expects itself (not the baseline's first
   day, where the level stands in).
3. **Calibrated departures.** For each window length ``k`` of ``windows`` (1, 3, 6, 12
   samples), the means of ``k`` consecutive residuals over the baseline form the *null
   distribution of that statistic*: its median, its own robust spread, and its ``rank x k``-th
   most extreme value. A recent window of ``k`` samples departs when its mean residual is at
   least ``threshold`` of those spreads from the median **and** beyond that ranked extreme
   (extremes that recur ``rank`` times in the baseline are normal: a daily batch spike is not
   news) **and** at least the absolute and relative floors. The rank is calibrated on the
   baseline's size: a new window beats the r-th extreme of n with chance r/(n+1), and the
   diagnosed range holds ``m / k`` independent windows of ``k`` of its ``m`` new samples, so
   ``rank`` is lowered (to the most extreme window at least) until the chance that any window
   of any length the baseline can judge passes by chance stays within ``chance``: a week at 5 minutes judged over an
   hour keeps ``rank`` 2, two days must pass a higher extreme. Where even the most extreme
   window is passed too often (a day judged over 4 hours), the window must pass it by the
   tail's own scale x ln(1 / wanted rank): an exponential tail extrapolated beyond it. Window
   lengths whose baseline has fewer than ``4 x rank x k`` windows are not used. One
   exceptional sample is judged by ``k = 1``; a long, moderate shift by ``k = 12``. The
   window's residuals must also exceed how far the series usually departs at this time of day
   (the median over previous days of the extreme residual within ``slot_tolerance``): a
   departure it makes every day at this time is normal. So is what it did a week ago: a window
   nearer to the same time a week earlier than to the expected value, and changed from it by
   less than the threshold x the spread of the baseline's day-over-day changes (scaled to the
   window's length), is a weekly habit (a weekend against a daily model of mostly weekdays).
4. **Short history.** With less than ``short_history_days`` of baseline, or less than half of
   it present in the series' own samples, the series is judged with ``short_margin`` x the
   threshold, a window must pass its ranked extreme by at least the floor (a day or two hold
   each daily extreme once or twice: a rough edge of normal), and the verdict says the history
   is short. Fewer than ``min_samples`` baseline samples: not judged.
5. **New normal.** A departure whose side the series already held for ``new_normal_share`` of
   the last baseline day, as far out as the run typically is, is the new normal. A ramp is
   compared with the level it began from (the baseline model, never a reference that moved
   with it): its run lies beyond the last day's upper quartile, so it is reported.
6. **Run, onset, peak.** The samples of departing windows form runs; the latest run reaching
   into the diagnosed window is reported with its peak; it ends at its last sample beyond
   ``onset_fraction`` x the threshold before 3 calm samples. Its onset is found walking back
   from the peak while the residual stays beyond that soft threshold, then on the recent
   range's finer points.
7. **Vanished.** A series present in ``vanish_coverage`` of its own expected samples, silent
   for 2 of its sampling intervals and longer than its longest gap in the baseline, stopped
   reporting (a one-sample gap of an irregular series is not a vanished series).

Rows are judged in chunks of :data:`ROWS_AT_ONCE`, so memory stays bounded. Counters must be judged through ``rate()``/``increase()``, never raw.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Literal

import numpy as np

from probes.prometheus.judge_series_expected import (
    DAY,
    ExpectedValues,
    JudgingGrid,
    expected_values,
    history_of,
    judging_grid,
    longest_gap,
)
from probes.prometheus.robust_stats import (
    Compaction,
    SortedRows,
    last_true,
    nanmedian,
    pick,
    pick_or_nan,
    ranked,
    robust_spread,
    run_lengths,
    running_sums,
    spread_back,
    window_means,
)

if TYPE_CHECKING:
    import numpy.typing as npt

    from probes.prometheus.model import SeriesGrid

    FloatArray = npt.NDArray[np.float64]
    BoolArray = npt.NDArray[np.bool_]
    IntArray = npt.NDArray[np.int64]

__all__ = [
    "DetectorSettings",
    "Observations",
    "Verdicts",
    "judge",
    "nanmedian",
    "observations",
    "robust_spread",
    "run_lengths",
]

Direction = Literal["up", "down", "both"]


@dataclass(frozen=True, slots=True, kw_only=True)
class DetectorSettings:
    """How a departure is judged (see the module docstring); counts are the series' own samples."""

    threshold: float = 4.0
    """Robust z of a window mean against the baseline's means of the same length."""
    rank: int = 2
    """A window mean must also pass the baseline's ``rank x k``-th most extreme mean of its length."""
    chance: float = 0.2
    """At most this chance that some window of the diagnosed range passes its ranked extreme by
    chance alone (all window lengths, both sides); on short baselines the rank is lowered below
    ``rank`` until it holds (see :func:`_wanted_rank`)."""
    windows: tuple[int, ...] = (1, 3, 6, 12)
    onset_fraction: float = 0.5
    min_deviation: float = 0.0
    """Absolute floor: smaller departures never count, whatever their z-score."""
    min_relative: float = 0.1
    """Relative floor, times the series' typical magnitude (median of |baseline|)."""
    direction: Direction = "both"
    seasonality_gain: float = 0.8
    min_seasonal_days: int = 2
    weekly_check: bool = True
    """Consider the weekly model (the same time a week earlier) when history allows."""
    recent_check: bool = True
    """A side held for ``new_normal_share`` of the last baseline day is the new normal, and a
    departure must exceed what the series usually reaches at this time of day."""
    new_normal_share: float = 0.5
    slot_tolerance: float = 1800.0
    """Seconds either side of the same time on previous days that count as "the same time"."""
    usual_windows: int = 12
    """Window lengths up to this are confirmed against the usual extremes at the same time."""
    short_history_days: float = 3.0
    short_margin: float = 1.5
    min_samples: int = 12
    vanish_coverage: float = 0.9
    level_shift_seconds: float = 900.0
    """A run still ongoing after this long is a level shift rather than a spike or drop."""


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
    short_history: BoolArray
    """Judged with a wider margin: less than a few days of baseline, or a sparse one."""
    history_days: FloatArray
    """Days from the first baseline sample to the end of the baseline."""
    interval: FloatArray
    """The series' own sampling interval on the judging grid, in seconds."""
    sign: IntArray
    """+1 above normal, -1 below, 0 when not anomalous."""
    score: FloatArray
    """Peak robust z of the reported run (0 when not anomalous); ranks findings."""
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
    """Normal range of a single sample at the peak."""
    current_value: FloatArray
    current_expected: FloatArray
    day_ago: FloatArray
    week_ago: FloatArray
    """Baseline values a day and a week before the peak."""
    level: FloatArray
    spread: FloatArray
    last_seen: FloatArray


@dataclass(frozen=True, slots=True)
class _Departures:
    """Per compacted sample: residual, single-sample z, and which samples are out on each side."""

    residual: FloatArray
    columns: IntArray
    count: IntArray
    base_count: IntArray
    z: FloatArray
    out_up: BoolArray
    out_down: BoolArray
    soft_up: BoolArray
    soft_down: BoolArray
    center: FloatArray
    spread: FloatArray
    single_low: FloatArray
    single_high: FloatArray


def _departures(
    grid: JudgingGrid, model: ExpectedValues, short: BoolArray, settings: DetectorSettings
) -> _Departures:
    """Step 3: calibrated window tests for every window length, on the compacted residuals."""
    judged_points = grid.present & model.modelled
    moving = Compaction.of(judged_points)
    residuals = grid.values - model.expected
    residual, columns, count = moving.apply(residuals), moving.columns, moving.count
    base_count = judged_points[:, : grid.base_width].sum(axis=1)
    position = np.arange(residual.shape[1])[None, :]
    in_base = position < base_count[:, None]
    judged = (columns >= grid.first_judged) & (position < count[:, None])
    z_needed = settings.threshold * np.where(short, settings.short_margin, 1.0)
    floor = np.maximum(settings.min_deviation, settings.min_relative * model.typical)
    rows = residual.shape[0]
    # windows ending in the diagnosed window (and the usual extremes they are held to) lie in
    # the tail, from the longest window before the first new sample of any row
    tail = max(0, int(base_count.min()) - max(settings.windows)) if len(base_count) else 0
    above_usual = moving.apply(residuals - model.usual_high)[:, tail:]
    below_usual = moving.apply(model.usual_low - residuals)[:, tail:]
    # the same time a week earlier, where the history holds it (a weekend judged against a
    # model of mostly weekdays): the residuals of those samples and their week-over-week change
    week_over_week = moving.apply(grid.values - model.week_ago)[:, tail:]
    with_week = moving.apply(np.where(np.isfinite(model.week_ago), residuals, np.nan))[:, tail:]
    change_spread = _day_over_day_spread(grid, model) if np.isfinite(week_over_week).any() else None
    shortest_spread = None
    # no baseline window ends further right (one column at least, for rows without a baseline)
    base_width = min(residual.shape[1], max(1, int(base_count.max(initial=0))))
    new_samples = judged.sum(axis=1)
    sums = running_sums(residual)  # one running sum for every window length
    out_up = np.zeros(residual.shape, dtype=bool)
    out_down = np.zeros(residual.shape, dtype=bool)
    single = (np.full(rows, np.nan), np.full(rows, np.nan), np.full(rows, np.nan), np.full(rows, np.nan))
    for length in settings.windows:
        means = window_means(residual, length, count, sums=sums)
        base_means = np.where(in_base[:, :base_width], means[:, :base_width], np.nan)
        usable = usable_length(base_count, length, settings)
        wanted = _wanted_rank(base_count, new_samples, length, settings)
        rank = np.maximum(1, np.floor(wanted + 1e-9)).astype(np.int64)
        ordered = SortedRows.of(base_means)
        center = ordered.median()
        spread = robust_spread(base_means, center, ordered).astype(np.float64)
        spread = np.maximum(spread, 1e-12 * np.maximum(np.abs(model.level), 1.0))
        shortest_spread = spread if shortest_spread is None else shortest_spread
        high = ordered.ranked(rank, largest=True)
        low = ordered.ranked(rank, largest=False)
        margin = (z_needed * spread)[:, None]
        recent = means[:, tail:]  # only windows ending in the diagnosed window are judged
        with np.errstate(invalid="ignore"):
            up = judged[:, tail:] & usable[:, None] & (recent - center[:, None] >= margin)
            down = judged[:, tail:] & usable[:, None] & (center[:, None] - recent >= margin)
            up &= (recent > high[:, None]) & (recent >= floor[:, None])
            down &= (recent < low[:, None]) & (-recent >= floor[:, None])
            # a short history's extremes are a rough edge of normal: pass them by the floor;
            # where even the most extreme is passed too often by chance, pass it by as much
            # as its tail says makes up the difference
            beyond_up = beyond_down = np.where(short, floor, 0.0)
            if (wanted < 1.0).any():
                stretch = np.log(1.0 / np.minimum(wanted, 1.0))
                beyond_up = np.fmax(beyond_up, stretch * ordered.tail_scale(largest=True))
                beyond_down = np.fmax(beyond_down, stretch * ordered.tail_scale(largest=False))
            up &= recent - high[:, None] >= beyond_up[:, None]
            down &= low[:, None] - recent >= beyond_down[:, None]
            if (
                settings.recent_check and length <= settings.usual_windows
            ):  # a departure the series makes at this time every day is normal
                up &= ~(window_means(above_usual, length) <= 0)
                down &= ~(window_means(below_usual, length) <= 0)
                if change_spread is not None and shortest_spread is not None:
                    # nearer to a week ago than to the expected value, and no departure from
                    # it beyond how much the same time changes from day to day: a weekly
                    # habit, not news
                    change = _window_nanmeans(week_over_week, length)
                    departure = _window_nanmeans(with_week, length)
                    usual_change = (z_needed * change_spread * spread / shortest_spread)[:, None]
                    up &= ~((change < departure / 2) & (change < usual_change))
                    down &= ~((change > departure / 2) & (-change < usual_change))
        # a flagged window covers its own samples only, all of them in the tail
        out_up[:, tail:] |= spread_back(up, length)
        out_down[:, tail:] |= spread_back(down, length)
        if length == 1:
            single = (center, spread, low, high)
    center, spread, low, high = single
    with np.errstate(invalid="ignore"):
        z = (residual - center[:, None]) / spread[:, None]
        soft = settings.onset_fraction * z_needed[:, None]
        soft_up, soft_down = z >= soft, z <= -soft
    if settings.direction == "up":
        out_down[:] = False
    elif settings.direction == "down":
        out_up[:] = False
    return _Departures(
        residual=residual,
        columns=columns,
        count=count,
        base_count=base_count,
        z=z,
        out_up=out_up,
        out_down=out_down,
        soft_up=soft_up,
        soft_down=soft_down,
        center=center,
        spread=spread,
        single_low=np.fmin(low, center - z_needed * spread),
        single_high=np.fmax(high, center + z_needed * spread),
    )


def _day_over_day_spread(grid: JudgingGrid, model: ExpectedValues) -> FloatArray:
    """Robust spread of each row's change from the same time a day earlier over the baseline:
    how much a sample usually differs from a day before, whatever the model (NaN without two
    days). A weekly pattern changes only on two days of seven: the median ignores them."""
    change = (grid.values - model.day_ago)[:, : grid.base_width]
    spread: FloatArray = robust_spread(change, nanmedian(change)).astype(np.float64)
    return spread


def _window_nanmeans(values: FloatArray, length: int) -> FloatArray:
    """Mean of the finite values of each run of ``length`` ending at each position (NaN where
    none is): a window reaching back before the history's first week still has a week-ago
    value for its newer samples."""
    finite = np.isfinite(values)
    sums = window_means(np.where(finite, values, 0.0), length)
    counts = window_means(finite.astype(np.float64), length)
    with np.errstate(invalid="ignore", divide="ignore"):
        means: FloatArray = np.where(counts > 0, sums / counts, np.nan)
    return means


def usable_length(samples: IntArray, length: int, settings: DetectorSettings) -> BoolArray:
    """Rows whose baseline holds enough windows of ``length`` (``4 x rank x length``) to judge one."""
    usable: BoolArray = (samples - length + 1) >= 4 * settings.rank * length
    return usable


def _wanted_rank(
    samples: IntArray, new_samples: IntArray, length: int, settings: DetectorSettings
) -> FloatArray:
    """Per row, the rank of the baseline extreme a window of ``length`` samples must pass:
    ``rank x length``, lowered where the baseline is short for the number of samples judged;
    below 1 (beyond the most extreme window) it is reached by extrapolating the tail.

    A new window beats the r-th most extreme of ``n`` exchangeable baseline windows with
    chance r / (n + 1), and the diagnosed range holds ``new_samples / length`` independent
    windows of this length: with ``rank x length`` the chance that one of them passes by chance
    is about ``rank x new_samples / (n + 1)``, whatever the length. Split evenly over the
    window lengths the baseline can judge and both sides, it must stay within ``chance``:
    ``rank <= chance / (2 x lengths) x (n + 1) / new_samples``. A week at 5 minutes judged over
    an hour (2,016 samples, 12 new) keeps ``rank``; two days (576) must pass a higher extreme."""
    lengths = sum(usable_length(samples, other, settings).astype(np.int64) for other in settings.windows)
    share = settings.chance / (2 * np.maximum(lengths, 1))
    rank = np.minimum(settings.rank, share * (samples + 1) / np.maximum(new_samples, 1))
    wanted: FloatArray = np.maximum(rank * length, 1e-3).astype(np.float64)
    return wanted


def _held_last_day(
    grid: JudgingGrid,
    found: _Departures,
    side: int,
    soft: BoolArray,
    run: BoolArray,
    settings: DetectorSettings,
) -> BoolArray:
    """Step 5: rows whose samples of the last baseline day were mostly beyond normal on this
    side, as far out as the run typically is: a level held for a day is the new normal; a
    ramp, whose run lies beyond the upper quartile of that day, is not."""
    step = float(grid.times[1] - grid.times[0]) if len(grid.times) > 1 else DAY
    day = grid.day_columns or max(1, int(DAY // step))
    columns = found.columns
    last_day = (columns >= grid.base_width - day) & (columns < grid.base_width) & (columns >= 0)
    samples = last_day.sum(axis=1)
    share = (soft & last_day).sum(axis=1) / np.maximum(samples, 1)
    outward = side * found.residual
    then = np.where(last_day, outward, np.nan)
    upper_quartile_then = ranked(then, np.maximum(1, np.ceil(0.25 * samples).astype(np.int64)), largest=True)
    typical_now = nanmedian(np.where(run, outward, np.nan))
    held: BoolArray = (
        settings.recent_check
        & (samples > 0)
        & (share >= settings.new_normal_share)
        & ~(typical_now > upper_quartile_then)
    )
    return held


def _departure_end(run: BoolArray, soft: BoolArray, z: FloatArray, calm: int = 3) -> IntArray:
    """Where the departure of each run ends: its last sample beyond the soft threshold before the
    series stays back within it for ``calm`` samples after the peak. A long window that still
    holds a spike does not stretch the spike to the end of the window."""
    position = np.arange(run.shape[1])
    peak = np.argmax(np.where(run, np.abs(np.nan_to_num(z, nan=0.0)), -1.0), axis=1)
    settled = (run_lengths(~soft) >= calm) & (position[None, :] > peak[:, None])
    back = np.where(settled.any(axis=1), np.argmax(settled, axis=1) - calm + 1, run.shape[1])
    within = run & soft & (position[None, :] >= peak[:, None]) & (position[None, :] < back[:, None])
    end: IntArray = np.maximum(last_true(within), peak)
    return end


def _latest_run(out: BoolArray) -> tuple[BoolArray, IntArray, IntArray]:
    """The latest run of out samples: (has, start, end) in compacted positions."""
    end = last_true(out)
    has = end >= 0
    start = np.where(has, end - pick(run_lengths(out), end) + 1, -1)
    return has, start, end


ROWS_AT_ONCE = 500
"""Rows judged together: the arrays of one chunk stay in the tens of megabytes, whatever the
number of series (10,000 series of 7 days at once would take gigabytes)."""


def judge(obs: Observations, settings: DetectorSettings) -> Verdicts:
    """Judge every row of ``obs`` against its own baseline (see the module docstring), in chunks
    of :data:`ROWS_AT_ONCE` rows so that memory stays bounded."""
    rows = obs.baseline.shape[0]
    if rows <= ROWS_AT_ONCE:
        return _judge_rows(obs, settings)
    parts = [
        _judge_rows(
            replace(
                obs,
                baseline=obs.baseline[first : first + ROWS_AT_ONCE],
                baseline_present=obs.baseline_present[first : first + ROWS_AT_ONCE],
                recent=obs.recent[first : first + ROWS_AT_ONCE],
                recent_present=obs.recent_present[first : first + ROWS_AT_ONCE],
            ),
            settings,
        )
        for first in range(0, rows, ROWS_AT_ONCE)
    ]
    return Verdicts(
        **{name.name: np.concatenate([getattr(p, name.name) for p in parts]) for name in fields(Verdicts)}
    )


def _judge_rows(obs: Observations, settings: DetectorSettings) -> Verdicts:
    """:func:`judge` on rows few enough to judge at once."""
    grid = judging_grid(obs)
    model = expected_values(grid, settings)
    days, interval, short, coverage = history_of(grid, settings)
    found = _departures(grid, model, short, settings)
    rows = grid.values.shape[0]
    judged = (found.base_count >= settings.min_samples) & (found.count > found.base_count)
    sign_of = np.zeros(rows, dtype=np.int64)
    start = np.full(rows, -1, dtype=np.int64)
    end = np.full(rows, -1, dtype=np.int64)
    soft_side = np.zeros(found.residual.shape, dtype=bool)
    for sign, out, soft in ((1, found.out_up, found.soft_up), (-1, found.out_down, found.soft_down)):
        has, run_start, run_end = _latest_run(out & judged[:, None])
        position = np.arange(found.residual.shape[1])
        run = has[:, None] & (position >= run_start[:, None]) & (position <= run_end[:, None])
        run_end = np.where(has, _departure_end(run, soft, found.z), -1)
        has &= ~_held_last_day(grid, found, sign, soft, run, settings)
        later = has & (run_end > end)
        sign_of = np.where(later, sign, sign_of)
        start = np.where(later, run_start, start)
        end = np.where(later, run_end, end)
        soft_side = np.where(later[:, None], soft, soft_side)
    anomalous = end >= 0
    position = np.arange(found.residual.shape[1])
    # step 6: the peak of the run, then the onset: walk back from the peak while the residual
    # stays beyond the soft threshold, not past the first recent sample
    in_run = anomalous[:, None] & (position >= start[:, None]) & (position <= end[:, None])
    strength = np.where(in_run, np.abs(np.nan_to_num(found.z, nan=0.0)), -1.0)
    peak = np.where(anomalous, np.argmax(strength, axis=1), -1)
    last_not_soft = np.maximum.accumulate(np.where(soft_side, -1, position), axis=1)
    onset_at = np.maximum(np.minimum(pick(last_not_soft, peak) + 1, peak), found.base_count)
    onset_at = np.where(anomalous, np.minimum(onset_at, peak), -1)
    last = found.count - 1
    ongoing = anomalous & (end >= last)
    times = grid.times
    step = float(times[1] - times[0]) if len(times) > 1 else obs.baseline_step

    def at_position(where: IntArray) -> FloatArray:
        column = pick_or_nan(found.columns.astype(np.float64), where)
        return np.where(np.isfinite(column), times[np.nan_to_num(column, nan=0).astype(np.int64)], np.nan)

    def grid_value(array: FloatArray, where: IntArray) -> FloatArray:
        column = np.where(where >= 0, pick(found.columns, where), -1)
        return pick_or_nan(array, column)

    onset = _finer_onset(obs, grid, model, found, at_position(onset_at), sign_of)
    ended_at = at_position(end)
    peak_expected = grid_value(model.expected, peak)
    recent_last = last_true(obs.recent_present)
    recent_times = obs.recent_times
    last_seen = np.where(
        recent_last >= 0, recent_times[np.maximum(recent_last, 0)] if len(recent_times) else 0, np.nan
    )
    silent = (recent_times[-1] if len(recent_times) else 0.0) - last_seen
    widest_gap = longest_gap(grid)
    vanished = (
        (coverage >= settings.vanish_coverage)
        & (found.base_count >= settings.min_samples)
        & (silent >= np.maximum(2 * interval, widest_gap + interval) * step)
    )
    return Verdicts(
        judged=judged,
        anomalous=anomalous,
        vanished=vanished,
        seasonal=model.seasonal,
        short_history=short & judged,
        history_days=days,
        interval=interval * step,
        sign=sign_of,
        score=np.where(anomalous, pick_or_nan(strength, peak), 0.0),
        level_shift=ongoing & (ended_at - onset >= settings.level_shift_seconds - 1e-6),
        ongoing=ongoing,
        onset=onset,
        onset_censored=anomalous
        & (onset_at == found.base_count)
        & pick(soft_side, np.maximum(found.base_count - 1, 0))
        & (onset <= obs.recent_start + 1e-6),
        run_end=ended_at,
        peak_time=at_position(peak),
        peak_value=grid_value(grid.values, peak),
        peak_expected=peak_expected,
        normal_low=peak_expected + found.single_low,
        normal_high=peak_expected + found.single_high,
        current_value=grid_value(grid.values, np.where(found.count > 0, last, -1)),
        current_expected=grid_value(model.expected, np.where(found.count > 0, last, -1)),
        day_ago=grid_value(model.day_ago, peak),
        week_ago=grid_value(model.week_ago, peak),
        level=model.level,
        spread=found.spread,
        last_seen=last_seen,
    )


def _finer_onset(
    obs: Observations,
    grid: JudgingGrid,
    model: ExpectedValues,
    found: _Departures,
    onset: FloatArray,
    sign: IntArray,
) -> FloatArray:
    """Step 6 on the recent range's own (finer) points: from the onset found on the judging
    grid, walk back while the series stays beyond the soft threshold on the same side."""
    times = obs.recent_times
    if not len(times) or obs.recent_step >= obs.baseline_step or not np.isfinite(onset).any():
        return onset
    step = obs.baseline_step
    column = np.clip(np.rint((times - grid.times[0]) / step).astype(np.int64), 0, grid.values.shape[1] - 1)
    z_needed = np.abs((found.single_high - found.center) / np.maximum(found.spread, 1e-300))
    with np.errstate(invalid="ignore"):
        z = (obs.recent - model.expected[:, column] - found.center[:, None]) / found.spread[:, None]
        soft = sign[:, None] * z >= 0.5 * np.minimum(z_needed, 1e300)[:, None]
    soft &= obs.recent_present
    position = np.arange(len(times))
    start = np.searchsorted(times, np.nan_to_num(onset, nan=np.inf) - 1e-6)
    last_not_soft = np.maximum.accumulate(np.where(soft, -1, position), axis=1)
    walked = np.minimum(pick(last_not_soft, np.minimum(start, len(times) - 1)) + 1, start)
    finer = times[np.clip(walked, 0, len(times) - 1)]
    return np.where(np.isfinite(onset) & (start < len(times)), np.minimum(finer, onset), onset)


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
