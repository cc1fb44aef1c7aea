"""``metrics.anomalies``: which key metrics broke from their normal behaviour, since when, how far.

Signals: each configured PromQL query (``probes.metrics.anomalies.queries``), or, without any,
the golden signals discovered by metric name per ``job`` (request rate, 5xx error ratio, p99
latency from histogram buckets; see :mod:`probes.prometheus.discovery`). Every series each query
returns is judged against its own baseline (:mod:`probes.prometheus.judge_series`).

Queries, per metric: ``count(<query>)`` at ``at`` (one instant query: how many series), then the
recent range ``[at - 2 x window, at]`` (the window plus an equal lead-in to find the onset) and
the baseline (default the 7 days before), both at the baseline's step (5 min for 7 days, a step
dividing a day, never more than Prometheus' 11,000 points per series): every series is judged on
that grid. Then, for the series found departing or silent only, the recent range at the finer
step (at most ``window_points`` points) dates the onset and the silence, and they are judged
again with it: the same verdicts as reading every series finely
(:mod:`probes.prometheus.anomalies_reading`). Range answers come in time slices of at most 16
MiB, two in flight, and are compressed only when Prometheus is remote. A query counting more
than ``max_series`` series is limited in Prometheus itself to the ``max_series`` with the
largest latest value in the recent range (``topk``), so no more is transferred or decoded, and
an info finding says so.

Default thresholds (one set for every sampling interval and history length, chosen on the NAB
series at 5-minute, 30-minute, hourly points and 2-day histories together, see
benchmarks/eval_nab.py and docs/anomalies.md): a mean of 1, 3, 6 or 12 of the series' own
samples at least 4 robust spreads of the baseline's means of the same length from their median
and beyond their 2k-th most extreme one, beyond what the series usually reaches at this time of
day, and at least 10 % of its typical magnitude away; error ratios must also rise by 0.5
percentage point and 50 %, p99 latencies by 50 ms and 50 %. Configured queries get an absolute
floor from their ``unit`` (:data:`UNIT_FLOORS`: ratio 0.005, s 0.05...). Less than 3 days of
baseline: 1.5x the threshold and a "short history" note. Ongoing departures more than 3 normal
half-widths out are critical, others warnings; one ongoing for 15 minutes is a level shift. A
series present in >= 90 % of its own samples and silent for 2 of its intervals and longer than
any baseline gap is reported as vanished (warning). At most ``max_findings`` findings, worst
first; the rest are counted in one info finding.

With nothing to judge (no golden signal discovered and no query configured, no configured
query returning a series, or no series with enough baseline) the outcome is ``not_checked``
with the reason and the configuration line to add, never a clean ``ok``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from diagnostics import (
    ChecklistItem,
    Duration,
    Entity,
    ErrorKind,
    Finding,
    NothingToJudge,
    Probe,
    ProbeContext,
    ProbeError,
    ProbeOptions,
    ProbeTimeout,
    Severity,
)
from diagnostics.units import format_duration
from probes.prometheus.config import SECTION, display_url

if TYPE_CHECKING:
    from probes.prometheus.client import PrometheusClient
    from probes.prometheus.discovery import MetricQuery
    from probes.prometheus.judge_anomalies import Candidate
    from probes.prometheus.judge_series import DetectorSettings


UNIT_FLOORS = {"ratio": 0.005, "%": 0.5, "percent": 0.5, "s": 0.05, "seconds": 0.05, "ms": 50.0}
"""Default absolute floor of a configured query by its ``unit``: half a percentage point of a
ratio (0.01 % -> 0.05 % is no incident), 50 ms of a latency. Other units: relative floor only."""


def default_min_deviation(unit: str | None) -> float | None:
    """The absolute floor a configured query of ``unit`` gets unless it sets ``min_deviation``."""
    return UNIT_FLOORS.get((unit or "").strip().lower())


def limited(promql: str, max_series: int, span_s: float, step_s: float, at: float) -> str:
    """``promql`` restricted to the ``max_series`` series with the largest last value in
    ``[at - span_s, at]``; the ``@`` subquery is step-invariant, evaluated once per range query."""
    top = f"topk({max_series}, last_over_time(({promql})[{span_s:.0f}s:{step_s:g}s] @ {at:.0f}))"
    return f"({promql}) and ignoring(__name__) {top}"


class QueryThresholds(BaseModel):
    """Per-query overrides of the detection floors."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    threshold: float | None = Field(None, gt=0)
    """Robust z-score a point must reach."""
    min_deviation: float | None = Field(None, ge=0)
    """Absolute floor, in the query's unit (e.g. 0.01 for one percentage point of a ratio)."""
    min_relative: float | None = Field(None, ge=0)
    """Relative floor, times the value expected then (at least the series' typical magnitude)."""


class QuerySpec(BaseModel):
    """One key metric: ``{name, query}`` plus optional direction, unit and thresholds."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    name: str = Field(min_length=1)
    query: str = Field(min_length=1)
    direction: Literal["up", "down", "both"] = "both"
    """Which departures matter: ``up`` for errors and latency, ``down`` for throughput."""
    unit: str | None = None
    """For display: ``ratio`` (shown as %), ``s``, ``bytes``, ``req/s``..."""
    thresholds: QueryThresholds = QueryThresholds()


class AnomaliesOptions(ProbeOptions):
    """Settings of ``metrics.anomalies``; the tuning knobs have defaults tuned on NAB."""

    timeout: Duration = timedelta(seconds=20)
    """How long the probe may take before it ends as ``timeout``."""
    baseline: Duration = timedelta(days=7)
    """History the diagnosed window is compared against."""
    queries: tuple[QuerySpec, ...] = ()
    """Key metrics to judge; without any, the golden signals are discovered."""
    threshold: float = Field(4.0, gt=0)
    """Robust z a window mean must reach against the baseline's means of the same length."""
    window_points: int = Field(240, ge=20, le=2000)
    """Points of the recent range (window + lead-in) used to date the onset."""
    min_relative: float = Field(0.1, ge=0)
    """Share of the value expected then, at least of the series' typical magnitude (0.1: 10 %), a departure must reach; a query's own ``min_relative`` overrides it."""
    level_shift_after: Duration = timedelta(minutes=15)
    """An ongoing departure older than this is reported as a level shift."""
    seasonality: bool = True
    """Compare seasonal series with the same time a day and a week earlier."""
    baseline_points: int = Field(2016, ge=100, le=10_999)
    """Points per series of the baseline range at most (its step is the coarsest that keeps within it)."""
    rate_window: str = Field("5m", pattern=r"^\d+[smh]$")
    """Range of the ``rate()`` applied to counters (discovered signals and raw counters in queries), e.g. ``5m``."""
    group_by: str = Field("job", pattern=r"^[a-zA-Z_][a-zA-Z0-9_]*$")
    """Label the discovered golden signals are aggregated by."""
    max_queries: int = Field(12, ge=1, le=100)
    """Key metrics judged at most (configured queries or discovered golden signals)."""
    max_series: int = Field(1_000, ge=1)
    """Series judged per query at most: above it, the ones with the largest latest value. At
    about 2 ms per series end to end (mostly decoding the week of points), 1,000 series take
    about 2 s of the 20 s timeout (benchmarks/bench_anomalies_fleet.py)."""
    max_findings: int = Field(10, ge=1)
    """Findings reported at most, worst first; the rest are counted in one info finding."""


class AnomaliesProbe(Probe):
    id = "metrics.anomalies"
    checklist_item = ChecklistItem.METRICS
    description = "Key metrics (configured or golden signals) departing from their normal behaviour"
    options_model = AnomaliesOptions
    backend_section = SECTION

    def run(self, ctx: ProbeContext[AnomaliesOptions]) -> Iterable[Finding]:
        from probes.prometheus.client import PrometheusClient

        options = ctx.options
        with PrometheusClient.from_context(ctx) as client:
            queries = _queries(client, ctx, options)
            if not queries:
                raise nothing_to_judge(configured=bool(options.queries), returned=0, names=())
            candidates: list[Candidate] = []
            notes: list[Finding] = []
            returned = judged_series = 0
            for query in queries[: options.max_queries]:
                judged, note, counts = _judge_query(client, ctx, options, query)
                candidates += judged
                notes += [note] if note is not None else []
                returned += counts[0]
                judged_series += counts[1]
        if judged_series == 0 and not candidates:
            names = tuple(q.name for q in queries[: options.max_queries])
            raise nothing_to_judge(configured=bool(options.queries), returned=returned, names=names)
        return _ranked(ctx, options, candidates) + notes


EXAMPLE_QUERY = (
    "probes: {metrics.anomalies: {queries: [{name: checkout p99 latency, unit: s, query: "
    "'histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{job=\"checkout\"}[5m])))'}]}}"
)
"""The configuration line that gives metrics.anomalies a signal to judge."""


def nothing_to_judge(*, configured: bool, returned: int, names: tuple[str, ...]) -> NothingToJudge:
    """Why the probe judged no series ("not checked", never a clean ok), with the line to add."""
    if returned:
        return NothingToJudge(
            f"{returned} series returned, none present in enough of the baseline to be judged (new or sparse)",
            hint="probes: {metrics.anomalies: {baseline: 1d}}  # a shorter baseline, or wait for history",
        )
    if configured:
        listed = ", ".join(repr(n) for n in names)
        return NothingToJudge(
            f"no configured query returned a series ({listed})",
            hint="fix the query in probes.metrics.anomalies.queries, e.g. " + EXAMPLE_QUERY,
        )
    return NothingToJudge(
        "no golden signal discovered (no request, error or latency metric per job) and no query configured",
        hint=EXAMPLE_QUERY,
    )


def _queries(client: PrometheusClient, ctx: ProbeContext, options: AnomaliesOptions) -> list[MetricQuery]:
    from probes.prometheus.discovery import MetricQuery, counter_safe, discover

    if not options.queries:
        return discover(
            client,
            start=ctx.at - 2 * ctx.window,
            end=ctx.at,
            group=options.group_by,
            rate=options.rate_window,
            limit=options.max_queries,
        )
    queries = []
    for spec in options.queries:
        promql, rewritten = counter_safe(spec.query, options.rate_window)
        queries.append(
            MetricQuery(
                name=spec.name,
                promql=promql,
                signal="configured",
                unit=spec.unit,
                direction=spec.direction,
                threshold=spec.thresholds.threshold,
                min_deviation=spec.thresholds.min_deviation
                if spec.thresholds.min_deviation is not None
                else default_min_deviation(spec.unit),
                min_relative=spec.thresholds.min_relative,
                judged_as=rewritten,
            )
        )
    return queries


def _series_count(client: PrometheusClient, query: MetricQuery, at: datetime) -> int | None:
    """How many series ``query`` returns at ``at`` (one cheap instant query); None when unknown."""
    try:
        samples = client.query(f"count({query.promql})", at)
    except ProbeError as exc:
        if exc.kind is ErrorKind.QUERY:
            return None  # e.g. a scalar query: the range queries say what is wrong, naming it
        raise _named(exc, query) from None
    return int(samples[0].value) if samples and math.isfinite(samples[0].value) else 0


def _limited_note(ctx: ProbeContext, query: MetricQuery, count: int, max_series: int, promql: str) -> Finding:
    return ctx.finding(
        kind="metric_series_limited",
        key=query.name,
        severity=Severity.INFO,
        title=f"{query.name} returns {count:,} series, over max_series {max_series:,}: "
        f"only the {max_series:,} with the largest latest value were judged",
        entity=Entity(kind="metric", name=query.name),
        queries=[f"count({query.promql})", promql],
        details={"query_name": query.name, "series_count": count, "max_series": max_series},
        next_steps=["Aggregate the query (sum by a service label) or raise max_series"],
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class QueryGrid:
    """Where and how densely one query is read: the baseline, then the recent range (the
    diagnosed window and an equal lead-in for the onset), both at the baseline's step and phase."""

    step: float
    recent_step: float
    """The recent range is also read at this finer step, to date the onset precisely."""
    baseline_start: float
    baseline_end: float
    recent_start: float
    at: float


def query_grid(
    at: float, window: float, baseline: float, baseline_points: int, window_points: int = 240
) -> QueryGrid:
    """The grid of :func:`_judge_query` as of unix time ``at``: points every ``step`` ending at ``at``.

    The finer step is the smallest whole number of seconds of at least the finest step that
    divides ``step`` (e.g. 150 s rather than 120 s under 300 s; 180 s under 900 s), so every point
    of the judging grid is a point of the finer range: a sample is seen at the same column in the
    recent range as in the baseline, and the same time a day earlier is a column of its own."""
    from probes.prometheus.client import nice_step

    finest = nice_step(2 * window, window_points)
    step = nice_step(baseline, baseline_points, minimum=finest)
    recent_step = float(next(d for d in range(math.ceil(finest), int(step) + 1) if int(step) % d == 0))
    recent_start = at - math.floor(2 * window / step) * step
    baseline_end = recent_start - step
    return QueryGrid(
        step=step,
        recent_step=recent_step,
        baseline_start=baseline_end - (math.floor(baseline / step) - 1) * step,
        baseline_end=baseline_end,
        recent_start=recent_start,
        at=at,
    )


def detector_settings(options: AnomaliesOptions, query: MetricQuery) -> DetectorSettings:
    """The detection settings of ``query`` under ``options`` (the evaluation uses the same)."""
    from probes.prometheus.judge_series import DetectorSettings

    return DetectorSettings(
        threshold=query.threshold or options.threshold,
        min_deviation=query.min_deviation if query.min_deviation is not None else 0.0,
        min_relative=query.min_relative if query.min_relative is not None else options.min_relative,
        direction=query.direction,
        weekly_check=options.seasonality,
        min_seasonal_days=2 if options.seasonality else 10**9,
        level_shift_seconds=options.level_shift_after.total_seconds(),
    )


def _judge_query(
    client: PrometheusClient, ctx: ProbeContext, options: AnomaliesOptions, query: MetricQuery
) -> tuple[list[Candidate], Finding | None, tuple[int, int]]:
    """The candidates, the max_series note, and (series returned, series judged)."""
    from probes.prometheus.anomalies_reading import read_and_judge
    from probes.prometheus.judge_anomalies import anomaly_candidates

    at = ctx.at.replace(microsecond=0)
    window = ctx.window.total_seconds()
    grid = query_grid(
        at.timestamp(),
        window,
        options.baseline.total_seconds(),
        options.baseline_points,
        options.window_points,
    )
    promql, note = query.promql, None
    count = _series_count(client, query, at)
    if count is not None and count > options.max_series:
        span = grid.at - grid.recent_start
        promql = limited(query.promql, options.max_series, span, grid.recent_step, grid.at)
        note = _limited_note(ctx, query, count, options.max_series, promql)
    try:
        judged = read_and_judge(
            client,
            promql,
            grid,
            judged_from=(at - ctx.window).timestamp(),
            settings=detector_settings(options, query),
            max_series=options.max_series,
            expected_series=None if count is None else min(count, options.max_series),
        )
    except ProbeError as exc:
        raise _named(exc, query) from None
    labels, verdicts = judged.labels, judged.verdicts
    context = {
        "query_name": query.name,
        "baseline": format_duration(options.baseline),
        "step_s": grid.recent_step,
        "baseline_step_s": grid.step,
        "series_judged": int(verdicts.judged.sum()),
        "series_returned": judged.returned,
        "series_not_judged_over_limit": judged.truncated + max(0, (count or 0) - options.max_series),
    }
    if judged.step_extremes_not_read:  # judged on the grid alone: what happened between its points unseen
        context["between_points_not_judged"] = judged.step_extremes_not_read
    return (
        anomaly_candidates(
            query=query,
            labels=labels,
            verdicts=verdicts,
            make=ctx.finding,
            base_url=display_url(client.url),
            at=at,
            span_seconds=max(2 * window, 3 * 3600),
            context=context,
        ),
        note,
        (judged.returned, int(verdicts.judged.sum())),
    )


def _named(exc: ProbeError, query: MetricQuery) -> ProbeError:
    """A query or timeout error saying which configured or discovered metric it was about."""
    if exc.kind not in (ErrorKind.QUERY, ErrorKind.TIMEOUT):
        return exc  # unreachable, refused credentials...: nothing to do with this query
    message = f"{query.name!r}: {exc}"
    if exc.kind is ErrorKind.TIMEOUT:
        return ProbeTimeout(message)
    return ProbeError(message, kind=exc.kind)


def _ranked(ctx: ProbeContext, options: AnomaliesOptions, candidates: list[Candidate]) -> list[Finding]:
    from probes.prometheus.judge_anomalies import rank

    findings, rest = rank(candidates, options.max_findings)
    if rest:
        names = sorted(
            {f"{c.finding.entity.name}: {c.finding.evidence.details.get('query_name')}" for c in rest}
        )
        findings.append(
            ctx.finding(
                kind="metric_anomaly_more",
                severity=Severity.INFO,
                title=f"{len(rest)} more series departed from normal (not shown, ranked lower)",
                entity=Entity(kind="metric", name="metrics.anomalies"),
                details={"series": names[:50]},
            )
        )
    return findings
