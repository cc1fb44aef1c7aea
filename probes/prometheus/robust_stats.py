"""Robust statistics over rows of a numpy array, ignoring NaN: the building blocks of the
anomaly method (:mod:`probes.prometheus.judge_series`). Every function works on all rows at once."""

from __future__ import annotations

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


def nanmean(values: Floats, axis: int = -1) -> Floats:
    """Mean ignoring NaN, without numpy's warning on all-NaN slices."""
    finite = ~np.isnan(values)
    count = finite.sum(axis=axis)
    total = np.where(finite, values, 0).sum(axis=axis)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def robust_spread(values: Floats, center: Floats) -> Floats:
    """Per row: 1.4826 x MAD around ``center``; 1.2533 x mean absolute deviation when the MAD is 0."""
    deviation = np.abs(values - center[:, None])
    spread = MAD_TO_SIGMA * nanmedian(deviation)
    flat = np.flatnonzero(spread == 0)  # more than half the points equal the median
    if len(flat):
        spread[flat] = MEAN_AD_TO_SIGMA * nanmean(deviation[flat])
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


def window_means(values: FloatArray, length: int, count: IntArray | None = None) -> FloatArray:
    """Mean of each run of ``length`` consecutive values ending at each position (NaN before
    the first full run or where a value in it is NaN). With ``count``, the rows are compacted
    (finite values first, ``count`` of them): one running sum instead of two."""
    rows, width = values.shape
    finite = np.isfinite(values)
    total = np.zeros((rows, width + 1))
    np.cumsum(np.where(finite, values, 0.0), axis=1, out=total[:, 1:])
    means = np.full((rows, width), np.nan)
    if length > width:
        return means
    sums = (total[:, length:] - total[:, :-length]) / length
    if count is not None:
        position = np.arange(length - 1, width)[None, :]
        means[:, length - 1 :] = np.where(position < count[:, None], sums, np.nan)
        return means
    present = np.zeros((rows, width + 1), dtype=np.int64)
    np.cumsum(finite, axis=1, out=present[:, 1:])
    full = (present[:, length:] - present[:, :-length]) == length
    means[:, length - 1 :] = np.where(full, sums, np.nan)
    return means


def spread_back(flags: BoolArray, length: int) -> BoolArray:
    """True at every position covered by a flagged run of ``length`` ending at or after it."""
    rows, width = flags.shape
    counts = np.concatenate([np.zeros((rows, 1), np.int64), np.cumsum(flags, axis=1)], axis=1)
    ahead = np.minimum(np.arange(width) + length, width)
    covered: BoolArray = (counts[:, ahead] - counts[:, :width]) > 0
    return covered


def compacted(values: FloatArray, present: BoolArray) -> tuple[FloatArray, IntArray, IntArray]:
    """Each row's present values moved to its front, in time order, NaN after them; with the
    grid column each came from (-1 after) and how many there are."""
    order = np.argsort(~present, axis=1, kind="stable")
    count = present.sum(axis=1)
    inside = np.arange(values.shape[1])[None, :] < count[:, None]
    return (
        np.where(inside, np.take_along_axis(values, order, axis=1), np.nan),
        np.where(inside, order, -1).astype(np.int64),
        count.astype(np.int64),
    )
