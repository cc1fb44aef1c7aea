"""Each store's span shape into the one span model (answers as the stores' docs show them)."""

from __future__ import annotations

from datetime import timedelta

from probes.traces import jaeger, spanmetrics, tempo, zipkin
from probes.traces.spans import SpanKind


def test_jaeger_span_with_error_tag_and_exception_log() -> None:
    raw = {
        "traceID": "5b8aa5a2d2c872e8321cf37308d69df2",
        "processes": {"p1": {"serviceName": "payments", "tags": []}},
        "spans": [
            {
                "traceID": "5b8aa5a2d2c872e8321cf37308d69df2",
                "spanID": "051581bf3cb55c13",
                "operationName": "POST /charge",
                "references": [{"refType": "CHILD_OF", "traceID": "5b8a", "spanID": "5fb397be34d26b51"}],
                "startTime": 1_700_000_000_000_000,
                "duration": 12_000,
                "tags": [
                    {"key": "span.kind", "type": "string", "value": "server"},
                    {"key": "error", "type": "bool", "value": True},
                    {"key": "http.response.status_code", "type": "int64", "value": 503},
                ],
                "logs": [
                    {
                        "timestamp": 1,
                        "fields": [{"key": "exception.message", "type": "string", "value": "pool exhausted"}],
                    }
                ],
                "processID": "p1",
            }
        ],
    }
    (span,) = jaeger.parse_trace(raw, max_spans=10).spans
    assert (span.service, span.operation, span.parent_id) == ("payments", "POST /charge", "5fb397be34d26b51")
    assert (span.kind, span.error, span.status, span.message) == (
        SpanKind.SERVER,
        True,
        "503",
        "pool exhausted",
    )


def test_zipkin_span_whose_error_tag_is_the_message() -> None:
    span = zipkin.parse_span(
        {
            "traceId": "5af7183fb1d4cf5f",
            "id": "352bff9a74ca9ad2",
            "parentId": "6b221d5bc9e6496c",
            "name": "post",
            "kind": "CLIENT",
            "timestamp": 1_556_604_172_355_737,
            "duration": 1431,
            "localEndpoint": {"serviceName": "checkout", "ipv4": "192.168.99.1"},
            "remoteEndpoint": {"serviceName": "payments", "port": 8080},
            "tags": {"http.status_code": "502", "error": "connection reset"},
        }
    )
    assert (span.service, span.kind, span.peer, span.status) == (
        "checkout",
        SpanKind.CLIENT,
        "payments",
        "502",
    )
    assert (span.error, span.message) == (True, "connection reset")


def test_tempo_otlp_json_with_base64_ids_and_error_status() -> None:
    answer = {
        "batches": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "payments"}}]},
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": "W0N2Y9cvQGVXcVNEaRBpXA==",
                                "spanId": "BRWBvzy1XBM=",
                                "parentSpanId": "X7OXvjTSa1E=",
                                "name": "POST /charge",
                                "kind": "SPAN_KIND_SERVER",
                                "startTimeUnixNano": "1700000000000000000",
                                "endTimeUnixNano": "1700000000012000000",
                                "attributes": [
                                    {"key": "http.response.status_code", "value": {"intValue": "500"}}
                                ],
                                "status": {"code": "STATUS_CODE_ERROR", "message": "declined"},
                            }
                        ]
                    }
                ],
            }
        ]
    }
    (span,) = tempo.parse_otlp(answer, "5b4376", max_spans=10).spans
    assert (span.span_id, span.parent_id) == ("051581bf3cb55c13", "5fb397be34d26b51")
    assert (span.start_us, span.duration_us, span.kind) == (1_700_000_000_000_000, 12_000, SpanKind.SERVER)
    assert (span.error, span.status, span.message) == (True, "500", "declined")
    assert tempo.hex_id("5fb397be34d26b51") == "5fb397be34d26b51"


def test_tempo_traceql_quotes_the_service_name() -> None:
    from datetime import UTC, datetime

    from probes.traces.client import Search

    moment = datetime(2026, 1, 1, tzinfo=UTC)
    search = Search(service='we"ird', start=moment, end=moment, limit=5, errors_only=True)
    assert tempo.traceql(search) == '{ trace:rootService = "we\\"ird" && status = error }'


def test_a_long_trace_is_cut_to_its_earliest_spans() -> None:
    raw = {
        "traceID": "t",
        "processes": {"p": {"serviceName": "a"}},
        "spans": [
            {
                "spanID": str(i),
                "operationName": "op",
                "references": [],
                "startTime": 1000 - i,
                "duration": 1,
                "tags": [],
                "processID": "p",
            }
            for i in range(20)
        ],
    }
    trace = jaeger.parse_trace(raw, max_spans=5)
    assert trace.truncated and [s.span_id for s in trace.spans] == ["19", "18", "17", "16", "15"]


def test_span_metric_ranges_cover_the_window_exactly() -> None:
    # a second rounded up would count up to a second of the traffic before the window
    assert spanmetrics.promql_range(timedelta(minutes=15)) == "900s"
    assert spanmetrics.promql_range(timedelta(seconds=5.2301)) == "5231ms"
    assert spanmetrics.promql_range(timedelta(0)) == "1ms"
    assert "[5231ms]" in spanmetrics.calls_query("5231ms", errors=True)
