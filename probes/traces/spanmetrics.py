"""The span-metrics shortcut: request and error counts per service from Prometheus.

Where the OpenTelemetry Collector's spanmetrics connector or Tempo's metrics-generator writes
``traces_spanmetrics_calls_total`` (labels ``service_name`` or ``service``, ``span_kind``,
``status_code``), the counts of server spans over the whole window and baseline come from two
instant queries each, instead of from a sample of traces; traces are then fetched only to name
where the errors originate and the path to it. Where the service graph is there too
(``traces_service_graph_request_failed_total{client, server}``), the edges with failed requests
in the window are added to the evidence.

For ``traces.latency``, the service graph's ``traces_service_graph_request_server_seconds``
histogram gives each server's p95 over the whole window and baseline: when no server got
slower, no trace is fetched at all; when one did, traces name the operation whose self time
grew and the path to it, and the servers' p95 join the evidence.

    sum by (service_name, service) (increase(traces_spanmetrics_calls_total{
        span_kind="SPAN_KIND_SERVER"[, status_code="STATUS_CODE_ERROR"]}[<range>s]))
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from diagnostics import ProbeContext
from probes.prometheus.config import PrometheusConfig
from probes.traces.judge_errors import Rates

if TYPE_CHECKING:
    from probes.prometheus.client import Sample

CALLS = "traces_spanmetrics_calls_total"
FAILED_EDGES = "traces_service_graph_request_failed_total"
MAX_EDGES = 5
SERVER = 'span_kind="SPAN_KIND_SERVER"'
ERROR = 'status_code="STATUS_CODE_ERROR"'


def promql_range(span: timedelta) -> str:
    """``span`` as a PromQL range: whole seconds where it is whole, else milliseconds (ranges take
    no fractions, and rounding up to a second would count traffic from before the window)."""
    millis = max(1, math.ceil(span.total_seconds() * 1000))
    return f"{millis // 1000}s" if millis % 1000 == 0 else f"{millis}ms"


def calls_query(span: str, *, errors: bool) -> str:
    """The PromQL counting server spans (failing ones with ``errors``) per service over ``span``."""
    selector = f"{SERVER},{ERROR}" if errors else SERVER
    return f"sum by (service_name, service) (increase({CALLS}{{{selector}}}[{span}]))"


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

    window, before = promql_range(ctx.window), promql_range(baseline)
    queries = (
        calls_query(window, errors=False),
        calls_query(window, errors=True),
        calls_query(before, errors=False),
        calls_query(before, errors=True),
    )
    with PrometheusClient(prometheus, deadline=ctx.deadline) as client:
        total = _counts(client, queries[0], ctx.at)
        if not total:
            return None
        failing = _counts(client, queries[1], ctx.at)
        baseline_total = _counts(client, queries[2], ctx.start)
        baseline_failing = _counts(client, queries[3], ctx.start)
        edges_query = f"sum by (client, server) (increase({FAILED_EDGES}[{window}])) > 0"
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


SERVER_SECONDS = "traces_service_graph_request_server_seconds_bucket"


def server_quantile_query(q: float, span: str) -> str:
    """The PromQL of the ``q`` quantile of each server's request duration over ``span``."""
    return f"histogram_quantile({q:g}, sum by (server, le) (increase({SERVER_SECONDS}[{span}])))"


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerLatencies:
    """Per server: (baseline p95, window p95) in seconds from the service graph, and the queries."""

    p95: Mapping[str, tuple[float, float]]
    queries: tuple[str, ...]

    def slower(self, *, min_ratio: float, min_increase_s: float) -> list[str]:
        """The servers whose p95 grew at least ``min_ratio`` times and ``min_increase_s``."""
        return sorted(
            server
            for server, (before, after) in self.p95.items()
            if after >= before * min_ratio and after - before >= min_increase_s
        )


def server_latencies(
    ctx: ProbeContext, prometheus: PrometheusConfig, baseline: timedelta
) -> ServerLatencies | None:
    """p95 of each server's requests in the window and the baseline; None without service-graph metrics."""
    from probes.prometheus.client import PrometheusClient

    queries = (
        server_quantile_query(0.95, promql_range(ctx.window)),
        server_quantile_query(0.95, promql_range(baseline)),
    )
    with PrometheusClient(prometheus, deadline=ctx.deadline) as client:
        after = _by_server(client.query(queries[0], ctx.at))
        if not after:
            return None
        before = _by_server(client.query(queries[1], ctx.start))
    p95 = {server: (before[server], value) for server, value in after.items() if server in before}
    return ServerLatencies(p95=p95, queries=queries)


def _by_server(samples: Iterable[Sample]) -> dict[str, float]:
    return {s.labels["server"]: s.value for s in samples if s.labels.get("server") and math.isfinite(s.value)}
