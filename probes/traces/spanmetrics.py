"""The span-metrics shortcut: request and error counts per service from Prometheus.

Where the OpenTelemetry Collector's spanmetrics connector or Tempo's metrics-generator writes
``traces_spanmetrics_calls_total`` (labels ``service_name`` or ``service``, ``span_kind``,
``status_code``), the counts of server spans over the whole window and baseline come from two
instant queries each, instead of from a sample of traces; traces are then fetched only to name
where the errors originate and the path to it. Where the service graph is there too
(``traces_service_graph_request_failed_total{client, server}``), the edges with failed requests
in the window are added to the evidence.

    sum by (service_name, service) (increase(traces_spanmetrics_calls_total{
        span_kind="SPAN_KIND_SERVER"[, status_code="STATUS_CODE_ERROR"]}[<range>s]))
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from diagnostics import ProbeContext
from probes.prometheus.backend import PrometheusConfig
from probes.traces.judge_errors import Rates

CALLS = "traces_spanmetrics_calls_total"
FAILED_EDGES = "traces_service_graph_request_failed_total"
MAX_EDGES = 5
SERVER = 'span_kind="SPAN_KIND_SERVER"'
ERROR = 'status_code="STATUS_CODE_ERROR"'


def calls_query(seconds: int, *, errors: bool) -> str:
    """The PromQL counting server spans (failing ones with ``errors``) per service over ``seconds``."""
    selector = f"{SERVER},{ERROR}" if errors else SERVER
    return f"sum by (service_name, service) (increase({CALLS}{{{selector}}}[{seconds}s]))"


@dataclass(frozen=True, slots=True, kw_only=True)
class SpanMetricRates:
    """Per service: (window, baseline) counts, and the queries that gave them."""

    rates: Mapping[str, tuple[Rates, Rates]]
    queries: tuple[str, ...]
    failed_edges: tuple[tuple[str, str, float], ...] = ()
    """(client, server, failed requests in the window) from the service graph, most first."""


def _counts(client: object, promql: str, at: datetime) -> dict[str, float]:
    from probes.prometheus.client import PrometheusClient

    assert isinstance(client, PrometheusClient)
    counts: dict[str, float] = {}
    for sample in client.query(promql, at):
        service = sample.labels.get("service_name") or sample.labels.get("service") or ""
        if service and sample.value == sample.value:
            counts[service] = counts.get(service, 0.0) + sample.value
    return counts


def error_rates(
    ctx: ProbeContext, prometheus: PrometheusConfig, baseline: timedelta
) -> SpanMetricRates | None:
    """Failing and total server spans per service in the window and the baseline; None without span metrics."""
    from probes.prometheus.client import PrometheusClient

    # whole seconds that cover the window and the baseline (PromQL ranges take no fractions)
    window_s = max(1, math.ceil(ctx.window.total_seconds()))
    baseline_s = max(1, math.ceil(baseline.total_seconds()))
    queries = (
        calls_query(window_s, errors=False),
        calls_query(window_s, errors=True),
        calls_query(baseline_s, errors=False),
        calls_query(baseline_s, errors=True),
    )
    with PrometheusClient(prometheus, deadline=ctx.deadline) as client:
        total = _counts(client, queries[0], ctx.at)
        if not total:
            return None
        failing = _counts(client, queries[1], ctx.at)
        baseline_total = _counts(client, queries[2], ctx.start)
        baseline_failing = _counts(client, queries[3], ctx.start)
        edges_query = f"sum by (client, server) (increase({FAILED_EDGES}[{window_s}s])) > 0"
        edges = sorted(
            (
                (s.labels.get("client", ""), s.labels.get("server", ""), round(s.value, 1))
                for s in client.query(edges_query, ctx.at)
                if s.value == s.value
            ),
            key=lambda edge: -edge[2],
        )
    rates = {
        service: (
            Rates(failing=failing.get(service, 0.0), total=count),
            Rates(failing=baseline_failing.get(service, 0.0), total=baseline_total.get(service, 0.0)),
        )
        for service, count in total.items()
    }
    return SpanMetricRates(
        rates=rates,
        queries=(*queries, edges_query) if edges else queries,
        failed_edges=tuple(edges[:MAX_EDGES]),
    )
