"""Jaeger's HTTP query API (``jaeger-query``, port 16686), normalised to the shared span model.

- ``GET /api/services`` -> ``{"data": [names]}``
- ``GET /api/traces?service=&start=&end=&limit=&tags=`` (times in microseconds; ``tags`` a JSON
  object, ``{"error":"true"}`` for failing spans) -> ``{"data": [trace]}``, where a trace is
  ``{traceID, spans: [{spanID, operationName, references, startTime, duration, tags, logs,
  processID}], processes: {id: {serviceName}}}`` and a tag is ``{key, type, value}``.

Jaeger answers the traces that contain a span of ``service``; only those whose root span is
of ``service`` are kept (its entry traces).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from probes.traces.client import HttpApi, Search, micros, protocol_error
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

OWN_SERVICES = frozenset({"jaeger", "jaeger-all-in-one", "jaeger-query"})
"""Jaeger traces itself under these names: never an entry service of the application."""


def _tags(raw: Any) -> dict[str, Any]:
    """Jaeger's ``[{key, type, value}]`` as a mapping (values as Jaeger typed them)."""
    if not isinstance(raw, list):
        return {}
    return {t["key"]: t.get("value") for t in raw if isinstance(t, dict) and "key" in t}


def _exception_message(logs: Any) -> str:
    for log in logs if isinstance(logs, list) else ():
        fields = _tags(log.get("fields")) if isinstance(log, dict) else {}
        if fields.get("exception.message"):
            return str(fields["exception.message"])
    return ""


def _parent(raw: Mapping[str, Any]) -> str:
    references = raw.get("references")
    if not references:
        return ""
    for reference in references:
        if reference.get("refType") == "CHILD_OF":
            return str(reference.get("spanID", ""))
    return str(references[0].get("spanID", ""))


def parse_span(raw: Mapping[str, Any], services: Mapping[str, str]) -> Span:
    """One Jaeger span (its ``processID`` resolved through ``services``)."""
    tags = _tags(raw.get("tags"))
    flag = tags.get("error")
    error = flag is True or str(flag).lower() == "true" or tags.get("otel.status_code") == "ERROR"
    return Span(
        span_id=str(raw["spanID"]),
        parent_id=_parent(raw),
        service=services.get(str(raw.get("processID")), "?"),
        operation=str(raw.get("operationName", "")),
        start_us=int(raw["startTime"]),
        duration_us=int(raw.get("duration", 0)),
        kind=span_kind(str(tags.get("span.kind", ""))),
        error=error,
        status=first_of(tags, HTTP_STATUS_KEYS),
        message=(first_of(tags, MESSAGE_KEYS) or _exception_message(raw.get("logs"))) if error else "",
        peer=first_of(tags, PEER_KEYS),
    )


def parse_trace(raw: Mapping[str, Any], *, max_spans: int) -> Trace:
    """One element of ``/api/traces``' ``data``."""
    processes = raw.get("processes") or {}
    services = {
        str(pid): str(process.get("serviceName", "?"))
        for pid, process in processes.items()
        if isinstance(process, Mapping)
    }
    spans = [parse_span(span, services) for span in raw.get("spans") or () if isinstance(span, dict)]
    return make_trace(str(raw["traceID"]), spans, max_spans=max_spans)


class JaegerStore(HttpApi):
    """Jaeger's query API."""

    def services(self) -> list[str]:
        answer = self.get_json("/api/services")
        data = answer.get("data") if isinstance(answer, Mapping) else None
        if not isinstance(data, list):
            raise protocol_error(self.name, "/api/services")
        return sorted(str(name) for name in data if str(name) not in OWN_SERVICES)

    def traces(self, search: Search) -> list[Trace]:
        params: dict[str, str | int] = {
            "service": search.service,
            "start": micros(search.start),
            "end": micros(search.end),
            "limit": search.limit,
        }
        if search.errors_only:
            params["tags"] = json.dumps({"error": "true"})
        answer = self.get_json("/api/traces", params)
        data = answer.get("data") if isinstance(answer, Mapping) else None
        if not isinstance(data, list):
            raise protocol_error(self.name, "/api/traces")
        try:
            traces = [parse_trace(raw, max_spans=self.max_spans) for raw in data if raw.get("spans")]
        except (KeyError, TypeError, ValueError, AttributeError):
            raise protocol_error(self.name, "/api/traces") from None
        return rooted_in(traces, search.service, search.limit)

    def link(self, trace_id: str) -> str:
        return f"{self.endpoint.ui_url or self.where}/trace/{trace_id}"
