"""What every trace client offers, and the HTTP they share: auth, TLS, timeouts, error kinds.

A client (``jaeger.py``, ``tempo.py``, ``zipkin.py``) answers three questions in the shared span
model: which services exist, which traces one entry service started in a time range (all, or
only failing ones), and where a human can open one trace. Every request is a GET bounded by the
configured timeout and the probe's deadline, never retried; failures are :class:`ProbeError`
with a kind (connect, tls, auth, timeout, query, protocol). Headers and tokens never appear in
messages.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from diagnostics import ErrorKind, ProbeError, ProbeTimeout
from probes.prometheus.config import display_url
from probes.traces.config import TraceEndpoint, TracesConfig
from probes.traces.spans import Trace

if TYPE_CHECKING:
    import requests

CONNECT_TIMEOUT_CEILING = 3.0
MAX_ERROR_TEXT = 200


@dataclass(frozen=True, slots=True, kw_only=True)
class Search:
    """One question to a trace store: traces ``service`` started in [start, end)."""

    service: str
    start: datetime
    end: datetime
    limit: int
    errors_only: bool = False


class TraceStore(Protocol):
    """A trace store's query API, answered in the shared span model."""

    name: str
    where: str
    requests_made: int

    def services(self) -> list[str]:
        """Every service the store has spans of."""

    def traces(self, search: Search) -> list[Trace]:
        """Traces whose root span belongs to ``search.service``, at most ``search.limit``."""

    def link(self, trace_id: str) -> str:
        """Where a human opens one trace."""

    def close(self) -> None:
        """Release the HTTP session."""


class HttpApi:
    """A read-only JSON-over-HTTP API with the endpoint's auth, bounded by a monotonic deadline."""

    def __init__(self, endpoint: TraceEndpoint, *, name: str, deadline: float, max_spans: int) -> None:
        import requests

        self.endpoint = endpoint
        self.max_spans = max_spans
        self.name = name
        self.url = endpoint.url
        self.where = display_url(endpoint.url)
        self.deadline = deadline
        self.requests_made = 0
        session = requests.Session()
        session.verify = endpoint.verify_tls
        session.headers.update({k: v.get_secret_value() for k, v in endpoint.headers.items()})
        if endpoint.bearer_token is not None:
            session.headers["Authorization"] = f"Bearer {endpoint.bearer_token.get_secret_value()}"
        self._session: requests.Session = session

    def close(self) -> None:
        self._session.close()

    def _timeout(self) -> tuple[float, float]:
        left = self.deadline - time.monotonic()
        if left <= 0.05:
            raise ProbeTimeout(f"{self.name} at {self.where}: no time left before the deadline")
        read = min(self.endpoint.timeout.total_seconds(), left)
        return min(CONNECT_TIMEOUT_CEILING, read), read

    def get_json(self, path: str, params: Mapping[str, str | int] | None = None) -> Any:
        """GET ``path`` and decode its JSON body; any failure is a ProbeError naming the path."""
        import requests

        what = f"{self.name} GET {path}"
        timeout = self._timeout()
        self.requests_made += 1
        try:
            response = self._session.get(self.url + path, params=params, timeout=timeout)
        except requests.exceptions.SSLError as exc:
            raise ProbeError(f"{what}: TLS failed ({type(exc).__name__})", kind=ErrorKind.TLS) from None
        except requests.exceptions.ConnectTimeout:
            raise ProbeTimeout(f"{what}: connecting to {self.where} timed out") from None
        except requests.exceptions.ConnectionError:
            raise ProbeError(f"{what}: cannot connect to {self.where}", kind=ErrorKind.CONNECT) from None
        except requests.exceptions.Timeout:
            raise ProbeTimeout(f"{what}: no answer within {timeout[1]:.1f}s") from None
        except requests.exceptions.RequestException as exc:
            raise ProbeError(f"{what}: {type(exc).__name__}", kind=ErrorKind.PROTOCOL) from None
        if response.status_code in (401, 403):
            raise ProbeError(
                f"{what}: HTTP {response.status_code} (check the credentials)", kind=ErrorKind.AUTH
            )
        if response.status_code >= 400:
            text = response.text[:MAX_ERROR_TEXT].strip()
            raise ProbeError(f"{what}: HTTP {response.status_code}: {text}", kind=ErrorKind.QUERY)
        try:
            return json.loads(response.content)
        except ValueError:
            raise ProbeError(f"{what}: the answer is not JSON", kind=ErrorKind.PROTOCOL) from None


def protocol_error(name: str, what: str) -> ProbeError:
    """The error of an answer that does not have the shape the store's API documents."""
    return ProbeError(f"{name}: unexpected answer to {what}", kind=ErrorKind.PROTOCOL)


def open_store(config: TracesConfig, *, deadline: float) -> TraceStore:
    """The client of the configured backend."""
    endpoint, max_spans = config.endpoint, config.max_spans_per_trace
    if config.kind == "jaeger":
        from probes.traces.jaeger import JaegerStore

        return JaegerStore(endpoint, name="Jaeger", deadline=deadline, max_spans=max_spans)
    if config.kind == "tempo":
        from probes.traces.tempo import TempoStore

        return TempoStore(endpoint, deadline=deadline, max_spans=max_spans, concurrency=config.concurrency)
    from probes.traces.zipkin import ZipkinStore

    return ZipkinStore(endpoint, name="Zipkin", deadline=deadline, max_spans=max_spans)


def micros(moment: datetime) -> int:
    """Microseconds since the epoch."""
    return round(moment.timestamp() * 1_000_000)
