"""Range queries too large for one answer: read in time slices, two at a time.

A week of 5-minute points for 1,000 series is about 65 MB of JSON, over the client's 64 MiB
bound on one answer (:data:`probes.prometheus.client.MAX_RESPONSE_BYTES`). The range is cut
into consecutive slices on the query's own grid (every slice starts one step after the previous
one ends), so the joined answer holds exactly the points one query would have returned: a range
query evaluates every step on its own. Two slices are in flight at once, so one is decoded
while Prometheus writes the next; no more, to stay a light reader of a production server.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from diagnostics import ErrorKind, ProbeError
from probes.prometheus.model import RangeResult, Series, joined_series

if TYPE_CHECKING:
    from probes.prometheus.client import PrometheusClient

SHARE_OF_BOUND = 4
"""A slice's answer is estimated at a quarter of the bound on one answer at most (16 MiB of
64): the estimate may be off by a factor of a few (long label sets, short values) and still fit."""
BYTES_PER_POINT = 40
"""``[1741806000,"123.45678901234567"],``: a timestamp, a value at full precision, punctuation."""
BYTES_PER_SERIES = 512
"""A series' label set and the JSON around its points."""
IN_FLIGHT = 2
MAX_SLICES = 256
"""More slices than this (a few points per query for tens of thousands of series): refused."""


def slices(start: float, end: float, step: float, series: int, max_bytes: int) -> list[tuple[float, float]]:
    """Consecutive ``(start, end)`` pairs on the grid ``start + i x step`` covering ``[start, end]``,
    each answer estimated at most ``max_bytes`` for ``series`` series (one slice when it fits)."""
    points = math.floor((end - start) / step + 1e-9) + 1
    per_point = max(series, 1) * BYTES_PER_POINT
    budget = max(max_bytes - max(series, 1) * BYTES_PER_SERIES, per_point)
    per_slice = max(1, min(points, budget // per_point))
    return [
        (start + first * step, start + (min(first + per_slice, points) - 1) * step)
        for first in range(0, points, per_slice)
    ]


def query_range_sliced(
    client: PrometheusClient,
    promql: str,
    start: datetime,
    end: datetime,
    step: float,
    *,
    series: int,
    max_bytes: int | None = None,
) -> RangeResult:
    """``client.query_range`` of ``[start, end]``, in slices of at most ``max_bytes`` estimated for
    ``series`` series (default: a quarter of the bound on one answer), joined into one answer (a
    series present in some slices only keeps the points it has)."""
    from probes.prometheus import client as client_module

    begin, finish = round(start.timestamp()), round(end.timestamp())
    budget = max_bytes if max_bytes is not None else client_module.MAX_RESPONSE_BYTES // SHARE_OF_BOUND
    parts = slices(begin, finish, step, series, budget)
    if len(parts) > MAX_SLICES:
        raise ProbeError(
            f"about {series:,} series x {round((finish - begin) / step) + 1:,} points would take "
            f"{len(parts):,} range queries of a few points each: lower max_series or the baseline",
            kind=ErrorKind.TOO_LARGE,
        )
    if len(parts) == 1:
        return client.query_range(promql, start, end, step)

    def read(part: tuple[float, float]) -> RangeResult:
        first, last = (datetime.fromtimestamp(moment, UTC) for moment in part)
        return client.query_range(promql, first, last, step)

    pool = ThreadPoolExecutor(max_workers=IN_FLIGHT, thread_name_prefix="diag-prometheus-range")
    try:
        answers = [future.result() for future in [pool.submit(read, part) for part in parts]]
    finally:  # on a failure, the slices not yet sent are never sent
        pool.shutdown(wait=True, cancel_futures=True)
    merged: tuple[Series, ...] = joined_series([answer.series for answer in answers])
    return RangeResult(query=promql, start=float(begin), end=float(finish), step=step, series=merged)
