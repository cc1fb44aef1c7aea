"""Reading one query for metrics.anomalies: the recent range finely and the baseline on the grid
for every series, the baseline's step extremes for the few that may depart between the grid's
points; the verdicts are exactly those of reading every series' step extremes (real Prometheus)."""

from __future__ import annotations

import threading
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from types import SimpleNamespace
from typing import Any, ClassVar
from urllib.parse import quote

import numpy as np
import pytest

from probes.prometheus import anomalies_reading
from probes.prometheus import client as client_module
from probes.prometheus.anomalies import AnomaliesOptions, query_grid
from probes.prometheus.anomalies_reading import read_and_judge
from probes.prometheus.client import PrometheusClient
from probes.prometheus.config import PrometheusConfig
from probes.prometheus.judge_series import DetectorSettings, Verdicts, judge, observations
from probes.prometheus.series_filter import MAX_ENCODED_QUERY, MAX_QUERIES, only_series
from tests.probes.prometheus.incidents import AT, HEALTHY_AT, SHOP
from tests.probes.prometheus.test_between_integration import QUEUES, recorded_queries
from tests.support.local_http import serving
from tests.support.prometheus import PrometheusDataset, PrometheusServer, StagedSeries, staged

pytestmark = pytest.mark.integration
Server = Callable[[PrometheusDataset], PrometheusServer]
QUERIES = [
    "sum by (job, code) (rate(http_requests_total[5m]))",
    'sum by (job) (rate(http_requests_total{code=~"5.."}[5m])) / sum by (job) (rate(http_requests_total[5m]))',
    "histogram_quantile(0.99, sum by (job, le) (rate(http_request_duration_seconds_bucket[5m])))",
    "queue_capacity",
]
ODD_VALUES = ['say "hi"', "$1 and $$", "Zürich ✓", "back\\slash", "", "party 🎉", "line\nbreak"]


def _odd_series() -> Iterator[StagedSeries]:
    start = AT.timestamp() - 3600
    for index, value in enumerate(ODD_VALUES):
        labels = {"zone": value} if value else {"kind": "no zone"}  # no single label tells all apart
        yield staged("odd_labels", labels, start, 60, [float(index)] * 61)


ODD = PrometheusDataset(name="odd-labels", series=_odd_series)


def _client(server: PrometheusServer) -> PrometheusClient:
    return PrometheusClient(PrometheusConfig(url=server.url), deadline=float("inf"))


def _every_series_finely(client: PrometheusClient, promql: str, at: datetime) -> Any:
    """The reference: the recent range at its finer step and the baseline's step extremes for
    every series, then judged."""
    grid = query_grid(at.timestamp(), 3600, 7 * 86400, AnomaliesOptions().baseline_points)
    moment = [
        datetime.fromtimestamp(t, UTC) for t in (grid.recent_start, grid.baseline_start, grid.baseline_end)
    ]
    recent = client.query_range(promql, moment[0], at, grid.recent_step).grid()
    baseline = client.query_range(promql, moment[1], moment[2], grid.step).grid()
    labels, obs = observations(baseline, recent, judged_from=at.timestamp() - 3600)
    extremes = []
    for function in ("max_over_time", "min_over_time"):  # unfiltered: every series
        answer = anomalies_reading._step_extremes(client, function, promql, None, grid, (len(labels),) * 2)
        rows = {anomalies_reading._named_key(found): index for index, found in enumerate(answer.labels)}
        values = np.full(obs.baseline.shape, np.nan)
        for row, found in enumerate(labels):
            if anomalies_reading._named_key(found) in rows:
                values[row] = answer.values[rows[anomalies_reading._named_key(found)]]
        extremes.append(values)
    return grid, (labels, replace(obs, step_high=extremes[0], step_low=extremes[1]))


def _read_and_judge(
    client: PrometheusClient, promql: str, grid: Any, at: datetime, series: int | None
) -> Any:
    return read_and_judge(
        client,
        promql,
        grid,
        judged_from=at.timestamp() - 3600,
        settings=DetectorSettings(),
        max_series=1000,
        expected_series=series,
    )


@pytest.mark.parametrize(
    ("dataset", "promql", "at"),
    [
        *[(SHOP, promql, at) for promql in QUERIES for at in (AT, HEALTHY_AT)],
        (QUEUES, "worker_queue_depth", AT),
        (QUEUES, "worker_queue_depth", AT - timedelta(hours=1)),
    ],
    ids=[
        *[
            f"{name}-{when}"
            for name in ("requests", "errors", "p99", "queue")
            for when in ("incidents", "healthy")
        ],
        "15s-bursts",
        "15s-healthy",
    ],
)
def test_verdicts_equal_reading_every_series_step_extremes(
    prometheus_server: Server,
    dataset: PrometheusDataset,
    promql: str,
    at: datetime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The step extremes are read only for the series the screen names, with the verdicts of
    reading them for every series: the screen is sound."""
    server = prometheus_server(dataset)
    queries = recorded_queries(monkeypatch)
    with _client(server) as client:
        grid, (labels, obs) = _every_series_finely(client, promql, at)
        expected = judge(obs, DetectorSettings())
        reference_queries = len(queries)  # the reference reads with the same reader
        judged = _read_and_judge(client, promql, grid, at, len(labels))
    assert judged.labels == labels
    for field in fields(expected):
        assert np.array_equal(
            getattr(judged.verdicts, field.name), getattr(expected, field.name), equal_nan=True
        ), field.name
    screened = int(
        np.isfinite(
            judge(replace(obs, step_high=None, step_low=None), DetectorSettings()).step_extremes_wanted
        ).sum()
    )
    assert judged.read_step_extremes == screened
    subqueries = [q for q in queries[reference_queries:] if q.startswith(("max_over_time", "min_over_time"))]
    assert len(subqueries) == (2 if screened else 0)
    if dataset is QUEUES and at == AT:
        assert 0 < screened < len(labels) and int(expected.between_points.sum()) == 2
    if at == AT and promql != "queue_capacity" and dataset is SHOP:
        assert 0 < int(expected.anomalous.sum()) < len(labels), "some depart and some do not"


def test_the_recent_range_is_read_with_the_baseline_and_an_undercount_is_read_again(
    prometheus_server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the number of series known, the recent range and the baseline's slices share the two
    connections; with none now (every series stopped, say), the recent range is read first and
    sizes the baseline's slices; a count far under the week's series (most stopped) makes a
    baseline slice too large for the bound on one answer: read again so. Same verdicts."""
    promql = QUERIES[0]
    grid = query_grid(AT.timestamp(), 3600, 7 * 86400, AnomaliesOptions().baseline_points)
    sent: list[tuple[str, str]] = []  # (which range, on which thread)
    query_range = PrometheusClient.query_range

    def recorded(self: PrometheusClient, query: str, start: datetime, end: datetime, step: float) -> Any:
        which = "recent" if start.timestamp() >= grid.recent_start else "baseline"
        if query.startswith(("max_over_time", "min_over_time")):
            which = "extremes"
        sent.append((which, threading.current_thread().name))
        return query_range(self, query, start, end, step)

    monkeypatch.setattr(PrometheusClient, "query_range", recorded)
    monkeypatch.setattr(client_module, "MAX_RESPONSE_BYTES", 200_000)
    with _client(prometheus_server(SHOP)) as client:
        unknown = _read_and_judge(client, promql, grid, AT, None)
        recent_first = [which for which, _ in sent]
        sent.clear()
        counted = _read_and_judge(client, promql, grid, AT, len(unknown.labels))
        together = list(sent)
        sent.clear()
        none_now = _read_and_judge(client, promql, grid, AT, 0)  # all stopped at once, say
        stopped = [which for which, _ in sent if which != "extremes"]
        sent.clear()
        monkeypatch.setattr(client_module, "MAX_RESPONSE_BYTES", 60_000)
        undercounted = _read_and_judge(client, promql, grid, AT, 1)
    assert recent_first.index("baseline") > recent_first.index("recent") > -1
    assert "recent" not in recent_first[recent_first.index("baseline") :], "the recent range first, then"
    ranges = [which for which, name in together if name.startswith("diag-prometheus-range")]
    assert ranges[0] == "recent" and ranges.count("baseline") > 1, "sent together, the recent range first"
    assert stopped[0] == "recent" and "recent" not in stopped[1:], "0 series now: the recent range first"
    again = [which for which, _ in sent if which != "extremes"]
    refused_at = again.index("baseline")
    assert "recent" in again[refused_at:] and again[-1] == "baseline", "read again after the refusal"
    assert unknown.verdicts.anomalous.any()
    for judged in (counted, none_now, undercounted):
        assert judged.labels == unknown.labels and judged.returned == unknown.returned
        for field in fields(Verdicts):
            assert np.array_equal(
                getattr(judged.verdicts, field.name), getattr(unknown.verdicts, field.name), equal_nan=True
            ), field.name


def test_only_series_keeps_exactly_the_wanted_label_sets(prometheus_server: Server) -> None:
    server = prometheus_server(ODD)
    at = AT - timedelta(minutes=1)
    with _client(server) as client:
        every = client.query("odd_labels", at)
        assert len(every) == len(ODD_VALUES)
        for wanted in (
            [every[0]],
            [every[1], every[2]],
            [every[3], every[4]],
            [every[5], every[6]],
            list(every),
        ):
            narrowed = only_series("odd_labels", [s.labels for s in wanted], [s.labels for s in every])
            assert narrowed is not None and len(narrowed) == 1
            got = client.query(narrowed[0], at)
            assert narrowed[0].count("label_replace") == len(wanted)  # every value matched, escaped
            assert sorted(str(sorted(s.labels.items())) for s in got) == sorted(
                str(sorted(s.labels.items())) for s in wanted
            )


def test_many_wanted_series_are_split_into_a_few_short_queries_or_read_all() -> None:
    def pod(i: int, **more: str) -> dict[str, str]:
        return {"app": "checkout", "container": "api", "instance": f"10.0.{i // 250}.{i % 250}:8080",
                "job": "kubernetes-pods", "namespace": "shop", "node": f"node-{i % 7}",
                "pod": f"checkout-7d9f8c6b5-{i:05d}", **more}  # fmt: skip

    every = [pod(i) for i in range(3000)]
    few = only_series("up", every[:8], every)
    assert few is not None and len(few) == 1 and "on(instance)" in few[0]  # one label tells them apart
    many = only_series("up", every[:300], every)
    assert many is not None and 1 < len(many) <= MAX_QUERIES
    assert all(len(quote(q, safe="")) <= MAX_ENCODED_QUERY for q in many)
    assert sum(q.count("vector(1)") for q in many) == 300
    assert only_series("up", every[:2000], every) is None  # more than a few queries hold
    # no single label tells them apart: every label is matched, absent ones not set
    codes = [pod(i % 10, code=str(200 + i // 10)) for i in range(20)]
    both = only_series("up", codes[:3], codes)
    assert both is not None and "on(app, code, container, instance" in both[0] and "le" not in both[0]
    assert only_series("up", [{"bad-name": "x"}], [{"bad-name": "x"}, {"bad-name": "y"}]) is None
    assert only_series("up", [{"nan": "1"}], [{"nan": "1"}, {"nan": "2"}]) is None  # a number to PromQL


class _Forwarding(BaseHTTPRequestHandler):
    """Forwards every GET to ``target`` (a Prometheus) unless :meth:`refuse` answers it."""

    target = ""

    def refuse(self) -> bool:
        return False

    def do_GET(self) -> None:
        if self.refuse():
            return
        with urllib.request.urlopen(self.target + self.path, timeout=30) as answer:
            self.answer(200, answer.read())

    def answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class _ShortUrlProxy(_Forwarding):
    """A reverse proxy in front of Prometheus refusing request lines over ``limit`` bytes (HTTP 414),
    as nginx does over its 8 KB buffers."""

    refused: ClassVar[list[str]] = []
    limit = 1000

    def refuse(self) -> bool:
        if len(self.requestline) <= self.limit:
            return False
        self.refused.append(self.path)
        self.send_error(414)
        return True


@pytest.fixture
def short_url_proxy(prometheus_server: Server) -> Iterator[str]:
    _ShortUrlProxy.target = prometheus_server(SHOP).url
    _ShortUrlProxy.refused = []
    _ShortUrlProxy.limit = 600  # the filtered subqueries (over 600 bytes here), not the others
    with serving(_ShortUrlProxy) as url:
        yield url


def test_a_refused_filter_reads_every_series_step_extremes_with_the_same_verdicts(
    prometheus_server: Server, short_url_proxy: str
) -> None:
    promql = QUERIES[0]
    with _client(prometheus_server(SHOP)) as client:
        grid, (labels, obs) = _every_series_finely(client, promql, AT)
    expected = judge(obs, DetectorSettings())
    with PrometheusClient(PrometheusConfig(url=short_url_proxy), deadline=float("inf")) as client:
        judged = _read_and_judge(client, promql, grid, AT, len(labels))
    refused = [urllib.parse.unquote(path) for path in _ShortUrlProxy.refused]
    assert len(refused) == 2, refused  # the highest and the lowest of each step, filtered: refused
    assert all("label_replace" in path for path in refused)
    assert refused[0].startswith("/api/v1/query_range?query=max_over_time(")
    assert refused[1].startswith("/api/v1/query_range?query=min_over_time(")
    assert judged.labels == labels
    for field in fields(expected):
        assert np.array_equal(
            getattr(judged.verdicts, field.name), getattr(expected, field.name), equal_nan=True
        ), field.name
    assert judged.verdicts.anomalous.any() and judged.read_step_extremes > 0


def test_many_candidates_are_read_in_one_filtered_query_most_extreme_first() -> None:
    """Each step-extremes subquery costs Prometheus an evaluation at every finer point of the
    week for every series, filtered or not: however many series the screen names, one filtered
    query per extreme holds the most extreme of them."""
    every = [
        {"job": "kubernetes-pods", "namespace": "shop", "pod": f"checkout-7d9f8c6b5-{i:05d}"}
        for i in range(3000)
    ]
    recent = SimpleNamespace(series=[SimpleNamespace(labels=labels) for labels in every])
    wanted = np.full(len(every), np.nan)
    wanted[::3] = np.arange(1000, dtype=np.float64)  # 1,000 candidates: the latest most extreme
    rows, narrowed = anomalies_reading._screened("up", tuple(every), wanted, recent)  # type: ignore[arg-type]
    assert narrowed is not None and len(narrowed) == 1
    assert len(quote(narrowed[0], safe="")) <= MAX_ENCODED_QUERY
    assert 10 < len(rows) < 1000 and rows[0] == 2997
    assert (np.diff(wanted[rows]) < 0).all()  # most extreme first, none skipped in between
    assert wanted[rows].min() > np.nanmax(np.delete(wanted, rows))
    few, filtered = anomalies_reading._screened(
        "up", tuple(every), np.where(np.arange(3000) < 3, 1.0, np.nan), recent
    )  # type: ignore[arg-type]
    assert sorted(few.tolist()) == [0, 1, 2] and filtered is not None and filtered[0].count("vector(1)") == 3


def _twins() -> Iterator[StagedSeries]:
    """Two metrics with the same labels (a renamed metric kept beside the old one), every 15 s
    for 7 days and 2 hours; the new one bursts to 300 for 90 s between two grid points."""
    at = AT.timestamp()
    start = at - timedelta(days=7, hours=2).total_seconds()
    times = np.arange(start, at + 1, 15.0)
    rng = np.random.default_rng(29)
    for name in ("jobs_queued", "jobs_queued_total_v2"):
        values = 100 + 5 * rng.normal(size=len(times))
        if name.endswith("v2"):
            burst = at - 19 * 60
            values[(times >= burst) & (times < burst + 90)] = 300.0
        yield staged(name, {"queue": "mail"}, start, 15.0, values.tolist())


TWINS = PrometheusDataset(name="twin-metrics-15s", series=_twins)


def test_series_differing_only_by_their_metric_name_keep_their_step_extremes(
    prometheus_server: Server,
) -> None:
    """``max_over_time`` drops ``__name__``: two series differing only by it would be one label
    set, which Prometheus refuses; the name travels in a label of its own instead."""
    promql = '{__name__=~"jobs_queued|jobs_queued_total_v2"}'
    with _client(prometheus_server(TWINS)) as client:
        grid, (labels, _) = _every_series_finely(client, promql, AT)
        judged = _read_and_judge(client, promql, grid, AT, len(labels))
    assert judged.step_extremes_not_read is None and judged.read_step_extremes >= 1
    found = {labels[row]["__name__"]: bool(judged.verdicts.between_points[row]) for row in range(len(labels))}
    assert found == {"jobs_queued": False, "jobs_queued_total_v2": True}


class _NoSubqueries(_Forwarding):
    """A Prometheus that refuses the step-extremes subqueries (as an old version, a query
    limit or a timeout would): HTTP 422 with Prometheus' error body."""

    def refuse(self) -> bool:
        if "_over_time(label_replace" not in urllib.parse.unquote(self.path):
            return False
        self.answer(
            422,
            b'{"status":"error","errorType":"execution","error":"query processing would load too many samples"}',
        )
        return True


def test_step_extremes_that_cannot_be_read_leave_the_grid_verdicts(prometheus_server: Server) -> None:
    """The step extremes are a refinement: refused, the query's series keep the verdicts of the
    grid and the findings say what was not judged."""
    server = prometheus_server(QUEUES)
    _NoSubqueries.target = server.url
    with _client(server) as client:
        grid, (labels, obs) = _every_series_finely(client, "worker_queue_depth", AT)
    on_the_grid = judge(replace(obs, step_high=None, step_low=None), DetectorSettings())
    with (
        serving(_NoSubqueries) as url,
        PrometheusClient(PrometheusConfig(url=url), deadline=float("inf")) as client,
    ):
        judged = _read_and_judge(client, "worker_queue_depth", grid, AT, len(labels))
    assert judged.step_extremes_not_read and "too many samples" in judged.step_extremes_not_read
    assert judged.read_step_extremes == 0 and not judged.verdicts.between_points.any()
    for field in fields(on_the_grid):
        assert np.array_equal(
            getattr(judged.verdicts, field.name), getattr(on_the_grid, field.name), equal_nan=True
        ), field.name
