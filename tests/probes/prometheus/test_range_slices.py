"""Range answers read in time slices: the joined answer is the one query's answer, point for point."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import numpy as np
import pytest

from diagnostics import ErrorKind, ProbeError
from diagnostics.testing import run_probe
from probes.prometheus import client as client_module
from probes.prometheus.anomalies import AnomaliesProbe
from probes.prometheus.client import PrometheusClient
from probes.prometheus.client_ranges import BYTES_PER_POINT, query_range_sliced, slices
from probes.prometheus.config import PrometheusConfig
from probes.prometheus.model import Series, joined_series
from tests.probes.prometheus.incidents import AT, SHOP
from tests.support.prometheus import PrometheusDataset, PrometheusServer

REQUEST_RATE = "sum by (job, code) (rate(http_requests_total[5m]))"
Server = Callable[[PrometheusDataset], PrometheusServer]


@pytest.mark.parametrize(("series", "expected_slices"), [(1, 1), (1_000, 5), (10_000, 70)])
def test_slices_cover_the_grid_once_each_within_the_budget(series: int, expected_slices: int) -> None:
    start, step = 1_741_000_000.0, 300.0
    end = start + step * 2015  # a week of 5-minute points
    budget = client_module.MAX_RESPONSE_BYTES // 4
    parts = slices(start, end, step, series, budget)
    assert len(parts) == expected_slices
    points = [p for first, last in parts for p in np.arange(first, last + step / 2, step)]
    assert points == list(start + step * np.arange(2016))  # every grid point once, in order
    widest = max(round((last - first) / step) + 1 for first, last in parts)
    assert widest * series * BYTES_PER_POINT <= budget


def test_series_missing_from_a_slice_keep_the_points_they_have() -> None:
    def series(name: str, times: list[float]) -> Series:
        return Series(labels={"job": name}, timestamps=np.array(times), values=np.array(times) * 2)

    joined = joined_series([[series("a", [0, 1]), series("b", [1])], [series("c", [2]), series("a", [2, 3])]])
    assert [dict(s.labels) for s in joined] == [{"job": "a"}, {"job": "b"}, {"job": "c"}]
    assert joined[0].timestamps.tolist() == [0, 1, 2, 3]
    assert joined[0].values.tolist() == [0, 2, 4, 6]


@pytest.mark.integration
def test_a_sliced_range_equals_the_single_answer(prometheus_server: Server) -> None:
    shop = prometheus_server(SHOP)
    start, end = AT - timedelta(days=7), AT
    promql = REQUEST_RATE
    with PrometheusClient(PrometheusConfig(url=shop.url), deadline=float("inf")) as client:
        whole = client.query_range(promql, start, end, 300).grid()
        sliced = query_range_sliced(client, promql, start, end, 300, series=50, max_bytes=50_000).grid()
    assert len(slices(start.timestamp(), end.timestamp(), 300, 50, 50_000)) > 20
    assert sliced.labels == whole.labels
    assert np.array_equal(sliced.timestamps, whole.timestamps)
    assert np.array_equal(sliced.present, whole.present)
    assert np.array_equal(sliced.values, whole.values, equal_nan=True)


@pytest.mark.integration
def test_a_baseline_larger_than_the_bound_on_one_answer_is_still_judged(
    prometheus_server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = prometheus_server(SHOP)
    whole = run_probe(AnomaliesProbe, config={"prometheus": shop.config()}, at=AT)
    assert whole.findings, "the staged incidents must be found"
    monkeypatch.setattr(client_module, "MAX_RESPONSE_BYTES", 60_000)
    with (
        PrometheusClient(PrometheusConfig(url=shop.url), deadline=float("inf")) as client,
        pytest.raises(ProbeError) as refused,
    ):  # a week of 5-minute points of the shop's jobs in one answer: over the bound
        client.query_range(REQUEST_RATE, AT - timedelta(days=7), AT, 300)
    assert refused.value.kind is ErrorKind.TOO_LARGE
    sliced = run_probe(AnomaliesProbe, config={"prometheus": shop.config()}, at=AT)
    assert sliced.outcome.error is None
    assert [(f.title, f.onset, f.severity) for f in sliced.findings] == [
        (f.title, f.onset, f.severity) for f in whole.findings
    ]
    vanished = [f for f in sliced.findings if f.kind == "series_vanished"]
    assert vanished, "a series gone from the later slices is still judged (and found vanished)"


def test_tens_of_thousands_of_series_over_a_week_are_refused_not_read_a_point_at_a_time() -> None:
    with (
        PrometheusClient(PrometheusConfig(url="http://127.0.0.1:9"), deadline=float("inf")) as client,
        pytest.raises(ProbeError) as refused,
    ):  # refused before anything is sent: nothing listens on port 9
        query_range_sliced(client, "up", AT - timedelta(days=7), AT, 300, series=100_000)
    assert refused.value.kind is ErrorKind.TOO_LARGE
    assert "lower max_series or the baseline" in str(refused.value)
