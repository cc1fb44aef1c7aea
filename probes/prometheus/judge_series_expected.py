"""The judging grid and the expected value of every point: step 1, 2 and the history facts of
the anomaly method (:mod:`probes.prometheus.judge_series`). Pure functions over all rows at once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from probes.prometheus.robust_stats import Compaction, median_across, nanmean, nanmedian, sliding_extreme

if TYPE_CHECKING:
    import numpy.typing as npt

    from probes.prometheus.judge_series import DetectorSettings, Observations

    FloatArray = npt.NDArray[np.float64]
    BoolArray = npt.NDArray[np.bool_]
    IntArray = npt.NDArray[np.int64]

DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class JudgingGrid:
    """Baseline and recent points on one grid (the baseline's step and phase)."""

    values: FloatArray
    present: BoolArray
    times: FloatArray
    base_width: int
    first_judged: int
    day_columns: int
    """Columns per day; 0 when the step does not divide a day."""


def judging_grid(obs: Observations) -> JudgingGrid:
    """The baseline followed by the recent points that fall on the baseline's grid."""
    step, base_width = obs.baseline_step, obs.baseline.shape[1]
    recent_times = obs.recent_times
    end = recent_times[-1] if len(recent_times) else obs.baseline_start + step * (base_width - 1)
    extra = max(0, int(np.floor((end - obs.baseline_start) / step + 1e-6)) + 1 - base_width)
    times = obs.baseline_start + step * np.arange(base_width + extra, dtype=np.float64)
    source = np.searchsorted(recent_times, times[base_width:] + 1e-6, side="right") - 1
    found = (source >= 0) & (
        times[base_width:] - recent_times[np.maximum(source, 0)] < obs.recent_step - 1e-6
    )
    column = np.maximum(source, 0)
    rows = obs.baseline.shape[0]
    recent = np.where(found[None, :], obs.recent[:, column] if len(recent_times) else np.nan, np.nan)
    present = np.where(found[None, :], obs.recent_present[:, column] if len(recent_times) else False, False)
    values = np.hstack([obs.baseline, recent.reshape(rows, extra)])
    present = np.hstack([obs.baseline_present, present.reshape(rows, extra).astype(bool)]) & np.isfinite(
        values
    )
    present &= ~seen_twice(values, present)
    day = DAY / step
    return JudgingGrid(
        values=np.where(present, values, np.nan),
        present=present,
        times=times,
        base_width=base_width,
        first_judged=int(np.searchsorted(times, obs.judged_from - 1e-6)),
        day_columns=int(day) if day == int(day) else 0,
    )


def seen_twice(values: FloatArray, present: BoolArray) -> BoolArray:
    """Isolated pairs of points with the same value (absent, x, x, absent): a sample exactly one
    lookback before a grid point is seen by two points (Prometheus 2.x's lookback includes its
    start) and would count twice for a sparse series; the second is dropped."""
    repeat = np.zeros_like(present)
    if values.shape[1] >= 2:
        edge = np.zeros((len(present), 1), dtype=bool)
        before = np.hstack([edge, present[:, :-2]])
        after = np.hstack([present[:, 2:], edge])
        same = present[:, 1:] & present[:, :-1] & (values[:, 1:] == values[:, :-1])
        repeat[:, 1:] = same & ~before & ~after
    return repeat


def shifted(values: FloatArray, columns: int) -> FloatArray:
    """Each column's value ``columns`` earlier (NaN before the start)."""
    out = np.full_like(values, np.nan)
    if 0 < columns < values.shape[1]:
        out[:, columns:] = values[:, :-columns]
    return out


@dataclass(frozen=True, slots=True)
class ExpectedValues:
    """Expected value of every grid point, and which model gave it."""

    expected: FloatArray
    seasonal: BoolArray
    level: FloatArray
    typical: FloatArray
    day_ago: FloatArray
    week_ago: FloatArray
    week_trend: FloatArray
    """How far each row's steady trend moves it in a week (0 without one)."""
    usual_high: FloatArray
    usual_low: FloatArray
    """Per point, the median over the previous days of the highest (lowest) residual of the
    chosen model within ``slot_tolerance`` of the same time: how far the series usually
    departs then."""
    modelled: BoolArray
    """Points the chosen model itself expects: all for the level model; for a seasonal one,
    not the baseline's first day (no earlier day to expect it from: the level stands in for
    ``expected`` there, but its residuals are another statistic and must not set the extremes)."""


def usual_extremes(history: FloatArray, slot: UsualSlot) -> tuple[FloatArray, FloatArray]:
    """:attr:`ExpectedValues.usual_high` and ``usual_low`` over the last ``tail`` columns (NaN elsewhere
    and without a previous day): only the windows ending in the diagnosed window use them."""
    high, low = np.full_like(history, np.nan), np.full_like(history, np.nan)
    daily = daily_slot_extremes(history, slot)
    if daily is not None:
        highs, lows = daily
        tail = highs[0].shape[1]
        high[:, history.shape[1] - tail :] = median_of(highs)
        low[:, history.shape[1] - tail :] = median_of(lows)
    return high, low


def daily_slot_extremes(
    history: FloatArray, slot: UsualSlot
) -> tuple[list[FloatArray], list[FloatArray]] | None:
    """For each of the previous days, the highest and lowest value within ``slot.tolerance``
    of the same time, for each of the last ``slot.tail`` columns (None without a previous day)."""
    rows, width = history.shape
    period, days, tolerance, tail = slot.period, slot.days, slot.tolerance, min(slot.tail, width)
    if not period or days < 1 or not tail:
        return None
    # every day's segment (the tail a day earlier, widened by the tolerance) in one array:
    # one sliding extreme over all of them
    span = tail + 2 * tolerance
    stacked = np.full((days * rows, span), np.nan)
    for day in range(1, days + 1):
        first = width - tail - day * period - tolerance  # in history columns, maybe outside it
        start, stop = max(first, 0), min(first + span, width)
        if start < stop:
            stacked[(day - 1) * rows : day * rows, start - first : stop - first] = history[:, start:stop]
    highs = np.split(sliding_extreme(stacked, 2 * tolerance + 1, largest=True), days)
    lows = np.split(sliding_extreme(stacked, 2 * tolerance + 1, largest=False), days)
    return highs, lows


@dataclass(frozen=True, slots=True)
class UsualSlot:
    """Where the usual extremes at this time of day are read: columns a day, previous days
    held, columns either side that count as the same time, and the tail they are wanted for."""

    period: int
    days: int
    tolerance: int
    tail: int

    @classmethod
    def of(cls, grid: JudgingGrid, settings: DetectorSettings) -> UsualSlot:
        period = grid.day_columns
        days = min(7, grid.base_width // period) if period else 0
        step = float(grid.times[1] - grid.times[0]) if len(grid.times) > 1 else DAY
        tolerance = max(1, round(settings.slot_tolerance / step))
        tail = grid.values.shape[1] - grid.first_judged + max(settings.windows) * 12
        return cls(period, days, tolerance, tail)


def _same_time_median(history: FloatArray, period: int, days: int) -> FloatArray:
    """Median of the same time on the ``days`` previous days (NaN-skipping), from views of one
    padded copy of the history (in float32: the model's precision, ample for an expectation)."""
    rows, width = history.shape
    padded = np.hstack([np.full((rows, days * period), np.nan, np.float32), history.astype(np.float32)])
    earlier = [padded[:, day * period : day * period + width] for day in range(days)]  # t - days x period ...
    return median_of(earlier)


def median_of(arrays: list[FloatArray] | list[npt.NDArray[np.float32]]) -> FloatArray:
    """Element-wise median of equally shaped arrays, ignoring NaN, in float32."""
    return median_across([a.astype(np.float32, copy=False) for a in arrays]).astype(np.float64)


def expected_values(grid: JudgingGrid, settings: DetectorSettings) -> ExpectedValues:
    """Step 2: the level, daily and weekly models, on the values less their steady trend where
    they have one (:func:`_drift`); per row, the one with the smallest spread."""
    history = grid.values.copy()
    history[:, grid.base_width :] = np.nan  # expectations come from the baseline only
    base = history[:, : grid.base_width]
    rows = base.shape[0]
    level = nanmedian(base).astype(np.float64)
    typical = np.abs(level)
    crossing = np.flatnonzero((np.fmin.reduce(base, axis=1) < 0) & (np.fmax.reduce(base, axis=1) > 0))
    if len(crossing):
        typical[crossing] = nanmedian(np.abs(base[crossing]))
    period = grid.day_columns
    day_ago = shifted(history, period) if period else np.full_like(history, np.nan)
    week_ago = shifted(history, 7 * period) if period else np.full_like(history, np.nan)
    # a steady trend is taken out before the models are fitted and put back into what they
    # expect: the level of a series growing by half a week is not its median
    raw_history, level_used, weekly = history, level, week_ago
    drift = _drift(base, level, grid.values.shape[1], period, settings)
    trending = np.flatnonzero(drift.any(axis=1))
    if len(trending):
        history = history - drift
        level_used = level.copy()
        level_used[trending] = nanmedian(history[trending, : grid.base_width])
        weekly = shifted(history, 7 * period)
    week_trend = (
        drift[:, -1] - drift[:, -1 - 7 * period] if 0 < 7 * period < drift.shape[1] else np.zeros(rows)
    )
    level_model = np.broadcast_to(level_used[:, None], grid.values.shape)
    models: list[FloatArray] = []
    if period and grid.base_width >= settings.min_seasonal_days * period:
        days = min(7, grid.base_width // period)
        models.append(_same_time_median(history, period, days))
    if period and settings.weekly_check and grid.base_width >= 14 * period:
        models.append(weekly)
    expected = level_model.copy()
    seasonal = np.zeros(rows, dtype=bool)
    modelled = np.ones(grid.values.shape, dtype=bool)
    if models:
        actual = history[:, : grid.base_width]
        common = np.isfinite(actual)
        for model in models:
            common &= np.isfinite(model[:, : grid.base_width])
        # mean absolute residual: a model wrong one day in seven must lose to one right every day
        best = (
            nanmean(np.abs(np.where(common, actual - level_used[:, None], np.nan)))
            * settings.seasonality_gain
        )
        for model in models:
            spread = nanmean(np.abs(np.where(common, actual - model[:, : grid.base_width], np.nan)))
            better = (spread < best) & (common.sum(axis=1) >= settings.min_samples)
            expected = np.where(better[:, None], np.where(np.isfinite(model), model, level_model), expected)
            modelled = np.where(better[:, None], np.isfinite(model), modelled)
            seasonal |= better
            best = np.where(better, spread, best)
    if len(trending):
        expected = expected + drift
    # in residuals of the chosen model, like every other statistic of the method
    usual_high, usual_low = usual_extremes(raw_history - expected, UsualSlot.of(grid, settings))
    return ExpectedValues(
        expected=expected,
        seasonal=seasonal,
        level=level,
        typical=typical,
        day_ago=day_ago,
        week_ago=week_ago,
        week_trend=week_trend,
        usual_high=usual_high,
        usual_low=usual_low,
        modelled=modelled,
    )


def _drift(
    base: FloatArray, level: FloatArray, total: int, period: int, settings: DetectorSettings
) -> FloatArray:
    """Each row's steady trend over its baseline, as a value per grid column (0 at the last
    baseline column; 0 for rows without one): Tukey's resistant line through the medians of
    the first, middle and last thirds of the whole days of its history (whole days, so that a
    daily cycle cannot pose as a trend), kept only where it is a line (the half-slope ratio
    between 0.5 and 2: a step is not), where taking it out makes the level's mean absolute
    residual ``seasonality_gain`` x smaller (as a seasonal model must), and where, fitted
    without the last baseline day, it predicts that day ``seasonality_gain`` x better than the
    level does (a step that came and went in the last days fits a line, but predicts badly)."""
    width = base.shape[1]
    out = np.zeros((base.shape[0], total))
    if not period or width <= 4 * period:
        return out
    slope, fits = _resistant_line(base, period)
    rows = np.flatnonzero(fits)  # the few rows with a line are judged further
    if not len(rows):
        return out
    base, slope, level = base[rows], slope[rows], level[rows]
    column = np.arange(width)[None, :]
    detrended = base - slope[:, None] * (column - (width - 1))
    before = nanmean(np.abs(base - level[:, None]))
    after = nanmean(np.abs(detrended - nanmedian(detrended)[:, None]))
    train, last_day = base[:, : width - period], base[:, width - period :]
    train_slope, train_fits = _resistant_line(train, period)
    ahead = np.arange(1, period + 1, dtype=np.float64)[None, :]
    train_level = nanmedian(
        train - train_slope[:, None] * (column[:, : width - period] - (width - period - 1))
    )
    trend_error = nanmean(np.abs(last_day - (train_level[:, None] + train_slope[:, None] * ahead)))
    level_error = nanmean(np.abs(last_day - nanmedian(train)[:, None]))
    keep = (
        (after < settings.seasonality_gain * before)
        & train_fits
        & (trend_error < settings.seasonality_gain * level_error)
    )
    out[rows[keep]] = slope[keep, None] * (np.arange(total)[None, :] - (width - 1))
    return out


def _resistant_line(base: FloatArray, period: int) -> tuple[FloatArray, BoolArray]:
    """Per row, the slope of Tukey's resistant line through its whole days (per column), and
    whether there is one: at least 3 whole days, a finite slope, a half-slope ratio of 0.5-2."""
    width = base.shape[1]
    present = np.isfinite(base)
    first = np.where(present.any(axis=1), np.argmax(present, axis=1), width)
    block = ((width - first) // period // 3) * period
    middle_start = (first + width - block) // 2
    if not block.any():
        return np.zeros(len(base)), np.zeros(len(base), dtype=bool)
    if (first == first[0]).all():  # the usual case: slices, not masks over the whole width
        size = int(block[0])
        early, middle, late = (
            nanmedian(base[:, int(start[0]) : int(start[0]) + size]).astype(np.float64)
            for start in (first, middle_start, width - block)
        )
    else:
        column = np.arange(width)[None, :]

        def median_of_block(start: IntArray) -> FloatArray:
            inside = (column >= start[:, None]) & (column < (start + block)[:, None])
            return nanmedian(np.where(inside, base, np.nan)).astype(np.float64)

        early, middle, late = (median_of_block(start) for start in (first, middle_start, width - block))
    distance = np.maximum((width - block / 2) - (first + block / 2), 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = (late - early) / distance
        ratio = (late - middle) / (middle - early)
    fits = (block >= period) & np.isfinite(slope) & (ratio >= 0.5) & (ratio <= 2.0)
    return np.where(fits, slope, 0.0), fits


def history_of(
    grid: JudgingGrid, settings: DetectorSettings
) -> tuple[FloatArray, FloatArray, BoolArray, FloatArray]:
    """(days of history, own sampling interval in columns, short history, own coverage)."""
    base = grid.present[:, : grid.base_width]
    first = np.where(base.any(axis=1), np.argmax(base, axis=1), grid.base_width)
    span = (grid.base_width - first).astype(np.float64)
    step = float(grid.times[1] - grid.times[0]) if len(grid.times) > 1 else 1.0
    moving = Compaction.of(base)
    columns, count = moving.columns, moving.count
    gaps = np.where(columns[:, 1:] >= 0, np.diff(columns, axis=1).astype(np.float64), np.nan)
    interval = np.where(count >= 2, nanmedian(gaps), 1.0)
    interval = np.where(np.isfinite(interval), np.maximum(interval, 1.0), 1.0)
    coverage = count * interval / np.maximum(span, 1.0)
    days = span * step / DAY
    short = (days < settings.short_history_days) | (coverage < 0.5)
    return days, interval, short, coverage


def longest_gap(grid: JudgingGrid) -> FloatArray:
    """Longest run of absent columns between two baseline samples of each row, in columns."""
    base = grid.present[:, : grid.base_width]
    moving = Compaction.of(base)
    columns, count = moving.columns, moving.count
    gaps = np.where(columns[:, 1:] >= 0, np.diff(columns, axis=1), 0)
    return np.where(count >= 2, gaps.max(axis=1, initial=0), 0).astype(np.float64)
