"""Step 8 of the anomaly method: a departure between the judging grid's points, on a series
scraped more often than the grid's step (15 s or 1 min on the 5-minute grid of a week).

Each case fails without the step extremes (``between=False``: the method before step 8, which
saw a burst only when a grid point fell in it) or without the rule's guards.
"""

from __future__ import annotations

import numpy as np
import pytest

from probes.prometheus import judge_between
from tests.probes.prometheus.test_anomaly_rules import (
    AT,
    DAY,
    HOUR,
    Signal,
    judged,
    noise,
    sampled,
    with_burst,
)

GRID = 300.0
FINER = 30.0


def _burst_start(phase: float) -> float:
    """A burst start ``phase`` seconds after a grid point 20 minutes before AT: a 90 s burst
    from there holds no sample a grid point takes (the last one before it)."""
    return AT - 20 * 60 + phase


@pytest.mark.parametrize("interval", [15.0, 60.0])
@pytest.mark.parametrize("baseline_days", [2.0, 7.0])
@pytest.mark.parametrize("value", [300.0, 0.0], ids=["burst", "drop"])
def test_a_burst_between_the_grid_points_is_found_on_the_finer_points(
    interval: float, baseline_days: float, value: float
) -> None:
    """A 90 s burst (or a fall to 0) of a series scraped every 15 s or every minute, between two
    points of the 5-minute grid: the grid alone does not see it; the step extremes do, at the
    finer point it began, ended and peaked, with the grid's normal range."""
    since = AT - baseline_days * DAY - 2 * HOUR
    for phase in (30.0, 60.0, 120.0, 150.0):
        start = _burst_start(phase)
        series = sampled(with_burst(noise(100, 5), start, start + 90, value), interval, since=since)
        assert not judged(series, between=False).anomalous[0], phase
        v = judged(series)
        assert v.anomalous[0] and v.between_points[0], (phase, interval)
        assert v.sign[0] == (1 if value > 100 else -1)
        assert start <= v.onset[0] <= start + max(interval, FINER), (phase, v.onset[0] - start)
        assert v.onset[0] <= v.peak_time[0] <= v.run_end[0] < start + 90 + interval  # its last sample
        assert v.peak_value[0] == value and not v.ongoing[0] and not v.level_shift[0]
        assert v.normal_low[0] < 100 < v.normal_high[0] and v.normal_high[0] < 150
        assert v.short_history[0] == (baseline_days < 3)


@pytest.mark.parametrize("interval", [15.0, 60.0])
def test_a_healthy_finely_scraped_series_is_silent(interval: float) -> None:
    """Noise, a daily wave, a lognormal latency: the step extremes of the window are those of
    the baseline's steps, so nothing is found between the points."""
    signals = {
        "noise": noise(100, 5),
        "wave": lambda t: 60 + 30 * np.sin(2 * np.pi * t / DAY) + noise(0, 3)(t),
        "latency": lambda t: np.exp(noise(0, 0.3)(t)) * (100 + 40 * np.sin(2 * np.pi * t / DAY)),
    }
    for name, signal in signals.items():
        for hours in range(0, 24, 3):
            shifted = lambda t, s=signal, h=hours: s(t + h * HOUR)  # noqa: E731
            v = judged(sampled(shifted, interval))
            assert v.judged[0] and not v.anomalous[0], (name, hours)


@pytest.mark.parametrize("interval", [15.0, 60.0])
def test_a_burst_between_the_grid_points_every_day_at_this_time_is_normal(interval: float) -> None:
    """A job that bursts to 300 for a minute every day at this time, never at a grid point's
    sample: today's burst is one more of them (the previous days' step extremes at this time
    of day hold it); one twice as high is not."""
    start = _burst_start(60.0)

    def daily(height: float) -> object:
        def values(t: np.ndarray) -> np.ndarray:
            burst = ((t - start) % DAY) < 60
            today = t >= start
            return np.where(burst, np.where(today, height, 300.0), noise(100, 5)(t))

        return values

    for days in (2.0, 7.0):
        since = AT - days * DAY - 2 * HOUR
        assert not judged(sampled(daily(300.0), interval, since=since)).anomalous[0], days
        higher = judged(sampled(daily(600.0), interval, since=since))
        assert higher.anomalous[0] and higher.between_points[0] and higher.sign[0] == 1, days


def test_a_baseline_sampled_at_the_grid_step_is_judged_on_the_grid_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A long-term store that kept one sample per 5 minutes of the baseline (downsampled) while
    the recent range is raw at 15 s: a baseline step's extremes are then two samples, a recent
    step's ten, not the same statistic. The grid's sample lies strictly between a step's
    extremes in most recent steps and in no baseline step: the finer points are not judged
    (a burst between the points is missed, as before step 8), rather than judged against
    extremes of fewer samples. Without that guard the same burst is judged between them."""
    start = _burst_start(60.0)
    raw = sampled(with_burst(noise(100, 5), start, start + 90, 300.0), 15.0)
    downsampled = (raw[0] % GRID == 0) | (raw[0] >= AT - 2 * HOUR - GRID)
    series = (raw[0][downsampled], raw[1][downsampled])
    v = judged(series)
    assert v.judged[0] and not v.anomalous[0]
    assert np.isfinite(judged(series, between=False).step_extremes_wanted[0])  # the screen asked
    assert judged(raw).between_points[0]  # the raw baseline: found
    monkeypatch.setattr(judge_between, "FINER_SHARE", 0.0)
    assert judged(series).between_points[0]


def test_an_irregular_series_is_judged_between_the_points_only_where_its_model_expects_it() -> None:
    """Samples every 3 minutes on average at random (exponential gaps) with a 60 +- 30 daily
    wave, two days old: a step where the daily model has no value a day earlier is not
    expected by it (step 2), so its finer points are not judged against the level standing in
    there (that judged the wave's crest a burst in several rows of 40)."""
    alarms = 0
    for seed in range(40):
        rng = np.random.default_rng(seed)
        gaps = rng.exponential(180.0, size=2000)
        times = AT - np.cumsum(gaps)[::-1]
        times = times[times >= AT - 2 * DAY - 2 * HOUR]
        values = 60 + 30 * np.sin(2 * np.pi * times / DAY) + rng.normal(0, 3, len(times))
        v = judged((times, values))
        assert v.judged[0], seed
        alarms += bool(v.anomalous[0])
    assert alarms <= 1


@pytest.mark.parametrize("interval", [15.0, 60.0])
@pytest.mark.parametrize("mean", [0.5, 2.0])
def test_an_integer_gauge_burst_between_the_points_is_found(interval: float, mean: float) -> None:
    """A queue depth of 0, 1, 2 (Poisson) bursting to 50 for 90 s between two grid points: its
    values repeat so often that the grid's sample is seldom strictly between a step's extremes,
    but its finer points change value several times a step, so it is sampled between them.
    Nothing is found between the points of its unbroken week; a burst found there is
    reported even after an earlier, smaller departure found on the grid (the latest wins)."""

    def depth(seed: int) -> object:
        return lambda t: np.random.default_rng([seed, int(t[0]) % 2**31]).poisson(mean, len(t)).astype(float)

    start = _burst_start(60.0)
    for seed in range(5):
        v = judged(sampled(with_burst(depth(seed), start, start + 90, 50.0), interval))  # type: ignore[arg-type]
        assert v.anomalous[0] and v.between_points[0] and v.peak_value[0] == 50.0, seed
        assert start - FINER <= v.onset[0] <= start + max(interval, FINER)  # a high neighbour may be soft
        assert not judged(sampled(depth(seed), interval)).between_points[0], seed  # type: ignore[arg-type]


def test_only_the_finer_points_of_the_diagnosed_window_are_judged() -> None:
    """A 15-minute window on a 30-minute grid: the step ending at AT began 15 minutes before
    the window did. A burst in that earlier part is not in the window and is not reported;
    one inside it is."""
    kwargs = {"baseline_step": 1800.0, "recent_step": 30.0, "window": 900.0}
    for minutes, inside in ((25, False), (20, False), (10, True)):
        start = AT - minutes * 60
        v = judged(sampled(with_burst(noise(100, 5), start, start + 90, 300.0), 15.0), **kwargs)  # type: ignore[arg-type]
        assert bool(v.anomalous[0]) == inside and bool(v.between_points[0]) == inside, minutes
        if inside:
            assert v.peak_time[0] >= AT - 900 and v.peak_value[0] == 300.0


def uniform(level: float, half: float, seed: int = 7) -> object:
    return lambda t: level + half * (2 * np.random.default_rng([seed, int(t[0]) % 2**31]).random(len(t)) - 1)


def test_a_step_extreme_that_passes_reports_its_own_point_and_range() -> None:
    """Uniform noise 0 +- 10 (a short tail): a burst to 14-16 passes the step extremes' bounds
    while staying within the single samples' soft threshold; the peak, onset and end are the
    burst's own points, and the normal range is the step extremes' (the burst lies beyond it)."""
    start = _burst_start(60.0)
    for value in (14.4, 15.0, 16.0):
        v = judged(sampled(with_burst(uniform(0, 10), start, start + 90, value), 15.0))  # type: ignore[arg-type]
        assert v.between_points[0] and v.peak_value[0] == value and v.peak_time[0] == start
        assert start <= v.onset[0] <= v.run_end[0] < start + 90 + 15
        assert v.normal_high[0] < value


def test_without_the_recent_check_a_daily_burst_is_judged_like_any_other() -> None:
    """``recent_check: false`` turns off the usual extremes at this time of day, on the finer
    points as on the grid: a burst to 116 on 100 +- 10 that every day at this time reaches
    nearly as high is normal with it and departs without it."""
    start = _burst_start(60.0)

    def daily(t: np.ndarray) -> np.ndarray:
        burst = ((t - start) % DAY) < 60
        return np.where(burst, np.where(t >= start, 116.0, 112.0), uniform(100, 10)(t))  # type: ignore[operator]

    assert not judged(sampled(daily, 15.0)).anomalous[0]
    assert judged(sampled(daily, 15.0), recent_check=False).between_points[0]


def test_a_nan_sample_is_no_sample_between_the_points() -> None:
    """Prometheus returns a NaN sample (a 0/0 ratio, a quantile of no observations) as a
    present point; NaN differs from every value, itself too, so one of them made a series
    sampled on the grid's points look as if it had samples between them, and its steps'
    extremes were judged in place of its grid. It is no value: the verdict is the grid's."""
    changed = 0
    for seed in range(40):
        times, values = sampled(noise(100, 5, seed), 300.0, seed=seed)  # on the grid's points
        values[np.searchsorted(times, AT - 600)] += 25
        clean = judged((times, values))
        with_nan = judged((times, np.where(times == AT - 1500, np.nan, values)), nan_present=True)
        assert not with_nan.between_points[0], seed
        changed += int(clean.anomalous[0] != with_nan.anomalous[0] or clean.score[0] != with_nan.score[0])
    assert changed == 0


@pytest.mark.parametrize("interval", [15.0, 60.0])
def test_between_the_points_the_relative_floor_is_of_the_expected_value(interval: float) -> None:
    """A daily wave between 20 and 80 (the median: 50), at its peak of 80 now: a 90 s burst
    between the grid's points to 87 (9 % of the expected 80, above 10 % of the median) is no
    news, as on the grid; one to 92 (15 %) is found, with noise of 1 too (it passes the
    previous days' step extremes at this time by the series' floor, not by the expected
    value's)."""
    start = _burst_start(60.0)

    def wave(sigma: float) -> Signal:
        return lambda t: 50 + 30 * np.cos(2 * np.pi * (t - start) / DAY) + noise(0, sigma)(t)

    small = judged(sampled(with_burst(wave(0.3), start, start + 90, 87.0), interval))
    assert small.judged[0] and small.seasonal[0] and not small.anomalous[0]
    for sigma in (0.3, 1.0):
        series = sampled(with_burst(wave(sigma), start, start + 90, 92.0), interval)
        assert not judged(series, between=False).anomalous[0]
        v = judged(series)
        assert v.anomalous[0] and v.between_points[0] and v.sign[0] == 1, sigma
        assert v.peak_value[0] == 92.0 and v.peak_expected[0] == pytest.approx(80, abs=1.5)
        assert start <= v.onset[0] <= start + max(interval, FINER)
