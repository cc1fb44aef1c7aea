"""The fast building blocks of the anomaly method give exactly what the plain numpy way gives:
the speed-ups must never change a decision (NaN, all-NaN rows, ties and infinities included)."""

from __future__ import annotations

import numpy as np
import pytest

from probes.prometheus.robust_stats import (
    Compaction,
    SortedRows,
    median_across,
    nanmedian,
    ranked,
    robust_spread,
    running_sums,
    sliding_extreme,
    spread_back,
    window_means,
)


def awkward(shape: tuple[int, ...], seed: int, dtype: type = np.float64) -> np.ndarray:
    """Rounded noise (so ties occur) with a third missing, an all-NaN row and infinities."""
    rng = np.random.default_rng(seed)
    values = np.round(rng.normal(0, 3, shape)).astype(dtype)
    values[rng.random(shape) < 0.3] = np.nan
    values[0] = np.nan
    values[1, :2] = np.inf
    values[2, :2] = -np.inf
    return values


@pytest.mark.parametrize("arrays", range(1, 9))
def test_median_across_a_few_arrays_is_their_stacked_nanmedian(arrays: int) -> None:
    parts = [awkward((6, 40), seed, np.float32) for seed in range(arrays)]
    expected = nanmedian(np.stack(parts, axis=-1), axis=-1)
    got = median_across(parts)
    assert got.dtype == np.float32
    assert np.array_equal(got, expected, equal_nan=True)


@pytest.mark.parametrize("width", [1, 2, 3, 5, 8, 13, 20])
def test_sliding_extreme_is_the_reduction_over_each_run(width: int) -> None:
    values = awkward((5, 30), 3)
    runs = np.lib.stride_tricks.sliding_window_view(values, width, axis=1)
    assert np.array_equal(
        sliding_extreme(values, width, largest=True), np.fmax.reduce(runs, axis=-1), equal_nan=True
    )
    assert np.array_equal(
        sliding_extreme(values, width, largest=False), np.fmin.reduce(runs, axis=-1), equal_nan=True
    )


def test_one_sort_gives_the_median_and_the_ranked_extremes() -> None:
    values = awkward((6, 50), 4)
    rows = SortedRows.of(values)
    assert np.array_equal(rows.median(), nanmedian(values), equal_nan=True)
    ranks = np.array([1, 2, 5, 30, 49, 60])
    for largest in (True, False):
        for rank in (1, 3, ranks):
            assert np.array_equal(
                rows.ranked(rank, largest=largest), ranked(values, rank, largest=largest), equal_nan=True
            )


@pytest.mark.parametrize("seed", range(6))
def test_median_deviation_selected_from_the_sorted_rows_is_the_sorted_one(seed: int) -> None:
    rng = np.random.default_rng(seed)
    values = np.round(rng.normal(0, 3, (7, 1 + 9 * seed)), seed % 3)  # ties at every rounding
    values[rng.random(values.shape) < 0.1 * seed] = np.nan
    values[0] = np.nan
    rows = SortedRows.of(values)
    for center in (rows.median(), rows.median() + rng.normal(0, 2, len(values))):
        expected = nanmedian(np.abs(values - center[:, None]))
        assert np.array_equal(rows.deviation_median(center), expected, equal_nan=True)
    expected_spread = robust_spread(values, rows.median())
    assert np.array_equal(robust_spread(values, rows.median(), rows), expected_spread, equal_nan=True)


def test_compaction_moves_the_present_values_first_in_time_order() -> None:
    values = awkward((5, 12), 5)
    present = np.isfinite(values)
    moving = Compaction.of(present)
    for row in range(len(values)):
        count = int(present[row].sum())
        assert moving.count[row] == count
        assert moving.columns[row, :count].tolist() == np.flatnonzero(present[row]).tolist()
        assert (moving.columns[row, count:] == -1).all()
        moved = moving.apply(values)[row]
        assert np.array_equal(moved[:count], values[row][present[row]])
        assert np.isnan(moved[count:]).all()
    full = Compaction.of(np.ones((3, 4), dtype=bool))  # nothing moves: no sort at all
    assert full.order is None and full.columns.tolist() == [[0, 1, 2, 3]] * 3
    assert np.array_equal(full.apply(np.arange(12.0).reshape(3, 4)), np.arange(12.0).reshape(3, 4))


def test_window_means_from_shared_running_sums_and_spread_back() -> None:
    values = np.nan_to_num(awkward((4, 25), 6), nan=np.nan, posinf=7.0, neginf=-7.0)
    moving = Compaction.of(np.isfinite(values))
    compact = moving.apply(values)
    sums = running_sums(compact)
    for length in (1, 3, 6, 12, 30):
        shared = window_means(compact, length, moving.count, sums=sums)
        assert np.array_equal(shared, window_means(compact, length, moving.count), equal_nan=True)
        flags = np.random.default_rng(length).random((4, 25)) < 0.1
        expected = np.zeros_like(flags)
        for row, column in zip(*np.nonzero(flags), strict=True):
            expected[row, max(0, column - length + 1) : column + 1] = True
        assert np.array_equal(spread_back(flags, length), expected)


def test_tail_scale_estimates_an_exponential_tail_on_either_side() -> None:
    rng = np.random.default_rng(3)
    rows = np.vstack([rng.exponential(10.0, 2_000), -rng.exponential(10.0, 2_000)])
    rows[:, :5] = np.nan  # absent points are not part of the tail
    ordered = SortedRows.of(rows)
    upper, lower = ordered.tail_scale(largest=True), ordered.tail_scale(largest=False)
    assert 7.0 <= upper[0] <= 13.0 and 7.0 <= lower[1] <= 13.0
    assert upper[1] < 1.0 and lower[0] < 1.0  # the bounded side of each row thins at once
    assert np.isnan(SortedRows.of(rows[:, :12]).tail_scale(largest=True)).all()  # 7 values: too few
