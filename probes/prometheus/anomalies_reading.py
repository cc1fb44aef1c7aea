"""How ``metrics.anomalies`` reads and judges one query: the recent range at its finer step and
the baseline on the judging grid for every series, then the baseline's step extremes for the few
series that may depart between the grid's points.

Every decision but step 8's is taken on the judging grid: the baseline's step and phase
(:mod:`probes.prometheus.judge_series`); the recent range's finer points date an onset, tell
how long a series has been silent and hold what happens between the grid's points. Step 8
judges them against the baseline's *step extremes* (``max_over_time`` / ``min_over_time`` of
each step at the finer step, a subquery); they are read only for the series the screen names
(a finer point beyond the grid's own ranked extreme and floor, :mod:`probes.prometheus.judge_between`),
so the verdicts are exactly those of reading them for every series, as long as one filtered
query holds every series the screen names; beyond that, the most extreme of them (see
:func:`_screened`: every such subquery costs Prometheus a week of evaluations at the finer
step for every series). The finer step divides the grid's (:func:`probes.prometheus.anomalies.query_grid`), so
the grid's points are points of the finer range. Reading is
:mod:`probes.prometheus.client_ranges`; judging, pure functions.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np

from diagnostics import ErrorKind, ProbeError
from probes.prometheus.client_ranges import RangeRequest, query_range_sliced, query_ranges_sliced
from probes.prometheus.judge_series import Verdicts, judge, observations
from probes.prometheus.model import RangeResult, joined_series
from probes.prometheus.series_filter import only_series

if TYPE_CHECKING:
    from collections.abc import Mapping

    import numpy.typing as npt

    from probes.prometheus.anomalies import QueryGrid
    from probes.prometheus.client import PrometheusClient
    from probes.prometheus.judge_series import DetectorSettings, Observations
    from probes.prometheus.model import SeriesGrid

    IntArray = npt.NDArray[np.int64]
    FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True, kw_only=True)
class JudgedQuery:
    """The verdicts of every series one query returned (up to ``max_series``)."""

    labels: tuple[Mapping[str, str], ...]
    verdicts: Verdicts
    returned: int
    """Series the recent range returned."""
    truncated: int
    """Series beyond ``max_series`` (not judged)."""
    read_step_extremes: int
    """Series whose baseline step extremes were read (step 8 of the method)."""
    step_extremes_not_read: str | None = None
    """Why the step extremes could not be read (the series were judged on the grid alone)."""


def _first(grid: SeriesGrid, rows: int) -> SeriesGrid:
    if len(grid.labels) <= rows:
        return grid
    return replace(grid, values=grid.values[:rows], present=grid.present[:rows], labels=grid.labels[:rows])


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
    expected_series: int | None,
) -> JudgedQuery:
    """Read ``promql`` on ``grid`` and judge every series it returns (see the module docstring);
    ``expected_series``: how many it returns now (at most ``max_series``), None when unknown."""
    recent, whole_baseline = _both_ranges(client, promql, grid, max_series, expected_series)
    recent_grid = _first(recent.grid(), max_series)
    baseline = whole_baseline.grid()
    labels, obs = observations(baseline, recent_grid, judged_from=judged_from)
    verdicts = judge(obs, settings)
    read_extremes, not_read = 0, None
    if np.isfinite(verdicts.step_extremes_wanted).any():
        rows, narrowed = _screened(promql, labels, verdicts.step_extremes_wanted, recent)
        try:
            extremes = [
                _step_extremes(client, function, promql, narrowed, grid, (len(rows), len(recent.series)))
                for function in ("max_over_time", "min_over_time")
            ]
        except ProbeError as exc:  # a refinement: the grid's verdicts stand, and the note says why
            not_read = str(exc)
        else:
            verdicts, read_extremes = judged_again(verdicts, labels, rows, obs, extremes, settings)
    return JudgedQuery(
        labels=labels,
        verdicts=verdicts,
        returned=len(recent.series),
        truncated=max(0, len(recent.series) - max_series),
        read_step_extremes=read_extremes,
        step_extremes_not_read=not_read,
    )


def _both_ranges(
    client: PrometheusClient, promql: str, grid: QueryGrid, max_series: int, expected_series: int | None
) -> tuple[RangeResult, RangeResult]:
    """The recent range and the baseline of ``promql``: read at once when the number of series
    now is known and not 0 (it sizes both ranges' slices), else the recent range first, whose
    series size the baseline's (0: every series may have stopped at once, an outage)."""

    def request(start: float, end: float, step: float, series: int) -> RangeRequest:
        return RangeRequest(promql=promql, start=_moment(start), end=_moment(end), step=step, series=series)

    recent_series = max_series if expected_series is None else expected_series
    if expected_series:
        recent = request(grid.recent_start, grid.at, grid.recent_step, expected_series)
        baseline = request(grid.baseline_start, grid.baseline_end, grid.step, expected_series)
        try:
            first, second = query_ranges_sliced(client, [recent, baseline])
        except ProbeError as exc:
            # far fewer series now than over the last hours or the week (most stopped): a slice
            # over the bound on one answer; read again below, sized as when the count is unknown
            if exc.kind is not ErrorKind.TOO_LARGE:
                raise
            recent_series = max_series
        else:
            return first, second
    (read,) = query_ranges_sliced(
        client, [request(grid.recent_start, grid.at, grid.recent_step, recent_series)]
    )
    baseline = request(grid.baseline_start, grid.baseline_end, grid.step, len(read.series))
    return read, query_ranges_sliced(client, [baseline])[0]


def _screened(
    promql: str, labels: tuple[Mapping[str, str], ...], wanted: FloatArray, recent: RangeResult
) -> tuple[IntArray, tuple[str, ...] | None]:
    """The rows whose step extremes are read, most extreme first, and the one filtered query
    that keeps them (None: no filter can name them, read every series).

    Each step-extremes subquery makes Prometheus evaluate the query at every finer point of
    the baseline for every series it returns, filtered or not (about 1 s for 1,000 series over
    a week at 30 s): one filtered query per extreme, so the rows are halved, least extreme
    first dropped, until one query holds them."""
    rows = np.flatnonzero(np.isfinite(wanted))
    order = rows[np.argsort(-wanted[rows], kind="stable")]
    every = [series.labels for series in recent.series]
    keep = len(order)
    while True:
        narrowed = only_series(promql, [labels[row] for row in order[:keep]], every)
        if narrowed is not None and len(narrowed) == 1:
            return order[:keep], narrowed
        if keep == 1:
            return order, None  # no filter names even one: every series' extremes, all rows judged
        keep = (keep + 1) // 2


def _step_extremes(
    client: PrometheusClient,
    function: str,
    promql: str,
    narrowed: tuple[str, ...] | None,
    grid: QueryGrid,
    series: tuple[int, int],
) -> SeriesGrid:
    """``function`` (``max_over_time`` or ``min_over_time``) of each baseline step's points at
    the recent range's finer step: of the series the ``narrowed`` queries keep, or of every
    series when there is no filter or one was refused (a proxy's limit on the URL, an old
    PromQL); ``series`` is (how many ``narrowed`` keep, how many there are)."""

    def read(query: str, expected: int) -> RangeResult:
        # *_over_time drops __name__: kept in a label of its own, so that series differing only
        # by their metric name stay apart (Prometheus refuses a result of equal label sets)
        named = f'label_replace(({query}), "{NAME_LABEL}", "$1", "__name__", "(.+)")'
        subquery = f"{function}({named}[{grid.step:g}s:{grid.recent_step:g}s])"
        return query_range_sliced(
            client,
            subquery,
            _moment(grid.baseline_start),
            _moment(grid.baseline_end),
            grid.step,
            series=expected,
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


NAME_LABEL = "diag_metric_name"
"""The label that carries a series' metric name through ``*_over_time``."""


def _named_key(labels: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """A series' key, with the metric name ``*_over_time`` returned in :data:`NAME_LABEL`."""
    key = {name: value for name, value in labels.items() if name != "__name__"}
    metric = key.pop(NAME_LABEL, None) or labels.get("__name__")
    if metric:
        key["__name__"] = metric
    return tuple(sorted(key.items()))


def judged_again(
    verdicts: Verdicts,
    labels: tuple[Mapping[str, str], ...],
    rows: IntArray,
    obs: Observations,
    extremes: list[SeriesGrid],
    settings: DetectorSettings,
) -> tuple[Verdicts, int]:
    """``verdicts`` with ``rows`` judged again with the baseline's step extremes (``extremes``:
    the highest, then the lowest, of each step; they may hold other series too: only those of
    ``rows`` are used), and how many rows had them."""
    wanted = {_named_key(labels[row]): index for index, row in enumerate(rows)}
    columns = obs.baseline.shape[1]
    aligned = []
    for answer in extremes:
        values = np.full((len(rows), columns), np.nan)
        for index, found in enumerate(answer.labels):
            position = wanted.get(_named_key(found))
            if position is not None and answer.values.shape[1] == columns:
                values[position] = np.where(answer.present[index], answer.values[index], np.nan)
        aligned.append(values)
    high, low = aligned
    again = judge(
        replace(
            obs,
            baseline=obs.baseline[rows],
            baseline_present=obs.baseline_present[rows],
            recent=obs.recent[rows],
            recent_present=obs.recent_present[rows],
            step_high=high,
            step_low=low,
        ),
        settings,
    )
    had = int(np.isfinite(high).any(axis=1).sum())
    return _with_rows(verdicts, rows, again), had


def _with_rows(verdicts: Verdicts, rows: np.ndarray, again: Verdicts) -> Verdicts:
    """``verdicts`` with its ``rows`` replaced by the rows of ``again``, in order."""
    replaced = {}
    for field in fields(Verdicts):
        values = getattr(verdicts, field.name).copy()
        values[rows] = getattr(again, field.name)
        replaced[field.name] = values
    return Verdicts(**replaced)
