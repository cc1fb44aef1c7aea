"""Zipkin's v2 HTTP API, normalised to the shared span model.

- ``GET /api/v2/services`` -> ``[names]``
- ``GET /api/v2/traces?serviceName=&endTs=&lookback=&limit=&annotationQuery=error`` (times in
  milliseconds) -> ``[[span]]``, a span being ``{traceId, id, parentId, name, kind, timestamp,
  duration, localEndpoint: {serviceName}, remoteEndpoint: {serviceName}, tags}`` (times in
  microseconds). A span fails when it has an ``error`` tag (its value is the message) or
  ``otel.status_code: ERROR``.
"""

from __future__ import annotations

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


def _service(endpoint: Any) -> str:
    return str(endpoint.get("serviceName") or "") if isinstance(endpoint, Mapping) else ""


def parse_span(raw: Mapping[str, Any]) -> Span:
    """One Zipkin v2 span."""
    tags = {str(k): str(v) for k, v in (raw.get("tags") or {}).items()}
    error = "error" in tags or tags.get("otel.status_code") == "ERROR"
    error_tag = tags.get("error", "")
    message = first_of(tags, MESSAGE_KEYS) or (error_tag if error_tag.lower() not in ("", "true") else "")
    return Span(
        span_id=str(raw["id"]),
        parent_id=str(raw.get("parentId") or ""),
        service=_service(raw.get("localEndpoint")) or "?",
        operation=str(raw.get("name") or ""),
        start_us=int(raw["timestamp"]),
        duration_us=int(raw.get("duration") or 0),
        kind=span_kind(str(raw.get("kind") or "")),
        error=error,
        status=first_of(tags, HTTP_STATUS_KEYS),
        message=message if error else "",
        peer=_service(raw.get("remoteEndpoint")) or first_of(tags, PEER_KEYS),
    )


class ZipkinStore(HttpApi):
    """Zipkin's v2 query API."""

    def services(self) -> list[str]:
        answer = self.get_json("/api/v2/services")
        if not isinstance(answer, list):
            raise protocol_error(self.name, "/api/v2/services")
        return sorted(str(name) for name in answer)

    def traces(self, search: Search) -> list[Trace]:
        end_ms = micros(search.end) // 1000
        params: dict[str, str | int] = {
            "serviceName": search.service,
            "endTs": end_ms,
            "lookback": max(1, end_ms - micros(search.start) // 1000),
            "limit": search.limit,
        }
        if search.errors_only:
            params["annotationQuery"] = "error"
        answer = self.get_json("/api/v2/traces", params)
        if not isinstance(answer, list):
            raise protocol_error(self.name, "/api/v2/traces")
        try:
            traces = [
                make_trace(
                    str(spans[0]["traceId"]),
                    (parse_span(span) for span in spans if isinstance(span, Mapping)),
                    max_spans=self.max_spans,
                )
                for spans in answer
                if isinstance(spans, list) and spans
            ]
        except (KeyError, TypeError, ValueError, AttributeError):
            raise protocol_error(self.name, "/api/v2/traces") from None
        return rooted_in(traces, search.service, search.limit)

    def link(self, trace_id: str) -> str:
        return f"{self.endpoint.ui_url or self.where}/zipkin/traces/{trace_id}"
