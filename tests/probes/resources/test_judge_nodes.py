"""Judging hosts on plain values: CPU, memory, OOM kills, kernel tables."""

from __future__ import annotations

from datetime import timedelta

import pytest

from diagnostics import Severity
from probes.resources import promql
from probes.resources.judge_nodes import NodeThresholds, host_name, judge_hosts
from probes.resources.problem import Problem
from tests.probes.resources.judging import AT, NODE_QUERIES, WINDOW, departure, nodes

H = ("web-1:9100",)
LIMITS = NodeThresholds()


def judge(**kwargs: object) -> list[Problem]:
    return judge_hosts(nodes(**kwargs), NODE_QUERIES, LIMITS, WINDOW)  # type: ignore[arg-type]


def measured(problem: Problem, name: str) -> object:
    return next(m.value for m in problem.values if m.name == name)


@pytest.mark.parametrize(
    ("instance", "name"),
    [
        ("web-1:9100", "web-1"),
        ("10.0.0.7:9100", "10.0.0.7"),
        ("[2001:db8::7]:9100", "2001:db8::7"),
        ("web-1", "web-1"),
    ],
)
def test_host_names_drop_the_port(instance: str, name: str) -> None:
    assert host_name(instance) == name


def test_load_eight_times_the_cores_is_critical_cpu_saturation() -> None:
    [problem] = judge(cores={H: 4}, load1={H: 32.0}, cpu_busy={H: 1.0}, run_queue={H: 33}, uname={H: 1})
    assert problem.kind == "cpu_saturation"
    assert problem.severity is Severity.CRITICAL
    assert problem.title == "CPU saturated on web-1: load 32.0 on 4 cores (8.0 per core), 100 % busy"
    assert problem.entity.attributes == {"instance": "web-1:9100", "job": "node", "node": "web-1.example"}
    assert measured(problem, "load per core") == 8.0
    assert measured(problem, "runnable processes") == 33
    assert problem.onset_query is not None
    assert problem.onset_query.promql.endswith(") >= 1.5")
    assert problem.queries[0].startswith('node_load1{instance="web-1:9100"} / on (instance)')


def test_a_busy_cpu_with_a_run_queue_longer_than_the_cores_is_a_warning() -> None:
    [problem] = judge(cores={H: 4}, load1={H: 4.4}, cpu_busy={H: 0.95})
    assert problem.severity is Severity.WARNING
    assert problem.onset_query is not None
    assert problem.onset_query.promql.startswith("(1 - avg by (instance) (rate(node_cpu_seconds_total")


def test_a_busy_cpu_that_keeps_up_is_not_saturated() -> None:
    assert judge(cores={H: 4}, load1={H: 3.0}, cpu_busy={H: 0.95}) == []
    assert judge(cores={H: 8}, load1={H: 11.9}, cpu_busy={H: 0.5}) == []


@pytest.mark.parametrize(
    ("available", "severity"), [(0.04, Severity.CRITICAL), (0.08, Severity.WARNING), (0.5, None)]
)
def test_memory_available_against_its_thresholds(available: float, severity: Severity | None) -> None:
    problems = judge(memory_available={H: available * 1000}, memory_total={H: 1000.0})
    assert [p.severity for p in problems] == ([severity] if severity else [])
    if severity:
        assert problems[0].title == f"Memory pressure on web-1: {available * 100:.1f} % memory available"


def test_swapping_is_memory_pressure_even_with_memory_available() -> None:
    [problem] = judge(memory_available={H: 500.0}, memory_total={H: 1000.0}, swap_pages={H: 300.0})
    assert problem.severity is Severity.WARNING
    assert problem.title == "Memory pressure on web-1: swapping 300 pages/s"
    assert problem.onset_query is not None and "node_vmstat_pswpout" in problem.onset_query.promql


def test_major_faults_above_their_baseline_are_memory_pressure_since_their_departure() -> None:
    began = AT - timedelta(minutes=12)
    faults = {"major_faults": {H: departure(900.0, 120.0, began)}}
    [problem] = judge(departures=faults, memory_available={H: 500.0}, memory_total={H: 1000.0})
    assert problem.title == "Memory pressure on web-1: 900 major page faults/s (normally up to 120)"
    assert problem.onset == began
    assert problem.onset_query is None
    assert not problem.began_before_window


def test_major_faults_departing_since_before_the_window_have_no_onset() -> None:
    faults = {"major_faults": {H: departure(900.0, 120.0, AT - WINDOW * 1.5, censored=True)}}
    [problem] = judge(departures=faults, memory_available={H: 500.0}, memory_total={H: 1000.0})
    assert (problem.onset, problem.onset_query, problem.began_before_window) == (None, None, True)


def test_low_memory_is_dated_by_its_threshold_even_with_a_censored_fault_departure() -> None:
    faults = {"major_faults": {H: departure(900.0, 120.0, AT - WINDOW * 1.5, censored=True)}}
    [problem] = judge(departures=faults, memory_available={H: 40.0}, memory_total={H: 1000.0})
    assert problem.onset_query is not None and "node_memory_MemAvailable_bytes" in problem.onset_query.promql
    assert not problem.began_before_window  # left to the threshold's own range


def test_an_oom_kill_is_critical_and_counted_whole() -> None:
    [problem] = judge(oom_kills={H: 0.4})
    assert (problem.kind, problem.severity) == ("oom_kill", Severity.CRITICAL)
    assert problem.title == "OOM killer fired 1 time on web-1 in the last 1h"
    assert problem.onset_query is not None and problem.onset_query.dating == "first_event"
    assert judge(oom_kills={}) == []


def test_kernel_tables_near_their_limits() -> None:
    problems = judge(
        fd_allocated={H: 960.0},
        fd_maximum={H: 1000.0},
        conntrack_entries={H: 850.0},
        conntrack_limit={H: 1000.0},
    )
    assert [(p.kind, p.severity) for p in problems] == [
        ("fd_exhaustion", Severity.CRITICAL),
        ("conntrack", Severity.WARNING),
    ]
    assert problems[1].title == "Conntrack table on web-1 85.0 % used (850 of 1000)"
    assert problems[1].queries == (
        promql.render(promql.CONNTRACK_RATIO, {"node": 'instance="web-1:9100"'}, NODE_QUERIES.ranges),
    )


def test_a_healthy_host_and_one_without_limits_are_silent() -> None:
    assert (
        judge(
            cores={H: 4},
            load1={H: 2.0},
            cpu_busy={H: 0.5},
            memory_available={H: 600.0},
            memory_total={H: 1000.0},
            swap_pages={H: 3.0},
            fd_allocated={H: 100.0},
            fd_maximum={H: 1000.0},
            conntrack_entries={H: 900.0},
        )
        == []
    )
