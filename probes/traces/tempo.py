"""Grafana Tempo's HTTP API, normalised to the shared span model.

- ``GET /api/v2/search/tag/resource.service.name/values`` -> ``{"tagValues": [{type, value}]}``
- ``GET /api/search?q=<TraceQL>&start=&end=&limit=`` (times in seconds) -> ``{"traces":
  [{traceID, rootServiceName, rootTraceName, startTimeUnixNano, durationMs}]}``; the query is
  ``{ trace:rootService = "<service>" }``, with ``&& status = error`` for failing traces.
- ``GET /api/traces/<id>`` -> OTLP JSON: ``{"batches": [...]}`` (or ``resourceSpans``), each
  with ``resource.attributes`` (``service.name``) and ``scopeSpans[].spans[]`` (ids in base64
  or hex, times in nanoseconds, ``status.code`` ``STATUS_CODE_ERROR`` on failure).

Search answers summaries only: each trace is then fetched by id, ``concurrency`` at a time.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from probes.traces.client import HttpApi, Search, protocol_error
from probes.traces.config import TraceEndpoint
from probes.traces.paths import rooted_in
from probes.traces.spans import (
    HTTP_STATUS_KEYS,
    MESSAGE_KEYS,
    PEER_KEYS,
    Span,
    Trace,
    first_of,
    make_trace,
    span_kind,
)

HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def hex_id(value: Any) -> str:
    """A trace or span id in hex, from OTLP JSON's hex or protobuf-JSON's base64 spelling."""
    text = str(value or "")
    if not text or (len(text) in (16, 32) and set(text) <= HEX_DIGITS):
        return text.lower()
    try:
        return base64.b64decode(text, validate=True).hex()
    except (binascii.Error, ValueError):
        return text


def _value(raw: Any) -> str:
    if not isinstance(raw, Mapping):
        return ""
    for key in ("stringValue", "intValue", "boolValue", "doubleValue"):
        if key in raw:
            value = raw[key]
            return str(value).lower() if isinstance(value, bool) else str(value)
    return ""


def attributes(raw: Any) -> dict[str, str]:
    """OTLP ``[{key, value: {stringValue|intValue|...}}]`` as a plain mapping."""
    if not isinstance(raw, list):
        return {}
    return {str(a.get("key")): _value(a.get("value")) for a in raw if isinstance(a, Mapping)}


def _is_error(status: Any) -> bool:
    code = status.get("code") if isinstance(status, Mapping) else None
    return code in ("STATUS_CODE_ERROR", 2, "2")


def _event_message(events: Any) -> str:
    for event in events if isinstance(events, list) else ():
        message = (
            attributes(event.get("attributes")).get("exception.message") if isinstance(event, Mapping) else ""
        )
        if message:
            return message
    return ""


def parse_span(raw: Mapping[str, Any], service: str) -> Span:
    """One OTLP JSON span of ``service``."""
    tags = attributes(raw.get("attributes"))
    status = raw.get("status") or {}
    error = _is_error(status)
    start_ns, end_ns = (
        int(raw["startTimeUnixNano"]),
        int(raw.get("endTimeUnixNano") or raw["startTimeUnixNano"]),
    )
    message = str(status.get("message") or "") if isinstance(status, Mapping) else ""
    return Span(
        span_id=hex_id(raw["spanId"]),
        parent_id=hex_id(raw.get("parentSpanId")),
        service=service,
        operation=str(raw.get("name") or ""),
        start_us=start_ns // 1000,
        duration_us=max(0, end_ns - start_ns) // 1000,
        kind=span_kind(str(raw.get("kind") or "")),
        error=error,
        status=first_of(tags, HTTP_STATUS_KEYS),
        message=(message or first_of(tags, MESSAGE_KEYS) or _event_message(raw.get("events")))
        if error
        else "",
        peer=first_of(tags, PEER_KEYS),
    )


def parse_otlp(answer: Any, trace_id: str, *, max_spans: int) -> Trace:
    """``/api/traces/<id>``'s answer: ``{batches}``, ``{resourceSpans}`` or ``{trace: {...}}``."""
    if isinstance(answer, Mapping) and isinstance(answer.get("trace"), Mapping):
        answer = answer["trace"]
    if not isinstance(answer, Mapping):
        raise TypeError("expected an object")
    spans: list[Span] = []
    for batch in answer.get("batches") or answer.get("resourceSpans") or ():
        service = attributes((batch.get("resource") or {}).get("attributes")).get("service.name", "?")
        scopes = batch.get("scopeSpans") or batch.get("instrumentationLibrarySpans") or ()
        for scope in scopes:
            spans.extend(parse_span(span, service) for span in scope.get("spans") or ())
    return make_trace(trace_id, spans, max_spans=max_spans)


def traceql(search: Search) -> str:
    """The TraceQL selecting the traces ``search.service`` started (failing ones when asked)."""
    service = search.service.replace("\\", "\\\\").replace('"', '\\"')
    condition = f'trace:rootService = "{service}"'
    return "{ " + condition + (" && status = error" if search.errors_only else "") + " }"


class TempoStore(HttpApi):
    """Tempo's query API."""

    def __init__(self, endpoint: TraceEndpoint, *, deadline: float, max_spans: int, concurrency: int) -> None:
        super().__init__(endpoint, name="Tempo", deadline=deadline, max_spans=max_spans)
        self.concurrency = concurrency

    def services(self) -> list[str]:
        answer = self.get_json("/api/v2/search/tag/resource.service.name/values")
        values = answer.get("tagValues") if isinstance(answer, Mapping) else None
        if not isinstance(values, list):
            raise protocol_error(self.name, "/api/v2/search/tag/resource.service.name/values")
        return sorted(str(v.get("value") if isinstance(v, Mapping) else v) for v in values)

    def traces(self, search: Search) -> list[Trace]:
        params: dict[str, str | int] = {
            "q": traceql(search),
            "start": int(search.start.timestamp()),
            "end": int(search.end.timestamp()) + 1,
            "limit": search.limit,
        }
        answer = self.get_json("/api/search", params)
        found = answer.get("traces") if isinstance(answer, Mapping) else None
        if not isinstance(found, list):
            raise protocol_error(self.name, "/api/search")
        ids = [
            str(t["traceID"])
            for t in found
            if isinstance(t, Mapping)
            and t.get("traceID")
            and t.get("rootServiceName") in (None, search.service)
        ][: search.limit]
        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="diag-tempo") as pool:
            traces = list(pool.map(self.trace, ids))
        return rooted_in(traces, search.service, search.limit)

    def trace(self, trace_id: str) -> Trace:
        """One trace by id."""
        answer = self.get_json(f"/api/traces/{trace_id}")
        try:
            return parse_otlp(answer, trace_id, max_spans=self.max_spans)
        except (KeyError, TypeError, ValueError, AttributeError):
            raise protocol_error(self.name, f"/api/traces/{trace_id}") from None

    def link(self, trace_id: str) -> str:
        return f"{self.endpoint.ui_url or self.where}/api/traces/{trace_id}"
