"""Judging filesystems, block devices and interfaces on plain values."""

from __future__ import annotations

from datetime import timedelta

import pytest

from diagnostics import Severity
from probes.resources.judge_devices import judge_devices
from probes.resources.judge_nodes import NodeThresholds
from probes.resources.problem import Problem
from tests.probes.resources.judging import AT, NODE_QUERIES, departure, nodes

GIB = 1024.0**3
FS = ("db-1:9100", "/data")
SDA = ("db-1:9100", "sda")
SDB = ("db-1:9100", "sdb")
ETH0 = ("edge-3:9100", "eth0")
ETH1 = ("edge-3:9100", "eth1")
LIMITS = NodeThresholds()


def judge(**kwargs: object) -> list[Problem]:
    return judge_devices(nodes(**kwargs), NODE_QUERIES, LIMITS)  # type: ignore[arg-type]


def measured(problem: Problem, name: str) -> object:
    return next(m.value for m in problem.values if m.name == name)


def test_a_filesystem_full_in_three_hours_is_critical_disk_filling() -> None:
    [problem] = judge(fs_size={FS: 200 * GIB}, fs_available={FS: 40 * GIB}, fs_time_to_full={FS: 3 * 3600.0})
    assert (problem.kind, problem.severity) == ("disk_filling", Severity.CRITICAL)
    assert problem.title == "Disk /data on db-1 full in 3h at the current rate (80.0 % used, 40.0 GiB free)"
    assert problem.entity.kind == "filesystem"
    assert problem.entity.name == "db-1:/data"
    assert problem.entity.attributes == {
        "host": "db-1",
        "mountpoint": "/data",
        "instance": "db-1:9100",
        "device": "/dev/sdb",
        "fstype": "xfs",
    }
    assert measured(problem, "time to full") == 10800
    assert measured(problem, "used") == 0.8
    assert problem.queries[0].startswith("predict_linear(node_filesystem_avail_bytes{")
    assert problem.queries[0].endswith('instance="db-1:9100",mountpoint="/data"}[1h], 86400)')


def test_a_full_filesystem_filling_slowly_is_reported_both_ways() -> None:
    problems = judge(fs_size={FS: 100 * GIB}, fs_available={FS: 3 * GIB}, fs_time_to_full={FS: 20 * 3600.0})
    assert [(p.kind, p.severity) for p in problems] == [
        ("disk_filling", Severity.WARNING),
        ("disk_space", Severity.CRITICAL),
    ]
    assert problems[1].title == "Disk /data on db-1 97.0 % full (3.0 GiB free)"


def test_a_filling_filesystem_is_not_also_reported_as_merely_full() -> None:
    problems = judge(fs_size={FS: 100 * GIB}, fs_available={FS: 10 * GIB}, fs_time_to_full={FS: 3600.0})
    assert [p.kind for p in problems] == ["disk_filling"]


@pytest.mark.parametrize(("free", "severity"), [(12.0, Severity.WARNING), (40.0, None)])
def test_disk_space_without_a_trend(free: float, severity: Severity | None) -> None:
    problems = judge(fs_size={FS: 100 * GIB}, fs_available={FS: free * GIB})
    assert [(p.kind, p.severity) for p in problems] == ([("disk_space", severity)] if severity else [])


def test_inodes_nearly_exhausted() -> None:
    [problem] = judge(
        fs_size={FS: 100 * GIB}, fs_available={FS: 60 * GIB}, fs_files={FS: 1000.0}, fs_files_free={FS: 30.0}
    )
    assert (problem.kind, problem.severity) == ("inodes", Severity.CRITICAL)
    assert problem.title == "Inodes of /data on db-1 97.0 % used (30 left)"


def test_a_busy_disk_with_a_long_queue_is_critical_and_names_every_saturated_device() -> None:
    [problem] = judge(disk_busy={SDA: 0.99, SDB: 0.93}, disk_queue={SDA: 12.0, SDB: 2.0})
    assert (problem.kind, problem.severity) == ("disk_io_saturation", Severity.CRITICAL)
    assert problem.entity.name == "db-1"
    assert (
        problem.title
        == "Disk sda on db-1 busy 99 % of the time, 12.0 requests in flight on average (and 1 more device)"
    )
    assert problem.details["devices"] == [
        {"device": "sda", "utilization": 0.99, "queue_depth": 12.0},
        {"device": "sdb", "utilization": 0.93, "queue_depth": 2.0},
    ]
    assert problem.onset_keys == (SDA, SDB)


def test_a_disk_queue_above_its_baseline_is_a_warning_from_its_departure() -> None:
    began = AT - timedelta(minutes=7)
    queue = {"disk_queue": {SDA: departure(6.0, 1.5, began)}}
    [problem] = judge(departures=queue, disk_busy={SDA: 0.6}, disk_queue={SDA: 6.0})
    assert problem.severity is Severity.WARNING
    assert problem.title.endswith("6.0 requests in flight on average (normally up to 1.5)")
    assert problem.onset == began
    assert problem.onset_query is None


def test_a_disk_queue_departing_since_before_the_window_has_no_onset() -> None:
    queue = {"disk_queue": {SDA: departure(6.0, 1.5, AT - timedelta(hours=2), censored=True)}}
    [problem] = judge(departures=queue, disk_busy={SDA: 0.6}, disk_queue={SDA: 6.0})
    assert (problem.onset, problem.onset_query, problem.began_before_window) == (None, None, True)


def test_a_busy_disk_is_dated_by_its_threshold_not_by_its_queue_departure() -> None:
    queue = {"disk_queue": {SDA: departure(6.0, 1.5, AT - timedelta(hours=2), censored=True)}}
    [problem] = judge(departures=queue, disk_busy={SDA: 0.95}, disk_queue={SDA: 6.0})
    assert problem.onset is None and not problem.began_before_window
    assert problem.onset_query is not None and "node_disk_io_time_seconds_total" in problem.onset_query.promql


def test_a_quiet_disk_is_silent() -> None:
    assert judge(disk_busy={SDA: 0.5}, disk_queue={SDA: 30.0}) == []


def test_interface_errors_over_the_threshold() -> None:
    [problem] = judge(net_errors={ETH0: 5.0, ETH1: 0.0}, net_drops={ETH0: 1.0, ETH1: 0.5})
    assert (problem.kind, problem.severity) == ("network_errors", Severity.WARNING)
    assert problem.title == "Interface eth0 on edge-3: 5.0 errors/s, 1.0 drops/s"
    assert problem.onset_query is not None and "node_network_receive_errs_total" in problem.onset_query.promql
    assert [i["device"] for i in problem.details["interfaces"]] == ["eth0"]


def test_drops_above_their_baseline_but_under_the_threshold() -> None:
    began = AT - timedelta(minutes=20)
    faults = {"net_faults": {ETH0: departure(40.0, 4.0, began)}}
    [problem] = judge(departures=faults, net_errors={ETH0: 0.0}, net_drops={ETH0: 40.0})
    assert problem.title == "Interface eth0 on edge-3: 0.0 errors/s, 40.0 drops/s (normally up to 4.0/s)"
    assert problem.onset == began


def test_drops_departing_since_before_the_window_have_no_onset() -> None:
    faults = {"net_faults": {ETH0: departure(40.0, 4.0, AT - timedelta(hours=2), censored=True)}}
    [problem] = judge(departures=faults, net_errors={ETH0: 0.0}, net_drops={ETH0: 40.0})
    assert (problem.onset, problem.onset_query, problem.began_before_window) == (None, None, True)


def test_steady_drops_under_the_threshold_are_silent() -> None:
    assert judge(net_errors={ETH0: 0.5}, net_drops={ETH0: 50.0}) == []
