"""The one module that talks to Prometheus (and Alertmanager) over their HTTP APIs.

Every endpoint (query, query_range, alerts, rules, targets, metadata, series, labels,
Alertmanager) goes through one ``requests`` session per run (a run resource: the runner shuts
its sockets when the run ends, so no thread stays blocked on a hung server), so auth, TLS and
headers are the same everywhere. Every request is bounded by the configured timeout and the
probe's deadline, is never retried, and its answer is read up to :data:`MAX_RESPONSE_BYTES`.
It fails as a :class:`ProbeError` whose kind says why: ``connect``, ``tls``, ``timeout`` (the
server accepted the connection and did not answer in time), ``protocol`` (not the answer
expected; its first bytes are quoted) or ``too_large``. Answers are frozen dataclasses of plain
values and numpy arrays. The session and what each failure means are in
:mod:`probes.prometheus.client_http`, the fast decoding of range answers in
:mod:`probes.prometheus.matrix_decode`.

    with PrometheusClient.from_context(ctx) as prometheus:
        grid = prometheus.query_range("up", start, end, step=60).grid()
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from diagnostics import ErrorKind, ProbeContext, ProbeError, ProbeTimeout
from probes.prometheus.client_http import (
    ALERTMANAGER,
    CONNECT_TIMEOUT_CEILING,
    PROMETHEUS,
    BadAnswer,
    RunSession,
    Server,
    TooLarge,
    parse_json,
    protocol_error,
    request_errors,
)
from probes.prometheus.config import PrometheusConfig, display_url
from probes.prometheus.matrix_decode import decode_matrix, float_of, labels_of
from probes.prometheus.model import (
    ActiveAlert,
    AlertRule,
    ManagedAlert,
    MetricMetadata,
    RangeResult,
    Sample,
    ScrapeTarget,
    Series,
    SeriesGrid,
    parse_time,
)

__all__ = [
    "MAX_POINTS_PER_SERIES",
    "ActiveAlert",
    "AlertRule",
    "ManagedAlert",
    "MetricMetadata",
    "PrometheusClient",
    "RangeResult",
    "Sample",
    "ScrapeTarget",
    "Series",
    "SeriesGrid",
    "decode_matrix",
    "nice_step",
    "parse_time",
    "range_encoding",
]

MAX_POINTS_PER_SERIES = 11_000
"""Prometheus refuses a query_range that would return more points than this per series."""

NICE_STEPS = (1, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)
"""Steps in seconds that divide a day, so that seasonal comparisons line up."""

MAX_RESPONSE_BYTES = 64 * 1024 * 1024
"""An answer longer than this (64 MiB) is not read further: ``too_large``."""
READ_CHUNK_BYTES = 256 * 1024


STRICT_ANSWERS = {"partial_response": "false"}
"""Thanos Query answers with what the stores it reached hold, plus a warning, when one fails:
judging that as the whole picture would call a series gone that is only out of reach. With
``partial_response=false`` it fails the query instead (Prometheus and VictoriaMetrics ignore
the parameter)."""


def range_encoding(url: str) -> str:
    """``Accept-Encoding`` for range queries: none on loopback, where compressing a 36 MB answer
    costs Prometheus and the client 4x the time of sending it (benchmarks/bench_anomalies_fleet.py);
    gzip towards a remote server, where the network is the bottleneck."""
    host = (urlsplit(url).hostname or "").lower()
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost" or host.endswith(".localhost")
    return "identity" if loopback else "gzip"


def nice_step(span_seconds: float, max_intervals: int, minimum: float = 1.0) -> float:
    """The smallest step of :data:`NICE_STEPS` (>= ``minimum``) cutting the span in at most
    ``max_intervals`` (a range query then returns at most ``max_intervals + 1`` points)."""
    needed = max(span_seconds / max(max_intervals, 1), minimum)
    for step in NICE_STEPS:
        if step >= needed:
            return float(step)
    return float(math.ceil(needed / 86400) * 86400)


class PrometheusClient:
    """Read-only access to one Prometheus server, bounded by a monotonic ``deadline``."""

    def __init__(
        self, config: PrometheusConfig, *, deadline: float, session: RunSession | None = None
    ) -> None:
        self.config = config
        self.deadline = deadline
        self.url = config.url
        self.where = display_url(config.url)
        self.alertmanager_where = display_url(config.alertmanager_url or "")
        self._own = session is None
        self._run_session = session or RunSession(config)
        self._session = self._run_session.session

    @classmethod
    def from_context(cls, ctx: ProbeContext) -> PrometheusClient:
        """A client for ``ctx.backend`` (a validated PrometheusConfig) within ``ctx``'s deadline,
        on the run's one session."""
        config = ctx.backend
        if not isinstance(config, PrometheusConfig):
            raise ProbeError("no prometheus section in the configuration", kind=ErrorKind.CONFIG)
        session = ctx.resources.get(("prometheus", id(config)), lambda: RunSession(config), RunSession.close)
        return cls(config, deadline=ctx.deadline, session=session)

    def __enter__(self) -> PrometheusClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the session if this client opened it (the run closes the run's session)."""
        if self._own:
            self._run_session.close()

    # -- PromQL ---------------------------------------------------------------------------

    def query(self, promql: str, at: datetime) -> tuple[Sample, ...]:
        """An instant query evaluated at ``at``."""
        timeout = self._timeout()
        params = {
            "query": promql,
            "time": f"{at.timestamp():.3f}",
            "timeout": f"{timeout[1]:.3f}",
        }
        data = self._api("/api/v1/query", params, what=f"query {promql}")
        with self._errors(f"query {promql}", read_timeout=timeout[1]):
            return self._instant(data.get("result") if isinstance(data, Mapping) else None)

    def query_range(self, promql: str, start: datetime, end: datetime, step: float) -> RangeResult:
        """A range query; ``start`` and ``end`` are rounded to whole seconds, as the API client does."""
        begin, finish = round(start.timestamp()), round(end.timestamp())
        if step <= 0 or finish < begin:
            raise ValueError(f"bad range: {begin}..{finish} step {step}")
        points = (finish - begin) // step + 1
        if points > MAX_POINTS_PER_SERIES:
            raise ValueError(f"{points:.0f} points per series exceed Prometheus' {MAX_POINTS_PER_SERIES}")
        timeout = self._timeout()
        params: dict[str, str | int] = {
            "query": promql,
            "start": begin,
            "end": finish,
            "step": f"{step:g}",
            "timeout": f"{timeout[1]:.3f}",
            **STRICT_ANSWERS,
        }
        with self._errors(f"query {promql}", read_timeout=timeout[1]):
            # the body is decoded by decode_matrix, about twice as fast as json.loads plus a
            # float() per value (benchmarks/bench_anomalies.py); gzip only when Prometheus is remote
            raw = self._read(
                self.url + "/api/v1/query_range",
                params,
                timeout,
                headers={"Accept-Encoding": range_encoding(self.url)},
            )
            body = raw.decode("utf-8")
            decoded = decode_matrix(body, step)
            if decoded is None:  # not the exact layout Prometheus writes: the general path
                answer = parse_json(raw)
                if not isinstance(answer, Mapping) or answer.get("status") != "success":
                    raise BadAnswer("expected the Prometheus API's {status, data} answer", raw)
                self._complete(answer, f"query {promql}")
                decoded = tuple(self._series(item) for item in answer["data"]["result"])
        return RangeResult(query=promql, start=float(begin), end=float(finish), step=step, series=decoded)

    def now(self) -> datetime:
        """Prometheus' own current time (``time()`` evaluated without a time parameter)."""
        timeout = self._timeout()
        data = self._api(
            "/api/v1/query", {"query": "time()", "timeout": f"{timeout[1]:.3f}"}, what="query time()"
        )
        with self._errors("query time()", read_timeout=timeout[1]):
            (sample,) = self._instant(data.get("result") if isinstance(data, Mapping) else None)
        return datetime.fromtimestamp(sample.value, UTC)

    # -- other endpoints, same session -----------------------------------------------------

    def alerts(self) -> tuple[ActiveAlert, ...]:
        """Alerts pending or firing now."""
        data = self._api("/api/v1/alerts", {})
        return tuple(
            ActiveAlert(
                labels=labels_of(item.get("labels")),
                annotations=labels_of(item.get("annotations")),
                state=str(item.get("state", "")),
                active_at=parse_time(item.get("activeAt")),
                value=None if item.get("value") is None else str(item.get("value")),
            )
            for item in self._list(data, "alerts")
        )

    def alerting_rules(self) -> tuple[AlertRule, ...]:
        """The alerting rules loaded by Prometheus."""
        data = self._api("/api/v1/rules", {"type": "alert"})
        rules = []
        for group in self._list(data, "groups"):
            for rule in group.get("rules") or []:
                if rule.get("type") != "alerting":
                    continue
                rules.append(
                    AlertRule(
                        name=str(rule.get("name", "")),
                        query=str(rule.get("query", "")),
                        group=str(group.get("name", "")),
                        for_seconds=float_of(rule.get("duration", 0)),
                        labels=labels_of(rule.get("labels")),
                        annotations=labels_of(rule.get("annotations")),
                        health=str(rule.get("health", "")),
                        last_error=str(rule.get("lastError", "")),
                    )
                )
        return tuple(rules)

    def targets(self) -> tuple[ScrapeTarget, ...]:
        """Active scrape targets and their last scrape."""
        data = self._api("/api/v1/targets", {"state": "active"})
        targets = []
        for item in self._list(data, "activeTargets"):
            labels = labels_of(item.get("labels"))
            duration = item.get("lastScrapeDuration")
            targets.append(
                ScrapeTarget(
                    job=str(item.get("scrapePool") or labels.get("job", "")),
                    instance=labels.get("instance", ""),
                    labels=labels,
                    scrape_url=str(item.get("scrapeUrl", "")),
                    health=str(item.get("health", "")),
                    last_error=str(item.get("lastError", "")),
                    last_scrape=parse_time(item.get("lastScrape")),
                    last_scrape_duration_s=None if duration is None else float_of(duration),
                )
            )
        return tuple(targets)

    def metadata(self, metric: str | None = None, limit: int | None = None) -> tuple[MetricMetadata, ...]:
        """Type, help and unit of the metrics the current targets expose."""
        params: dict[str, str] = {}
        if metric:
            params["metric"] = metric
        if limit:
            params["limit"] = str(limit)
        data = self._api("/api/v1/metadata", params)
        if not isinstance(data, Mapping):
            raise self._protocol("/api/v1/metadata", "expected an object of metric names")
        return tuple(
            MetricMetadata(
                metric=str(name),
                type=str(entry.get("type", "")),
                help=str(entry.get("help", "")),
                unit=str(entry.get("unit", "")),
            )
            for name, entries in data.items()
            for entry in (entries or [])[:1]
        )

    def label_values(
        self, label: str, match: Sequence[str], start: datetime, end: datetime
    ) -> tuple[str, ...]:
        """The values of ``label`` among the series matching ``match`` in the range (index only)."""
        data = self._api(f"/api/v1/label/{label}/values", self._match_params(match, start, end))
        return tuple(str(value) for value in self._list(data, None))

    def series(self, match: Sequence[str], start: datetime, end: datetime) -> tuple[Mapping[str, str], ...]:
        """The label sets of the series matching any selector of ``match`` in the range."""
        data = self._api("/api/v1/series", self._match_params(match, start, end))
        return tuple(labels_of(item) for item in self._list(data, None))

    def label_names(self, match: Sequence[str], start: datetime, end: datetime) -> tuple[str, ...]:
        """The label names used by the series matching ``match`` in the range."""
        data = self._api("/api/v1/labels", self._match_params(match, start, end))
        return tuple(str(name) for name in self._list(data, None))

    def alertmanager_alerts(self) -> tuple[ManagedAlert, ...]:
        """Alerts Alertmanager holds now (empty without ``alertmanager_url``)."""
        if not self.config.alertmanager_url:
            return ()
        url = self.config.alertmanager_url + "/api/v2/alerts"
        params = {"active": "true", "silenced": "true", "inhibited": "true"}
        data = self._getparse_json(url, params, server=ALERTMANAGER)
        if not isinstance(data, list):
            raise self._protocol("/api/v2/alerts", "expected a list of alerts", server=ALERTMANAGER)
        alerts = []
        for item in data:
            status = item.get("status") or {}
            alerts.append(
                ManagedAlert(
                    labels=labels_of(item.get("labels")),
                    annotations=labels_of(item.get("annotations")),
                    state=str(status.get("state", "")),
                    starts_at=parse_time(item.get("startsAt")),
                    ends_at=parse_time(item.get("endsAt")),
                    silenced_by=tuple(str(s) for s in status.get("silencedBy") or ()),
                    inhibited_by=tuple(str(s) for s in status.get("inhibitedBy") or ()),
                    receivers=tuple(
                        str(r.get("name", "")) for r in item.get("receivers") or () if isinstance(r, Mapping)
                    ),
                )
            )
        return tuple(alerts)

    # -- plumbing -------------------------------------------------------------------------

    def _where(self, server: str) -> str:
        return self.alertmanager_where if server == ALERTMANAGER else self.where

    def _timeout(self, server: str = PROMETHEUS) -> tuple[float, float]:
        left = self.deadline - time.monotonic()
        if left <= 0.05:
            raise ProbeTimeout(f"no time left to query {server} at {self._where(server)}")
        read = min(self.config.timeout.total_seconds(), left)
        return min(CONNECT_TIMEOUT_CEILING, read), read

    @staticmethod
    def _match_params(match: Sequence[str], start: datetime, end: datetime) -> dict[str, Any]:
        return {"match[]": list(match), "start": f"{start.timestamp():.3f}", "end": f"{end.timestamp():.3f}"}

    def _api(self, path: str, params: Mapping[str, Any], what: str | None = None) -> Any:
        body = self._getparse_json(self.url + path, {**params, **STRICT_ANSWERS}, what=what)
        if not isinstance(body, Mapping) or body.get("status") != "success" or "data" not in body:
            raise self._protocol(what or path, "expected the Prometheus API's {status, data} answer")
        self._complete(body, what or path)
        return body["data"]

    def _complete(self, body: Mapping[str, Any], what: str) -> None:
        """Refuse a partial answer: warnings (a Thanos store or a remote read out of reach) mean
        the data is not the whole picture, and judging it would call series gone that are not."""
        warnings = body.get("warnings")
        if isinstance(warnings, list) and warnings:
            raise ProbeError(
                f"Prometheus at {self._where(PROMETHEUS)} answered {what:.120} only in part: "
                f"{warnings[0]!s:.200}"
                + (f" (+{len(warnings) - 1} more warnings)" if len(warnings) > 1 else ""),
                kind=ErrorKind.PROTOCOL,
            )

    def _getparse_json(
        self, url: str, params: Mapping[str, Any], server: str = PROMETHEUS, what: str | None = None
    ) -> Any:
        timeout = self._timeout(server)
        base = (self.config.alertmanager_url or "") if server == ALERTMANAGER else self.url
        with self._errors(what or f"GET {url.removeprefix(base)}", server=server, read_timeout=timeout[1]):
            return parse_json(self._read(url, params, timeout, server))

    def _read(
        self,
        url: str,
        params: Mapping[str, Any],
        timeout: tuple[float, float],
        server: str = PROMETHEUS,
        headers: Mapping[str, str] | None = None,
    ) -> bytes:
        """The answer's body, read in pieces up to :data:`MAX_RESPONSE_BYTES` and the deadline."""
        response = self._session.get(url, params=params, timeout=timeout, stream=True, headers=headers)
        try:
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > MAX_RESPONSE_BYTES:
                raise TooLarge(int(declared), MAX_RESPONSE_BYTES)
            body = bytearray()
            # one recv at most per read: returns what came; decoded, so the bound holds for a gzip bomb
            while chunk := response.raw.read1(READ_CHUNK_BYTES, decode_content=True):
                body += chunk
                if len(body) > MAX_RESPONSE_BYTES:
                    raise TooLarge(len(body), MAX_RESPONSE_BYTES)
                if time.monotonic() >= self.deadline:
                    raise ProbeTimeout(
                        f"{server} at {self._where(server)} was still sending its answer at the "
                        f"deadline ({len(body)} bytes read)"
                    )
            return bytes(body)
        finally:
            response.close()

    def _list(self, data: Any, key: str | None) -> list[Any]:
        value = data.get(key) if key is not None and isinstance(data, Mapping) else data
        if not isinstance(value, list):
            raise self._protocol(key or "answer", "expected a list")
        return [item for item in value if key is None or isinstance(item, Mapping)]

    def _server(self, server: str) -> Server:
        return Server(server, self._where(server))

    def _protocol(self, what: str, message: str, server: str = PROMETHEUS) -> ProbeError:
        return protocol_error(self._server(server), what, message)

    def _errors(
        self, what: str, server: str = PROMETHEUS, read_timeout: float | None = None
    ) -> AbstractContextManager[None]:
        """Any failure of one request to ``server`` as a ProbeError that says why."""
        return request_errors(self._server(server), what, read_timeout, self.config.timeout.total_seconds())

    def _instant(self, result: Any) -> tuple[Sample, ...]:
        if isinstance(result, list) and len(result) == 2 and isinstance(result[0], int | float):
            return (Sample(labels={}, timestamp=float(result[0]), value=float_of(result[1])),)  # a scalar
        if not isinstance(result, list):
            raise TypeError("result is not a list")
        return tuple(
            Sample(
                labels=labels_of(item.get("metric")),
                timestamp=float(item["value"][0]),
                value=float_of(item["value"][1]),
            )
            for item in result
        )

    @staticmethod
    def _series(item: Mapping[str, Any]) -> Series:
        points = item["values"]
        timestamps = np.fromiter((p[0] for p in points), dtype=np.float64, count=len(points))
        values = np.array([p[1] for p in points], dtype=np.float64)
        return Series(labels=labels_of(item.get("metric")), timestamps=timestamps, values=values)
