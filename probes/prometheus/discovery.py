"""Which key metrics to judge: the configured queries, or the golden signals found by name.

Without configured queries, ``metrics.anomalies`` looks (in the index only, no samples read)
for the conventional HTTP metrics of the common instrumentation libraries and builds, per
``job`` (or another grouping label): the request rate, the 5xx error ratio and the p99 latency
from histogram buckets. Nothing found means nothing judged, not an error.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from probes.prometheus.anomaly import Direction

if TYPE_CHECKING:
    from probes.prometheus.client import PrometheusClient

REQUEST_COUNTERS = (
    "http_requests_total",
    "http_server_requests_total",
    "http_server_requests_seconds_count",
    "http_server_request_duration_seconds_count",
    "http_request_duration_seconds_count",
)
"""Counters of HTTP requests, in order of preference (prometheus clients, Spring, OpenTelemetry)."""

LATENCY_HISTOGRAMS = (
    "http_server_request_duration_seconds_bucket",
    "http_request_duration_seconds_bucket",
    "http_server_requests_seconds_bucket",
)

STATUS_LABELS = ("code", "status", "status_code", "http_status_code", "http_response_status_code")

REQUEST_RATE = "sum by ({group}) (rate({metric}[{rate}]))"

# jobs without any 5xx series yet get 0, not no value: errors often first appear with the incident
ERROR_RATIO = """
(
    sum by ({group}) (rate({metric}{{{status}=~"5.."}}[{rate}]))
  or
    0 * sum by ({group}) (rate({metric}[{rate}]))
)
/
sum by ({group}) (rate({metric}[{rate}]))
"""

P99_LATENCY = "histogram_quantile(0.99, sum by ({group}, le) (rate({metric}[{rate}])))"

_BARE_SELECTOR = re.compile(r"^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^{}]*\})?\s*$")
_COUNTER_SUFFIXES = ("_total", "_count", "_sum", "_bucket")


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricQuery:
    """One key metric to judge: its PromQL and the floors that make sense for it."""

    name: str
    promql: str
    signal: str
    """``request_rate``, ``error_ratio``, ``latency_p99`` or ``configured``."""
    unit: str | None = None
    direction: Direction = "both"
    threshold: float | None = None
    min_deviation: float | None = None
    min_relative: float | None = None
    judged_as: str | None = None
    """Set when the configured query was rewritten (a raw counter judged through rate())."""


def counter_safe(promql: str, rate_window: str) -> tuple[str, str | None]:
    """A bare selector of a counter (``*_total``...) is judged through ``rate()``, never raw."""
    match = _BARE_SELECTOR.match(promql)
    if match and match.group(1).endswith(_COUNTER_SUFFIXES):
        rewritten = f"rate({promql.strip()}[{rate_window}])"
        return rewritten, rewritten
    return promql, None


def compact(promql: str) -> str:
    """PromQL on one line (for evidence and graph links)."""
    return " ".join(promql.split()).replace("( ", "(").replace(" )", ")")


def golden_signals(
    *,
    counters: Sequence[str],
    histograms: Sequence[str],
    status_labels: dict[str, str],
    group: str,
    rate: str,
) -> list[MetricQuery]:
    """The golden-signal queries for the metric names found (pure: no I/O)."""
    queries = []
    for metric in counters:
        queries.append(
            MetricQuery(
                name="request rate",
                promql=REQUEST_RATE.format(group=group, metric=metric, rate=rate),
                signal="request_rate",
                unit="req/s",
                direction="both",
                min_relative=0.2,
            )
        )
        status = status_labels.get(metric)
        if status:
            queries.append(
                MetricQuery(
                    name="error ratio",
                    promql=compact(ERROR_RATIO.format(group=group, metric=metric, rate=rate, status=status)),
                    signal="error_ratio",
                    unit="ratio",
                    direction="up",
                    min_deviation=0.005,
                    min_relative=0.5,
                )
            )
    for metric in histograms:
        queries.append(
            MetricQuery(
                name="p99 latency",
                promql=P99_LATENCY.format(group=group, metric=metric, rate=rate),
                signal="latency_p99",
                unit="s",
                direction="up",
                min_deviation=0.05,
                min_relative=0.5,
            )
        )
    return queries


def discover(
    client: PrometheusClient, *, start: datetime, end: datetime, group: str, rate: str, limit: int
) -> list[MetricQuery]:
    """Find the conventional HTTP metrics present in ``[start, end]`` and build their queries."""
    wanted = (*REQUEST_COUNTERS, *LATENCY_HISTOGRAMS)
    selector = '{__name__=~"' + "|".join(wanted) + '"}'
    present = set(client.label_values("__name__", [selector], start, end))
    counters = [m for m in REQUEST_COUNTERS if m in present]
    histograms = [m for m in LATENCY_HISTOGRAMS if m in present]
    status_labels = {}
    for metric in counters:
        names = set(client.label_names([metric], start, end))
        status = next((label for label in STATUS_LABELS if label in names), None)
        if status:
            status_labels[metric] = status
    queries = golden_signals(
        counters=counters, histograms=histograms, status_labels=status_labels, group=group, rate=rate
    )
    return queries[:limit]
