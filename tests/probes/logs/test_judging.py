"""The judges on plain arrays: error rates, template changes, change points (no I/O)."""

from __future__ import annotations

import numpy as np
import pytest

from probes.logs.judge_errors import judge_error_rate
from probes.logs.judge_patterns import TemplateSeries, judge_templates
from probes.logs.model import STEP, Collected, Level, ReadPlan
from probes.logs.onset import change_point

AT = 1_796_616_000.0
MINUTES = 420  # 6 h baseline, 30 min lead-in, 30 min window
PLAN = ReadPlan(
    start=AT - MINUTES * STEP, window_start=AT - 30 * STEP, at=AT, day_earlier=True,
    max_bytes=1, max_lines=1, max_samples=1,
)  # fmt: skip


def collected(errors: np.ndarray, totals: np.ndarray | None = None, **extra: object) -> Collected:
    return Collected(
        plan=PLAN,
        totals=totals if totals is not None else np.full(MINUTES, 100.0),
        errors=errors.astype(np.float64),
        **extra,  # type: ignore[arg-type]
    )


def poisson(rate: float, seed: int, n: int = MINUTES) -> np.ndarray:
    return np.random.default_rng(seed).poisson(rate, n).astype(np.float64)


def judge(c: Collected):  # type: ignore[no-untyped-def]
    return judge_error_rate(c, threshold=5.0, persistence_minutes=3, min_rise=3.0, min_ratio_rise=0.02)


@pytest.mark.parametrize("seed", range(5))
def test_steady_errors_are_not_a_rise(seed: int) -> None:
    assert judge(collected(poisson(2.0, seed))) is None


@pytest.mark.parametrize("seed", range(5))
def test_a_rise_is_found_with_its_onset(seed: int) -> None:
    errors = poisson(1.0, seed)
    errors[-18:] += poisson(8.0, seed + 100, 18)
    rise = judge(collected(errors))
    assert rise is not None and rise.signal == "errors_per_minute"
    assert abs(rise.onset - (AT - 18 * STEP)) <= 2 * STEP
    assert rise.ongoing and rise.baseline_rate == pytest.approx(1.0, abs=0.3)


def test_a_rise_seen_a_day_earlier_is_not_news() -> None:
    errors = poisson(1.0, 7)
    errors[-18:] += 8
    day_ago = np.full(30, 1.0)
    day_ago[-18:] += 8
    c = collected(errors, day_ago_errors=day_ago, day_ago_totals=np.full(30, 100.0))
    assert judge(c) is None
    assert judge(collected(errors, day_ago_errors=np.ones(30), day_ago_totals=np.full(30, 100.0))) is not None


def test_5xx_ratio_of_access_logs() -> None:
    totals = poisson(200.0, 8)
    errors = np.random.default_rng(9).binomial(totals.astype(np.int64), 0.01).astype(np.float64)
    errors[-10:] = np.round(totals[-10:] * 0.3)
    rise = judge(collected(errors, totals, requests=True))
    assert rise is not None and rise.signal == "5xx_ratio"
    assert rise.peak == pytest.approx(0.3, abs=0.02)
    assert abs(rise.onset - (AT - 10 * STEP)) <= STEP


def series(template: str, counts: np.ndarray, level: Level = Level.ERROR) -> TemplateSeries:
    return TemplateSeries(template=template, level=level, counts=counts, example="e", first_seen=None)


def test_new_and_risen_templates() -> None:
    steady = poisson(0.5, 1)
    new = np.zeros(MINUTES)
    new[-12:] = 3
    risen = poisson(0.1, 2)
    risen[-15:] = poisson(6.0, 3, 15)
    changes = judge_templates(
        collected(np.zeros(MINUTES)),
        [series("steady <NUM>", steady), series("new <IP>", new), series("risen <NUM>", risen)],
        min_count=3,
        rise_factor=10,
    )
    by_template = {c.template: c for c in changes}
    assert set(by_template) == {"new <IP>", "risen <NUM>"}
    assert by_template["new <IP>"].change == "new" and by_template["new <IP>"].onset == AT - 12 * STEP
    assert by_template["risen <NUM>"].change == "risen"
    assert abs(by_template["risen <NUM>"].onset - (AT - 15 * STEP)) <= 2 * STEP


def test_a_few_occurrences_are_not_a_new_template() -> None:
    rare = np.zeros(MINUTES)
    rare[-3:-1] = 1
    assert (
        judge_templates(collected(np.zeros(MINUTES)), [series("rare", rare)], min_count=3, rise_factor=10)
        == []
    )


def test_change_point_ignores_a_quiet_minute_inside_the_rise() -> None:
    counts = np.array([0, 1, 0, 0, 1, 0, 10, 11, 1, 6, 8, 6, 9, 7], dtype=np.float64)
    assert change_point(counts, 0.5) == 6
