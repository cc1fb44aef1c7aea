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

from probes.prometheus.judge_series import Direction

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

# jobs without any 5xx series yet get 0, not no value: errors often first appear with the incident;
# a job without traffic has no errors (0, not 0/0 = NaN: VictoriaMetrics drops NaN results, so
# the series would seem to stop reporting there while Prometheus kept it)
ERROR_RATIO = """
(
    sum by ({group}) (rate({metric}{{{status}=~"5.."}}[{rate}]))
  or
    0 * sum by ({group}) (rate({metric}[{rate}]))
)
/
clamp_min(sum by ({group}) (rate({metric}[{rate}])), 1e-9)
"""

P99_LATENCY = "histogram_quantile(0.99, sum by ({group}, le) (rate({metric}[{rate}])))"

_COUNTER_SUFFIXES = ("_total", "_count", "_sum", "_bucket")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_BRACES = re.compile(r"\{[^{}]*\}")
_LABEL_LIST = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_NAME = re.compile(r"(?<![\w:.])[a-zA-Z_:][a-zA-Z0-9_:]*")
_AFTER_SELECTOR = re.compile(r"\s*(\{[^{}]*\})?")


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


def _masked(promql: str) -> str:
    """``promql`` with string literals, label matchers and label lists blanked (same length),
    so that only metric names, functions and keywords remain as identifiers."""

    def blank(match: re.Match[str]) -> str:
        text = match.group(0)
        return text[0] + " " * (len(text) - 2) + text[-1]

    masked = _BRACES.sub(blank, _STRING.sub(blank, promql))
    return _LABEL_LIST.sub(lambda m: " " * len(m.group(0)), masked)


def raw_counters(promql: str) -> list[tuple[int, int]]:
    """Spans of the instant selectors of counters (``*_total``, ``*_count``, ``*_sum``,
    ``*_bucket``) that no range function reads: judged raw, they only ever grow."""
    masked = _masked(promql)
    spans = []
    for name in _NAME.finditer(masked):
        if not name.group(0).endswith(_COUNTER_SUFFIXES):
            continue
        selector = _AFTER_SELECTOR.match(masked, name.end())
        end = selector.end(1) if selector and selector.group(1) else name.end()
        rest = masked[end:].lstrip()
        if rest.startswith(("(", "[")):
            continue  # a function call, or a range selector read by rate(), increase()...
        spans.append((name.start(), end))
    return spans


def counter_safe(promql: str, rate_window: str) -> tuple[str, str | None]:
    """Every counter read raw, bare (``x_total``) or inside an expression (``sum(x_total)``),
    is judged through ``rate()``: ``sum(rate(x_total[5m]))``. Returns (PromQL, the rewritten
    PromQL or None). A counter followed by ``offset`` or ``@`` is rewritten with it inside."""
    spans = raw_counters(promql)
    if not spans:
        return promql, None
    rewritten = promql
    for start, end in reversed(spans):
        selector = promql[start:end]
        modifier = re.match(r"\s+offset\s+-?\w+|\s*@\s*[\w.()]+", promql[end:])
        shift = modifier.group(0) if modifier else ""
        rewritten = (
            rewritten[:start] + f"rate({selector}[{rate_window}]{shift})" + rewritten[end + len(shift) :]
        )
    rewritten = rewritten.strip()
    return rewritten, rewritten


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
