"""Step 3 of the anomaly method (:mod:`probes.prometheus.judge_series`): which samples depart,
window length by window length, calibrated on each row's own baseline; and the rules that hold
a departure back as normal (recurring extremes, the usual extremes at this time of day, the same
time a week ago, a short history's rough edges). Pure functions over all rows at once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from probes.prometheus.robust_stats import (
    Compaction,
    SortedRows,
    nanmedian,
    robust_spread,
    running_sums,
    spread_back,
    window_means,
)

if TYPE_CHECKING:
    from probes.prometheus.judge_series import DetectorSettings
    from probes.prometheus.judge_series_expected import ExpectedValues, JudgingGrid
    from probes.prometheus.robust_stats import BoolArray, FloatArray, IntArray


@dataclass(frozen=True, slots=True)
class Departures:
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
    soft_low: FloatArray
    soft_high: FloatArray
    """Residuals at or beyond these are beyond the soft threshold (a run's onset and end)."""
    z_needed: FloatArray
    floor: FloatArray
    single_wanted: FloatArray
    """The calibrated rank a single sample must pass (below 1: beyond the most extreme)."""
    rank_low: FloatArray
    rank_high: FloatArray
    """The baseline's single samples at that rank (from below, from above)."""
    precision: FloatArray
    """Differences below this are rounding (see :data:`PRECISION`)."""
    far_up: FloatArray
    far_down: FloatArray
    """How far beyond its extremes a sample of a row judged by its level departs (NaN: not so
    judged on that side; see :func:`_far_beyond_the_extremes`)."""


PRECISION = 1e-9
"""Differences smaller than this share of a row's largest residual are rounding, not departures
(a week of running sums rounds at about 2e-13 of it)."""


def smallest_spread(precision: FloatArray, level: FloatArray) -> FloatArray:
    """The spread a row's statistics are given at least: its rounding (``precision``), a
    trillionth of its level, never 0; relative, so that a series' units change no decision."""
    floor: FloatArray = np.maximum(np.maximum(precision, 1e-12 * np.abs(level)), np.finfo(np.float64).tiny)
    return floor


def departures(
    grid: JudgingGrid,
    model: ExpectedValues,
    short: BoolArray,
    settings: DetectorSettings,
    young: BoolArray,
) -> Departures:
    """Calibrated window tests for every window length, on the compacted residuals. ``young``:
    rows too young for a seasonal model; they and every other row judged by its level have a
    spread that holds whatever daily pattern they have (see :func:`_far_beyond_the_extremes`)."""
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
    # the windows ending in the diagnosed window begin at ``reach`` or later
    reach = max(0, tail - max(settings.windows) + 1)
    on_the_pattern = (
        _between_the_neighbours(residual, model.expected, moving.columns, reach, model.seasonal)
        if model.seasonal.any()
        else None
    )
    # the same time a week earlier, where the history holds it (a weekend judged against a
    # model of mostly weekdays): the residuals of those samples and their week-over-week change
    week_over_week = moving.apply(grid.values - model.week_ago - model.week_trend[:, None])[:, tail:]
    with_week = moving.apply(np.where(np.isfinite(model.week_ago), residuals, np.nan))[:, tail:]
    weekly = settings.weekly_check and bool(np.isfinite(week_over_week).any())
    change_spread = _day_over_day_spread(grid, model) if weekly else None
    shortest_spread: FloatArray | None = None  # the shortest window's: scales the day-over-day spread
    # no baseline window ends further right (one column at least, for rows without a baseline)
    base_width = min(residual.shape[1], max(1, int(base_count.max(initial=0))))
    new_samples = judged.sum(axis=1)
    sums = running_sums(residual)  # one running sum for every window length
    # means taken as differences of running sums carry rounding noise of the sums' size: a
    # recent window equal to a baseline one (a recurring value) must not pass it by that noise,
    # whatever the series' units
    precision = PRECISION * np.nan_to_num(np.fmax.reduce(np.abs(residual), axis=1, initial=0.0))
    spread_floor = smallest_spread(precision, model.level)
    out_up = np.zeros(residual.shape, dtype=bool)
    out_down = np.zeros(residual.shape, dtype=bool)
    single = (np.full(rows, np.nan), np.full(rows, np.nan), np.full(rows, np.nan), np.full(rows, np.nan))
    single_wanted = np.full(rows, np.nan)
    # how far beyond its single-sample extremes a level row's sample departs (NaN: not so judged)
    far_up = far_down = np.full(rows, np.nan)
    expected_size = moving.apply(np.abs(model.expected))  # a window's floor: of its mean
    for length in settings.windows:
        means = window_means(residual, length, count, sums=sums)
        floor_here = floor_at(floor, window_means(expected_size, length, count)[:, tail:], settings)
        base_means = np.where(in_base[:, :base_width], means[:, :base_width], np.nan)
        usable = usable_length(base_count, length, settings)
        wanted = _wanted_rank(base_count, new_samples, length, settings)
        rank = np.maximum(1, np.floor(wanted + 1e-9)).astype(np.int64)
        ordered = SortedRows.of(base_means)
        center = ordered.median()
        spread = robust_spread(base_means, center, ordered).astype(np.float64)
        spread = np.maximum(spread, spread_floor)
        shortest_spread = spread if shortest_spread is None else shortest_spread
        high = ordered.ranked(rank, largest=True)
        low = ordered.ranked(rank, largest=False)
        margin = (z_needed * spread)[:, None]
        recent = means[:, tail:]  # only windows ending in the diagnosed window are judged
        with np.errstate(invalid="ignore"):
            up = judged[:, tail:] & usable[:, None] & (recent - center[:, None] >= margin)
            down = judged[:, tail:] & usable[:, None] & (center[:, None] - recent >= margin)
            if length == 1 and (~model.seasonal).any():
                far_up, far_down = _far_beyond_the_extremes(
                    ordered, young, ~model.seasonal, z_needed, spread_floor
                )
                up |= judged[:, tail:] & usable[:, None] & (recent - high[:, None] >= far_up[:, None])
                down |= judged[:, tail:] & usable[:, None] & (low[:, None] - recent >= far_down[:, None])
            up &= (recent - high[:, None] > precision[:, None]) & (recent >= floor_here)
            down &= (low[:, None] - recent > precision[:, None]) & (-recent >= floor_here)
            # a short history's extremes are a rough edge of normal: pass them by the floors;
            # where even the most extreme is passed too often by chance, pass it by as much
            # as its tail says makes up the difference
            beyond_up = short_history_margin(floor, model.level, high, short, settings)
            beyond_down = short_history_margin(floor, model.level, low, short, settings)
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
                if change_spread is not None:
                    # nearer to a week ago than to the expected value, and no departure from
                    # it beyond how much the same time changes from day to day: a weekly
                    # habit, not news
                    change = _window_nanmeans(week_over_week, length)
                    departure = _window_nanmeans(with_week, length)
                    usual_change = (z_needed * change_spread * spread / shortest_spread)[:, None]
                    up &= ~((change < departure / 2) & (change < usual_change))
                    down &= ~((change > departure / 2) & (-change < usual_change))
        # every sample between the expected values of its neighbours: the pattern a sample
        # early or late (a daily edge's sample on the other side of a grid point), not news
        if on_the_pattern is not None:
            with np.errstate(invalid="ignore"):
                timing = window_means(on_the_pattern, length, count - reach)[:, tail - reach :] >= 1.0
            up &= ~timing
            down &= ~timing
        # a flagged window covers its own samples only, all of them in the tail
        out_up[:, tail:] |= spread_back(up, length)
        out_down[:, tail:] |= spread_back(down, length)
        if length == 1:
            single = (center, spread, low, high)
            single_wanted = wanted
    center, spread, low, high = single
    with np.errstate(invalid="ignore"):
        z = (residual - center[:, None]) / spread[:, None]
        soft = settings.onset_fraction * z_needed * spread
        soft_high = np.fmin(center + soft, high + settings.onset_fraction * far_up)
        soft_low = np.fmax(center - soft, low - settings.onset_fraction * far_down)
        soft_up, soft_down = residual >= soft_high[:, None], residual <= soft_low[:, None]
    if settings.direction == "up":
        out_down[:] = False
    elif settings.direction == "down":
        out_up[:] = False
    return Departures(
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
        single_low=np.fmin(low, np.fmax(center - z_needed * spread, low - far_down)),
        single_high=np.fmax(high, np.fmin(center + z_needed * spread, high + far_up)),
        soft_low=soft_low,
        soft_high=soft_high,
        z_needed=z_needed,
        floor=floor,
        single_wanted=single_wanted,
        rank_low=low,
        rank_high=high,
        precision=precision,
        far_up=far_up,
        far_down=far_down,
    )


def floor_at(floor: FloatArray, expected: FloatArray, settings: DetectorSettings) -> FloatArray:
    """The floor a departure from ``expected`` (per row and column) must reach: the row's
    ``floor``, and the relative floor of the expected value itself (3 % above the expected 80
    at a daily high is no news where the median is 20)."""
    with np.errstate(invalid="ignore"):
        here: FloatArray = np.fmax(floor[:, None], settings.min_relative * np.abs(expected))
    return here


def short_history_margin(
    floor: FloatArray, level: FloatArray, extreme: FloatArray, short: BoolArray, settings: DetectorSettings
) -> FloatArray:
    """How far a short history's ranked extreme (a residual from ``level``) must be passed:
    by the floor and by the relative floor of the extreme's own size (a spike a day holds a
    dozen times, 3 % higher today, is the same spike); 0 for other rows."""
    margin: FloatArray = np.where(short, np.fmax(floor, settings.min_relative * np.abs(level + extreme)), 0.0)
    return margin


def _far_beyond_the_extremes(
    ordered: SortedRows, young: BoolArray, level: BoolArray, z_needed: FloatArray, spread_floor: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """How far beyond its most extreme single samples a sample of a row judged by its level
    departs, whatever its robust z: ``z_needed`` x the tail's own scale (NaN for other rows):
    below its lowest for every ``level`` row, above its highest for ``young`` rows only.

    The spread of a level holds whatever daily swing the series has: a day-old service whose
    traffic falls to 0 from a 30-90 wave is 2 robust deviations out, and so is a week-old
    latency whose 30 % noise kept the daily model from winning. Its extremes still say how
    far its values go: beyond the most extreme by ``z_needed`` tail scales is, for an
    exponential tail, a chance of about ``e^-z_needed`` per sample beyond that extreme's own.
    An upper tail is often heavier than exponential (a disk's write bursts): there the
    extrapolation is trusted only for a young series, which has no other way to be judged; a
    lower tail ends at 0 for most operational series, so it holds for all. Single samples
    only: the most extreme means of overlapping windows are one or two episodes, so their
    tail scale is too small. The scale is at least ``spread_floor``, as the spreads are: a flat
    top (a constant series, a gauge's recurring maximum) has a scale of 0, and a sample merely
    equal to its extreme is not beyond it."""
    far_up = np.where(young, z_needed * np.maximum(ordered.tail_scale(largest=True), spread_floor), np.nan)
    far_down = np.where(level, z_needed * np.maximum(ordered.tail_scale(largest=False), spread_floor), np.nan)
    return far_up, far_down


def _between_the_neighbours(
    residual: FloatArray, expected: FloatArray, columns: IntArray, reach: int, seasonal: BoolArray
) -> FloatArray:
    """From compacted position ``reach`` on: 1 where a sample of a seasonal row lies between the
    expected values of itself and of its neighbouring samples, else 0: the pattern one sample
    early or late. Where the pattern steps (a daily edge), a timestamp a little late puts the
    sample before the edge at the grid point the edge's sample takes on other days."""
    left = max(reach - 1, 0)
    where = columns[:, left:]
    around = np.where(where >= 0, np.take_along_axis(expected, np.maximum(where, 0), axis=1), np.nan)
    before = np.hstack([around[:, :1], around[:, :-1]])
    after = np.hstack([around[:, 1:], around[:, -1:]])
    with np.errstate(invalid="ignore"):
        low = np.fmin(np.fmin(before, after), around) - around
        high = np.fmax(np.fmax(before, after), around) - around
        own = residual[:, left:]
        between = (own >= low) & (own <= high) & seasonal[:, None]
    flags: FloatArray = between[:, reach - left :].astype(np.float64)
    return flags


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
