"""The span-metrics shortcut: rates from a real Prometheus, the path from the real Jaeger.

The span metrics are what the OpenTelemetry Collector's spanmetrics connector would have
counted from the very spans Jaeger stored: a ``traces_spanmetrics_calls_total`` counter per
(service_name, span_name, span_kind, status_code) and, as the servicegraph connector would,
``traces_service_graph_request_failed_total`` per (client, server), sampled every 250 ms over
the staged scenarios and backfilled with promtool.
"""

from __future__ import annotations

import json
import math
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

import pytest

from diagnostics import Status
from probes.traces.errors import ErrorsProbe
from probes.traces.latency import LatencyProbe
from probes.traces.spanmetrics import CALLS, FAILED_EDGES, SERVER_SECONDS
from tests.probes.traces.conftest import Scenario, StagedTraces
from tests.support.prometheus import PrometheusDataset, PrometheusServer, StagedSeries
from tests.support.trace_apis import StoredTraces, serve_traces

pytestmark = [pytest.mark.integration, pytest.mark.slow]

STEP_S = 0.25


BUCKETS = (0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, math.inf)


def span_metrics(raw: Iterable[Any]) -> list[StagedSeries]:
    """Cumulative counters every STEP_S seconds: server spans per (service, span, status); the
    service graph's failed client calls per (client, server) and server durations per
    (client, server, le), ``user`` being the client of root spans."""
    events: dict[tuple[str, tuple[tuple[str, str], ...]], list[float]] = defaultdict(list)
    for trace in raw:
        by_id = {span["spanID"]: span for span in trace["spans"]}
        for span in trace["spans"]:
            tags = {t["key"]: t["value"] for t in span["tags"]}
            failed = tags.get("otel.status_code") == "ERROR"
            service = trace["processes"][span["processID"]]["serviceName"]
            end = (span["startTime"] + span["duration"]) / 1e6
            if tags.get("span.kind") == "server":
                status = "STATUS_CODE_ERROR" if failed else "STATUS_CODE_UNSET"
                labels = (
                    ("service_name", service),
                    ("span_name", span["operationName"]),
                    ("span_kind", "SPAN_KIND_SERVER"),
                    ("status_code", status),
                )
                events[(CALLS, labels)].append(end)
                parent = by_id.get(span["references"][0]["spanID"]) if span["references"] else None
                caller = trace["processes"][parent["processID"]]["serviceName"] if parent else "user"
                for le in BUCKETS:
                    if span["duration"] / 1e6 <= le:
                        bucket = (
                            ("client", caller),
                            ("server", service),
                            ("le", "+Inf" if le == math.inf else f"{le:g}"),
                        )
                        events[(SERVER_SECONDS, bucket)].append(end)
            elif tags.get("span.kind") == "client" and failed:
                edge = (("client", service), ("server", str(tags["peer.service"])))
                events[(FAILED_EDGES, edge)].append(end)
    first = min(t for times in events.values() for t in times) - 5
    last = max(t for times in events.values() for t in times) + 5
    stamps = [first + i * STEP_S for i in range(int((last - first) / STEP_S) + 1)]
    series = []
    for (name, labels), times in events.items():
        times.sort()
        counts, seen = [], 0
        for stamp in stamps:
            while seen < len(times) and times[seen] <= stamp:
                seen += 1
            counts.append(float(seen))
        series.append(StagedSeries(name=name, labels=dict(labels), timestamps=stamps, values=counts))
    return series


@pytest.fixture(scope="module")
def span_metrics_server(
    staged_traces: StagedTraces, prometheus_server: Callable[[PrometheusDataset], PrometheusServer]
) -> PrometheusServer:
    dataset = PrometheusDataset(name="traces-spanmetrics", series=lambda: span_metrics(staged_traces.raw))
    return prometheus_server(dataset)


def section(staged: StagedTraces, server: PrometheusServer) -> dict[str, Any]:
    return {"jaeger": {"url": staged.jaeger.query_url}, "prometheus": server.config()}


def test_rates_come_from_span_metrics_and_the_path_from_traces(
    staged_traces: StagedTraces, span_metrics_server: PrometheusServer
) -> None:
    scenario = staged_traces["failure"]
    result = scenario.run(ErrorsProbe, section(staged_traces, span_metrics_server))
    assert result.outcome.error is None, result.outcome.error
    (finding,) = result.findings
    details = finding.evidence.details
    assert details["rates_from"] == "span metrics"
    assert (finding.entity.name, details["origin_operation"]) == ("payments", "POST /charge")
    assert details["path"] == ["frontend", "checkout", "payments"]
    assert any(CALLS in query and "STATUS_CODE_ERROR" in query for query in finding.evidence.queries)
    ratio = next(m.value for m in finding.evidence.values if m.name == "error_ratio")
    # 90 % of the 40 GET /buy among the window's 70 requests fail: about half of them; the range
    # (in milliseconds) starts where the window does, so no healthy baseline request dilutes it
    assert 0.4 <= ratio <= 0.65
    edges = details["failed_edges"]
    assert isinstance(edges, list)
    assert {(e["client"], e["server"]) for e in edges} == {("frontend", "checkout"), ("checkout", "payments")}


def test_healthy_span_metrics_are_silent(
    staged_traces: StagedTraces, span_metrics_server: PrometheusServer
) -> None:
    result = staged_traces["healthy"].run(ErrorsProbe, section(staged_traces, span_metrics_server))
    assert result.outcome.status is Status.OK, result.outcome.error
    assert result.findings == ()


def test_service_graph_latency_adds_server_p95_to_the_self_time_finding(
    staged_traces: StagedTraces, span_metrics_server: PrometheusServer
) -> None:
    result = staged_traces["slowdown"].run(LatencyProbe, section(staged_traces, span_metrics_server))
    assert result.outcome.error is None, result.outcome.error
    (finding,) = result.findings
    assert (finding.entity.name, finding.evidence.details["operation"]) == ("payments", "POST /charge")
    servers = finding.evidence.details["server_p95_ms"]
    assert isinstance(servers, dict)
    assert servers["payments"]["after"] >= servers["payments"]["before"] + 40
    assert any(SERVER_SECONDS in query for query in finding.evidence.queries)


def held_at_the_baseline_median(raw: Iterable[Any], scenario: Scenario) -> list[Any]:
    """The traces with every server span of ``scenario``'s window lasting its service's median
    of the baseline: no server got slower there, however loaded the machine was when the
    chain ran (its real durations can grow by chance, and the probe would rightly see it)."""
    traces = json.loads(json.dumps(list(raw)))
    spans = [(trace, span) for trace in traces for span in trace["spans"]]

    def service(trace: Any, span: Any) -> str:
        return str(trace["processes"][span["processID"]]["serviceName"])

    def server_spans(start: float, end: float) -> list[tuple[Any, Any]]:
        return [
            (trace, span)
            for trace, span in spans
            if any(t["key"] == "span.kind" and t["value"] == "server" for t in span["tags"])
            and start <= span["startTime"] / 1e6 <= end
        ]

    before: dict[str, list[int]] = defaultdict(list)
    for trace, span in server_spans(scenario.baseline.start, scenario.baseline.end):
        before[service(trace, span)].append(span["duration"])
    for trace, span in server_spans(scenario.window.start, scenario.window.end):
        span["duration"] = int(statistics.median(before[service(trace, span)]))
    return traces


def test_no_server_slower_in_the_service_graph_means_no_trace_is_fetched(
    staged_traces: StagedTraces, prometheus_server: Callable[[PrometheusDataset], PrometheusServer]
) -> None:
    scenario = staged_traces["failure"]
    steady = held_at_the_baseline_median(staged_traces.raw, scenario)
    server = prometheus_server(PrometheusDataset(name="traces-steady", series=lambda: span_metrics(steady)))
    stored = StoredTraces(traces=staged_traces.raw)
    with serve_traces(stored) as url:
        section = {"zipkin": {"url": url}, "prometheus": server.config()}
        result = scenario.run(LatencyProbe, section)
    assert result.outcome.error is None, result.outcome.error
    assert result.findings == ()
    assert stored.requests == []
