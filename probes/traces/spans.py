"""The one span model every trace client normalises to (Jaeger, Tempo and Zipkin alike)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum


class SpanKind(StrEnum):
    """OpenTelemetry span kinds; ``UNSPECIFIED`` when the store does not say."""

    SERVER = "server"
    CLIENT = "client"
    PRODUCER = "producer"
    CONSUMER = "consumer"
    INTERNAL = "internal"
    UNSPECIFIED = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Span:
    """One span: times in microseconds since the epoch, ``parent_id`` empty for a root."""

    span_id: str
    parent_id: str
    service: str
    operation: str
    start_us: int
    duration_us: int
    kind: SpanKind = SpanKind.UNSPECIFIED
    error: bool = False
    status: str = ""
    """The HTTP/RPC status code when the span has one (``500``, ``UNAVAILABLE``)."""
    message: str = ""
    """The error message (status description, ``error`` tag or exception message)."""
    peer: str = ""
    """For a client span: the service or address it calls."""

    @property
    def end_us(self) -> int:
        return self.start_us + self.duration_us


@dataclass(frozen=True, slots=True, kw_only=True)
class Trace:
    """A trace's spans, sorted by start time; ``truncated`` when spans beyond the bound were dropped."""

    trace_id: str
    spans: tuple[Span, ...]
    truncated: bool = False


def make_trace(trace_id: str, spans: Iterable[Span], *, max_spans: int) -> Trace:
    """A Trace of at most ``max_spans`` spans (the earliest ones), duplicates by span id dropped."""
    unique = {span.span_id: span for span in spans}
    ordered = sorted(unique.values(), key=lambda s: (s.start_us, -s.duration_us))
    return Trace(trace_id=trace_id, spans=tuple(ordered[:max_spans]), truncated=len(ordered) > max_spans)


HTTP_STATUS_KEYS = ("http.response.status_code", "http.status_code", "rpc.grpc.status_code")
PEER_KEYS = ("peer.service", "server.address", "net.peer.name", "http.host", "db.system")
MESSAGE_KEYS = ("otel.status_description", "error.message", "exception.message", "error.type")


def first_of(attributes: Mapping[str, object], keys: tuple[str, ...]) -> str:
    """The value of the first of ``keys`` present in ``attributes``, as text (empty when none is)."""
    for key in keys:
        value = attributes.get(key)
        if value is not None and value != "":
            return str(value)
    return ""


_KIND_NAMES: dict[str, SpanKind] = {
    spelling: kind
    for kind in SpanKind
    for spelling in (kind.value, kind.value.upper(), f"SPAN_KIND_{kind.value.upper()}")
    if kind.value
}


def span_kind(text: str) -> SpanKind:
    """``server``, ``SPAN_KIND_SERVER``, ``SERVER`` or 2 (OTLP enum) into a SpanKind."""
    known = _KIND_NAMES.get(text)
    if known is not None:
        return known
    name = text.strip().lower().removeprefix("span_kind_")
    numbered = {"1": "internal", "2": "server", "3": "client", "4": "producer", "5": "consumer"}
    name = numbered.get(name, name)
    try:
        return SpanKind(name)
    except ValueError:
        return SpanKind.UNSPECIFIED
