"""The Prometheus client: parsing each endpoint's answer and turning failures into error kinds."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import numpy as np
import pytest
import requests
import responses
from responses import matchers

from diagnostics import ErrorKind, ProbeError, ProbeTimeout
from probes.prometheus.client import MAX_POINTS_PER_SERIES, PrometheusClient, decode_matrix, nice_step
from probes.prometheus.config import PrometheusConfig

URL = "http://prometheus.test:9090"
AT = datetime(2025, 3, 12, 19, 0, tzinfo=UTC)


def client(**config: object) -> PrometheusClient:
    return PrometheusClient(PrometheusConfig(url=URL, **config), deadline=time.monotonic() + 30)


def ok(data: object) -> dict[str, object]:
    return {"status": "success", "data": data}


def test_nice_steps_divide_a_day_and_respect_the_point_limit() -> None:
    assert nice_step(7200, 240) == 30
    assert nice_step(7 * 86400, 2016) == 300
    assert nice_step(3600, 240, minimum=60) == 60
    assert nice_step(400 * 86400, MAX_POINTS_PER_SERIES - 1) == 3600
    assert MAX_POINTS_PER_SERIES >= 400 * 86400 / 3600 + 1
    assert 86400 % nice_step(123_456, 500) == 0


@responses.activate
def test_instant_query_with_time_and_server_timeout() -> None:
    responses.get(
        f"{URL}/api/v1/query",
        json=ok(
            {
                "resultType": "vector",
                "result": [
                    {"metric": {"job": "a"}, "value": [1741806000, "1.5"]},
                    {"metric": {"job": "b"}, "value": [1741806000, "NaN"]},
                ],
            }
        ),
        match=[matchers.query_param_matcher({"query": "up", "time": "1741806000.000"}, strict_match=False)],
    )
    samples = client().query("up", AT)
    assert [(s.labels, s.value) for s in samples[:1]] == [({"job": "a"}, 1.5)]
    assert np.isnan(samples[1].value)
    assert "timeout" in (responses.calls[0].request.url or "")


@responses.activate
def test_scalar_result() -> None:
    responses.get(f"{URL}/api/v1/query", json=ok({"resultType": "scalar", "result": [1741806000, "2"]}))
    (sample,) = client().query("1+1", AT)
    assert sample.labels == {} and sample.value == 2.0


@responses.activate
def test_range_query_is_aligned_on_the_grid() -> None:
    start = 1741802400
    responses.get(
        f"{URL}/api/v1/query_range",
        json=ok(
            {
                "resultType": "matrix",
                "result": [
                    {
                        "metric": {"job": "a"},
                        "values": [[start, "1"], [start + 60, "2"], [start + 120, "NaN"]],
                    },
                    {"metric": {"job": "b"}, "values": [[start + 60, "5"]]},
                ],
            }
        ),
        match=[matchers.query_param_matcher({"step": "60"}, strict_match=False)],
    )
    grid = (
        client()
        .query_range("x", datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(start + 180, UTC), 60)
        .grid()
    )
    assert grid.timestamps.tolist() == [start, start + 60, start + 120, start + 180]
    assert grid.present.tolist() == [[True, True, True, False], [False, True, False, False]]
    assert grid.values[0, :2].tolist() == [1.0, 2.0] and np.isnan(grid.values[0, 2])
    assert grid.labels == ({"job": "a"}, {"job": "b"})


def test_range_beyond_prometheus_point_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="11000"):
        client().query_range("x", AT.replace(year=2024), AT, 60)


@responses.activate
def test_auth_and_headers_on_every_endpoint() -> None:
    responses.get(
        f"{URL}/api/v1/alerts",
        json=ok({"alerts": []}),
        match=[matchers.header_matcher({"Authorization": "Bearer tok-123", "X-Scope-OrgID": "team"})],
    )
    responses.get(
        f"{URL}/api/v1/query",
        json=ok({"resultType": "vector", "result": []}),
        match=[matchers.header_matcher({"Authorization": "Bearer tok-123", "X-Scope-OrgID": "team"})],
    )
    prometheus = client(bearer_token="tok-123", headers={"X-Scope-OrgID": "team"})
    assert prometheus.alerts() == ()
    assert prometheus.query("up", AT) == ()
    responses.get(f"{URL}/api/v1/targets", json=ok({"activeTargets": []}))
    client(basic_auth={"username": "u", "password": "p"}).targets()
    assert responses.calls[-1].request.headers["Authorization"].startswith("Basic ")


@responses.activate
def test_alerts_rules_targets_metadata_series_labels() -> None:
    responses.get(
        f"{URL}/api/v1/alerts",
        json=ok(
            {
                "alerts": [
                    {
                        "labels": {"alertname": "Down", "job": "api"},
                        "annotations": {"summary": "api down"},
                        "state": "firing",
                        "activeAt": "2025-03-12T18:50:00.123456789Z",
                        "value": "0e+00",
                    }
                ]
            }
        ),
    )
    responses.get(
        f"{URL}/api/v1/rules",
        json=ok(
            {
                "groups": [
                    {
                        "name": "g",
                        "rules": [
                            {
                                "type": "alerting",
                                "name": "Down",
                                "query": "up == 0",
                                "duration": 60,
                                "labels": {},
                                "annotations": {"summary": "{{ $labels.job }} down"},
                                "health": "ok",
                            },
                            {"type": "recording", "name": "job:up", "query": "sum(up)"},
                        ],
                    }
                ]
            }
        ),
    )
    responses.get(
        f"{URL}/api/v1/targets",
        json=ok(
            {
                "activeTargets": [
                    {
                        "labels": {"job": "api", "instance": "a:80"},
                        "scrapePool": "api",
                        "scrapeUrl": "http://a:80/metrics",
                        "health": "down",
                        "lastError": "connection refused",
                        "lastScrape": "2025-03-12T18:59:59Z",
                        "lastScrapeDuration": 0.01,
                    }
                ]
            }
        ),
    )
    responses.get(
        f"{URL}/api/v1/metadata",
        json=ok({"http_requests_total": [{"type": "counter", "help": "Requests.", "unit": ""}]}),
    )
    responses.get(f"{URL}/api/v1/series", json=ok([{"__name__": "up", "job": "api"}]))
    responses.get(f"{URL}/api/v1/labels", json=ok(["__name__", "code", "job"]))
    responses.get(f"{URL}/api/v1/label/__name__/values", json=ok(["http_requests_total"]))
    prometheus = client()
    (alert,) = prometheus.alerts()
    assert alert.state == "firing" and alert.annotations == {"summary": "api down"}
    assert alert.active_at == datetime(2025, 3, 12, 18, 50, 0, 123456, tzinfo=UTC)
    (rule,) = prometheus.alerting_rules()
    assert (rule.name, rule.for_seconds, rule.group) == ("Down", 60.0, "g")
    (target,) = prometheus.targets()
    assert (target.job, target.instance, target.health, target.last_error) == (
        "api",
        "a:80",
        "down",
        "connection refused",
    )
    (meta,) = prometheus.metadata()
    assert (meta.metric, meta.type) == ("http_requests_total", "counter")
    assert prometheus.series(["up"], AT, AT) == ({"__name__": "up", "job": "api"},)
    assert prometheus.label_names(["up"], AT, AT) == ("__name__", "code", "job")
    assert prometheus.label_values("__name__", ["{job='a'}"], AT, AT) == ("http_requests_total",)
    assert "match%5B%5D=up" in (responses.calls[4].request.url or "")


@responses.activate
def test_alertmanager_alerts() -> None:
    responses.get(
        "http://am.test:9093/api/v2/alerts",
        json=[
            {
                "labels": {"alertname": "Down"},
                "annotations": {},
                "startsAt": "2025-03-12T18:00:00Z",
                "endsAt": "2025-03-12T20:00:00Z",
                "status": {"state": "suppressed", "silencedBy": ["s1"], "inhibitedBy": []},
                "receivers": [{"name": "pager"}],
            }
        ],
    )
    assert client().alertmanager_alerts() == ()
    (alert,) = client(alertmanager_url="http://am.test:9093").alertmanager_alerts()
    assert alert.state == "suppressed" and alert.silenced_by == ("s1",) and alert.receivers == ("pager",)


@pytest.mark.parametrize(
    ("status", "body", "content_type", "kind", "text"),
    [
        (
            400,
            {"status": "error", "errorType": "bad_data", "error": "1:5: parse error"},
            "application/json",
            ErrorKind.QUERY,
            "Prometheus rejected query sum(: 1:5: parse error",
        ),
        (
            422,
            {"status": "error", "errorType": "execution", "error": "many-to-many matching"},
            "application/json",
            ErrorKind.QUERY,
            "many-to-many",
        ),
        (401, {}, "application/json", ErrorKind.AUTH, "refused the credentials"),
        (403, {}, "application/json", ErrorKind.PERMISSION, "forbids"),
        (
            503,
            {"status": "error", "errorType": "timeout", "error": "query timed out"},
            "application/json",
            ErrorKind.TIMEOUT,
            "timed out",
        ),
        (500, "oops", "text/plain", ErrorKind.PROTOCOL, "HTTP 500"),
        (200, "<html>login</html>", "text/html", ErrorKind.PROTOCOL, "text/html"),
        (200, {"unexpected": True}, "application/json", ErrorKind.PROTOCOL, "answered"),
    ],
)
@responses.activate
def test_http_failures_become_error_kinds(
    status: int, body: object, content_type: str, kind: ErrorKind, text: str
) -> None:
    payload = {"json": body} if isinstance(body, dict) else {"body": str(body)}
    responses.get(f"{URL}/api/v1/query", status=status, content_type=content_type, **payload)
    with pytest.raises(ProbeError) as raised:
        client(bearer_token="tok-secret").query("sum(", AT)
    assert raised.value.kind is kind
    assert text in str(raised.value)
    assert "tok-secret" not in str(raised.value)


@pytest.mark.parametrize(
    ("error", "kind", "text"),
    [
        (
            requests.exceptions.ConnectionError(
                "HTTPConnectionPool(host='x', port=1): Max retries exceeded (Caused by NewConnectionError('[Errno 111] Connection refused'))"
            ),
            ErrorKind.CONNECT,
            "Connection refused",
        ),
        (
            requests.exceptions.ConnectionError(
                "Failed to resolve 'x' ([Errno -2] Name or service not known)"
            ),
            ErrorKind.DNS,
            "Name or service not known",
        ),
        (
            requests.exceptions.SSLError("certificate verify failed: self-signed certificate"),
            ErrorKind.TLS,
            "certificate verify failed",
        ),
        (
            requests.exceptions.ReadTimeout("read timed out"),
            ErrorKind.TIMEOUT,
            "did not answer GET /api/v1/targets within prometheus.timeout (5s): raise it",
        ),
    ],
)
@responses.activate
def test_transport_failures_become_error_kinds(error: Exception, kind: ErrorKind, text: str) -> None:
    responses.get(f"{URL}/api/v1/targets", body=error)
    with pytest.raises(ProbeError) as raised:
        client(basic_auth={"username": "u", "password": "hunter2"}).targets()
    assert raised.value.kind is kind
    assert text in str(raised.value)
    assert "hunter2" not in str(raised.value)


def test_no_request_once_the_deadline_passed() -> None:
    late = PrometheusClient(PrometheusConfig(url=URL), deadline=time.monotonic() - 1)
    with pytest.raises(ProbeTimeout):
        late.query("up", AT)


def test_credentials_in_the_url_are_not_shown() -> None:
    prometheus = PrometheusClient(
        PrometheusConfig(url="http://u:hunter2@prom.test:9090"), deadline=time.monotonic() + 5
    )
    assert prometheus.where == "http://prom.test:9090"


@pytest.mark.parametrize(
    ("answer", "kind", "text"),
    [
        (
            requests.exceptions.ConnectionError(
                "HTTPConnectionPool(host='am.test', port=9093): Max retries exceeded (Caused by NewConnectionError('[Errno 111] Connection refused'))"
            ),
            ErrorKind.CONNECT,
            "cannot reach Alertmanager at http://am.test:9093: Connection refused",
        ),
        (
            requests.exceptions.ReadTimeout("read timed out"),
            ErrorKind.TIMEOUT,
            "Alertmanager at http://am.test:9093",
        ),
        ({"status": 401}, ErrorKind.AUTH, "Alertmanager at http://am.test:9093 refused the credentials"),
        ({"json": {"not": "a list"}}, ErrorKind.PROTOCOL, "Alertmanager at http://am.test:9093 answered"),
    ],
)
@responses.activate
def test_alertmanager_failures_name_alertmanager(answer: object, kind: ErrorKind, text: str) -> None:
    url = "http://am.test:9093/api/v2/alerts"
    if isinstance(answer, Exception):
        responses.get(url, body=answer)
    else:
        responses.get(url, **answer)  # type: ignore[arg-type]
    with pytest.raises(ProbeError) as raised:
        client(alertmanager_url="http://am.test:9093").alertmanager_alerts()
    assert raised.value.kind is kind
    assert text in str(raised.value)
    assert "Prometheus" not in str(raised.value) and "prometheus.test" not in str(raised.value)


def _matrix_body(result: list[dict[str, object]]) -> str:
    """A query_range answer written the way Prometheus writes it (compact JSON)."""
    answer = {"status": "success", "data": {"resultType": "matrix", "result": result}}
    return json.dumps(answer, separators=(",", ":"))


def test_fast_matrix_decoding_equals_json_decoding() -> None:
    rng = np.random.default_rng(3)
    start = 1741802400
    result: list[dict[str, object]] = [
        {
            "metric": {"job": "full", "x": 'quo"te ]]} "values":['},
            "values": [[start + 30 * k, repr(float(v))] for k, v in enumerate(rng.normal(0, 1e6, 241))],
        },
        {"metric": {}, "values": [[start + 30, "NaN"], [start + 90, "+Inf"], [start + 95.5, "-1e-300"]]},
        {"metric": {"job": "one"}, "values": [[start, "7"]]},
        {  # as Go's FormatFloat writes them, and the hardest to round
            "metric": {"job": "go"},
            "values": [
                [start + 30 * k, text]
                for k, text in enumerate(
                    [
                        "1e+06",
                        "-3.2e+21",
                        "2.2250738585072011e-308",
                        "4.9406564584124654e-324",
                        "-0",
                        "9007199254740993",
                        "0.30000000000000004",
                        "1.7976931348623157e+308",
                        "-Inf",
                    ]
                )
            ],
        },
    ]
    body = _matrix_body(result)
    fast = decode_matrix(body, 30)
    assert fast is not None
    general = [PrometheusClient._series(item) for item in json.loads(body)["data"]["result"]]
    assert [s.labels for s in fast] == [s.labels for s in general]
    for mine, reference in zip(fast, general, strict=True):
        np.testing.assert_array_equal(mine.timestamps, reference.timestamps)
        np.testing.assert_array_equal(mine.values, reference.values)
    assert decode_matrix(_matrix_body([]), 30) == ()
    # a value the fast parser refuses though float() reads it: the general way
    assert decode_matrix(_matrix_body([{"metric": {}, "values": [[start, "1_000"]]}]), 30) is None
    # any other layout (spaces, key order, another backend) goes through json instead
    assert decode_matrix(json.dumps(json.loads(body)), 30) is None
    assert decode_matrix(body.replace('"values"', '"histograms"'), 30) is None


@responses.activate
def test_range_query_reads_prometheus_compact_answer() -> None:
    start = 1741802400
    body = _matrix_body([{"metric": {"job": "a"}, "values": [[start, "1"], [start + 120, "3"]]}])
    responses.get(f"{URL}/api/v1/query_range", body=body, content_type="application/json")
    result = client().query_range(
        "x", datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(start + 120, UTC), 60
    )
    (series,) = result.series
    assert series.timestamps.tolist() == [start, start + 120] and series.values.tolist() == [1.0, 3.0]


@responses.activate
def test_server_now() -> None:
    responses.get(
        f"{URL}/api/v1/query",
        json=ok({"resultType": "scalar", "result": [1741806000.5, "1741806000.5"]}),
        match=[matchers.query_param_matcher({"query": "time()"}, strict_match=False)],
    )
    assert client().now() == datetime(2025, 3, 12, 19, 0, 0, 500000, tzinfo=UTC)
    assert "time=" not in (responses.calls[0].request.url or "")


@pytest.mark.parametrize(
    ("url", "encoding"),
    [
        ("http://127.0.0.1:9090", "identity"),
        ("http://localhost:9090/prometheus", "identity"),
        ("http://[::1]:9090", "identity"),
        ("https://user:secret@prometheus.example:443", "gzip"),
        ("http://10.0.0.5:9090", "gzip"),
    ],
)
def test_range_queries_are_compressed_only_towards_a_remote_server(url: str, encoding: str) -> None:
    from probes.prometheus.client import range_encoding

    assert range_encoding(url) == encoding
