"""Telling a sustained fill from churn in free-space samples."""

from __future__ import annotations

import pytest

from probes.host.disk_trend import EXTRAPOLATION_FACTOR, FillTrend, still_falling, sustained_fill

MIB = 1024 * 1024
GIB = 1024 * MIB


def samples(frees: list[float], step: float = 0.1) -> list[tuple[float, int]]:
    return [(100.0 + i * step, int(free)) for i, free in enumerate(frees)]


def test_a_steady_fill_is_measured_by_its_fitted_rate() -> None:
    steady = samples([10 * GIB - i * 2 * MIB for i in range(31)])  # 20 MiB/s for 3 s
    trend = sustained_fill(steady, min_observed_s=3.0)
    assert isinstance(trend, FillTrend)
    assert trend.bytes_per_s == pytest.approx(20 * MIB)
    assert trend.observed_s == pytest.approx(3.0)
    assert trend.horizon_s == pytest.approx(EXTRAPOLATION_FACTOR * 3.0)


def test_a_file_written_then_deleted_is_churn_not_a_fill() -> None:
    # 200 MiB written over 2 s, deleted, then the next file begins
    frees = [50 * GIB - i * 20 * MIB for i in range(11)] + [50 * GIB - i * 20 * MIB for i in range(20)]
    assert sustained_fill(samples(frees), min_observed_s=3.0) is None
    assert not still_falling(samples(frees))


def test_a_fill_observed_too_briefly_is_not_a_trend() -> None:
    brief = samples([10 * GIB - i * 50 * MIB for i in range(6)])  # 0.5 s of a fast write
    assert sustained_fill(brief, min_observed_s=3.0) is None


def test_a_decline_below_a_mebibyte_is_write_noise() -> None:
    noise = samples([10 * GIB - i * 4096 for i in range(31)])
    assert sustained_fill(noise, min_observed_s=3.0) is None


def test_an_idle_disk_has_no_trend_and_is_not_worth_watching() -> None:
    idle = samples([10 * GIB] * 31)
    assert sustained_fill(idle, min_observed_s=3.0) is None
    assert not still_falling(idle)
