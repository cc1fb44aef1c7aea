"""When a change began, from time-ordered good/bad traces and the rate of bad ones before it."""

from __future__ import annotations

from collections.abc import Sequence


def change_point(times_us: Sequence[int], bad: Sequence[bool], baseline_rate: float) -> int | None:
    """The start (µs) of the first bad trace after the change; None when nothing is bad.

    CUSUM with the reference halfway between the baseline's rate and the sequence's own:
    S_i = Σ_{j<i} (bad_j − k). S falls while traces fail about as often as before and rises
    once they fail more, so the change is where S is lowest; the onset is the first bad trace
    from there on. Inputs must be sorted by time.
    """
    if not bad:
        return None
    p0 = (min(max(baseline_rate, 0.0), 1.0) + sum(bad) / len(bad)) / 2
    level, lowest, lowest_at = 0.0, 0.0, 0
    for index, is_bad in enumerate(bad):
        level += (1.0 if is_bad else 0.0) - p0
        if level < lowest:
            lowest, lowest_at = level, index + 1
    for index in range(lowest_at, len(bad)):
        if bad[index]:
            return times_us[index]
    return None
