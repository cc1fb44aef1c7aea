"""The collect path on a synthetic fleet: bounded queries, discovery, baselines, onsets."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest

from diagnostics import Entity, ProbeSkipped, Severity
from probes.prometheus.client import RangeResult, Sample, Series
from probes.resources import promql
from probes.resources.baseline import BaselineSettings, departures
from probes.resources.containers_collect import collect_containers
from probes.resources.containers_judge import ContainerThresholds, judge_containers
from probes.resources.devices_judge import judge_devices
from probes.resources.fetch import Fetcher, Vector
from probes.resources.nodes_collect import DEVICE, BaselineFloors, NodeSnapshot, collect_nodes
from probes.resources.nodes_judge import NodeThresholds, judge_hosts
from probes.resources.onset import breach_onsets, first_events
from probes.resources.problem import OnsetQuery, Problem, with_onsets
from tests.probes.resources.judging import AT, CONTAINER_QUERIES, NODE_QUERIES, WINDOW
from tests.probes.resources.synthetic import SyntheticPrometheus

FLOORS = BaselineFloors(major_faults=100.0, disk_queue=1.0, net_faults=1.0)
SETTINGS = BaselineSettings(baseline=7200.0, persistence=300.0, threshold=6.0)


def node_run(fleet: SyntheticPrometheus) -> tuple[NodeSnapshot, list[Problem]]:
    fetcher = Fetcher(fleet, at=AT)
    snapshot = collect_nodes(fetcher, NODE_QUERIES, floors=FLOORS, baseline=SETTINGS, window=WINDOW)
    problems = judge_hosts(snapshot, NODE_QUERIES, NodeThresholds(), WINDOW) + judge_devices(
        snapshot, NODE_QUERIES, NodeThresholds()
    )
    return snapshot, with_onsets(problems, fetcher, AT - WINDOW)


def test_node_queries_do_not_grow_with_the_fleet() -> None:
    small, large = SyntheticPrometheus(hosts=10), SyntheticPrometheus(hosts=1000)
    _, few = node_run(small)
    snapshot, many = node_run(large)
    assert len(small.queries) == len(large.queries) == 1 + 23 + 2  # discovery, signals, 2 onset filters
    assert len(snapshot.instances()) == 1000
    assert [(p.kind, p.entity.name) for p in many] == [
        ("cpu_saturation", "node-0000"),
        ("disk_filling", "node-0000:/"),
    ]
    assert [p.onset for p in many] == [p.onset for p in few] == [AT - timedelta(minutes=10)] * 2


def test_container_queries_do_not_grow_with_the_fleet() -> None:
    for count in (20, 10_000):
        fleet = SyntheticPrometheus(containers=count)
        fetcher = Fetcher(fleet, at=AT)
        snapshot = collect_containers(fetcher, CONTAINER_QUERIES)
        problems = with_onsets(
            judge_containers(snapshot, CONTAINER_QUERIES, ContainerThresholds(), WINDOW), fetcher, AT - WINDOW
        )
        assert len(fleet.queries) == 1 + 9 + 1
        assert [(p.kind, p.entity.name) for p in problems] == [("cpu_throttling", "team0/svc0000")]


def test_without_node_exporter_the_probe_is_skipped_naming_the_exporter() -> None:
    fleet = SyntheticPrometheus(hosts=3, metrics=frozenset({"up", "container_memory_working_set_bytes"}))
    with pytest.raises(ProbeSkipped) as raised:
        node_run(fleet)
    assert str(raised.value).startswith("no node_exporter metrics (node_cpu_seconds_total, node_load1")
    assert raised.value.hint == "install node_exporter on the hosts and scrape it"
    assert len(fleet.queries) == 1


def test_signals_whose_metrics_are_absent_are_not_queried() -> None:
    present = frozenset(
        {
            "node_cpu_seconds_total",
            "node_load1",
            "node_memory_MemAvailable_bytes",
            "node_memory_MemTotal_bytes",
        }
    )
    fleet = SyntheticPrometheus(hosts=5, metrics=present)
    snapshot, _ = node_run(fleet)
    assert len(fleet.queries) == 1 + 5 + 1  # discovery; cores, busy, load, memory x2; the CPU onset
    assert not any("conntrack" in q for q in fleet.queries[1:])
    assert len(snapshot["conntrack_entries"]) == 0


class RangeFleet:
    """Answers range queries with the given rows (by label set) over any grid."""

    def __init__(self, rows: dict[str, object]) -> None:
        self.rows = rows
        self.queries: list[str] = []

    def query(self, promql: str, at: datetime) -> tuple[Sample, ...]:
        raise AssertionError("no instant query expected")

    def query_range(self, promql: str, start: datetime, end: datetime, step: float) -> RangeResult:
        self.queries.append(promql)
        times = np.arange(round(start.timestamp()), round(end.timestamp()) + 1, step, dtype=np.float64)
        series = tuple(
            Series(
                labels={"instance": "edge-3:9100", "device": device}, timestamps=times, values=curve(times)
            )
            for device, curve in self.rows.items()
        )
        return RangeResult(query=promql, start=times[0], end=times[-1], step=step, series=series)


def noisy(level: float, jump_at: datetime | None = None, to: float = 0.0) -> object:
    def curve(t: np.ndarray) -> np.ndarray:
        rng = np.random.default_rng(7)
        base = level + rng.normal(0, 0.3, t.shape)
        return (
            base
            if jump_at is None
            else np.where(t >= jump_at.timestamp(), to + rng.normal(0, 0.3, t.shape), base)
        )

    return curve


def test_a_departure_from_the_baseline_and_when_it_began() -> None:
    began = AT - timedelta(minutes=20)
    fleet = RangeFleet({"eth0": noisy(3.0, began, 40.0), "eth1": noisy(5.0)})
    current = Vector(
        query="q", key_labels=DEVICE, values={("edge-3:9100", "eth0"): 40.0, ("edge-3:9100", "eth1"): 5.0}
    )
    found = departures(
        Fetcher(fleet, at=AT), current, promql.NET_FAULTS, NODE_QUERIES.matchers, NODE_QUERIES.ranges,
        floor=1.0, window=WINDOW, settings=SETTINGS,
    )  # fmt: skip
    assert list(found) == [("edge-3:9100", "eth0")]
    departure = found[("edge-3:9100", "eth0")]
    assert departure.value == pytest.approx(40.0, abs=1.5)
    assert departure.normal_high < 10
    assert abs(departure.onset - began.timestamp()) <= 60
    assert len(fleet.queries) == 2
    assert all(f"@ {AT.timestamp():.3f}" in q and ") >= 1)" in q for q in fleet.queries)


def test_no_range_query_when_nothing_is_past_the_floor() -> None:
    fleet = RangeFleet({})
    current = Vector(query="q", key_labels=DEVICE, values={("edge-3:9100", "eth0"): 0.4})
    assert departures(Fetcher(fleet, at=AT), current, promql.NET_FAULTS, NODE_QUERIES.matchers, NODE_QUERIES.ranges,
                      floor=1.0, window=WINDOW, settings=SETTINGS) == {}  # fmt: skip
    assert fleet.queries == []


def _result(rows: dict[str, list[float]], step: float = 60.0) -> RangeResult:
    start = AT.timestamp() - 600
    series = tuple(
        Series(labels={"instance": name}, timestamps=start + step * np.arange(len(v)), values=np.array(v))
        for name, v in rows.items()
    )
    return RangeResult(query="q", start=start, end=AT.timestamp(), step=step, series=series)


def test_a_breach_begins_at_its_latest_unbroken_run() -> None:
    nan = float("nan")
    result = _result({"a": [1, 1, nan, nan, nan, 1, 1, nan, 1, 1, 1], "b": [nan] * 9 + [1, 1]})
    start = AT.timestamp() - 600
    assert breach_onsets(result, ("instance",)) == {("a",): start + 300, ("b",): start + 540}
    assert first_events(result, ("instance",)) == {("a",): start, ("b",): start + 540}


def test_onsets_cost_one_range_query_per_distinct_filter() -> None:
    fleet = SyntheticPrometheus(hosts=2)
    query = OnsetQuery(promql="(node_load1) >= 1.5", key_labels=("instance",))
    host = Entity(kind="host", name="node-0000")
    problems = [
        Problem(kind="cpu_saturation", severity=Severity.WARNING, title="t", summary="s", entity=host,
                onset_query=query, onset_keys=(("node-0000:9100",),)),
        Problem(kind="cpu_saturation", severity=Severity.WARNING, title="t", summary="s", entity=host,
                onset_query=query, onset_keys=(("node-0001:9100",),)),
    ]  # fmt: skip
    resolved = with_onsets(problems, Fetcher(fleet, at=AT), AT - WINDOW)
    assert fleet.queries == ["(node_load1) >= 1.5"]
    assert [p.onset for p in resolved] == [AT - timedelta(minutes=10), None]
