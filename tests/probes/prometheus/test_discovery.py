"""Golden-signal discovery: the PromQL built for the metric names found, and raw counters."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
import responses

from probes.prometheus.client import PrometheusClient
from probes.prometheus.config import PrometheusConfig
from probes.prometheus.discovery import counter_safe, discover, golden_signals

URL = "http://prometheus.test:9090"
AT = datetime(2025, 3, 12, 19, 0, tzinfo=UTC)


def test_golden_signals_per_job() -> None:
    queries = golden_signals(
        counters=["http_requests_total"],
        histograms=["http_server_requests_seconds_bucket"],
        status_labels={"http_requests_total": "status"},
        group="job",
        rate="5m",
    )
    assert [(q.name, q.signal, q.direction, q.unit) for q in queries] == [
        ("request rate", "request_rate", "both", "req/s"),
        ("error ratio", "error_ratio", "up", "ratio"),
        ("p99 latency", "latency_p99", "up", "s"),
    ]
    rate, errors, latency = (q.promql for q in queries)
    assert rate == "sum by (job) (rate(http_requests_total[5m]))"
    assert errors == (
        '(sum by (job) (rate(http_requests_total{status=~"5.."}[5m])) or 0 * sum by (job) '
        "(rate(http_requests_total[5m]))) / clamp_min(sum by (job) (rate(http_requests_total[5m])), 1e-9)"
    )
    assert (
        latency
        == "histogram_quantile(0.99, sum by (job, le) (rate(http_server_requests_seconds_bucket[5m])))"
    )
    assert queries[1].min_deviation == 0.005  # 0.01 % -> 0.05 % is no incident


def test_no_status_label_no_error_ratio() -> None:
    queries = golden_signals(
        counters=["http_server_requests_total"], histograms=[], status_labels={}, group="service", rate="2m"
    )
    assert [q.promql for q in queries] == ["sum by (service) (rate(http_server_requests_total[2m]))"]


def test_raw_counters_are_judged_through_rate() -> None:
    assert counter_safe('http_requests_total{job="a"}', "5m") == (
        'rate(http_requests_total{job="a"}[5m])',
        'rate(http_requests_total{job="a"}[5m])',
    )
    assert counter_safe("queue_depth", "5m") == ("queue_depth", None)
    assert counter_safe("sum(rate(x_total[1m]))", "5m") == ("sum(rate(x_total[1m]))", None)


@pytest.mark.parametrize(
    ("query", "judged_as"),
    [
        ("sum(http_requests_total)", "sum(rate(http_requests_total[5m]))"),
        (
            'sum by (job) (http_requests_total{code=~"5.."})',
            'sum by (job) (rate(http_requests_total{code=~"5.."}[5m]))',
        ),
        ("x_sum / x_count", "rate(x_sum[5m]) / rate(x_count[5m])"),
        (
            'histogram_quantile(0.99, sum by (le) (x_bucket{job="a_total"}))',
            'histogram_quantile(0.99, sum by (le) (rate(x_bucket{job="a_total"}[5m])))',
        ),
        ("sum(x_total offset 1h)", "sum(rate(x_total[5m] offset 1h))"),
    ],
)
def test_raw_counters_inside_expressions_are_judged_through_rate(query: str, judged_as: str) -> None:
    assert counter_safe(query, "5m") == (judged_as, judged_as)


@pytest.mark.parametrize(
    "query",
    [
        "sum by (job_count) (rate(http_requests_total[5m]))",  # a label named like a counter
        'queue_depth{job="x_total"}',  # a label value
        "sum(increase(x_total[1h])) / sum(rate(y_count[5m]))",
        "sum_over_time(x_total[5m:1m])",
    ],
)
def test_counters_already_read_by_a_range_function_are_left_alone(query: str) -> None:
    assert counter_safe(query, "5m") == (query, None)


@responses.activate
def test_discovery_reads_only_the_index() -> None:
    responses.get(
        f"{URL}/api/v1/label/__name__/values",
        json={"status": "success", "data": ["http_request_duration_seconds_bucket", "http_requests_total"]},
    )
    responses.get(f"{URL}/api/v1/labels", json={"status": "success", "data": ["__name__", "code", "job"]})
    client = PrometheusClient(PrometheusConfig(url=URL), deadline=time.monotonic() + 10)
    queries = discover(client, start=AT - timedelta(hours=2), end=AT, group="job", rate="5m", limit=12)
    assert [q.name for q in queries] == ["request rate", "error ratio", "p99 latency"]
    assert 'code=~"5.."' in queries[1].promql
    assert len(responses.calls) == 2


@responses.activate
def test_nothing_to_discover() -> None:
    responses.get(f"{URL}/api/v1/label/__name__/values", json={"status": "success", "data": []})
    client = PrometheusClient(PrometheusConfig(url=URL), deadline=time.monotonic() + 10)
    assert discover(client, start=AT - timedelta(hours=2), end=AT, group="job", rate="5m", limit=12) == []


@responses.activate
def test_probe_without_queries_or_golden_signals_is_not_checked_never_ok() -> None:
    from diagnostics import Status
    from diagnostics.testing import run_probe
    from probes.prometheus.anomalies import AnomaliesProbe

    responses.get(f"{URL}/api/v1/label/__name__/values", json={"status": "success", "data": []})
    run = run_probe(AnomaliesProbe, config={"prometheus": {"url": URL}}, at=AT)
    assert run.outcome.status is Status.NOT_CHECKED
    assert run.outcome.error is not None and run.outcome.error.startswith("no golden signal discovered")
    assert run.outcome.hint is not None and "probes: {metrics.anomalies: {queries:" in run.outcome.hint
    assert run.findings == ()
    assert len(responses.calls) == 1  # looked in the index, queried nothing
