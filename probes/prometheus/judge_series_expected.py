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
    """Step 2: the level, daily and weekly models; per row, the one with the smallest spread."""
    history = grid.values.copy()
    history[:, grid.base_width :] = np.nan  # expectations come from the baseline only
    base = history[:, : grid.base_width]
    rows = base.shape[0]
    level = nanmedian(base).astype(np.float64)
    typical = np.abs(level)
    crossing = np.flatnonzero((np.fmin.reduce(base, axis=1) < 0) & (np.fmax.reduce(base, axis=1) > 0))
    if len(crossing):
        typical[crossing] = nanmedian(np.abs(base[crossing]))
    level_model = np.broadcast_to(level[:, None], grid.values.shape)
    period = grid.day_columns
    day_ago = shifted(history, period) if period else np.full_like(history, np.nan)
    week_ago = shifted(history, 7 * period) if period else np.full_like(history, np.nan)
    models: list[FloatArray] = []
    if period and grid.base_width >= settings.min_seasonal_days * period:
        days = min(7, grid.base_width // period)
        models.append(_same_time_median(history, period, days))
    if period and settings.weekly_check and grid.base_width >= 14 * period:
        models.append(week_ago)
    expected = level_model.copy()
    seasonal = np.zeros(rows, dtype=bool)
    modelled = np.ones(grid.values.shape, dtype=bool)
    if models:
        actual = grid.values[:, : grid.base_width]
        common = np.isfinite(actual)
        for model in models:
            common &= np.isfinite(model[:, : grid.base_width])
        # mean absolute residual: a model wrong one day in seven must lose to one right every day
        best = nanmean(np.abs(np.where(common, actual - level[:, None], np.nan))) * settings.seasonality_gain
        for model in models:
            spread = nanmean(np.abs(np.where(common, actual - model[:, : grid.base_width], np.nan)))
            better = (spread < best) & (common.sum(axis=1) >= settings.min_samples)
            expected = np.where(better[:, None], np.where(np.isfinite(model), model, level_model), expected)
            modelled = np.where(better[:, None], np.isfinite(model), modelled)
            seasonal |= better
            best = np.where(better, spread, best)
    # in residuals of the chosen model, like every other statistic of the method
    usual_high, usual_low = usual_extremes(history - expected, UsualSlot.of(grid, settings))
    return ExpectedValues(
        expected=expected,
        seasonal=seasonal,
        level=level,
        typical=typical,
        day_ago=day_ago,
        week_ago=week_ago,
        usual_high=usual_high,
        usual_low=usual_low,
        modelled=modelled,
    )


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
