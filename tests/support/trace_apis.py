"""Zipkin- and Tempo-shaped HTTP servers answering with the spans a real Jaeger stored.

Neither Zipkin (Java) nor Tempo can run here, so their query APIs are served from real data:
the traces the traced chain sent to the real Jaeger, read back from Jaeger's ``/api/traces``
and converted the way the OpenTelemetry Collector's exporters write them:

- Zipkin v2 JSON (``zipkin`` exporter): ``kind`` upper-case, ``localEndpoint.serviceName``,
  ``remoteEndpoint.serviceName`` from ``peer.service``, attributes as string ``tags``, and on a
  failing span ``otel.status_code: ERROR`` plus ``error: <status description>``;
- OTLP JSON as Tempo's ``/api/traces/<id>`` answers it: ``batches`` per service with
  ``scopeSpans``, ids in base64 (protobuf JSON of bytes), times as nanosecond strings,
  ``status.code: STATUS_CODE_ERROR``.

Routes: Zipkin ``/api/v2/services``, ``/api/v2/traces`` (``serviceName``, ``endTs``,
``lookback``, ``limit``, ``annotationQuery=error``); Tempo
``/api/v2/search/tag/resource.service.name/values``, ``/api/search`` (TraceQL
``{ trace:rootService = "x" [&& status = error] }``, ``start``, ``end``, ``limit``) and
``/api/traces/<id>``. Most recent traces first, as both stores answer.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support.ports import free_port

HOST = "127.0.0.1"


def _tags(span: Mapping[str, Any]) -> dict[str, Any]:
    return {t["key"]: t["value"] for t in span.get("tags", [])}


def _parent(span: Mapping[str, Any]) -> str:
    references = span.get("references") or []
    return str(references[0]["spanID"]) if references else ""


def _service(trace: Mapping[str, Any], span: Mapping[str, Any]) -> str:
    return str(trace["processes"][span["processID"]]["serviceName"])


def _failing(tags: Mapping[str, Any]) -> bool:
    return tags.get("error") is True or tags.get("otel.status_code") == "ERROR"


def to_zipkin(trace: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One Jaeger trace as Zipkin v2 spans."""
    spans = []
    for span in trace["spans"]:
        tags = _tags(span)
        kind = str(tags.pop("span.kind", "")).upper()
        out_tags = {
            k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in tags.items() if k != "error"
        }
        if _failing(tags):
            out_tags["otel.status_code"] = "ERROR"
            out_tags["error"] = str(tags.get("otel.status_description") or "true")
        zipkin: dict[str, Any] = {
            "traceId": trace["traceID"],
            "id": span["spanID"],
            "name": span["operationName"],
            "timestamp": span["startTime"],
            "duration": span["duration"],
            "localEndpoint": {"serviceName": _service(trace, span)},
            "tags": out_tags,
        }
        if _parent(span):
            zipkin["parentId"] = _parent(span)
        if kind:
            zipkin["kind"] = kind
        if "peer.service" in tags:
            zipkin["remoteEndpoint"] = {"serviceName": tags["peer.service"]}
        spans.append(zipkin)
    return spans


def _b64(hex_id: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_id)).decode()


def _attribute(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    return {"key": key, "value": {"stringValue": str(value)}}


def to_otlp(trace: Mapping[str, Any]) -> dict[str, Any]:
    """One Jaeger trace as Tempo's ``/api/traces/<id>`` answer (``batches``)."""
    by_service: dict[str, list[dict[str, Any]]] = {}
    for span in trace["spans"]:
        tags = _tags(span)
        kind = str(tags.pop("span.kind", "internal")).upper()
        start_ns = int(span["startTime"]) * 1000
        status: dict[str, Any] = {}
        if _failing(tags):
            status = {"code": "STATUS_CODE_ERROR", "message": str(tags.get("otel.status_description", ""))}
        skipped = {
            "error",
            "otel.status_code",
            "otel.status_description",
            "otel.scope.name",
            "otel.scope.version",
        }
        otlp: dict[str, Any] = {
            "traceId": _b64(trace["traceID"]),
            "spanId": _b64(span["spanID"]),
            "name": span["operationName"],
            "kind": f"SPAN_KIND_{kind}",
            "startTimeUnixNano": str(start_ns),
            "endTimeUnixNano": str(start_ns + int(span["duration"]) * 1000),
            "attributes": [_attribute(k, v) for k, v in tags.items() if k not in skipped],
            "status": status,
        }
        if _parent(span):
            otlp["parentSpanId"] = _b64(_parent(span))
        by_service.setdefault(_service(trace, span), []).append(otlp)
    return {
        "batches": [
            {
                "resource": {"attributes": [_attribute("service.name", service)]},
                "scopeSpans": [{"scope": {"name": "diag-tests.traced-chain"}, "spans": spans}],
            }
            for service, spans in by_service.items()
        ]
    }


def _root(trace: Mapping[str, Any]) -> Mapping[str, Any]:
    ids = {s["spanID"] for s in trace["spans"]}
    roots = [s for s in trace["spans"] if _parent(s) not in ids]
    return min(roots, key=lambda s: int(s["startTime"]))


@dataclass
class StoredTraces:
    """Jaeger traces (raw answers), indexed the way both APIs look them up."""

    traces: Sequence[Mapping[str, Any]]
    requests: list[str] = field(default_factory=list)

    def services(self) -> list[str]:
        return sorted({_service(t, s) for t in self.traces for s in t["spans"]})

    def newest_first(self) -> list[Mapping[str, Any]]:
        return sorted(self.traces, key=lambda t: -int(_root(t)["startTime"]))


def _zipkin_traces(stored: StoredTraces, query: Mapping[str, str]) -> list[list[dict[str, Any]]]:
    end_us = int(query["endTs"]) * 1000
    start_us = end_us - int(query.get("lookback", "86400000")) * 1000
    limit = int(query.get("limit", "10"))
    found = []
    for trace in stored.newest_first():
        spans = trace["spans"]
        if not any(_service(trace, s) == query["serviceName"] for s in spans):
            continue
        if not any(start_us <= int(s["startTime"]) <= end_us for s in spans):
            continue
        if query.get("annotationQuery") == "error" and not any(_failing(_tags(s)) for s in spans):
            continue
        found.append(to_zipkin(trace))
    return found[:limit]


TRACEQL = re.compile(r'^\{ trace:rootService = "(?P<service>[^"]*)"(?P<error> && status = error)? \}$')


def _tempo_search(stored: StoredTraces, query: Mapping[str, str]) -> dict[str, Any]:
    match = TRACEQL.match(query["q"])
    if match is None:
        raise ValueError(f"unsupported TraceQL: {query['q']}")
    start_us, end_us = int(query["start"]) * 1_000_000, int(query["end"]) * 1_000_000
    found = []
    for trace in stored.newest_first():
        root = _root(trace)
        if _service(trace, root) != match["service"] or not start_us <= int(root["startTime"]) <= end_us:
            continue
        if match["error"] and not any(_failing(_tags(s)) for s in trace["spans"]):
            continue
        found.append(
            {
                "traceID": trace["traceID"],
                "rootServiceName": _service(trace, root),
                "rootTraceName": root["operationName"],
                "startTimeUnixNano": str(int(root["startTime"]) * 1000),
                "durationMs": int(root["duration"]) // 1000,
            }
        )
    return {
        "traces": found[: int(query.get("limit", "20"))],
        "metrics": {"inspectedTraces": len(stored.traces)},
    }


def _route(stored: StoredTraces, path: str, query: Mapping[str, str]) -> Any:
    if path == "/api/v2/services":
        return stored.services()
    if path == "/api/v2/traces":
        return _zipkin_traces(stored, query)
    if path == "/api/v2/search/tag/resource.service.name/values":
        return {"tagValues": [{"type": "string", "value": s} for s in stored.services()]}
    if path == "/api/search":
        return _tempo_search(stored, query)
    if path.startswith("/api/traces/"):
        wanted = path.removeprefix("/api/traces/")
        trace = next((t for t in stored.traces if t["traceID"] == wanted), None)
        return None if trace is None else to_otlp(trace)
    return None


@contextlib.contextmanager
def serve_traces(stored: StoredTraces) -> Iterator[str]:
    """Serve both APIs over ``stored`` on a free port; yields the base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            stored.requests.append(self.path)
            try:
                answer = _route(stored, parts.path, query)
            except (KeyError, ValueError) as exc:
                self._send(400, {"error": str(exc)})
                return
            if answer is None:
                self._send(404, {"error": "not found"})
                return
            self._send(200, answer)

        def _send(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    port = free_port()
    server = ThreadingHTTPServer((HOST, port), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="trace-apis", daemon=True)
    thread.start()
    try:
        yield f"http://{HOST}:{port}"
    finally:
        server.shutdown()
        server.server_close()
