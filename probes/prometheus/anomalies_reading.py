"""How ``metrics.anomalies`` reads and judges one query: the baseline and the recent range on
one grid for every series, then the recent range's finer points for the few series that depart.

Every decision (anomalous, vanished, judged) is taken on the judging grid: the baseline's step
and phase (:mod:`probes.prometheus.judge_series`). The recent range's finer points only date
an onset and tell how long a series has been silent, so they are read for the series found
anomalous or vanished on the grid alone, and those series are judged again with them. The
finer step divides the grid's (:func:`probes.prometheus.anomalies.query_grid`), so the grid's
points are points of the finer range and the verdicts are exactly those of reading every
series finely: a series silent on the grid is silent at least as long on the finer points, and
it is judged again. (A series seen at finer points only, at no grid point, has nothing to be
judged on.) A week of 1,000 series then moves the recent range at 25 points per series instead
of 241. Reading is :mod:`probes.prometheus.client_ranges`; judging, pure functions.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np

from diagnostics import ErrorKind, ProbeError
from probes.prometheus.client_ranges import query_range_sliced
from probes.prometheus.judge_series import Verdicts, judge, observations
from probes.prometheus.model import RangeResult, joined_series
from probes.prometheus.series_filter import only_series

if TYPE_CHECKING:
    from collections.abc import Mapping

    import numpy.typing as npt

    from probes.prometheus.anomalies import QueryGrid
    from probes.prometheus.client import PrometheusClient
    from probes.prometheus.judge_series import DetectorSettings
    from probes.prometheus.model import SeriesGrid

    IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True, kw_only=True)
class JudgedQuery:
    """The verdicts of every series one query returned (up to ``max_series``)."""

    labels: tuple[Mapping[str, str], ...]
    verdicts: Verdicts
    returned: int
    """Series the recent range returned."""
    truncated: int
    """Series beyond ``max_series`` (not judged)."""
    read_finely: int
    """Series whose recent range was read at the finer step."""


def _first(grid: SeriesGrid, rows: int) -> SeriesGrid:
    if len(grid.labels) <= rows:
        return grid
    return replace(grid, values=grid.values[:rows], present=grid.present[:rows], labels=grid.labels[:rows])


def _key(labels: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(labels.items()))


def _moment(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def read_and_judge(
    client: PrometheusClient,
    promql: str,
    grid: QueryGrid,
    *,
    judged_from: float,
    settings: DetectorSettings,
    max_series: int,
    expected_series: int,
) -> JudgedQuery:
    """Read ``promql`` on ``grid`` and judge every series it returns (see the module docstring)."""
    finer_later = grid.step > grid.recent_step  # query_grid: the finer step divides the grid step
    first_step = grid.step if finer_later else grid.recent_step
    recent = query_range_sliced(
        client, promql, _moment(grid.recent_start), _moment(grid.at), first_step, series=expected_series
    )
    recent_grid = _first(recent.grid(), max_series)
    baseline = query_range_sliced(
        client,
        promql,
        _moment(grid.baseline_start),
        _moment(grid.baseline_end),
        grid.step,
        series=len(recent.series),
    ).grid()
    labels, obs = observations(baseline, recent_grid, judged_from=judged_from)
    verdicts = judge(obs, settings)
    read_finely = 0
    rows = np.flatnonzero(verdicts.anomalous | verdicts.vanished)
    if finer_later and len(rows):
        narrowed = only_series(
            promql, [labels[row] for row in rows], [series.labels for series in recent.series]
        )
        finer = _finer_points(client, promql, narrowed, grid, (len(rows), len(recent.series)))
        verdicts, read_finely = judged_again(verdicts, labels, rows, baseline, finer, judged_from, settings)
    return JudgedQuery(
        labels=labels,
        verdicts=verdicts,
        returned=len(recent.series),
        truncated=max(0, len(recent.series) - max_series),
        read_finely=read_finely,
    )


def _finer_points(
    client: PrometheusClient,
    promql: str,
    narrowed: tuple[str, ...] | None,
    grid: QueryGrid,
    series: tuple[int, int],
) -> SeriesGrid:
    """The recent range at the finer step: of the series the ``narrowed`` queries keep, or of
    every series when there is no filter or one was refused (a proxy's limit on the URL, an
    old PromQL); ``series`` is (how many ``narrowed`` keep, how many there are)."""

    def read(query: str, expected: int) -> RangeResult:
        return query_range_sliced(
            client, query, _moment(grid.recent_start), _moment(grid.at), grid.recent_step, series=expected
        )

    if narrowed is not None:
        try:
            answers = [read(query, series[0]) for query in narrowed]
        except ProbeError as exc:
            if exc.kind not in (ErrorKind.QUERY, ErrorKind.PROTOCOL):
                raise
        else:
            first = answers[0]
            return replace(first, series=joined_series([answer.series for answer in answers])).grid()
    return read(promql, series[1]).grid()


def judged_again(
    verdicts: Verdicts,
    labels: tuple[Mapping[str, str], ...],
    rows: IntArray,
    baseline: SeriesGrid,
    finer: SeriesGrid,
    judged_from: float,
    settings: DetectorSettings,
) -> tuple[Verdicts, int]:
    """``verdicts`` with ``rows`` judged again on the ``finer`` recent range (which may hold
    other series too: only those of ``rows`` are kept), and how many were."""
    keys = {_key(labels[row]): row for row in rows}
    keep = [index for index, found in enumerate(finer.labels) if _key(found) in keys]
    finer = replace(
        finer,
        values=finer.values[keep],
        present=finer.present[keep],
        labels=tuple(finer.labels[index] for index in keep),
    )
    finer_labels, finer_obs = observations(baseline, finer, judged_from=judged_from)
    again = judge(finer_obs, settings)
    return _with_rows(
        verdicts, np.array([keys[_key(found)] for found in finer_labels], dtype=np.int64), again
    ), len(keep)


def _with_rows(verdicts: Verdicts, rows: np.ndarray, again: Verdicts) -> Verdicts:
    """``verdicts`` with its ``rows`` replaced by the rows of ``again``, in order."""
    replaced = {}
    for field in fields(Verdicts):
        values = getattr(verdicts, field.name).copy()
        values[rows] = getattr(again, field.name)
        replaced[field.name] = values
    return Verdicts(**replaced)
