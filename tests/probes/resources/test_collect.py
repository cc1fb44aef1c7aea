"""The collect path on a synthetic fleet: bounded queries, discovery, baselines, onsets."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import numpy as np
import pytest

from diagnostics import Entity, ProbeSkipped, Severity
from probes.prometheus.client import RangeResult, Sample, Series
from probes.resources import promql
from probes.resources.baseline import BaselineSettings, departures
from probes.resources.client import Fetcher, Vector
from probes.resources.client_containers import collect_containers
from probes.resources.client_nodes import DEVICE, FILESYSTEM, BaselineFloors, NodeSnapshot, collect_nodes
from probes.resources.containers import ContainerOptions
from probes.resources.containers import query_set as container_queries
from probes.resources.judge_containers import ContainerThresholds, judge_containers
from probes.resources.judge_devices import judge_devices
from probes.resources.judge_nodes import NodeThresholds, judge_hosts
from probes.resources.onset import Onset, breach_onsets, earliest, first_events, last_events
from probes.resources.problem import OnsetQuery, Problem, to_findings, with_onsets
from tests.probes.resources.judging import AT, CONTAINER_CTX, CONTAINER_QUERIES, NODE_QUERIES, WINDOW
from tests.probes.resources.synthetic import SyntheticPrometheus

FLOORS = BaselineFloors(major_faults=100.0, disk_queue=1.0, net_faults=1.0)
SETTINGS = BaselineSettings(baseline=7200.0, threshold=6.0)


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
    assert (
        len(small.queries) == len(large.queries) == 1 + 1 + 23 + 2
    )  # discovery, exporters down, signals, 2 onset filters
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
    assert len(fleet.queries) == 2  # discovery, and no node_exporter target down


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
    assert (
        len(fleet.queries) == 1 + 1 + 5 + 1
    )  # discovery; exporters down; cores, busy, load, memory x2; the CPU onset
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
    assert breach_onsets(result, ("instance",)) == {
        ("a",): Onset(at=start + 300),
        ("b",): Onset(at=start + 540),
    }
    assert first_events(result, ("instance",)) == {("a",): Onset(at=start), ("b",): Onset(at=start + 540)}


def test_a_breach_already_there_at_the_first_point_began_before_the_range() -> None:
    nan = float("nan")
    start = AT.timestamp() - 600
    result = _result(
        {
            "always": [1.0] * 11,
            "late-first-point": [nan] + [1.0] * 10,  # one missing point is tolerated, as between points
            "began": [nan, nan] + [1.0] * 9,
        }
    )
    assert breach_onsets(result, ("instance",)) == {
        ("always",): Onset(at=start, before_range=True),
        ("late-first-point",): Onset(at=start + 60, before_range=True),
        ("began",): Onset(at=start + 120),
    }
    # among a workload's containers, one in breach before the range makes the whole group so
    onsets = breach_onsets(result, ("instance",))
    assert earliest(onsets, [("began",), ("always",)]) == Onset(at=start, before_range=True)
    assert earliest(onsets, [("began",), ("absent",)]) == Onset(at=start + 120)
    assert earliest(onsets, [("absent",)]) is None


def test_the_last_event_is_the_start_of_the_last_run_of_event_points() -> None:
    nan = float("nan")
    start = AT.timestamp() - 600
    result = _result({"a": [1, 1, nan, nan, 1, 1, nan, 1, 1, nan, nan], "b": [nan] * 9 + [1, 1]})
    assert last_events(result, ("instance",)) == {
        ("a",): Onset(at=start + 420),
        ("b",): Onset(at=start + 540),
    }


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


class OnsetFleet:
    """Answers every range query with the given rows (by instance): values over the range's grid."""

    def __init__(self, rows: dict[str, Callable[[np.ndarray], np.ndarray]]) -> None:
        self.rows = rows
        self.queries: list[str] = []

    def query(self, promql: str, at: datetime) -> tuple[Sample, ...]:
        raise AssertionError("no instant query expected")

    def query_range(self, promql: str, start: datetime, end: datetime, step: float) -> RangeResult:
        self.queries.append(promql)
        times = np.arange(round(start.timestamp()), round(end.timestamp()) + 1, step, dtype=np.float64)
        series = tuple(
            Series(labels={"instance": name, "mountpoint": "/data"}, timestamps=times, values=curve(times))
            for name, curve in self.rows.items()
        )
        return RangeResult(query=promql, start=times[0], end=times[-1], step=step, series=series)


def test_a_disk_full_since_before_the_window_has_no_onset_and_says_so() -> None:
    fleet = OnsetFleet(
        {
            "old-full:9100": lambda t: np.ones(t.shape),  # 96 % full for days: in breach at every point
            "new-full:9100": lambda t: np.where(t >= (AT - timedelta(minutes=10)).timestamp(), 1.0, np.nan),
        }
    )
    query = OnsetQuery(promql="(1 - avail / size) >= 0.85", key_labels=FILESYSTEM)
    problems = [
        Problem(kind="disk_space", severity=Severity.CRITICAL, title=f"Disk /data on {name} 96.0 % full",
                summary="The device on /data is running out of space.",
                entity=Entity(kind="filesystem", name=f"{name}:/data"), details={"devices": []},
                onset_query=query, onset_keys=((f"{name}:9100", "/data"),))
        for name in ("old-full", "new-full")
    ]  # fmt: skip
    old, new = with_onsets(problems, Fetcher(fleet, at=AT), AT - WINDOW)
    assert (old.onset, old.began_before_window) == (None, True)
    assert (new.onset, new.began_before_window) == (AT - timedelta(minutes=10), False)
    findings = to_findings([old, new], CONTAINER_CTX.finding)
    before = next(f for f in findings if f.entity.name == "old-full:/data")
    assert before.onset is None
    assert before.evidence.details == {"devices": [], "began_before_window": True}
    assert before.summary == (
        "The device on /data is running out of space. "
        "This was already so when the diagnosed window began: it started earlier."
    )
    after = next(f for f in findings if f.entity.name == "new-full:/data")
    assert "began_before_window" not in after.evidence.details
    assert after.summary == "The device on /data is running out of space."


def test_one_range_query_serves_every_dating_of_a_filter() -> None:
    """The restarts' first event and the OOM-killed last restart read the same event query."""
    moment = (AT - timedelta(minutes=30)).timestamp(), (AT - timedelta(minutes=5)).timestamp()
    fleet = OnsetFleet(
        {"c": lambda t: np.where((abs(t - moment[0]) < 60) | (abs(t - moment[1]) < 60), 1.0, np.nan)}
    )
    entity = Entity(kind="container", name="shop/cart")
    problems = [
        Problem(kind=kind, severity=Severity.WARNING, title="t", summary="s", entity=entity,
                onset_query=OnsetQuery(promql="restart events", key_labels=("instance",), dating=dating),
                onset_keys=(("c",),))
        for kind, dating in (("container_restarts", "first_event"), ("container_oom", "last_event"))
    ]  # fmt: skip
    restarts, oom = with_onsets(problems, Fetcher(fleet, at=AT), AT - WINDOW)
    assert fleet.queries == ["restart events"]
    assert restarts.onset is not None and abs(restarts.onset.timestamp() - moment[0]) < 60
    assert oom.onset is not None and abs(oom.onset.timestamp() - moment[1]) < 60


def test_a_kubelet_selector_leaves_kube_state_metrics_queries_alone() -> None:
    options = ContainerOptions(selector='job="kubelet"', kube_state_selector='job="kube-state-metrics"')
    queries = container_queries(options, WINDOW)
    fleet = SyntheticPrometheus(containers=20)
    collect_containers(Fetcher(fleet, at=AT), queries)
    discovery, *signals = fleet.queries
    assert discovery == (
        'count by (__name__) ({__name__=~"container_cpu_cfs_periods_total|container_cpu_cfs_throttled_periods_total'
        "|container_cpu_usage_seconds_total|container_memory_working_set_bytes|container_oom_events_total"
        '|container_spec_cpu_period|container_spec_cpu_quota|container_spec_memory_limit_bytes",job="kubelet"})'
        ' or on (__name__) count by (__name__) ({__name__=~"kube_pod_container_resource_limits'
        "|kube_pod_container_status_last_terminated_reason"
        '|kube_pod_container_status_restarts_total|kube_pod_owner",job="kube-state-metrics"})'
    )
    assert len(signals) == 9  # restarts, termination reasons and owners still read
    for query in signals:
        kube_state = "kube_" in query
        assert ('job="kube-state-metrics"' in query) is kube_state, query
        assert ('job="kubelet"' in query) is not kube_state, query
