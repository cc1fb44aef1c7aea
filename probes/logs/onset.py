"""Where a rise of a count began: a Poisson change point.

Per-minute counts are noisy: one quiet minute inside a burst of errors breaks a run of
"out" minutes, and a threshold-and-hysteresis onset then lands after it. The change point
looks at all the minutes at once and does not break on a single one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from probes.logs.model import FloatArray


def change_point(counts: FloatArray, base_rate: float) -> int:
    """The index from which ``counts`` most likely run at a higher Poisson rate than ``base_rate``.

    For every split k, the log-likelihood gain of rate mean(counts[k:]) over ``base_rate`` for
    the points from k on; the best k wins (ties: the earliest).
    """
    n = len(counts)
    if n == 0:
        return 0
    tail_sum = np.cumsum(counts[::-1])[::-1]
    tail_len = np.arange(n, 0, -1, dtype=np.float64)
    rate = tail_sum / tail_len
    with np.errstate(divide="ignore", invalid="ignore"):
        gain = np.where(
            rate > base_rate, tail_sum * np.log(rate / base_rate) - tail_len * (rate - base_rate), -np.inf
        )
    return int(np.argmax(gain))
