"""Step 8 of the anomaly method (:mod:`probes.prometheus.judge_series`; step 9 in
docs/anomalies.md, which counts the recurring extremes as a step of their own): departures
between the judging grid's points, for series sampled more often than the grid's step.

A grid point takes one sample of its step (the last before it): a 90 s burst of a series
scraped every 15 s is seen on a 5-minute grid about one time in three. The recent range is
read at a finer step, so its *step extremes* (the highest and the lowest finer point of each
grid step) see it. They are judged as the grid's single samples are (step 3), against the
same statistic over the baseline: each baseline step's highest and lowest point at the same
finer step (``max_over_time`` / ``min_over_time`` of a subquery), with the same threshold,
the same calibrated rank, the same floors. A burst the series makes every day at this time
between grid points is normal: it must pass the previous days' step extremes at this time of
day by a margin (:func:`_usual_step_extremes`); one beyond them is news.

The rule holds only where the series has samples between the grid's points: its finer points
change value at least twice within a step (the median over the steps where they change at
all: a series sampled at the grid's step changes once, from the sample before to the next,
however often its values repeat), or shows a sample no grid point takes (timestamps
jittering around the grid's points put a late sample and the next, early one in one step);
and where the baseline's steps look like the recent range's:
the grid's sample lies strictly between a step's extremes at least :data:`FINER_SHARE` as often
in the baseline as in the recent range (a downsampled store keeps two samples a step, never one
between them). A series sampled at the grid's step or coarser, or a baseline read from a
downsampled store while the recent range is raw, is judged on the grid alone. Only steps the
chosen model expects are judged, as on the grid; a departure found after a run found on the
grid is the one reported (the latest).

Reading every baseline step's extremes would triple the data read, so they are read only
for the *candidates*: rows with a finer point in the diagnosed window beyond the grid's own
ranked single-sample extreme and floor. That screen is sound: a step's extreme is at least
its grid sample, so the step extremes' ranked extreme is at least the grid's, and no step
extreme passes it unless a finer point does."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from probes.prometheus.judge_departures import floor_at, short_history_margin, smallest_spread
from probes.prometheus.judge_series_expected import UsualSlot, daily_slot_extremes
from probes.prometheus.robust_stats import SortedRows, nanmedian, pick, robust_spread

if TYPE_CHECKING:
    from probes.prometheus.judge_departures import Departures
    from probes.prometheus.judge_series import DetectorSettings, Observations
    from probes.prometheus.judge_series_expected import ExpectedValues, JudgingGrid
    from probes.prometheus.robust_stats import BoolArray, FloatArray, IntArray

FINER_SHARE = 0.5
"""The baseline's steps must show samples between the grid's points at least this often,
relative to the recent range's: the share of steps whose grid sample lies strictly between the
step's extremes (a step of two samples, as a downsampled store keeps, never has one there)."""


@dataclass(frozen=True, slots=True)
class BetweenPoints:
    """Per row: a departure found between the grid's points (NaN/-1/False elsewhere)."""

    candidate: FloatArray
    """The baseline's step extremes would decide (see the module docstring): how far the most
    extreme finer point lies beyond the grid's ranked extreme, in robust spreads (NaN: no)."""
    found: BoolArray
    sign: IntArray
    score: FloatArray
    onset: FloatArray
    run_end: FloatArray
    ongoing: BoolArray
    peak_time: FloatArray
    peak_value: FloatArray
    peak_column: IntArray
    normal_low: FloatArray
    normal_high: FloatArray
    """Residuals a step's lowest and highest point normally stay within (the bounds they must
    pass to depart)."""


def _nothing(rows: int) -> BetweenPoints:
    nan = np.full(rows, np.nan)
    no = np.zeros(rows, dtype=bool)
    return BetweenPoints(
        candidate=nan,
        found=no,
        sign=np.zeros(rows, dtype=np.int64),
        score=np.zeros(rows),
        onset=nan,
        run_end=nan,
        ongoing=no,
        peak_time=nan,
        peak_value=nan,
        peak_column=np.full(rows, -1, dtype=np.int64),
        normal_low=nan,
        normal_high=nan,
    )


def finer_columns(obs: Observations, grid: JudgingGrid) -> IntArray:
    """The grid column whose step (T - step, T] holds each finer point of the recent range."""
    offset = (obs.recent_times - grid.times[0]) / obs.baseline_step
    columns: IntArray = np.clip(np.ceil(offset - 1e-6).astype(np.int64), 0, len(grid.times) - 1)
    return columns


def _strictly_inside_share(low: FloatArray, value: FloatArray, high: FloatArray) -> FloatArray:
    known = np.isfinite(low) & np.isfinite(value) & np.isfinite(high)
    inside = known & (low < value) & (value < high)
    share: FloatArray = inside.sum(axis=1) / np.maximum(known.sum(axis=1), 1)
    return np.where(known.any(axis=1), share, 0.0)


def _changes_per_step(obs: Observations, known: BoolArray, column: IntArray, starts: IntArray) -> FloatArray:
    """Per row, the median number of times the finer points change value within a grid step,
    over the steps where they change at all: 1 for a series sampled at the grid's step (the
    sample before, then the next), 2 or more for one sampled at least twice in a step
    (however often its values repeat, as an integer gauge's do)."""
    same_step = column[1:] == column[:-1]
    with np.errstate(invalid="ignore"):
        changed = (
            known[:, 1:] & known[:, :-1] & (obs.recent[:, 1:] != obs.recent[:, :-1]) & same_step[None, :]
        )
    counts = np.add.reduceat(np.hstack([np.zeros((len(changed), 1)), changed]), starts, axis=1)
    median: FloatArray = nanmedian(np.where(counts > 0, counts, np.nan)).astype(np.float64)
    return median


def _samples_the_grid_misses(
    obs: Observations, known: BoolArray, grid: JudgingGrid, column: IntArray
) -> BoolArray:
    """Rows whose recent range shows a sample no grid point takes: a finer point of a step
    equal neither to the step's grid sample nor to the one before. A series sampled at the
    grid's step whose timestamps jitter around the grid's points (a sample a little late, the
    next a little early: both in one step) loses one sample in four that way; its steps'
    extremes hold them."""
    with np.errstate(invalid="ignore"):
        other = (
            known
            & (obs.recent != grid.values[:, column])
            & (obs.recent != grid.values[:, np.maximum(column - 1, 0)])
        )
    missed: BoolArray = other.any(axis=1)
    return missed


def between_points(
    obs: Observations,
    grid: JudgingGrid,
    model: ExpectedValues,
    found: Departures,
    settings: DetectorSettings,
    eligible: BoolArray,
    short: BoolArray,
    after: FloatArray,
) -> BetweenPoints:
    """Step 8 for the ``eligible`` (judged) rows, after ``after`` (the end of the run found on
    the grid; -inf without one: the latest departure is reported); ``short`` rows as in step 3."""
    rows, width = grid.values.shape
    times = obs.recent_times
    if not len(times) or obs.recent_step >= obs.baseline_step or width <= grid.base_width:
        return _nothing(rows)
    column = finer_columns(obs, grid)
    starts = np.flatnonzero(np.diff(column, prepend=-1))
    step_columns = column[starts]
    with np.errstate(invalid="ignore"):
        # only where the chosen model expects the series itself, as on the grid (step 2)
        judged_fine = obs.recent_present & model.modelled[:, column]
        residual = np.where(judged_fine, obs.recent - model.expected[:, column], np.nan)
        grid_residual = grid.values - model.expected
        inside_now = _strictly_inside_share(
            np.fmin.reduceat(residual, starts, axis=1),
            grid_residual[:, step_columns],
            np.fmax.reduceat(residual, starts, axis=1),
        )
    known = obs.recent_present & np.isfinite(obs.recent)  # a NaN sample (0/0) is no value
    finer_now = (_changes_per_step(obs, known, column, starts) >= 2) | _samples_the_grid_misses(
        obs, known, grid, column
    )
    judged_step = (step_columns >= grid.first_judged)[None, :] & (
        grid.times[step_columns][None, :] > after[:, None]
    )
    # the diagnosed window's own finer points (a step straddling its start keeps its part in it)
    in_window = judged_step[:, np.searchsorted(step_columns, column)] & judged_fine
    in_window &= (times >= obs.judged_from - 1e-6)[None, :]
    up_allowed, down_allowed = settings.direction != "down", settings.direction != "up"
    with np.errstate(invalid="ignore"):
        windowed = np.where(in_window, residual, np.nan)
        high_now = np.fmax.reduceat(windowed, starts, axis=1)
        low_now = np.fmin.reduceat(windowed, starts, axis=1)
        fine_floor = floor_at(found.floor, model.expected[:, column], settings)
        beyond_up = in_window & (residual > found.rank_high[:, None]) & (residual >= fine_floor)
        beyond_down = in_window & (residual < found.rank_low[:, None]) & (-residual >= fine_floor)
        excess_up = np.where(beyond_up, residual - found.rank_high[:, None], np.nan)
        excess_down = np.where(beyond_down, found.rank_low[:, None] - residual, np.nan)
        excess = np.fmax(
            np.fmax.reduce(excess_up, axis=1) if up_allowed else np.nan,
            np.fmax.reduce(excess_down, axis=1) if down_allowed else np.nan,
        )
    candidate = np.where(eligible & finer_now, excess / found.spread, np.nan)
    if obs.step_high is None or obs.step_low is None or not np.isfinite(candidate).any():
        return replace(_nothing(rows), candidate=candidate)
    base = grid.base_width
    modelled = (grid.present & model.modelled)[:, :base]
    with np.errstate(invalid="ignore"):
        base_high = np.fmax(obs.step_high - model.expected[:, :base], grid_residual[:, :base])
        base_low = np.fmin(obs.step_low - model.expected[:, :base], grid_residual[:, :base])
    base_high = np.where(modelled, base_high, np.nan)
    base_low = np.where(modelled, base_low, np.nan)
    finer_then = _strictly_inside_share(
        np.where(np.isfinite(obs.step_low), base_low, np.nan),
        np.where(modelled, grid_residual[:, :base], np.nan),
        np.where(np.isfinite(obs.step_high), base_high, np.nan),
    )
    read = np.isfinite(obs.step_high).any(axis=1) & np.isfinite(obs.step_low).any(axis=1)
    deciding = np.isfinite(candidate) & read & (finer_then >= FINER_SHARE * inside_now)
    usual = _usual_step_extremes(base_high, base_low, grid, settings, step_columns)
    step_floor = floor_at(found.floor, model.expected[:, step_columns], settings)
    passed = {}
    scores = {}
    bounds = {}
    for sign, base_values, now in ((1, base_high, high_now), (-1, base_low, low_now)):
        outward = sign * now
        ordered = SortedRows.of(sign * base_values)
        center = ordered.median()
        spread = robust_spread(sign * base_values, center, ordered).astype(np.float64)
        spread_floor = smallest_spread(found.precision, model.level)
        spread = np.maximum(spread, spread_floor)
        wanted = found.single_wanted
        rank = np.maximum(1, np.floor(np.nan_to_num(wanted, nan=1.0) + 1e-9)).astype(np.int64)
        extreme = ordered.ranked(rank, largest=True)
        tail = np.maximum(ordered.tail_scale(largest=True), spread_floor)  # as in step 3
        short_floor = short_history_margin(found.floor, model.level, sign * extreme, short, settings)
        stretch = np.log(1.0 / np.clip(np.nan_to_num(wanted, nan=1.0), 1e-3, 1.0))
        beyond = np.fmax(short_floor, stretch * tail)
        # beyond the most extreme by the tail where step 3 judges a single sample so
        by_tail = np.isfinite(found.far_up if sign > 0 else found.far_down) & np.isfinite(tail)
        far = np.where(by_tail, found.z_needed * tail, np.nan)
        bounds[sign] = np.fmax(extreme, np.fmin(center + found.z_needed * spread, extreme + far))
        with np.errstate(invalid="ignore"):
            far_enough = outward - center[:, None] >= (found.z_needed * spread)[:, None]
            far_enough |= by_tail[:, None] & (outward - extreme[:, None] >= far[:, None])
            passes = (
                far_enough
                & (outward > extreme[:, None])
                & (outward - extreme[:, None] >= beyond[:, None])
                & (outward >= step_floor)
                & judged_step
            )
            # a burst it makes at this time every day is normal: one must pass those days'
            # by the series' floor (the expected value's floor applies to the burst itself,
            # as step 3 holds windows to the usual extremes without it)
            if settings.recent_check:
                passes &= ~(
                    outward - usual[sign][0] < np.fmax(found.floor[:, None], np.nan_to_num(usual[sign][1]))
                )
            passed[sign] = passes & deciding[:, None] & (up_allowed if sign > 0 else down_allowed)
            scores[sign] = np.where(passes, (outward - center[:, None]) / spread[:, None], -np.inf)
    located = _located(obs, column, residual, windowed, {1: high_now, -1: -low_now}, found, passed, scores)
    return replace(located, normal_low=-bounds[-1], normal_high=bounds[1])


def _usual_step_extremes(
    base_high: FloatArray,
    base_low: FloatArray,
    grid: JudgingGrid,
    settings: DetectorSettings,
    step_columns: IntArray,
) -> dict[int, tuple[FloatArray, FloatArray]]:
    """Per side, outward: the most extreme step extreme of the previous days at this time of
    day, and how much those days' own differ (their range). A burst the series makes between
    the grid's points every day at this time is normal unless it passes every earlier day's
    by more than they differ among themselves (its height varies from day to day more than a
    grid sample's does: the finer points catch it at another phase each day). The margin is
    the largest of that spread, the relative floor of the burst's own size and (applied by the
    caller) the series' floor."""
    rows, width = grid.values.shape
    slot = UsualSlot.of(grid, settings)
    usual = {}
    for sign, base in ((1, base_high), (-1, base_low)):
        history = np.full((rows, width), np.nan)
        history[:, : grid.base_width] = sign * base
        daily = daily_slot_extremes(history, slot)
        most = np.full((rows, len(step_columns)), np.nan)
        differ = np.zeros((rows, len(step_columns)))
        if daily is not None:
            days = np.stack(daily[0])  # outward: the highest of each day, for either side
            tail = days.shape[2]
            wanted = step_columns - (width - tail)
            inside = wanted >= 0
            # fmax/fmin skip NaN (a slot no day holds stays NaN) without the warning nanmax
            # gives, whose silencing (warnings.catch_warnings) is not thread-safe
            top = np.fmax.reduce(days[:, :, wanted[inside]], axis=0)
            bottom = np.fmin.reduce(days[:, :, wanted[inside]], axis=0)
            most[:, inside] = top
            # a day or two say little of how much a daily burst varies: at least the relative
            # floor of its own size
            differ[:, inside] = np.fmax(top - bottom, settings.min_relative * np.abs(top))
        usual[sign] = (most, differ)
    return usual


def _located(
    obs: Observations,
    column: IntArray,
    residual: FloatArray,
    windowed: FloatArray,
    extremes: dict[int, FloatArray],
    found: Departures,
    passed: dict[int, BoolArray],
    scores: dict[int, FloatArray],
) -> BetweenPoints:
    """The departure's sign, peak, onset and end on the finer points: the latest passing step
    decides the side (``extremes``: each step's outward extreme in the window, per side); the
    peak is the finer point in the window (``windowed``) that reached the most extreme passing
    step's extreme; the run reaches back (into the lead-in too) and on from it while the finer
    points stay beyond the soft threshold."""
    rows = residual.shape[0]
    times = obs.recent_times
    step_index = np.cumsum(np.diff(column, prepend=column[0]) > 0) if len(column) else column

    def latest(flags: BoolArray) -> IntArray:
        found_at: IntArray = np.where(
            flags.any(axis=1), flags.shape[1] - 1 - np.argmax(flags[:, ::-1], axis=1), -1
        )
        return found_at

    latest_up, latest_down = latest(passed[1]), latest(passed[-1])
    found_any = (latest_up >= 0) | (latest_down >= 0)
    sign = np.where(~found_any, 0, np.where(latest_up >= latest_down, 1, -1))
    up = (sign > 0)[:, None]
    side_passed = np.where(up, passed[1], passed[-1])
    side_scores = np.where(up, scores[1], scores[-1])
    side_extreme = np.where(up, extremes[1], extremes[-1])
    outward = sign[:, None] * windowed
    with np.errstate(invalid="ignore"):
        reached = side_passed[:, step_index] & (outward >= side_extreme[:, step_index])
        soft = np.where(up, residual >= found.soft_high[:, None], residual <= found.soft_low[:, None])
    soft = (soft & np.isfinite(residual)) | reached
    peak = np.argmax(np.where(reached, np.nan_to_num(outward, nan=-np.inf), -np.inf), axis=1)
    position = np.arange(len(times))
    last_calm = np.maximum.accumulate(np.where(soft, -1, position), axis=1)
    next_calm = np.minimum.accumulate(np.where(soft, len(times), position)[:, ::-1], axis=1)[:, ::-1]
    onset_at = np.minimum(pick(last_calm, peak) + 1, peak)
    end_at = np.maximum(pick(next_calm, peak) - 1, peak)
    last_present = len(times) - 1 - np.argmax(obs.recent_present[:, ::-1], axis=1)
    score = np.max(np.where(side_passed, side_scores, -np.inf), axis=1, initial=-np.inf)
    found_any &= reached.any(axis=1)
    return BetweenPoints(
        candidate=np.full(rows, np.nan),
        found=found_any,
        sign=np.where(found_any, sign, 0).astype(np.int64),
        score=np.where(found_any, score, 0.0),
        onset=np.where(found_any, times[onset_at], np.nan),
        run_end=np.where(found_any, times[end_at], np.nan),
        ongoing=found_any & (end_at >= last_present),
        peak_time=np.where(found_any, times[peak], np.nan),
        peak_value=np.where(found_any, pick(obs.recent, peak), np.nan),
        peak_column=np.where(found_any, column[peak], -1),
        normal_low=np.full(rows, np.nan),
        normal_high=np.full(rows, np.nan),
    )
