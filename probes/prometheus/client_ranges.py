"""Range queries too large for one answer: read in time slices, two at a time.

A week of 5-minute points for 1,000 series is about 65 MB of JSON, over the client's 64 MiB
bound on one answer (:data:`probes.prometheus.client.MAX_RESPONSE_BYTES`). The range is cut
into consecutive slices on the query's own grid (every slice starts one step after the previous
one ends), so the joined answer holds exactly the points one query would have returned: a range
query evaluates every step on its own. Two slices are in flight at once, so one is decoded
while Prometheus writes the next; no more, to stay a light reader of a production server.
Several ranges (the recent range and the baseline) can share those two connections.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from diagnostics import ErrorKind, ProbeError
from probes.prometheus.model import RangeResult, joined_series

if TYPE_CHECKING:
    from collections.abc import Sequence

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


@dataclass(frozen=True, slots=True)
class RangeRequest:
    """One range query to read in slices."""

    promql: str
    start: datetime
    end: datetime
    step: float
    series: int
    """Series the answer is expected to hold: sizes the slices."""


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
    request = RangeRequest(promql=promql, start=start, end=end, step=step, series=series)
    return query_ranges_sliced(client, [request], max_bytes=max_bytes)[0]


def query_ranges_sliced(
    client: PrometheusClient, requests: Sequence[RangeRequest], *, max_bytes: int | None = None
) -> tuple[RangeResult, ...]:
    """Each of ``requests`` read as :func:`query_range_sliced` reads one, all their slices
    through the same :data:`IN_FLIGHT` connections (the first request's slices are sent first);
    nothing is sent when any would take more than :data:`MAX_SLICES` slices."""
    from probes.prometheus import client as client_module

    budget = max_bytes if max_bytes is not None else client_module.MAX_RESPONSE_BYTES // SHARE_OF_BOUND
    planned = []
    for request in requests:
        begin, finish = round(request.start.timestamp()), round(request.end.timestamp())
        parts = slices(begin, finish, request.step, request.series, budget)
        if len(parts) > MAX_SLICES:
            raise ProbeError(
                f"about {request.series:,} series x {round((finish - begin) / request.step) + 1:,} points "
                f"would take {len(parts):,} range queries of a few points each: lower max_series or the baseline",
                kind=ErrorKind.TOO_LARGE,
            )
        planned.append((request, begin, finish, parts))
    if len(planned) == 1 and len(planned[0][3]) == 1:
        request = planned[0][0]
        return (client.query_range(request.promql, request.start, request.end, request.step),)

    def read(request: RangeRequest, part: tuple[float, float]) -> RangeResult:
        first, last = (datetime.fromtimestamp(moment, UTC) for moment in part)
        return client.query_range(request.promql, first, last, request.step)

    pool = ThreadPoolExecutor(max_workers=IN_FLIGHT, thread_name_prefix="diag-prometheus-range")
    try:
        sent = [[pool.submit(read, request, part) for part in parts] for request, _, _, parts in planned]
        answers = [[future.result() for future in futures] for futures in sent]
    finally:  # on a failure, the slices not yet sent are never sent
        pool.shutdown(wait=True, cancel_futures=True)
    return tuple(
        RangeResult(
            query=request.promql,
            start=float(begin),
            end=float(finish),
            step=request.step,
            series=joined_series([answer.series for answer in read_parts]),
        )
        for (request, begin, finish, _), read_parts in zip(planned, answers, strict=True)
    )
