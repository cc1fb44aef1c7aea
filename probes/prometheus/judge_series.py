"""Does a series depart from its own normal behaviour? Pure, vectorized functions over arrays.

Every series of a query is one row; all rows are judged at once with numpy. Every rule is
stated in the series' *own samples* (the points it has on the baseline's grid, whatever its
sampling interval) and calibrated on its *own baseline*, so that it holds for series scraped
every 15 s as for hourly recording rules, for a week of history as for a day. For each row:

1. **Grid.** The recent range is judged at the baseline's step and phase, so the recent points
   and the baseline points are the same kind of statistic (a point every ``baseline_step``);
   its finer points date the onset (and step 8 judges them). A sample seen by two grid points
   (at the edge of Prometheus' lookback) counts once.
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
   threshold, a window must pass its ranked extreme by at least the floor and by
   ``min_relative`` of the extreme's own size (a day or two hold each daily extreme once or
   twice: a rough edge of normal; a spike 3 % above the highest of a dozen is the same spike),
   and the verdict says the history is short. A series judged by its level (too young for a
   seasonal model, less than ``min_seasonal_days``, or no seasonal model won) has a spread
   that holds its whole daily swing: a single sample below its lowest by the threshold x the
   tail's own scale departs whatever its robust z (a service falling to 0); above its highest
   only for a young series (upper tails are often heavier). Fewer than ``min_samples``
   baseline samples: not judged.
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
8. **Between the points.** A series sampled more often than the grid's step, after any run
   found on the grid (the latest departure is reported): the highest and the lowest of the recent range's finer points in each
   step are judged as step 3 judges single samples, against the same statistic over the
   baseline's steps (:mod:`probes.prometheus.judge_between`): a 90 s burst of a series scraped
   every 15 s, which a 5-minute grid sees one time in three.

Rows are judged in chunks of :data:`ROWS_AT_ONCE` on up to :data:`JUDGING_THREADS` threads, so memory stays bounded. Counters must be judged through ``rate()``/``increase()``, never raw.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Literal

import numpy as np

from probes.prometheus.judge_between import BetweenPoints, between_points
from probes.prometheus.judge_departures import Departures, departures
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
    last_true,
    nanmedian,
    pick,
    pick_or_nan,
    ranked,
    robust_spread,
    run_lengths,
)

if TYPE_CHECKING:
    from probes.prometheus.model import SeriesGrid
    from probes.prometheus.robust_stats import BoolArray, FloatArray, IntArray

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
    ``rank`` until it holds (see :mod:`probes.prometheus.judge_departures`)."""
    windows: tuple[int, ...] = (1, 3, 6, 12)
    onset_fraction: float = 0.5
    min_deviation: float = 0.0
    """Absolute floor: smaller departures never count, whatever their z-score."""
    min_relative: float = 0.1
    """Relative floor, times the value expected then, at least the series' typical magnitude
    (median of |baseline|); on a short history also of the extreme to be passed."""
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
    step_high: FloatArray | None = None
    step_low: FloatArray | None = None
    """(series, baseline points): the highest and lowest point of each baseline step at the
    recent range's finer step (NaN where not read); they let step 8 judge the finer points."""

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
    between_points: BoolArray
    """The departure lies between the grid's points (step 8): seen on the finer points only."""
    step_extremes_wanted: FloatArray
    """Step 8 could find a departure between the grid's points (NaN: it cannot): read the
    baseline's step extremes (:attr:`Observations.step_high`, ``step_low``) and judge the row
    again. The value says how far its most extreme finer point lies beyond the grid's ranked
    extreme, in robust spreads: the most extreme are read first."""
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


def _held_last_day(
    grid: JudgingGrid,
    found: Departures,
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


ROWS_AT_ONCE = 250
"""Rows judged together: the arrays of one chunk stay in the tens of megabytes, whatever the
number of series (10,000 series of 7 days at once would take gigabytes)."""
JUDGING_THREADS = 2
"""Chunks judged at once: numpy's loops release the GIL, so two threads judge a fleet about
1.7 times as fast on two cores (benchmarks/bench_anomalies.py); no more, to leave the other
probes of a run their share, and at most ``JUDGING_THREADS x ROWS_AT_ONCE`` rows in memory."""
MIN_ROWS_A_THREAD = 100
"""Fewer rows are judged on the calling thread: a thread would cost more than it saves."""


def judge(obs: Observations, settings: DetectorSettings) -> Verdicts:
    """Judge every row of ``obs`` against its own baseline (see the module docstring), in chunks
    of at most :data:`ROWS_AT_ONCE` rows (so that memory stays bounded), on up to
    :data:`JUDGING_THREADS` threads; each row's verdict depends on its own row only while the
    diagnosed window starts after the baseline, as in the probe (where the tail of windows judged
    begins is shared by the rows judged together)."""
    rows = obs.baseline.shape[0]
    size = min(ROWS_AT_ONCE, max(MIN_ROWS_A_THREAD, -(-rows // JUDGING_THREADS)))
    if rows <= size:
        return _judge_rows(obs, settings)
    parts = [
        replace(
            obs,
            baseline=obs.baseline[first : first + size],
            baseline_present=obs.baseline_present[first : first + size],
            recent=obs.recent[first : first + size],
            recent_present=obs.recent_present[first : first + size],
            step_high=None if obs.step_high is None else obs.step_high[first : first + size],
            step_low=None if obs.step_low is None else obs.step_low[first : first + size],
        )
        for first in range(0, rows, size)
    ]
    with ThreadPoolExecutor(max_workers=JUDGING_THREADS, thread_name_prefix="diag-judge") as pool:
        judged = list(pool.map(lambda part: _judge_rows(part, settings), parts))
    return Verdicts(
        **{name.name: np.concatenate([getattr(p, name.name) for p in judged]) for name in fields(Verdicts)}
    )


def _judge_rows(obs: Observations, settings: DetectorSettings) -> Verdicts:
    """:func:`judge` on rows few enough to judge at once."""
    grid = judging_grid(obs)
    model = expected_values(grid, settings)
    days, interval, short, coverage = history_of(grid, settings)
    young = (days < settings.min_seasonal_days) & ~model.seasonal
    found = departures(grid, model, short, settings, young)
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
    grid_verdicts = Verdicts(
        judged=judged,
        anomalous=anomalous,
        vanished=vanished,
        seasonal=model.seasonal,
        short_history=short & judged,
        history_days=days,
        interval=interval * step,
        between_points=np.zeros(rows, dtype=bool),
        step_extremes_wanted=np.full(rows, np.nan),
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
    after = np.where(anomalous, ended_at, -np.inf)  # a later departure between the points wins
    between = between_points(obs, grid, model, found, settings, judged, short, after)
    return _with_between(grid_verdicts, between, model, settings)


def _with_between(
    verdicts: Verdicts, between: BetweenPoints, model: ExpectedValues, settings: DetectorSettings
) -> Verdicts:
    """``verdicts`` with the departures step 8 found between the grid's points."""
    hit = between.found
    if not hit.any():
        return replace(verdicts, step_extremes_wanted=between.candidate)
    column = between.peak_column
    expected = pick_or_nan(model.expected, column)
    duration = between.run_end - between.onset

    def chosen(mine: np.ndarray, theirs: np.ndarray) -> np.ndarray:
        return np.where(hit, theirs, mine)

    return replace(
        verdicts,
        anomalous=verdicts.anomalous | hit,
        between_points=hit,
        step_extremes_wanted=between.candidate,
        sign=chosen(verdicts.sign, between.sign),
        score=chosen(verdicts.score, between.score),
        level_shift=chosen(
            verdicts.level_shift, between.ongoing & (duration >= settings.level_shift_seconds - 1e-6)
        ),
        ongoing=chosen(verdicts.ongoing, between.ongoing),
        onset=chosen(verdicts.onset, between.onset),
        onset_censored=verdicts.onset_censored & ~hit,
        run_end=chosen(verdicts.run_end, between.run_end),
        peak_time=chosen(verdicts.peak_time, between.peak_time),
        peak_value=chosen(verdicts.peak_value, between.peak_value),
        peak_expected=chosen(verdicts.peak_expected, expected),
        normal_low=chosen(verdicts.normal_low, expected + between.normal_low),
        normal_high=chosen(verdicts.normal_high, expected + between.normal_high),
        day_ago=chosen(verdicts.day_ago, pick_or_nan(model.day_ago, column)),
        week_ago=chosen(verdicts.week_ago, pick_or_nan(model.week_ago, column)),
    )


def _finer_onset(
    obs: Observations,
    grid: JudgingGrid,
    model: ExpectedValues,
    found: Departures,
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
    with np.errstate(invalid="ignore"):
        residual = obs.recent - model.expected[:, column]
        soft = np.where(
            (sign > 0)[:, None], residual >= found.soft_high[:, None], residual <= found.soft_low[:, None]
        )
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
