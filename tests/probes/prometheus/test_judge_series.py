"""The anomaly method on plain arrays: synthetic departures and real NAB series."""

from __future__ import annotations

import csv
import threading
from collections.abc import Callable
from dataclasses import fields
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from probes.prometheus.anomalies import default_min_deviation
from probes.prometheus.client import RangeResult, Series
from probes.prometheus.judge_series import (
    DetectorSettings,
    Observations,
    Verdicts,
    judge,
    nanmedian,
    observations,
    robust_spread,
    run_lengths,
)

AT = 1_741_806_000.0  # 2025-03-12T19:00:00Z
WINDOW = 3600.0
RECENT_STEP, BASELINE_STEP = 30.0, 300.0
RECENT_TIMES = AT - 2 * WINDOW + RECENT_STEP * np.arange(241)
BASELINE_TIMES = AT - 2 * WINDOW - 7 * 86400 + BASELINE_STEP * np.arange(2016)
NAB = Path(__file__).resolve().parents[2] / "fixtures" / "nab"
"""The NAB series the tests read, with NAB's licence (tests/fixtures/nab/README.md)."""

Shape = Callable[[np.ndarray], np.ndarray]
rng = np.random.default_rng(4)


def noisy(level: float, sigma: float) -> Shape:
    return lambda t: level + rng.normal(0, sigma, len(t))


def daily(t: np.ndarray) -> np.ndarray:
    """Traffic with a peak at 19:00Z, plus 2 % noise."""
    hours = (t % 86400) / 3600
    return 100 * (1 + 0.8 * np.exp(-(((hours - 19) / 2.5) ** 2))) * (1 + rng.normal(0, 0.02, len(t)))


def observe(baseline: Shape, recent: Shape) -> Observations:
    base = baseline(BASELINE_TIMES)[None, :]
    now = recent(RECENT_TIMES)[None, :]
    return Observations(
        baseline=base,
        baseline_present=np.isfinite(base),
        baseline_start=BASELINE_TIMES[0],
        baseline_step=BASELINE_STEP,
        recent=now,
        recent_present=np.isfinite(now),
        recent_start=RECENT_TIMES[0],
        recent_step=RECENT_STEP,
        judged_from=AT - WINDOW,
    )


def verdict(baseline: Shape, recent: Shape | None = None, **settings: object) -> Verdicts:
    return judge(observe(baseline, recent or baseline), DetectorSettings(**settings))  # type: ignore[arg-type]


def after(start: float, shape: Shape, then: Shape, until: float = np.inf) -> Shape:
    return lambda t: np.where((t >= start) & (t < until), then(t), shape(t))


def test_robust_statistics() -> None:
    values = np.array([[1.0, 2.0, 3.0, 100.0, np.nan], [np.nan] * 5, [5.0, 5.0, 5.0, 5.0, 6.0]])
    assert nanmedian(values)[0] == 2.5
    assert np.isnan(nanmedian(values)[1])
    assert nanmedian(values)[2] == 5.0
    spread = robust_spread(values, nanmedian(values))
    assert spread[0] == pytest.approx(1.4826 * 1.0)  # the outlier 100 does not move it
    assert spread[2] == pytest.approx(1.2533 * 0.2)  # MAD 0: mean absolute deviation instead
    runs = run_lengths(np.array([[True, True, False, True, True, True]]))
    assert runs.tolist() == [[1, 2, 0, 1, 2, 3]]


def test_spike_found_with_onset_and_normal_range() -> None:
    onset = AT - 600
    v = verdict(noisy(100, 5), after(onset, noisy(100, 5), noisy(400, 5)))
    assert v.judged[0] and v.anomalous[0] and v.ongoing[0]
    assert v.sign[0] == 1 and not v.level_shift[0]
    assert abs(v.onset[0] - onset) <= RECENT_STEP
    assert v.peak_value[0] > 380
    # normal for one sample: expected +- 4 spreads, or the baseline's 2nd most extreme sample
    assert 100 + 4 * v.spread[0] - 2 <= v.normal_high[0] <= 100 + 5 * v.spread[0]
    assert 100 - 5 * v.spread[0] <= v.normal_low[0] <= 100 - 4 * v.spread[0] + 2
    assert 4 < v.spread[0] < 6
    assert v.score[0] > 40


def test_departure_that_ended_is_not_ongoing() -> None:
    v = verdict(noisy(100, 5), after(AT - 2400, noisy(100, 5), noisy(400, 5), until=AT - 1500))
    assert v.anomalous[0] and not v.ongoing[0]
    assert v.run_end[0] == pytest.approx(AT - 1800)  # its last point on the 5-minute judging grid
    assert 80 < v.current_value[0] < 120


def test_level_shift_down() -> None:
    v = verdict(noisy(100, 2), after(AT - 1800, noisy(100, 2), noisy(50, 2)))
    assert v.anomalous[0] and v.level_shift[0] and v.sign[0] == -1
    assert abs(v.onset[0] - (AT - 1800)) <= RECENT_STEP


def test_onset_before_the_recent_range_is_censored() -> None:
    began = AT - 2 * WINDOW - 1800  # in the baseline's last half hour
    v = verdict(after(began, noisy(100, 2), lambda t: 50 + 0 * t))
    assert v.anomalous[0] and v.onset_censored[0]
    assert v.onset[0] == RECENT_TIMES[0]
    # a departure that began with the recent range is dated, not censored
    v = verdict(noisy(100, 2), lambda t: 50 + 0 * t)
    assert v.anomalous[0] and not v.onset_censored[0] and v.onset[0] == RECENT_TIMES[0]


def test_flat_series_alarms_only_when_it_really_moves() -> None:
    flat = lambda t: 45.0 + 0 * t  # noqa: E731
    assert not verdict(flat).anomalous[0]
    assert not verdict(flat, after(AT - 1800, flat, lambda t: 46.0 + 0 * t)).anomalous[0]  # < 10 %
    moved = verdict(flat, after(AT - 1800, flat, lambda t: 90.0 + 0 * t))
    assert moved.anomalous[0] and moved.level_shift[0]


def test_usual_evening_peak_is_seasonal_not_anomalous() -> None:
    v = verdict(daily)
    assert v.seasonal[0] and not v.anomalous[0]
    # the same series at its night level during the peak is a drop
    night = verdict(daily, after(AT - 1800, daily, lambda t: 100 * (1 + rng.normal(0, 0.02, len(t)))))
    assert night.anomalous[0] and night.sign[0] == -1


def test_weekly_model_chosen_with_two_weeks_of_history() -> None:
    """One quiet day a week: with two weeks of baseline the same time a week earlier predicts
    best (smallest mean absolute residual), so the quiet day is expected."""
    weeks = 15 * 86400
    base_times = AT - 2 * WINDOW - weeks + BASELINE_STEP * np.arange(int(weeks / BASELINE_STEP))

    def quiet_day(t: np.ndarray) -> np.ndarray:
        same_day = ((t - AT) % (7 * 86400)) > 7 * 86400 - 20 * 3600
        return np.where(same_day, 50.0, 100.0) + rng.normal(0, 2, len(t))

    def judged(weekly: bool) -> Verdicts:
        base = quiet_day(base_times)[None, :]
        now = quiet_day(RECENT_TIMES)[None, :]
        obs = Observations(
            baseline=base, baseline_present=np.isfinite(base), baseline_start=base_times[0],
            baseline_step=BASELINE_STEP, recent=now, recent_present=np.isfinite(now),
            recent_start=RECENT_TIMES[0], recent_step=RECENT_STEP, judged_from=AT - WINDOW,
        )  # fmt: skip
        return judge(obs, DetectorSettings(weekly_check=weekly))

    weekly = judged(True)
    assert weekly.seasonal[0] and not weekly.anomalous[0]
    assert not judged(False).seasonal[0]  # the daily model misses one day in seven


def test_a_level_held_for_a_day_is_the_new_normal() -> None:
    moved = after(AT - 2 * WINDOW - 86400, noisy(100, 2), noisy(200, 2))
    assert not verdict(moved).anomalous[0]
    assert verdict(moved, recent_check=False).anomalous[0]


def test_one_sample_far_out_counts_unless_such_bursts_recur() -> None:
    blip = after(AT - 90, noisy(100, 5), noisy(160, 1))  # one point of the judging grid, 12 sigma
    v = verdict(noisy(100, 5), blip)
    assert v.anomalous[0] and v.peak_time[0] == AT
    mild = after(AT - 90, noisy(100, 5), noisy(112, 1))  # 2.4 sigma: noise
    assert not verdict(noisy(100, 5), mild).anomalous[0]

    def base_with_bursts(t: np.ndarray) -> np.ndarray:
        return np.where(np.arange(len(t)) % 300 == 0, 1500.0, 100 + rng.normal(0, 5, len(t)))

    extreme = after(AT - 210, noisy(100, 5), noisy(1000, 1))
    assert not verdict(base_with_bursts, extreme).anomalous[0]  # bursts of 1500 are usual


def test_direction_and_absolute_floor() -> None:
    drop = after(AT - 1200, noisy(100, 2), noisy(10, 2))
    assert not verdict(noisy(100, 2), drop, direction="up").anomalous[0]
    assert verdict(noisy(100, 2), drop, direction="down").anomalous[0]


def test_configured_ratio_rising_from_001_to_005_percent_is_no_incident() -> None:
    """The issue's example: an error ratio going from 0.01 % to 0.05 % must not alarm, a real
    spike must; configured queries get the floor from their unit, as discovered ones do."""
    floor = default_min_deviation("ratio")
    assert floor == 0.005
    ratio = noisy(0.0001, 0.00001)
    small = after(AT - 1200, ratio, noisy(0.0005, 0.00001))
    assert not verdict(ratio, small, min_deviation=floor).anomalous[0]
    big = after(AT - 1200, ratio, noisy(0.05, 0.001))
    assert verdict(ratio, big, min_deviation=floor).anomalous[0]
    assert default_min_deviation("s") == 0.05
    assert default_min_deviation("req/s") is None and default_min_deviation(None) is None


def test_configured_queries_get_floors_by_unit() -> None:
    from diagnostics import ProbeContext
    from probes.prometheus.anomalies import AnomaliesOptions, _queries

    options = AnomaliesOptions.model_validate(
        {
            "queries": [
                {"name": "errors", "query": "a / b", "unit": "ratio"},
                {"name": "latency", "query": "p99", "unit": "s"},
                {"name": "traffic", "query": "sum(rate(x_total[5m]))", "unit": "req/s"},
                {"name": "own", "query": "a / b", "unit": "ratio", "thresholds": {"min_deviation": 0}},
            ]
        }
    )
    ctx = ProbeContext(
        probe_id="metrics.anomalies", at=datetime(2025, 3, 12, 19), window=timedelta(hours=1), options=options
    )
    floors = {q.name: q.min_deviation for q in _queries(None, ctx, options)}  # type: ignore[arg-type]
    assert floors == {"errors": 0.005, "latency": 0.05, "traffic": None, "own": 0.0}


def test_sparse_and_new_series_are_judged_too_few_samples_are_not() -> None:
    def sparse(t: np.ndarray) -> np.ndarray:
        return np.where(np.arange(len(t)) % 12 == 0, rng.uniform(10, 1000, len(t)), np.nan)

    wild = lambda t: 50_000.0 + 0 * t  # noqa: E731
    v = verdict(sparse, wild)
    assert v.judged[0] and v.anomalous[0] and not v.vanished[0] and v.interval[0] == 3600
    new = lambda t: np.where(t > AT - 3.5 * 3600, 100.0, np.nan)  # noqa: E731
    v = verdict(new, wild)
    assert v.judged[0] and v.anomalous[0] and v.short_history[0]
    newer = lambda t: np.where(t > AT - 2.5 * 3600, 100.0, np.nan)  # noqa: E731
    v = verdict(newer, wild)  # 6 baseline samples: nothing to calibrate on
    assert not v.judged[0] and not v.anomalous[0]


def test_vanished_series() -> None:
    stops = lambda t: np.where(t < AT - 900, 100 + rng.normal(0, 1, len(t)), np.nan)  # noqa: E731
    v = verdict(noisy(100, 1), stops)
    assert v.vanished[0]
    assert v.last_seen[0] == pytest.approx(AT - 900 - RECENT_STEP)
    assert not verdict(noisy(100, 1)).vanished[0]


def test_many_series_judged_at_once_without_crosstalk() -> None:
    obs = [
        observe(noisy(100, 5), noisy(100, 5)),
        observe(noisy(10, 1), after(AT - 600, noisy(10, 1), noisy(50, 1))),
        observe(daily, daily),
    ]
    stacked = Observations(
        baseline=np.vstack([o.baseline for o in obs]),
        baseline_present=np.vstack([o.baseline_present for o in obs]),
        baseline_start=obs[0].baseline_start,
        baseline_step=BASELINE_STEP,
        recent=np.vstack([o.recent for o in obs]),
        recent_present=np.vstack([o.recent_present for o in obs]),
        recent_start=obs[0].recent_start,
        recent_step=RECENT_STEP,
        judged_from=AT - WINDOW,
    )
    v = judge(stacked, DetectorSettings())
    assert v.anomalous.tolist() == [False, True, False]
    assert v.seasonal.tolist() == [False, False, True]


def test_many_series_judged_in_chunks_as_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from probes.prometheus import judge_series

    rows = [observe(noisy(100, 5), after(AT - 600, noisy(100, 5), noisy(100 + 40 * i, 5))) for i in range(5)]
    stacked = Observations(
        baseline=np.vstack([o.baseline for o in rows]),
        baseline_present=np.vstack([o.baseline_present for o in rows]),
        baseline_start=rows[0].baseline_start,
        baseline_step=BASELINE_STEP,
        recent=np.vstack([o.recent for o in rows]),
        recent_present=np.vstack([o.recent_present for o in rows]),
        recent_start=rows[0].recent_start,
        recent_step=RECENT_STEP,
        judged_from=AT - WINDOW,
    )
    whole = judge(stacked, DetectorSettings())
    monkeypatch.setattr(judge_series, "ROWS_AT_ONCE", 2)
    judged_on: list[str] = []
    judge_rows = judge_series._judge_rows

    def recorded(obs: Observations, settings: DetectorSettings) -> Verdicts:
        judged_on.append(threading.current_thread().name)
        return judge_rows(obs, settings)

    monkeypatch.setattr(judge_series, "_judge_rows", recorded)
    chunked = judge(stacked, DetectorSettings())
    assert whole.anomalous.tolist() == [False, True, True, True, True]
    assert len(judged_on) == 3 and all(name.startswith("diag-judge") for name in judged_on)
    for field in fields(Verdicts):
        np.testing.assert_array_equal(getattr(chunked, field.name), getattr(whole, field.name))


def test_no_series_and_empty_series() -> None:
    empty = Observations(
        baseline=np.zeros((0, 2016)), baseline_present=np.zeros((0, 2016), bool), baseline_start=BASELINE_TIMES[0],
        baseline_step=BASELINE_STEP, recent=np.zeros((0, 241)), recent_present=np.zeros((0, 241), bool),
        recent_start=RECENT_TIMES[0], recent_step=RECENT_STEP, judged_from=AT - WINDOW,
    )  # fmt: skip
    assert judge(empty, DetectorSettings()).anomalous.shape == (0,)
    nothing = verdict(lambda t: np.full(len(t), np.nan))
    assert not (nothing.judged[0] or nothing.anomalous[0] or nothing.vanished[0])


def test_observations_align_series_by_labels() -> None:
    def result(start: float, step: float, count: int, rows: dict[str, float]) -> RangeResult:
        times = (start + step * np.arange(count)).astype(np.float64)
        series = tuple(
            Series(labels={"job": job}, timestamps=times, values=np.full(count, level))
            for job, level in rows.items()
        )
        return RangeResult(query="q", start=start, end=times[-1], step=step, series=series)

    baseline = result(BASELINE_TIMES[0], BASELINE_STEP, 2016, {"b": 2.0, "gone": 9.0, "a": 1.0})
    recent = result(RECENT_TIMES[0], RECENT_STEP, 241, {"a": 1.0, "b": 2.0, "new": 3.0})
    labels, obs = observations(baseline.grid(), recent.grid(), judged_from=AT - WINDOW)
    assert [dict(x) for x in labels] == [{"job": "a"}, {"job": "b"}, {"job": "new"}]
    assert obs.baseline[0, 0] == 1.0 and obs.baseline[1, 0] == 2.0
    assert np.isnan(obs.baseline[2]).all()


# -- real series from the Numenta Anomaly Benchmark ----------------------------------------


def nab_series(key: str) -> tuple[np.ndarray, np.ndarray]:
    with (NAB / "data" / key).open() as handle:
        rows = list(csv.DictReader(handle))
    times = np.array([datetime.fromisoformat(r["timestamp"] + "+00:00").timestamp() for r in rows])
    return times, np.array([float(r["value"]) for r in rows])


def as_prometheus_sees(times: np.ndarray, values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """The value PromQL returns at each grid time: the last sample of the 5 minutes before."""
    index = np.searchsorted(times, grid, side="right") - 1
    found = index >= 0
    age = grid - times[np.maximum(index, 0)]
    return np.where(found & (age < 300), values[np.maximum(index, 0)], np.nan)


def judge_nab(key: str, at: float) -> Verdicts:
    times, values = nab_series(key)
    recent_times = at - 2 * WINDOW + RECENT_STEP * np.arange(241)
    base_times = at - 2 * WINDOW - 7 * 86400 + BASELINE_STEP * np.arange(2016)
    base = as_prometheus_sees(times, values, base_times)[None, :]
    now = as_prometheus_sees(times, values, recent_times)[None, :]
    obs = Observations(
        baseline=base,
        baseline_present=np.isfinite(base),
        baseline_start=base_times[0],
        baseline_step=BASELINE_STEP,
        recent=now,
        recent_present=np.isfinite(now),
        recent_start=recent_times[0],
        recent_step=RECENT_STEP,
        judged_from=at - WINDOW,
    )
    return judge(obs, DetectorSettings())


def moment(text: str) -> float:
    return datetime.fromisoformat(text + "+00:00").timestamp()


@pytest.mark.parametrize(
    ("key", "label"),
    [
        # art_daily_jumpsup (found at 30-minute and hourly points) and art_daily_flatmiddle
        # (hourly) are not found at 5 minutes: their jump stays within the baseline's 2nd
        # largest residual (the daily step's own transitions); see docs/anomalies.md
        ("artificialWithAnomaly/art_daily_jumpsdown.csv", "2014-04-11 09:00:00"),
        ("artificialWithAnomaly/art_daily_nojump.csv", "2014-04-11 09:00:00"),
        ("realTweets/Twitter_volume_FB.csv", "2015-03-16 07:07:53"),
        ("realAWSCloudwatch/rds_cpu_utilization_cc0c53.csv", "2014-02-25 07:15:00"),
    ],
)
def test_labelled_nab_anomalies_are_found(key: str, label: str) -> None:
    v = judge_nab(key, moment(label) + 1800)
    assert v.judged[0] and v.anomalous[0]


@pytest.mark.parametrize(
    "key",
    [
        "artificialNoAnomaly/art_daily_no_noise.csv",
        "artificialNoAnomaly/art_daily_perfect_square_wave.csv",
        "artificialNoAnomaly/art_daily_small_noise.csv",
        "artificialNoAnomaly/art_flatline.csv",
        "artificialNoAnomaly/art_noisy.csv",
    ],
)
def test_nab_series_without_anomaly_never_alarm(key: str) -> None:
    times, _ = nab_series(key)
    for at in np.arange(times[0] + 7 * 86400 + 2 * WINDOW, times[-1], 4 * 3600):
        v = judge_nab(key, float(at))
        assert v.judged[0] and not v.anomalous[0] and not v.vanished[0], at


def test_the_nab_series_ship_with_the_tests_and_their_licence() -> None:
    project = Path(__file__).resolve().parents[3]
    assert NAB.is_relative_to(project)  # a clone with nothing beside it runs the whole suite
    assert "Numenta" in (NAB / "LICENSE.txt").read_text()
    assert len(list((NAB / "data").glob("*/*.csv"))) == 11
