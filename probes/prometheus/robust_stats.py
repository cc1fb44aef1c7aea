"""Robust statistics over rows of a numpy array, ignoring NaN: the building blocks of the
anomaly method (:mod:`probes.prometheus.judge_series`). Every function works on all rows at once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import numpy.typing as npt

    FloatArray = npt.NDArray[np.float64]
    Floats = npt.NDArray[np.floating[Any]]
    BoolArray = npt.NDArray[np.bool_]
    IntArray = npt.NDArray[np.int64]

MAD_TO_SIGMA = 1.4826
MEAN_AD_TO_SIGMA = 1.2533


def nanmedian(values: Floats, axis: int = -1) -> Floats:
    """Median ignoring NaN along ``axis`` (vectorized; NaN where a slice is all NaN)."""
    ordered = np.sort(values, axis=axis)  # NaN sort last
    count = np.expand_dims(np.sum(~np.isnan(values), axis=axis), axis)
    low = np.take_along_axis(ordered, np.maximum((count - 1) // 2, 0), axis=axis)
    high = np.take_along_axis(ordered, count // 2, axis=axis)
    middle = np.squeeze((low + high) / 2, axis=axis)
    return np.where(np.squeeze(count, axis=axis) > 0, middle, np.nan)


@dataclass(frozen=True, slots=True)
class SortedRows:
    """Each row sorted once (NaN last), for several order statistics of the same rows: the
    median and the ranked extremes of a window length's baseline means cost one sort."""

    ordered: FloatArray
    count: IntArray

    @classmethod
    def of(cls, values: FloatArray) -> SortedRows:
        return cls(np.sort(values, axis=1), np.sum(~np.isnan(values), axis=1))

    def median(self) -> FloatArray:
        """:func:`nanmedian` of each row."""
        low = pick(self.ordered, np.maximum((self.count - 1) // 2, 0))
        high = pick(self.ordered, self.count // 2)
        return np.where(self.count > 0, (low + high) / 2, np.nan)

    def deviation_median(self, center: FloatArray) -> FloatArray:
        """:func:`nanmedian` of ``|values - center|`` per row, selected without sorting: the
        deviations below ``center`` and those above it are two sorted runs of the sorted row,
        and the k-th smallest of two sorted runs is found by bisection over all rows at once."""
        below = np.sum(self.ordered < center[:, None], axis=1)  # NaN compares False: never below
        above = self.count - below
        low = self._merged(center, below, above, np.maximum((self.count - 1) // 2, 0))
        high = self._merged(center, below, above, self.count // 2)
        return np.where(self.count > 0, (low + high) / 2, np.nan)

    def _merged(self, center: FloatArray, below: IntArray, above: IntArray, k: IntArray) -> FloatArray:
        """The k-th smallest (0-based) deviation: ``center - x`` of the values below it (rising
        as x falls) merged with ``x - center`` of the others (rising as x rises)."""

        def left(i: IntArray) -> FloatArray:  # i-th smallest deviation below the center
            value: FloatArray = center - pick(self.ordered, below - 1 - i)
            return np.where((i >= 0) & (i < below), value, np.where(i < 0, -np.inf, np.inf))

        def right(j: IntArray) -> FloatArray:  # j-th smallest deviation at or above it
            value: FloatArray = pick(self.ordered, below + j) - center
            return np.where((j >= 0) & (j < above), value, np.where(j < 0, -np.inf, np.inf))

        # take i from the left run and k + 1 - i from the right: the smallest i with
        # right(k - i) <= left(i) gives the k + 1 smallest deviations
        lo, hi = np.maximum(0, k + 1 - above), np.minimum(k + 1, below)
        while (lo < hi).any():
            mid = (lo + hi) // 2
            more = (lo < hi) & (right(k - mid) > left(mid))
            lo, hi = np.where(more, mid + 1, lo), np.where(more | (lo >= hi), hi, mid)
        merged: FloatArray = np.maximum(left(lo - 1), right(k - lo))
        return merged

    def tail_scale(self, *, largest: bool) -> FloatArray:
        """How fast each row's tail thins beyond its extremes: the mean excess of its ``m`` most
        extreme values over the next one, ``m`` the square root of the count (at least 2, at
        most a quarter of it). For an exponential tail (the Gumbel domain: normal, lognormal,
        gamma) this estimates its scale, so a value passes the most extreme of ``n`` by
        ``scale x ln(1 / r)`` with chance about ``r / (n + 1)``. NaN below 8 values."""
        n = self.count
        m = np.clip(np.ceil(np.sqrt(n)), 2, n // 4).astype(np.int64)
        sums = np.cumsum(np.nan_to_num(self.ordered, nan=0.0), axis=1)
        if largest:
            top = (pick(sums, n - 1) - pick(sums, np.maximum(n - m - 1, 0))) / np.maximum(m, 1)
            scale = top - pick(self.ordered, np.maximum(n - m - 1, 0))
        else:
            scale = pick(self.ordered, m) - pick(sums, np.maximum(m - 1, 0)) / np.maximum(m, 1)
        return np.where(n >= 8, scale, np.nan).astype(np.float64)

    def ranked(self, rank: IntArray | int, *, largest: bool) -> FloatArray:
        """:func:`ranked` of each row."""
        rank_of = np.broadcast_to(np.asarray(rank, dtype=np.int64), self.count.shape)
        column = self.count - rank_of if largest else rank_of - 1
        ok = (rank_of >= 1) & (rank_of <= self.count)
        return np.where(ok, pick(self.ordered, column), np.nan).astype(np.float64)


def median_across(arrays: Sequence[Floats]) -> Floats:
    """Element-wise median of a few equally shaped arrays, ignoring NaN: what :func:`nanmedian`
    gives on them stacked along a last axis, through a sorting network (one compare-exchange
    per pair, over whole arrays) instead of millions of tiny sorts."""
    missing = [np.isnan(array) for array in arrays]
    count = np.full(arrays[0].shape, len(arrays), dtype=np.int16)
    for gap in missing:
        count -= gap
    ordered = [np.where(gap, np.inf, array) for gap, array in zip(missing, arrays, strict=True)]  # NaN last
    spare = np.empty_like(ordered[0])
    # bubble the smallest to the front: after pass j, positions 0..j hold their sorted values;
    # the median needs the positions up to n // 2 only
    for first in range(len(ordered) // 2 + 1):
        for i in range(len(ordered) - 1, first, -1):
            earlier, later = ordered[i - 1], ordered[i]
            np.minimum(earlier, later, out=spare)
            np.maximum(earlier, later, out=later)  # in place: no array allocated per exchange
            ordered[i - 1], spare = spare, earlier
    low, high = ordered[0].copy(), ordered[0].copy()
    low_at, high_at = (count - 1) // 2, count // 2
    for at in range(1, len(ordered) // 2 + 1):
        np.copyto(low, ordered[at], where=low_at == at)
        np.copyto(high, ordered[at], where=high_at == at)
    middle: Floats = np.where(count > 0, (low + high) / 2, np.nan).astype(arrays[0].dtype)
    return middle


def sliding_extreme(values: FloatArray, width: int, *, largest: bool) -> FloatArray:
    """Per row, the NaN-ignoring max (or min) of each run of ``width`` consecutive values (one
    column per full run), by doubling: log2(width) element-wise passes instead of a reduction
    over a strided view."""
    combine = np.fmax if largest else np.fmin
    span, result = 1, values
    while 2 * span <= width:
        result = combine(result[:, :-span], result[:, span:])  # covers 2 x span columns
        span *= 2
    runs = values.shape[1] - width + 1
    if span < width:
        result = combine(result[:, :runs], result[:, width - span : width - span + runs])
    return result[:, :runs]


def nanmean(values: Floats, axis: int = -1) -> Floats:
    """Mean ignoring NaN, without numpy's warning on all-NaN slices."""
    finite = ~np.isnan(values)
    count = finite.sum(axis=axis)
    total = np.where(finite, values, 0).sum(axis=axis)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def robust_spread(values: Floats, center: Floats, sorted_rows: SortedRows | None = None) -> Floats:
    """Per row: 1.4826 x MAD around ``center``; 1.2533 x mean absolute deviation when the MAD is 0.
    With ``sorted_rows`` (``values`` sorted), the MAD is selected from them without a sort."""
    if sorted_rows is None:
        deviation = np.abs(values - center[:, None])
        spread = MAD_TO_SIGMA * nanmedian(deviation)
    else:
        spread = MAD_TO_SIGMA * sorted_rows.deviation_median(center.astype(np.float64, copy=False))
    flat = np.flatnonzero(spread == 0)  # more than half the points equal the median
    if len(flat):
        spread[flat] = MEAN_AD_TO_SIGMA * nanmean(np.abs(values[flat] - center[flat, None]))
    return spread


def ranked(values: Floats, rank: IntArray | int, *, largest: bool) -> FloatArray:
    """Per row, the ``rank``-th largest (or smallest) finite value; NaN when a row has fewer."""
    count = np.sum(~np.isnan(values), axis=1)
    ordered = np.sort(values, axis=1)  # NaN last
    rank_of = np.broadcast_to(np.asarray(rank, dtype=np.int64), count.shape)
    column = count - rank_of if largest else rank_of - 1
    ok = (rank_of >= 1) & (rank_of <= count)
    picked = np.take_along_axis(ordered, np.clip(column, 0, max(values.shape[1] - 1, 0))[:, None], axis=1)
    return np.where(ok, picked[:, 0], np.nan).astype(np.float64)


def run_lengths(mask: BoolArray) -> IntArray:
    """For each position, the length of the run of True ending there (0 where False)."""
    index = np.arange(mask.shape[1])
    last_false = np.maximum.accumulate(np.where(mask, -1, index), axis=1)
    return np.where(mask, index - last_false, 0)


def last_true(mask: BoolArray) -> IntArray:
    """Index of the last True of each row, -1 when none."""
    width = mask.shape[1]
    found = mask.any(axis=1)
    return np.where(found, width - 1 - np.argmax(mask[:, ::-1], axis=1), -1)


def pick(array: npt.NDArray[Any], columns: IntArray) -> npt.NDArray[Any]:
    """``array[i, columns[i]]`` for every row (columns clipped into range)."""
    safe = np.clip(columns, 0, max(array.shape[1] - 1, 0))
    return np.take_along_axis(array, safe[:, None], axis=1)[:, 0]


def pick_or_nan(array: FloatArray, columns: IntArray) -> FloatArray:
    """``array[i, columns[i]]`` for every row, NaN where the column is -1."""
    if array.shape[1] == 0:
        return np.full(len(columns), np.nan)
    return np.where(columns >= 0, pick(array, columns).astype(np.float64), np.nan)


def running_sums(values: FloatArray) -> FloatArray:
    """Per row, the sum of the finite values before each position (one column more)."""
    total = np.zeros((values.shape[0], values.shape[1] + 1))
    np.cumsum(np.where(np.isfinite(values), values, 0.0), axis=1, out=total[:, 1:])
    return total


def window_means(
    values: FloatArray, length: int, count: IntArray | None = None, *, sums: FloatArray | None = None
) -> FloatArray:
    """Mean of each run of ``length`` consecutive values ending at each position (NaN before
    the first full run or where a value in it is NaN). With ``count``, the rows are compacted
    (finite values first, ``count`` of them): one running sum instead of two. ``sums``: the
    :func:`running_sums` of ``values``, when several lengths are taken of the same rows."""
    rows, width = values.shape
    total = running_sums(values) if sums is None else sums
    means = np.empty((rows, width))
    means[:, : length - 1] = np.nan
    if length > width:
        means[:] = np.nan
        return means
    runs = means[:, length - 1 :]  # in place: one pass per operation
    np.subtract(total[:, length:], total[:, :-length], out=runs)
    np.divide(runs, length, out=runs)
    if count is not None:
        np.copyto(runs, np.nan, where=np.arange(length - 1, width)[None, :] >= count[:, None])
        return means
    present = np.zeros((rows, width + 1), dtype=np.int64)
    np.cumsum(np.isfinite(values), axis=1, out=present[:, 1:])
    np.copyto(runs, np.nan, where=(present[:, length:] - present[:, :-length]) != length)
    return means


def spread_back(flags: BoolArray, length: int) -> BoolArray:
    """True at every position covered by a flagged run of ``length`` ending at or after it."""
    rows, width = flags.shape
    counts = np.concatenate([np.zeros((rows, 1), np.int64), np.cumsum(flags, axis=1)], axis=1)
    covered: BoolArray = np.empty((rows, width), dtype=bool)
    reach = max(0, width - length)  # positions whose run of ``length`` fits before the end
    np.greater(counts[:, length : length + reach], counts[:, :reach], out=covered[:, :reach])
    np.greater(counts[:, width : width + 1], counts[:, reach:width], out=covered[:, reach:])
    return covered


@dataclass(frozen=True, slots=True)
class Compaction:
    """Where each row's present values go when moved to its front in time order: computed once
    per presence mask, applied to every array on the same grid."""

    order: IntArray | None
    """Source column of each position; None when every value is present (nothing moves)."""
    inside: BoolArray
    columns: IntArray
    """The grid column of each compacted position, -1 after the row's values."""
    count: IntArray

    @classmethod
    def of(cls, present: BoolArray) -> Compaction:
        count = present.sum(axis=1).astype(np.int64)
        width = present.shape[1]
        if present.all():
            columns = np.broadcast_to(np.arange(width, dtype=np.int64), present.shape)
            return cls(None, np.ones(present.shape, dtype=bool), columns, count)
        order = np.argsort(~present, axis=1, kind="stable")
        inside = np.arange(width)[None, :] < count[:, None]
        return cls(order, inside, np.where(inside, order, -1).astype(np.int64), count)

    def apply(self, values: FloatArray) -> FloatArray:
        """``values`` compacted: the present ones first, NaN after them."""
        if self.order is None:
            return values.astype(np.float64, copy=True)
        moved: FloatArray = np.where(self.inside, np.take_along_axis(values, self.order, axis=1), np.nan)
        return moved


def compacted(values: FloatArray, present: BoolArray) -> tuple[FloatArray, IntArray, IntArray]:
    """Each row's present values moved to its front, in time order, NaN after them; with the
    grid column each came from (-1 after) and how many there are."""
    moving = Compaction.of(present)
    return moving.apply(values), moving.columns, moving.count
