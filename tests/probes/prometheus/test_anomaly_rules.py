"""The rules that make the anomaly method hold on series it was not tuned on, one synthetic
series each: any sampling interval, short and gappy histories, recurring spikes, ramps.

Each series is built as Prometheus returns it: a point per grid step where the series has a
sample in the 5 minutes before (its lookback), NaN elsewhere. Each case fails on the method
these rules replaced (persistence in wall-clock minutes, one fixed z, a minimum coverage, the
last baseline day as reference).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from probes.prometheus.judge_series import DetectorSettings, Observations, Verdicts, judge

AT = 1_741_806_000.0  # 2025-03-12T19:00:00Z
HOUR, DAY = 3600.0, 86_400.0
LOOKBACK = 300.0
Signal = Callable[[np.ndarray], np.ndarray]


def sampled(signal: Signal, interval: float, *, since: float = -np.inf, missing: float = 0.0, seed: int = 1):
    """Samples of ``signal`` every ``interval`` s from ``since``, a share ``missing`` dropped at random."""
    rng = np.random.default_rng(seed)
    start = max(since, AT - 15 * DAY)
    times = np.arange(np.ceil(start / interval) * interval, AT + 1, interval)
    keep = rng.random(len(times)) >= missing
    return times[keep], signal(times[keep])


def seen(samples: tuple[np.ndarray, np.ndarray], grid: np.ndarray, *, inclusive: bool = False) -> np.ndarray:
    """What a range query returns at ``grid``: the last sample of the lookback before each point
    (``inclusive``: a sample exactly one lookback old still counts, as in Prometheus 2.x)."""
    times, values = samples
    index = np.searchsorted(times, grid, side="right") - 1
    age = grid - times[np.maximum(index, 0)]
    fresh = age <= LOOKBACK if inclusive else age < LOOKBACK
    return np.where((index >= 0) & fresh, values[np.maximum(index, 0)], np.nan)


def judged(
    samples: tuple[np.ndarray, np.ndarray],
    *,
    baseline_step: float = 300.0,
    recent_step: float = 30.0,
    baseline_days: float = 7.0,
    window: float = HOUR,
    between: bool = True,
    nan_present: bool = False,
    **settings: object,
) -> Verdicts:
    """The verdict as of AT over ``window``, with the probe's grid layout (``between``: with the
    baseline's step extremes, which the probe reads where step 8 needs them; ``nan_present``: a
    NaN sample of the recent range is a present point, as Prometheus returns a 0/0 ratio)."""
    recent_times = AT - 2 * window + recent_step * np.arange(int(2 * window / recent_step) + 1)
    count = int(baseline_days * DAY / baseline_step)
    base_times = AT - 2 * window - baseline_step * np.arange(count, 0, -1)
    base, recent = seen(samples, base_times)[None, :], seen(samples, recent_times)[None, :]
    recent_present = np.isfinite(recent)
    if nan_present:
        recent_present = np.isfinite(seen((samples[0], np.ones(len(samples[0]))), recent_times))[None, :]
    high, low = step_extremes(samples, base_times, baseline_step, recent_step) if between else (None, None)
    obs = Observations(
        baseline=base,
        baseline_present=np.isfinite(base),
        baseline_start=base_times[0],
        baseline_step=baseline_step,
        recent=recent,
        recent_present=recent_present,
        recent_start=recent_times[0],
        recent_step=recent_step,
        judged_from=AT - window,
        step_high=high,
        step_low=low,
    )
    return judge(obs, DetectorSettings(**settings))  # type: ignore[arg-type]


def step_extremes(
    samples: tuple[np.ndarray, np.ndarray], base_times: np.ndarray, step: float, finer: float
) -> tuple[np.ndarray, np.ndarray]:
    """What ``max_over_time((q)[step:finer])`` and ``min_over_time`` return at each baseline point:
    the extremes of the points every ``finer`` seconds from one step before it to it."""
    offsets = finer * np.arange(round(step / finer) + 1)
    points = seen(samples, (base_times[:, None] - offsets[None, :]).ravel()).reshape(len(base_times), -1)
    known = np.isfinite(points).any(axis=1)
    high = np.where(known, np.nanmax(np.where(known[:, None], points, 0.0), axis=1), np.nan)
    low = np.where(known, np.nanmin(np.where(known[:, None], points, 0.0), axis=1), np.nan)
    return high[None, :], low[None, :]


def noise(level: float, sigma: float, seed: int = 7) -> Signal:
    """Gaussian noise around ``level``, a fixed value per timestamp (so resampling agrees)."""
    return lambda t: level + sigma * np.random.default_rng([seed, int(t[0]) % 2**31]).normal(size=len(t))


def with_burst(signal: Signal, start: float, end: float, value: float) -> Signal:
    return lambda t: np.where((t >= start) & (t < end), value, signal(t))


def test_hourly_series_a_single_sample_far_out_is_found() -> None:
    """Persistence in the series' own samples: one hourly point is one sample, not 1/12 of one."""
    quiet = sampled(noise(100, 5), HOUR)
    assert not judged(quiet).anomalous[0]
    spike = sampled(with_burst(noise(100, 5), AT - HOUR / 2, AT, 200.0), HOUR / 2)
    hourly = sampled(with_burst(noise(100, 5), AT - 1, AT + 1, 200.0), HOUR)
    for series in (spike, hourly):
        v = judged(series)
        assert v.judged[0] and v.anomalous[0] and v.sign[0] == 1 and not v.short_history[0]
    assert judged(hourly).interval[0] == HOUR


def test_15s_series_a_90s_burst_far_out_is_found_its_noise_is_not() -> None:
    """At 15 s scrapes a 90 s burst of 7 sigma is a sample of the judging grid far out."""
    kwargs = {"baseline_step": 60.0, "recent_step": 15.0, "baseline_days": 1.0}
    assert not judged(sampled(noise(100, 5), 15), **kwargs).anomalous[0]
    burst = sampled(with_burst(noise(100, 5), AT - 600, AT - 510, 135.0), 15)
    v = judged(burst, **kwargs)
    assert v.anomalous[0] and not v.ongoing[0]
    assert AT - 600 <= v.onset[0] <= AT - 540


def test_gappy_series_judged_in_its_own_samples_and_a_missing_sample_is_no_vanishing() -> None:
    """An exporter that misses 60 % of its scrapes: a drop is found in the one sample it has; an
    irregular series whose last sample is missing has not stopped reporting, one silent for
    longer than any gap of its baseline has."""
    times, values = sampled(noise(50, 2), 300, missing=0.6, seed=5)
    keep = times < AT - 900  # then one sample 7 sigma low, and none since
    v = judged((np.append(times[keep], AT - 600), np.append(values[keep], 36.0)))
    assert v.judged[0] and v.anomalous[0] and v.sign[0] == -1 and not v.vanished[0]
    assert v.peak_time[0] == AT - 600
    times, values = sampled(noise(50, 2), 300, missing=0.05, seed=3)
    last_missing = times < AT
    assert not judged((times[last_missing], values[last_missing])).vanished[0]
    gone = times < AT - 1800
    v = judged((times[gone], values[gone]))
    assert v.vanished[0] and not v.anomalous[0]


def test_two_days_of_history_judged_with_a_wider_margin_and_said_so() -> None:
    """A new service: 2 days of history are judged (no minimum coverage), said to be short."""
    since = AT - 2 * DAY - 2 * HOUR
    quiet = judged(sampled(noise(100, 5), 300, since=since))
    assert quiet.judged[0] and quiet.short_history[0] and not quiet.anomalous[0]
    assert quiet.history_days[0] == pytest.approx(2.0, abs=0.01)
    spike = judged(sampled(with_burst(noise(100, 5), AT - 900, AT, 180.0), 300, since=since))
    assert spike.anomalous[0] and spike.short_history[0]
    # the wider margin: one sample the full history calls out is not called on two days
    moderate = with_burst(noise(100, 5), AT - 300, AT, 124.0)
    assert judged(sampled(moderate, 300)).anomalous[0]
    assert not judged(sampled(moderate, 300, since=since)).anomalous[0]


def test_spikes_that_recur_in_the_baseline_are_normal() -> None:
    """A job that spikes to the same height every 6 hours, for 10 minutes: the spike in the
    window is one more of them; one twice as high is not."""

    def recurring(height: float) -> Signal:
        def values(t: np.ndarray) -> np.ndarray:
            spike = ((t - AT) % (6 * HOUR)) >= 6 * HOUR - 600
            now = t >= AT - 600
            return np.where(spike, np.where(now, height, 400.0), noise(100, 5)(t))

        return values

    assert not judged(sampled(recurring(400.0), 60)).anomalous[0]
    higher = judged(sampled(recurring(800.0), 60))
    assert higher.anomalous[0] and higher.sign[0] == 1


def test_a_ramp_is_compared_with_the_level_before_it_began() -> None:
    """A drift that began 20 hours ago moved the last day's level with it; measured from the
    level before it began, it is far out. A level held for a day remains the new normal."""
    began = AT - 20 * HOUR
    base = noise(100, 10)
    ramp = lambda t: base(t) + np.clip((t - began) / (20 * HOUR), 0, None) * 80  # noqa: E731
    v = judged(sampled(ramp, 300))
    assert v.anomalous[0] and v.sign[0] == 1 and v.level_shift[0]
    held = lambda t: base(t) + np.where(t >= AT - 30 * HOUR, 80.0, 0.0)  # noqa: E731
    assert not judged(sampled(held, 300)).anomalous[0]


@pytest.mark.parametrize("window_hours", [0.25, 1, 2, 3, 4, 6, 12, 24])
@pytest.mark.parametrize("baseline_days", [1, 2, 7, 14, 21, 30])
def test_the_finer_step_divides_the_judging_step(window_hours: float, baseline_days: int) -> None:
    from probes.prometheus.anomalies import query_grid

    grid = query_grid(AT, window_hours * HOUR, baseline_days * DAY, 2016, 240)
    assert grid.recent_step == int(grid.recent_step)  # a PromQL duration in whole seconds
    assert grid.step % grid.recent_step == 0
    assert (grid.at - grid.recent_start) / grid.recent_step <= 240  # within window_points


@pytest.mark.parametrize("phase", [0, 30, 330, 450, 630])
def test_a_daily_wave_sampled_every_15_minutes_over_a_4h_window_is_normal(phase: float) -> None:
    """With a 4 h window the finer step was 120 s, which does not divide the 300 s grid: a
    15-minute sample landed one column later in the recent range than on previous days (the
    grid point read the finer point 60 s before it), the daily model had no same-time value
    there and the level stood in for it (z ~ 1e7)."""
    from probes.prometheus.anomalies import query_grid

    wave = sampled(lambda t: 100 + 50 * np.sin(2 * np.pi * t / DAY), 900)
    grid = query_grid(AT + phase, 4 * HOUR, 7 * DAY, 2016, 240)
    recent_times = grid.recent_start + grid.recent_step * np.arange(
        round((grid.at - grid.recent_start) / grid.recent_step) + 1
    )
    base_times = np.arange(grid.baseline_start, grid.baseline_end + 1, grid.step)
    base = seen(wave, base_times, inclusive=True)[None, :]
    recent = seen(wave, recent_times, inclusive=True)[None, :]
    obs = Observations(
        baseline=base,
        baseline_present=np.isfinite(base),
        baseline_start=base_times[0],
        baseline_step=grid.step,
        recent=recent,
        recent_present=np.isfinite(recent),
        recent_start=recent_times[0],
        recent_step=grid.recent_step,
        judged_from=grid.at - 4 * HOUR,
    )
    verdict = judge(obs, DetectorSettings())
    assert verdict.judged[0] and verdict.seasonal[0]
    assert not verdict.anomalous[0], verdict.score[0]


def test_on_a_short_baseline_a_sample_must_pass_a_higher_extreme() -> None:
    """The rank test's chance grows with the samples judged and shrinks with the baseline: on
    two days (576 samples, 12 judged) the 2nd highest baseline sample is beaten by chance in
    about 4 % of hours on each side, so a sample must pass the highest; on a week it passes
    the 2nd. One sample of z 7 below an earlier one of z 8 is news on a week, not on 2 days;
    on 2 days one of z 12 is (it passes the highest by the floor, 10 % of the level)."""
    one_earlier = with_burst(noise(100, 5), AT - DAY - 300, AT - DAY, 140.0)
    now = with_burst(one_earlier, AT - 900, AT - 600, 135.0)
    week = judged(sampled(now, 300))
    assert week.anomalous[0] and week.sign[0] == 1 and not week.short_history[0]
    two_days = judged(sampled(now, 300, since=AT - 2 * DAY - 2 * HOUR))
    assert two_days.judged[0] and two_days.short_history[0] and not two_days.anomalous[0]
    higher = judged(
        sampled(with_burst(one_earlier, AT - 900, AT - 600, 160.0), 300, since=AT - 2 * DAY - 2 * HOUR)
    )
    assert higher.anomalous[0] and higher.sign[0] == 1


def test_the_chance_is_shared_only_by_the_window_lengths_a_baseline_can_judge() -> None:
    """Two days of hourly points (48) judge windows of 1 and 3 samples only (6 and 12 need more
    baseline windows): the chance is split two ways, not four, so the one new hourly sample of
    a half-hour window must pass the 2nd highest of the baseline, as on a week, not the highest."""
    since = AT - 2 * DAY - HOUR
    one_earlier = with_burst(noise(100, 5), AT - DAY - 1, AT - DAY + 1, 140.0)
    now = judged(sampled(with_burst(one_earlier, AT - 1, AT + 1, 135.0), HOUR, since=since), window=HOUR / 2)
    assert now.judged[0] and now.short_history[0] and now.interval[0] == HOUR
    assert now.anomalous[0] and now.sign[0] == 1
    assert not judged(sampled(one_earlier, HOUR, since=since), window=HOUR / 2).anomalous[0]


def test_a_short_history_extreme_must_be_passed_by_the_floor() -> None:
    """A day of history holds one plateau (80 from 17:00 to 19:30, 20 the rest of the day): a plateau
    today at 80.001 passes that day's extremes by a hair and the level model's spread by far,
    but it is yesterday's afternoon; a spike to 120 on it is an anomaly."""
    since = AT - DAY - 2 * HOUR - 600

    def afternoon(height: float) -> Signal:
        def signal(t: np.ndarray) -> np.ndarray:
            hours = (t % DAY) / HOUR
            today = t >= AT - 2 * HOUR
            return np.where((hours >= 17) & (hours < 19.5), np.where(today, height, 80.0), 20.0)

        return signal

    same = judged(sampled(afternoon(80.001), 300, since=since), baseline_days=1.0)
    assert same.judged[0] and same.short_history[0] and not same.seasonal[0]
    assert not same.anomalous[0]
    spike = judged(
        sampled(with_burst(afternoon(80.0), AT - 900, AT + 1, 120.0), 300, since=since), baseline_days=1.0
    )
    assert spike.anomalous[0] and spike.sign[0] == 1


def recurring_spikes(today: float, sign: float) -> Signal:
    """Around 4 (times ``sign``), a 25-minute spike every 110 minutes (not daily: the level
    model judges it) to 180-200 (each its own height); the spike that began 20 minutes ago
    reaches ``today`` instead."""

    def signal(t: np.ndarray) -> np.ndarray:
        episode = np.floor(t / 6600)
        height = 180.0 + 20.0 * ((episode * 0.618) % 1.0)
        spiking = (t % 6600) < 1500
        now = (t >= AT - 1200) & (t <= AT)
        spike = np.where(now, today, height)
        return sign * np.where(spiking | now, spike, noise(4, 1)(t))

    return signal


@pytest.mark.parametrize("sign", [1.0, -1.0])
@pytest.mark.parametrize("days", [1.0, 2.0])
def test_a_short_history_spike_a_little_higher_is_the_same_spike(days: float, sign: float) -> None:
    """A day or two of history hold 13 or 26 spikes of 180-200 on a level of 4: today's,
    3 % higher than the highest, passes the extremes by far more than 10 % of the level, yet
    it is the same spike: a short history's extreme is passed by the relative floor of the
    extreme's own size. One half again as high is an anomaly. Either sign (the extreme's size,
    not the level's)."""
    since = AT - days * DAY - 2 * HOUR - 600
    highest = 200.0
    same = judged(sampled(recurring_spikes(1.03 * highest, sign), 300, since=since), baseline_days=days)
    assert same.judged[0] and same.short_history[0]
    assert not same.anomalous[0], (same.peak_value[0], same.score[0])
    higher = judged(sampled(recurring_spikes(1.5 * highest, sign), 300, since=since), baseline_days=days)
    assert higher.anomalous[0] and higher.sign[0] == sign


def daily_high_phase(extra: float) -> Signal:
    """80 from 11:00 to 19:30, 20 the rest of the day (the median: 20), noise of 1; ``extra``
    added to the three samples of 18:40-18:55 today."""

    def signal(t: np.ndarray) -> np.ndarray:
        hours = (t % DAY) / HOUR
        wave = np.where((hours >= 11) & (hours < 19.5), 80.0, 20.0)
        return wave + noise(0, 1)(t) + np.where((t >= AT - 1200) & (t < AT - 300), extra, 0.0)

    return signal


def test_the_relative_floor_is_of_the_expected_value() -> None:
    """A daily wave between 20 and 80: 3 above the expected 80 for three samples (4 %) is 5
    robust spreads of its window's means and passes their ranked extreme and 10 % of the
    series' median (2), but it is 4 % of what the series is expected to be then: no news. The
    relative floor is of the expected value, at least of the typical size; 12 above (15 %) is
    found."""
    small = judged(sampled(daily_high_phase(3.0), 300))
    assert small.judged[0] and small.seasonal[0]
    assert not small.anomalous[0], (small.peak_value[0], small.score[0])
    large = judged(sampled(daily_high_phase(12.0), 300))
    assert large.anomalous[0] and large.sign[0] == 1
    assert large.peak_expected[0] == pytest.approx(80, abs=2)


def judged_rows(
    draw: Callable[[np.random.Generator, int], np.ndarray], seeds: int, *, window: float, baseline_days: float
) -> Verdicts:
    """One row per seed of 5-minute samples ``draw`` gives, judged at once as of AT."""
    recent_times = AT - 2 * window + 30.0 * np.arange(int(2 * window / 30.0) + 1)
    base_times = AT - 2 * window - 300.0 * np.arange(int(baseline_days * DAY / 300.0), 0, -1)
    times = np.arange(base_times[0] - 600.0, AT + 1, 300.0)
    drawn = [(times, draw(np.random.default_rng(seed), len(times))) for seed in range(seeds)]
    base = np.vstack([seen(samples, base_times) for samples in drawn])
    recent = np.vstack([seen(samples, recent_times) for samples in drawn])
    obs = Observations(
        baseline=base,
        baseline_present=np.isfinite(base),
        baseline_start=base_times[0],
        baseline_step=300.0,
        recent=recent,
        recent_present=np.isfinite(recent),
        recent_start=recent_times[0],
        recent_step=30.0,
        judged_from=AT - window,
    )
    return judge(obs, DetectorSettings())


@pytest.mark.parametrize(
    "draw",
    [
        pytest.param(lambda rng, n: 100.0 * rng.lognormal(0.0, 0.5, n), id="lognormal"),
        pytest.param(lambda rng, n: 100.0 + rng.exponential(10.0, n), id="exponential"),
    ],
)
def test_beyond_the_most_extreme_the_tail_decides(
    draw: Callable[[np.random.Generator, int], np.ndarray],
) -> None:
    """A day of history judged over 4 hours (288 baseline samples, 48 new) would need a rank
    below the most extreme: the baseline's maximum is beaten by chance in about 1 window of 6.
    The tail beyond it is extrapolated from the baseline's own top values, so heavy-tailed noise
    with nothing wrong alarms in at most 1 row of 20 (as a week judged over an hour does; 11 %
    of lognormal rows when the maximum was enough)."""
    day = judged_rows(draw, 400, window=4 * HOUR, baseline_days=1.0)
    week = judged_rows(draw, 400, window=HOUR, baseline_days=7.0)
    assert day.judged.all() and day.short_history.all()
    assert day.anomalous.mean() <= 0.05, day.anomalous.mean()
    assert week.anomalous.mean() <= 0.05, week.anomalous.mean()


def test_a_spike_far_beyond_the_tail_of_a_day_is_found() -> None:
    def draw(rng: np.random.Generator, n: int) -> np.ndarray:
        values = 100.0 * rng.lognormal(0.0, 0.5, n)
        values[-6:] = 3 * values[:-48].max()  # the last half hour, three times the day's highest
        return values

    found = judged_rows(draw, 20, window=4 * HOUR, baseline_days=1.0)
    assert found.anomalous.all() and (found.sign == 1).all()


def business_week(weekend_share: float, sigma: float = 0.05) -> Signal:
    """A daily wave peaking at AT's time of day, ``weekend_share`` as high on two days of every
    week, AT's day being the first of them; 5 % multiplicative noise."""
    weekend_start = AT - (AT % DAY)

    def signal(t: np.ndarray) -> np.ndarray:
        wave = 60.0 + 40.0 * np.cos(2 * np.pi * (t - AT) / DAY)
        weekend = ((t - weekend_start) // DAY) % 7 < 2
        return np.where(weekend, weekend_share, 1.0) * wave * (1 + sigma * noise(0.0, 1.0)(t))

    return signal


@pytest.mark.parametrize("interval", [300.0, 1800.0, 3600.0])
def test_a_weekend_is_judged_against_the_same_time_a_week_ago(interval: float) -> None:
    """A week of baseline cannot score a weekly model (that needs two), so the daily model
    expects a weekday at a weekend's peak hour: half of it is z 10 and more. The same time a
    week ago, nearer to now than the expected value is, makes it a weekly habit; an outage on
    the weekend (a weekend's peak hour at a tenth) is still found, as is a spike."""
    quiet = judged(sampled(business_week(0.5), interval))
    assert quiet.judged[0] and quiet.seasonal[0]
    assert not quiet.anomalous[0], quiet.score[0]
    outage = with_burst(business_week(0.5), AT - 2 * interval, AT + 1, 5.0)
    found = judged(sampled(outage, interval))
    assert found.anomalous[0] and found.sign[0] == -1
    spike = judged(sampled(with_burst(business_week(0.5), AT - 2 * interval, AT + 1, 250.0), interval))
    assert spike.anomalous[0] and spike.sign[0] == 1


def test_a_spike_at_the_same_time_a_week_ago_is_a_weekly_habit() -> None:
    weekly_job = with_burst(noise(100, 5), AT - 7 * DAY - 900, AT - 7 * DAY + 600, 180.0)
    again = judged(sampled(with_burst(weekly_job, AT - 900, AT + 1, 185.0), 300))
    assert again.judged[0] and not again.anomalous[0], again.score[0]
    # seasonality off (the probe's ``seasonality: false``): no weekly habit either
    unseasoned = judged(sampled(with_burst(weekly_job, AT - 900, AT + 1, 185.0), 300), weekly_check=False)
    assert unseasoned.anomalous[0] and unseasoned.sign[0] == 1
    elsewhere = judged(sampled(with_burst(noise(100, 5), AT - 900, AT + 1, 185.0), 300))
    assert elsewhere.anomalous[0] and elsewhere.sign[0] == 1


def daily_wave(t: np.ndarray) -> np.ndarray:
    """60 +- 30 over the day, 5 % multiplicative noise."""
    return (60.0 + 30.0 * np.cos(2 * np.pi * (t % DAY) / DAY)) * (1 + 0.05 * noise(0.0, 1.0)(t))


@pytest.mark.parametrize("interval", [300.0, 3600.0])
@pytest.mark.parametrize("baseline_days", [2.0, 7.0])
def test_the_daily_model_sets_its_own_extremes(interval: float, baseline_days: float) -> None:
    """The baseline's first day has no earlier day for the daily model to expect it from; the
    level stands in there, and its residuals (+-30 on this wave) are not the daily model's
    (+-3): counted with them, they set the ranked extremes and a 40 % rise in the last half
    hour, z 8 against the daily model, stayed "within normal"."""
    rise = judged(
        sampled(lambda t: np.where(t >= AT - 1800, 1.4, 1.0) * daily_wave(t), interval),
        baseline_days=baseline_days,
    )
    assert rise.seasonal[0] and rise.anomalous[0] and rise.sign[0] == 1
    quiet = judged(sampled(daily_wave, interval), baseline_days=baseline_days)
    assert quiet.seasonal[0] and not quiet.anomalous[0], quiet.score[0]


def irregular(signal: Signal, gaps: tuple[float, ...], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Samples of ``signal`` from 9 days before AT, each ``gaps[i]`` after the last (at random)."""
    rng = np.random.default_rng(seed)
    steps = rng.choice(gaps, size=int(9 * DAY / min(gaps)) + 1)
    times = AT - 9 * DAY + rng.uniform(0, max(gaps)) + np.cumsum(steps)
    times = times[times <= AT]
    return times, signal(times)


def test_an_irregular_daily_series_is_judged_only_where_the_daily_model_expects_it() -> None:
    """Samples 10, 15 or 30 minutes apart fall on a 5-minute grid where the previous days
    often have no sample at the same time: there the daily model expects nothing, and judging
    such a point by the level (60 +- 30 on this wave) false-alarmed in 5 of these 64 rows."""
    gaps = (600.0, 900.0, 1800.0)

    def at_hour(seed: int) -> Signal:  # AT at another time of the day for every seed
        return lambda t: daily_wave(t + seed * 5400.0)

    verdicts = [judged(irregular(at_hour(seed), gaps, seed)) for seed in range(64)]
    assert all(v.judged[0] and v.seasonal[0] for v in verdicts)
    assert sum(bool(v.anomalous[0]) for v in verdicts) <= 1
    found = [
        judged(irregular(with_burst(at_hour(seed), AT - 1800, AT + 1, 0.0), gaps, seed)) for seed in range(16)
    ]
    assert sum(bool(v.anomalous[0] and v.sign[0] == -1) for v in found) >= 13


@pytest.mark.parametrize("interval", [60.0, 300.0])
def test_a_day_old_series_falling_to_zero_is_found_without_a_daily_model(interval: float) -> None:
    """A service a day old has no daily model yet: it is judged by its level, whose spread holds
    the whole 60 +- 30 wave, so its traffic falling to 0 is only 2 robust deviations out and
    was never found before a second day. Its single samples are judged beyond the most extreme
    of its day by the threshold x the tail's own scale instead: found at every time of the day,
    with its onset and a normal range that excludes 0; the same day-old wave unbroken is not."""
    since = AT - 2 * HOUR - DAY

    def at_hour(seed: int) -> Signal:  # AT at another time of the day for every seed
        return lambda t: daily_wave(t + seed * 5400.0)

    for seed in range(16):
        down = judged(sampled(with_burst(at_hour(seed), AT - 1800, AT + 1, 0.0), interval, since=since))
        assert down.short_history[0] and not down.seasonal[0] and down.history_days[0] < 1.1
        assert down.anomalous[0] and down.sign[0] == -1 and down.ongoing[0], seed
        assert AT - 1800 <= down.onset[0] <= AT - 1800 + interval, (seed, down.onset[0] - AT)
        assert down.normal_low[0] > 0.0 and down.peak_value[0] == 0.0
    quiet = [judged(sampled(at_hour(seed), interval, since=since)) for seed in range(16)]
    assert all(v.judged[0] for v in quiet)
    assert sum(bool(v.anomalous[0]) for v in quiet) <= 1


def lognormal_latency(seed: int) -> Signal:
    """A latency with 30 % lognormal noise on a 100 +- 40 daily wave: the noise keeps the daily
    model from winning (its residuals are not 0.8x the level's), so it is judged by its level."""
    return lambda t: np.exp(noise(0, 0.3, seed)(t)) * (100 + 40 * np.sin(2 * np.pi * t / DAY))


@pytest.mark.parametrize("interval", [60.0, 300.0])
def test_a_week_old_series_judged_by_its_level_falling_to_zero_is_found(interval: float) -> None:
    """Judged by its level, the week-old latency falling to 0 is 2-3 robust deviations out and
    was never found; below the lowest of its week by the threshold x the tail's own scale, it
    departs. Its unbroken wave, at every time of day, is not found."""
    for hours in range(0, 24, 3):

        def shifted(t: np.ndarray, h: int = hours) -> np.ndarray:
            return lognormal_latency(h)(t + h * HOUR)

        quiet = judged(sampled(shifted, interval))
        assert quiet.judged[0] and not quiet.seasonal[0] and not quiet.anomalous[0], hours
        down = judged(sampled(with_burst(shifted, AT - 1800, AT + 1, 0.0), interval))
        assert not down.seasonal[0] and down.anomalous[0] and down.sign[0] == -1, hours
        assert AT - 1800 <= down.onset[0] <= AT - 1800 + interval and down.normal_low[0] > 0.0


@pytest.mark.parametrize("seed", range(6))
def test_a_series_in_other_units_gets_the_same_verdict(seed: int) -> None:
    """Means are differences of running sums, whose rounding depends on the values' size: a
    recent window equal to a baseline one (a spike to a recurring height, an integer count's
    maximum) was beyond it by that rounding in some units and not in others, and
    the spread's floor was absolute below a level of 1. Same series, units from 1e-15 to 1e15."""
    rng = np.random.default_rng(seed)
    times = np.arange(AT - 8 * DAY, AT + 1, 300.0)
    spikes = np.zeros(len(times))
    spikes[rng.choice(len(times) - 12, 30, replace=False)] = 10 / 3  # a recurring height
    spikes[-rng.integers(1, 6)] = 10 / 3  # and once more now
    counts = rng.poisson(3, len(times)).astype(float)
    counts[-rng.integers(1, 6)] = counts[:-12].max()  # its maximum, once more
    for values in (spikes, counts):
        verdicts = [judged((times, values * unit)) for unit in (1.0, 1e-15, 1e-9, 0.37, 1e9, 1e15)]
        for other in verdicts[1:]:
            assert other.anomalous[0] == verdicts[0].anomalous[0]
            assert other.sign[0] == verdicts[0].sign[0]
            np.testing.assert_allclose(other.score, verdicts[0].score, rtol=1e-6)


@pytest.mark.parametrize("interval", [15.0, 60.0, 300.0])
def test_a_young_flat_series_that_jumps_is_found(interval: float) -> None:
    """A day-old series that never changed (a replica count, a config gauge) has a tail scale of
    0: every sample of its history equals its extreme, so 'beyond half the threshold' held its
    whole last day and a 1000-fold jump read as a level held for a day, the new normal. The
    tail's scale is floored as the spreads are: the jump is found, for its minutes only; the
    same series, and an integer gauge at its recurring maximum, unbroken, are not."""
    since = AT - 2 * HOUR - DAY
    for value in (1.0, 1e-6, 3e9):
        flat = sampled(lambda t, v=value: np.full(len(t), v), interval, since=since)
        quiet = judged(flat)
        assert quiet.judged[0] and quiet.short_history[0] and not quiet.anomalous[0]
        jump = judged(
            sampled(
                with_burst(lambda t, v=value: np.full(len(t), v), AT - 600, AT + 1, 1000 * value),
                interval,
                since=since,
            )
        )
        assert jump.anomalous[0] and jump.sign[0] == 1 and jump.ongoing[0], value
        assert AT - 600 <= jump.onset[0] <= AT - 600 + interval
        drop = judged(
            sampled(
                with_burst(lambda t, v=value: np.full(len(t), v), AT - 600, AT + 1, 0.0),
                interval,
                since=since,
            )
        )
        assert drop.anomalous[0] and drop.sign[0] == -1, value
    rng = np.random.default_rng(3)
    times = np.arange(AT - DAY - 2 * HOUR, AT + 1, interval)
    gauge = np.minimum(rng.poisson(2, len(times)), 4).astype(float)  # often at its maximum, 4
    assert not judged((times, gauge)).anomalous[0]
    gauge[times >= AT - 600] = 40.0
    assert judged((times, gauge)).anomalous[0]


@pytest.mark.parametrize("interval", [300.0, 3600.0])
def test_a_steadily_growing_series_is_judged_against_its_trend(interval: float) -> None:
    """A series doubling every week (a growing user base, a queue backing up for days) sits
    half a week of growth above its median, and its spread holds the whole week's rise: a 30 %
    jump or drop was 1-2 robust deviations and never found. Its steady trend (a resistant line
    through the medians of its first, middle and last days) is taken out before the models
    are fitted: both are found, the growth itself is not. A step that came and went in the
    last days fits a line but predicts its last day badly, so it is no trend; a leak that
    began 3 days ago is not a line, so it is still compared with the level before it."""
    start = AT - 8 * DAY
    window = HOUR if interval < HOUR else 4 * HOUR
    during = 1800.0 if interval < HOUR else 3 * HOUR

    def growing(seed: int) -> Signal:
        return lambda t: 100 * (1 + (t - start) / (7 * DAY)) + noise(0, 1, seed)(t)

    def times(factor: float, seed: int) -> Signal:
        return lambda t: np.where(t >= AT - during, factor, 1.0) * growing(seed)(t)

    for seed in range(6):
        assert not judged(sampled(growing(seed), interval, since=start), window=window).anomalous[0]
        for factor, sign in ((1.3, 1), (0.7, -1)):
            v = judged(sampled(times(factor, seed), interval, since=start), window=window)
            assert v.anomalous[0] and v.sign[0] == sign, (seed, factor)
            assert AT - during <= v.onset[0] <= AT - during + interval
    came_and_went = [
        judged(
            sampled(
                lambda t, s=seed: (
                    np.where((t >= AT - 4 * DAY) & (t < AT - DAY), 160.0, 100.0) + noise(0, 2, s)(t)
                ),
                interval,
                since=start,
            )
        )
        for seed in range(6)
    ]
    assert not any(v.anomalous[0] for v in came_and_went)
    leak = [
        judged(
            sampled(
                lambda t, s=seed: 100 + np.maximum(0, t - (AT - 3 * DAY)) / DAY * 10 + noise(0, 2, s)(t),
                interval,
                since=start,
            )
        )
        for seed in range(6)
    ]
    assert sum(bool(v.anomalous[0] and v.sign[0] == 1) for v in leak) >= 5


def jittered(signal: Signal, seed: int, jitter: float = 30.0) -> tuple[np.ndarray, np.ndarray]:
    """Samples every 5 minutes for 8 days stamped up to ``jitter`` s either side of the grid's
    points (a store's or an exporter's round timestamps, a little early or late)."""
    rng = np.random.default_rng(seed)
    nominal = np.arange(AT - 8 * DAY, AT - 299, 300.0)
    times = nominal + rng.uniform(-jitter, jitter, len(nominal))
    return times, signal(times)


def test_a_sample_the_grid_misses_is_judged_by_its_step() -> None:
    """With timestamps jittering around the grid's points, a sample a little late and the next a
    little early fall in one step: the grid takes the second, and a spike that was the first was
    never judged. The recent range's finer points show it: the step's extremes judge it, as
    they judge a series scraped more often than the grid (step 9); the same series without the
    spike is not reported."""
    spike_at = AT - 20 * 60 + 10  # 10 s after a grid point; the next sample 20 s before the next
    for seed in range(8):
        times, values = jittered(noise(100, 5, seed), seed)
        assert not judged((times, values)).anomalous[0], seed
        late = np.argmin(np.abs(times - spike_at))
        times[late], times[late + 1] = spike_at, spike_at + 280
        values[late] = 300.0
        order = np.argsort(times, kind="stable")
        times, values = times[order], values[order]
        assert not judged((times, values), between=False).anomalous[0]  # the grid alone misses it
        v = judged((times, values))
        assert v.anomalous[0] and v.between_points[0] and v.peak_value[0] == 300.0, seed
        # dated to the spike, or to the sample before it where that was already beyond half
        # the threshold (the onset walks back over such samples, as on the grid)
        assert spike_at - 300 <= v.onset[0] <= spike_at + 30 and v.peak_time[0] <= spike_at + 30


@pytest.mark.parametrize("minutes_ago", [10, 25, 40, 55])
def test_a_daily_edge_a_sample_late_is_the_pattern(minutes_ago: int) -> None:
    """A noiseless daily step (80 for 12 hours, then 20) sampled every 5 minutes on the grid's
    points: today every timestamp comes a minute late, so the grid point where the step's first
    20 stands on other days still shows the 80 before it. That value lies between the expected
    values of the sample and of the one before: the pattern a sample late, not news. A step
    that does not come at all is found."""
    edge = AT - minutes_ago * 60.0
    times = np.arange(AT - 8 * DAY, AT + 1, 300.0)
    values = np.where((times - edge) % DAY < DAY / 2, 20.0, 80.0)
    late = np.where(times > AT - DAY, times + 60.0, times)
    assert judged((late, values)).seasonal[0]
    assert not judged((late, values)).anomalous[0]
    stuck = np.where(late >= edge, 80.0, values)
    v = judged((late, stuck))
    assert v.anomalous[0] and v.sign[0] == 1 and v.ongoing[0]
