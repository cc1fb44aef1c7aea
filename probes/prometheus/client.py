"""The one module that talks to Prometheus (and Alertmanager) over their HTTP APIs.

Every endpoint (query, query_range, alerts, rules, targets, metadata, series, labels,
Alertmanager) goes through one ``requests`` session per run (a run resource: the runner shuts
its sockets when the run ends, so no thread stays blocked on a hung server), so auth, TLS and
headers are the same everywhere. Every request is bounded by the configured timeout and the
probe's deadline, is never retried, and its answer is read up to :data:`MAX_RESPONSE_BYTES`.
It fails as a :class:`ProbeError` whose kind says why: ``connect``, ``tls``, ``timeout`` (the
server accepted the connection and did not answer in time), ``protocol`` (not the answer
expected; its first bytes are quoted) or ``too_large``. Answers are frozen dataclasses of plain
values and numpy arrays.

    with PrometheusClient.from_context(ctx) as prometheus:
        grid = prometheus.query_range("up", start, end, step=60).grid()
"""

from __future__ import annotations

import ipaddress
import json
import math
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import numpy as np

from diagnostics import ErrorKind, ProbeContext, ProbeError, ProbeTimeout
from probes.prometheus.config import PrometheusConfig, display_url
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

if TYPE_CHECKING:
    import requests

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

CONNECT_TIMEOUT_CEILING = 3.0
MAX_RESPONSE_BYTES = 64 * 1024 * 1024
"""An answer longer than this (64 MiB) is not read further: ``too_large``."""
READ_CHUNK_BYTES = 256 * 1024
QUOTED_BYTES = 80
"""How much of an unexpected answer an error message quotes."""
PROMETHEUS = "Prometheus"
ALERTMANAGER = "Alertmanager"


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


class RunSession:
    """The ``requests`` session of one run towards one Prometheus (and its Alertmanager)."""

    def __init__(self, config: PrometheusConfig) -> None:
        import requests

        from probes.sockets import track

        session = requests.Session()
        session.verify = config.verify_tls
        session.headers.update({name: value.get_secret_value() for name, value in config.headers.items()})
        if config.bearer_token is not None:
            session.headers["Authorization"] = f"Bearer {config.bearer_token.get_secret_value()}"
        if config.basic_auth is not None:
            session.auth = (config.basic_auth.username, config.basic_auth.password.get_secret_value())
        session.hooks["response"] = [_check_response]
        adapter = requests.adapters.HTTPAdapter(max_retries=0)
        self._sockets = [track(adapter.poolmanager)]
        original = adapter.proxy_manager_for

        def tracked_proxy_manager(proxy: str, **kwargs: Any) -> Any:
            manager = original(proxy, **kwargs)
            if not getattr(manager, "_diag_tracked", False):
                self._sockets.append(track(manager))
                manager._diag_tracked = True
            return manager

        adapter.proxy_manager_for = tracked_proxy_manager  # type: ignore[method-assign]
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        self.session = session

    def close(self) -> None:
        """Shut down every socket (a thread blocked reading one gets an error), then close."""
        for sockets in list(self._sockets):
            sockets.shut_down()
        self.session.close()


def _check_response(response: requests.Response, *args: Any, **kwargs: Any) -> None:
    """Response hook: anything but a JSON 200 becomes an _HttpFailure (reading a bounded part)."""
    if response.status_code == 200:
        kind = response.headers.get("Content-Type", "")
        if "json" not in kind:
            response.close()
            raise _HttpFailure(200, "not_json", f"a {kind.split(';')[0] or 'non-JSON'} page, not JSON")
        return
    error_type, message = "", response.reason or ""
    try:
        body = json.loads(response.raw.read(QUOTED_BYTES * 100, decode_content=True) or b"null")
        if isinstance(body, Mapping):
            error_type = str(body.get("errorType", ""))
            message = str(body.get("error") or message)
    except (ValueError, OSError):
        pass
    response.close()
    raise _HttpFailure(response.status_code, error_type, message)


class _TooLarge(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


class _BadAnswer(Exception):
    def __init__(self, message: str, body: bytes) -> None:
        super().__init__(message)
        self.message = message
        self.body = body


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        raise _BadAnswer("not JSON", body) from None


def _first_bytes(body: bytes) -> str:
    """The first bytes of an answer, quoted (the runner's redactor masks any secret in them)."""
    head = body[:QUOTED_BYTES].decode("utf-8", errors="replace")
    return repr(head) + (" ..." if len(body) > QUOTED_BYTES else "") if body else "empty"


class _HttpFailure(Exception):
    """Raised by the response hook; turned into a ProbeError naming what was asked."""

    def __init__(self, status: int, error_type: str, message: str) -> None:
        self.status = status
        self.error_type = error_type
        self.message = message
        super().__init__(message)


def _labels(raw: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in raw.items()} if isinstance(raw, Mapping) else {}


def _float(text: Any) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


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
                answer = _json(raw)
                if not isinstance(answer, Mapping) or answer.get("status") != "success":
                    raise _BadAnswer("expected the Prometheus API's {status, data} answer", raw)
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
                labels=_labels(item.get("labels")),
                annotations=_labels(item.get("annotations")),
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
                        for_seconds=_float(rule.get("duration", 0)),
                        labels=_labels(rule.get("labels")),
                        annotations=_labels(rule.get("annotations")),
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
            labels = _labels(item.get("labels"))
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
                    last_scrape_duration_s=None if duration is None else _float(duration),
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
        return tuple(_labels(item) for item in self._list(data, None))

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
        data = self._get_json(url, params, server=ALERTMANAGER)
        if not isinstance(data, list):
            raise self._protocol("/api/v2/alerts", "expected a list of alerts", server=ALERTMANAGER)
        alerts = []
        for item in data:
            status = item.get("status") or {}
            alerts.append(
                ManagedAlert(
                    labels=_labels(item.get("labels")),
                    annotations=_labels(item.get("annotations")),
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
        body = self._get_json(self.url + path, {**params, **STRICT_ANSWERS}, what=what)
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

    def _get_json(
        self, url: str, params: Mapping[str, Any], server: str = PROMETHEUS, what: str | None = None
    ) -> Any:
        timeout = self._timeout(server)
        base = (self.config.alertmanager_url or "") if server == ALERTMANAGER else self.url
        with self._errors(what or f"GET {url.removeprefix(base)}", server=server, read_timeout=timeout[1]):
            return _json(self._read(url, params, timeout, server))

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
                raise _TooLarge(int(declared))
            body = bytearray()
            # one recv at most per read: returns what came; decoded, so the bound holds for a gzip bomb
            while chunk := response.raw.read1(READ_CHUNK_BYTES, decode_content=True):
                body += chunk
                if len(body) > MAX_RESPONSE_BYTES:
                    raise _TooLarge(len(body))
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

    def _protocol(self, what: str, message: str, server: str = PROMETHEUS) -> ProbeError:
        return ProbeError(
            f"{server} at {self._where(server)} answered {what} unexpectedly: {message}",
            kind=ErrorKind.PROTOCOL,
        )

    def _instant(self, result: Any) -> tuple[Sample, ...]:
        if isinstance(result, list) and len(result) == 2 and isinstance(result[0], int | float):
            return (Sample(labels={}, timestamp=float(result[0]), value=_float(result[1])),)  # a scalar
        if not isinstance(result, list):
            raise TypeError("result is not a list")
        return tuple(
            Sample(
                labels=_labels(item.get("metric")),
                timestamp=float(item["value"][0]),
                value=_float(item["value"][1]),
            )
            for item in result
        )

    @staticmethod
    def _series(item: Mapping[str, Any]) -> Series:
        points = item["values"]
        timestamps = np.fromiter((p[0] for p in points), dtype=np.float64, count=len(points))
        values = np.array([p[1] for p in points], dtype=np.float64)
        return Series(labels=_labels(item.get("metric")), timestamps=timestamps, values=values)

    def _too_slow(self, what: str, server: str, read_timeout: float | None) -> ProbeTimeout:
        """A request that did not answer within its read timeout: which request, which limit,
        and the setting that raises it (the section's ``timeout``, or the run's when the probe's
        deadline was nearer)."""
        where = self._where(server)
        if read_timeout is None:
            return ProbeTimeout(
                f"{server} at {where} accepted the connection but did not answer {what:.120} in time "
                "(read timeout)"
            )
        configured = self.config.timeout.total_seconds()
        limit = (
            f"prometheus.timeout ({configured:g}s): raise it"
            if read_timeout >= configured - 1e-3
            else f"the {read_timeout:.1f}s left before the probe's deadline: raise the run's --timeout"
        )
        return ProbeTimeout(
            f"{server} at {where} accepted the connection but did not answer {what:.160} within "
            f"{limit} (read timeout)"
        )

    @contextmanager
    def _errors(
        self, what: str, server: str = PROMETHEUS, read_timeout: float | None = None
    ) -> Iterator[None]:
        """Turn any failure of one request to ``server`` into a ProbeError that says why (a read
        that timed out while the answer streamed in is a timeout, not an unreachable server)."""
        import requests
        import urllib3

        where = self._where(server)
        try:
            yield
        except _HttpFailure as failure:
            raise self._http_error(what, failure, server) from None
        except _TooLarge as large:
            raise ProbeError(
                f"{server} at {where} answered {what:.120} with more than {MAX_RESPONSE_BYTES} bytes "
                f"({large.size} seen); not read further",
                kind=ErrorKind.TOO_LARGE,
            ) from None
        except _BadAnswer as bad:
            raise self._protocol(what, f"{bad.message}; it began {_first_bytes(bad.body)}", server) from None
        except requests.exceptions.SSLError as exc:
            raise ProbeError(
                f"TLS handshake with {server} at {where} failed: {_reason(exc)}", kind=ErrorKind.TLS
            ) from None
        except requests.exceptions.ConnectTimeout:
            raise ProbeError(
                f"cannot connect to {server} at {where}: no answer to the TCP connection within "
                f"{CONNECT_TIMEOUT_CEILING:g}s",
                kind=ErrorKind.CONNECT,
            ) from None
        except (requests.exceptions.ReadTimeout, urllib3.exceptions.ReadTimeoutError):
            # accepted the connection, then no answer within the read timeout: which request,
            # which limit, and the setting that raises it
            raise self._too_slow(what, server, read_timeout) from None
        except requests.exceptions.ConnectionError as exc:
            reason = _reason(exc)
            if "Read timed out" in str(exc):  # urllib3's ReadTimeoutError while reading the body
                raise self._too_slow(what, server, read_timeout) from None
            dns = any(
                s in reason
                for s in ("Name or service not known", "NameResolution", "getaddrinfo", "nodename")
            )
            raise ProbeError(
                f"cannot reach {server} at {where}: {reason}",
                kind=ErrorKind.DNS if dns else ErrorKind.CONNECT,
            ) from None
        except requests.exceptions.RequestException as exc:
            raise ProbeError(
                f"request to {server} at {where} failed: {_reason(exc)}", kind=ErrorKind.CONNECT
            ) from None
        except (
            urllib3.exceptions.ProtocolError,
            urllib3.exceptions.HTTPError,
            OSError,
        ) as exc:  # reading the body
            raise ProbeError(
                f"{server} at {where} broke off its answer to {what:.120}: {_reason(exc)}",
                kind=ErrorKind.CONNECT,
            ) from None
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            raise self._protocol(what, f"{type(exc).__name__}: {exc!s:.200}", server) from None

    def _http_error(self, what: str, failure: _HttpFailure, server: str = PROMETHEUS) -> ProbeError:
        status, detail, where = failure.status, failure.message, self._where(server)
        if status == 200:
            return self._protocol(what, f"{detail} (is {where} the {server} API?)", server)
        if status == 401:
            return ProbeError(f"{server} at {where} refused the credentials (HTTP 401)", kind=ErrorKind.AUTH)
        if status == 403:
            return ProbeError(f"{server} at {where} forbids {what} (HTTP 403)", kind=ErrorKind.PERMISSION)
        if failure.error_type == "timeout" or status == 504:
            return ProbeTimeout(f"{server} at {where} timed out evaluating {what}: {detail}")
        if status in (400, 422) and failure.error_type:
            return ProbeError(f"{server} rejected {what}: {detail}", kind=ErrorKind.QUERY)
        return ProbeError(
            f"{server} at {where} answered HTTP {status} to {what}: {detail:.200}",
            kind=ErrorKind.PROTOCOL,
        )


_MATRIX_HEAD = '{"status":"success","data":{"resultType":"matrix","result":['
_SERIES_HEAD = '{"metric":'
_VALUES_HEAD = ',"values":['


def decode_matrix(body: str, step: float) -> tuple[Series, ...] | None:
    """The series of a ``query_range`` answer laid out exactly as Prometheus writes it, else None.

    Only the label sets go through ``json``; each series' ``[[t,"v"],...]`` is split on its quotes
    and the value strings become one float array in a single ``np.array`` call. When the points
    are contiguous on the grid (the common case) the timestamps are not parsed at all.
    """
    if not body.startswith(_MATRIX_HEAD):
        return None
    decoder = json.JSONDecoder()
    position = len(_MATRIX_HEAD)
    series = []
    try:
        while body.startswith(_SERIES_HEAD, position):
            labels, position = decoder.raw_decode(body, position + len(_SERIES_HEAD))
            if not isinstance(labels, dict) or not body.startswith(_VALUES_HEAD, position):
                return None
            position += len(_VALUES_HEAD)
            end = body.find("]]}", position)  # values hold only numbers and quoted numbers
            if end < 0 or body[position] != "[":
                return None
            parts = body[position : end + 1].split('"')  # '[t,', 'v', '],[t,', 'v', ']'
            values = np.array(parts[1::2], dtype=np.float64)
            count = len(values)
            if len(parts) != 2 * count + 1 or parts[-1] != "]":
                return None
            first = float(parts[0].strip("[,"))
            last = float(parts[-3].strip("],["))
            if count > 1 and last - first == step * (count - 1):  # no gap: evaluation times
                timestamps = first + step * np.arange(count, dtype=np.float64)
            else:
                timestamps = np.array([p.strip("],[") for p in parts[0:-1:2]], dtype=np.float64)
            series.append(Series(labels=_labels(labels), timestamps=timestamps, values=values))
            position = end + 3
            if body.startswith(",", position):
                position += 1
    except ValueError:  # includes json.JSONDecodeError
        return None
    return tuple(series) if body.startswith("]", position) else None


def _reason(exc: BaseException) -> str:
    """The innermost, most specific reason of a requests exception, without URLs."""
    text = str(exc)
    for marker in ("Caused by ", "] ", ">: "):
        if marker in text:
            text = text.rsplit(marker, 1)[-1]
    text = text.strip(" ()'\"")
    for known in ("Connection refused", "Name or service not known", "timed out", "No route to host",
                  "certificate verify failed", "Connection reset by peer", "Temporary failure in name resolution"):  # fmt: skip
        if known in str(exc):
            return known
    return text[:200] or type(exc).__name__
