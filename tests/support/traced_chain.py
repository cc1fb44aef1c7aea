"""A real chain of three HTTP services traced with the OpenTelemetry Python SDK.

    frontend  GET /buy   --POST-->  checkout  POST /checkout  --POST-->  payments  POST /charge
    frontend  GET /cart  (answers by itself)

Each service is a ThreadingHTTPServer on 127.0.0.1 with its own TracerProvider
(``service.name``) exporting over OTLP/HTTP (e.g. to the Jaeger fixture). Server spans carry
``http.request.method``, ``http.route`` and ``http.response.status_code``; client spans carry
``peer.service`` and ``server.address``; 5xx answers and refused connections set the span
status to ERROR with a description, the way HTTP instrumentations do. W3C trace context
propagates between them.

:class:`Faults` stage incidents in the deepest service: payments failing a share of charges,
payments slower by some milliseconds, or payments down (checkout's calls are refused).
Every service also has jitter, and payments fails ``noise_failure_rate`` of charges even when
healthy, so that healthy traffic is realistically noisy.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support.ports import free_port

HOST = "127.0.0.1"
DECLINED = "card processor declined: upstream timeout"


@dataclass(slots=True)
class Faults:
    """What payments does wrong right now (changed between staged phases)."""

    failure_rate: float = 0.0
    extra_delay_s: float = 0.0
    down: bool = False


@dataclass(frozen=True, slots=True)
class Phase:
    """A staged stretch of traffic: [start, end) in epoch seconds, and when its fault began."""

    start: float
    end: float
    fault_start: float | None = None


class _Service:
    """One traced HTTP service."""

    def __init__(self, name: str, otlp_url: str, handle: Any) -> None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        self.name = name
        self.provider = TracerProvider(resource=Resource.create({"service.name": name}))
        self.provider.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_url), schedule_delay_millis=200)
        )
        self.tracer = self.provider.get_tracer("diag-tests.traced-chain")
        self.port = free_port()
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                handle(service, self)

            def do_POST(self) -> None:
                handle(service, self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((HOST, self.port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name=f"chain-{name}", daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @contextlib.contextmanager
    def serve(self, request: BaseHTTPRequestHandler, route: str) -> Iterator[Any]:
        """A server span for ``request``, continuing the caller's trace."""
        from opentelemetry.trace import SpanKind
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        # header names arrive capitalised (urllib sends "Traceparent"); the propagator looks up lower case
        parent = TraceContextTextMapPropagator().extract({k.lower(): v for k, v in request.headers.items()})
        name = f"{request.command} {route}"
        attributes = {"http.request.method": request.command, "http.route": route, "url.path": request.path}
        with self.tracer.start_as_current_span(
            name, context=parent, kind=SpanKind.SERVER, attributes=attributes, record_exception=False
        ) as span:
            yield span

    def call(self, peer: str, url: str) -> tuple[int, str]:
        """POST ``url`` inside a client span; (status, error text) with 599 for a refused connection."""
        from opentelemetry.trace import SpanKind, Status, StatusCode
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        attributes = {"http.request.method": "POST", "peer.service": peer, "server.address": url}
        with self.tracer.start_as_current_span("POST", kind=SpanKind.CLIENT, attributes=attributes) as span:
            headers: dict[str, str] = {}
            TraceContextTextMapPropagator().inject(headers)
            request = urllib.request.Request(url, data=b"{}", headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=5) as answer:
                    answer.read()
                    span.set_attribute("http.response.status_code", answer.status)
                    return answer.status, ""
            except urllib.error.HTTPError as exc:
                body = exc.read().decode(errors="replace")
                span.set_attribute("http.response.status_code", exc.code)
                span.set_status(Status(StatusCode.ERROR, f"HTTP {exc.code}"))
                return exc.code, body
            except urllib.error.URLError as exc:
                span.set_status(Status(StatusCode.ERROR, f"connect: {exc.reason}"))
                span.set_attribute("error.type", type(exc.reason).__name__)
                return 599, str(exc.reason)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.provider.shutdown()


def _answer(span: Any, request: BaseHTTPRequestHandler, status: int, body: str, message: str = "") -> None:
    from opentelemetry.trace import Status, StatusCode

    span.set_attribute("http.response.status_code", status)
    if status >= 500:
        span.set_status(Status(StatusCode.ERROR, message or f"HTTP {status}"))
    data = body.encode()
    request.send_response(status)
    request.send_header("Content-Type", "text/plain")
    request.send_header("Content-Length", str(len(data)))
    request.end_headers()
    request.wfile.write(data)


class TracedChain:
    """frontend -> checkout -> payments, traced; ``faults`` changes what payments does."""

    def __init__(self, otlp_url: str, *, seed: int = 7, noise_failure_rate: float = 0.02) -> None:
        self.faults = Faults()
        self.noise_failure_rate = noise_failure_rate
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self.payments = _Service("payments", otlp_url, self._payments)
        self.checkout = _Service("checkout", otlp_url, self._checkout)
        self.frontend = _Service("frontend", otlp_url, self._frontend)
        self._down_port = free_port()  # nothing listens there: "payments is down"

    def _draw(self) -> float:
        with self._lock:
            return self._random.random()

    def _jitter(self, low_ms: float, high_ms: float) -> None:
        time.sleep((low_ms + (high_ms - low_ms) * self._draw()) / 1000)

    def _payments(self, service: _Service, request: BaseHTTPRequestHandler) -> None:
        with service.serve(request, "/charge") as span:
            self._jitter(5, 25)
            time.sleep(self.faults.extra_delay_s)
            failing = self._draw() < max(self.faults.failure_rate, self.noise_failure_rate)
            if failing:
                _answer(span, request, 500, DECLINED, DECLINED)
            else:
                _answer(span, request, 200, "charged")

    def _checkout(self, service: _Service, request: BaseHTTPRequestHandler) -> None:
        with service.serve(request, "/checkout") as span:
            self._jitter(1, 3)
            target = f"http://{HOST}:{self._down_port}" if self.faults.down else self.payments.url
            status, text = service.call("payments", target + "/charge")
            if status >= 400:
                _answer(span, request, 502, f"payments failed: {text}")
            else:
                _answer(span, request, 200, "ordered")

    def _frontend(self, service: _Service, request: BaseHTTPRequestHandler) -> None:
        route = request.path.split("?")[0]
        with service.serve(request, route) as span:
            if route == "/cart":
                self._jitter(1, 4)
                _answer(span, request, 200, "cart")
                return
            self._jitter(1, 2)
            status, _ = service.call("checkout", self.checkout.url + "/checkout")
            _answer(span, request, 500 if status >= 400 else 200, "done")

    def request(self, path: str) -> int:
        """One request to the frontend, as a user would make it."""
        try:
            with urllib.request.urlopen(self.frontend.url + path, timeout=10) as answer:
                answer.read()
                return int(answer.status)
        except urllib.error.HTTPError as exc:
            exc.read()
            return int(exc.code)

    def traffic(self, count: int, *, cart_every: int = 5) -> None:
        """``count`` requests in sequence; every ``cart_every``-th is ``GET /cart``."""
        for index in range(count):
            self.request("/cart" if index % cart_every == cart_every - 1 else "/buy")

    def stage(self, healthy: int, faulty: int, faults: Faults) -> Phase:
        """``healthy`` requests, then ``faulty`` with ``faults`` on; the faults are cleared after."""
        start = time.time()
        self.traffic(healthy)
        fault_start = time.time()
        self.faults = faults
        try:
            self.traffic(faulty)
        finally:
            self.faults = Faults()
        end = time.time()
        return Phase(start=start, end=end, fault_start=fault_start if faulty else None)

    def flush(self) -> None:
        for service in (self.frontend, self.checkout, self.payments):
            service.provider.force_flush()

    def close(self) -> None:
        for service in (self.frontend, self.checkout, self.payments):
            service.close()
