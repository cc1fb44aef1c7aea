"""Judging containers on plain values, grouped by workload."""

from __future__ import annotations

from datetime import timedelta

from diagnostics import Severity
from probes.resources import promql
from probes.resources.judge_containers import ContainerThresholds, events, judge_containers
from probes.resources.problem import Problem
from tests.probes.resources.judging import CONTAINER_QUERIES, WINDOW, containers

MIB = 1024.0**2
POD_A = ("shop", "checkout-6b8f9d7c5c-q2w4z", "app")
POD_B = ("shop", "checkout-6b8f9d7c5c-x7kpl", "app")
SIDECAR = ("shop", "checkout-6b8f9d7c5c-q2w4z", "envoy")
CART = ("shop", "cart-5d7f8c9b4b-m2n4p", "app")
BARE = ("default", "debug-shell", "shell")
LIMITS = ContainerThresholds()


def judge(**kwargs: object) -> list[Problem]:
    return judge_containers(containers(**kwargs), CONTAINER_QUERIES, LIMITS, WINDOW)  # type: ignore[arg-type]


def measured(problem: Problem, name: str) -> object:
    return next(m.value for m in problem.values if m.name == name)


def test_throttled_replicas_of_a_deployment_are_one_finding_naming_the_worst() -> None:
    [problem] = judge(
        throttled_share={POD_A: 0.55, POD_B: 0.61, SIDECAR: 0.02},
        cpu_usage={POD_B: 0.98},
        cpu_limit={POD_B: 1.0},
    )
    assert (problem.kind, problem.severity) == ("cpu_throttling", Severity.CRITICAL)
    assert problem.title == "Container app of shop/checkout throttled in 61 % of CPU periods (2 pods)"
    assert problem.entity.kind == "workload"
    assert problem.entity.name == "shop/checkout"
    assert problem.entity.attributes == {
        "namespace": "shop",
        "workload": "checkout",
        "workload_kind": "Deployment",
        "pod": POD_B[1],
        "container": "app",
    }
    assert measured(problem, "cpu usage") == 0.98
    assert measured(problem, "affected pods") == 2
    assert [c["pod"] for c in problem.details["containers"]] == [POD_B[1], POD_A[1]]
    assert problem.onset_keys == (POD_B, POD_A)
    assert problem.queries[0].endswith('namespace="shop",container="app",pod=~"checkout-.+"}[5m]))')


def test_a_warning_level_of_throttling() -> None:
    [problem] = judge(throttled_share={CART: 0.3})
    assert problem.severity is Severity.WARNING


def test_kube_pod_owner_names_the_workload_over_the_pod_name() -> None:
    owner = {"owners": {"shop|cart-5d7f8c9b4b-m2n4p": {"owner_kind": "StatefulSet", "owner_name": "basket"}}}
    [problem] = judge(extra=owner, throttled_share={CART: 0.7}, owners={CART[:2]: 1.0})
    assert problem.entity.name == "shop/basket"
    assert problem.entity.attributes["workload_kind"] == "StatefulSet"


def test_a_container_at_97_percent_of_its_memory_limit() -> None:
    problems = judge(
        working_set={CART: 0.97 * 512 * MIB, POD_A: 0.5 * 512 * MIB, BARE: 10 * MIB},
        memory_limit={CART: 512 * MIB, POD_A: 512 * MIB},
    )
    [problem] = problems
    assert (problem.kind, problem.severity) == ("memory_limit", Severity.CRITICAL)
    assert problem.title == "Container app of shop/cart at 97 % of its 512.0 MiB memory limit"
    assert measured(problem, "limit used") == 0.97
    assert problem.onset_query is not None
    assert problem.onset_query.promql.endswith(") >= 0.9")


def test_oom_kills_from_cadvisor() -> None:
    [problem] = judge(ooms={CART: 2.2})
    assert (problem.kind, problem.severity) == ("container_oom", Severity.CRITICAL)
    assert problem.title == "Container app of shop/cart OOM-killed 2 times in the last 1h"
    assert problem.queries[0].startswith(
        "sum by (namespace, pod, container) (increase(container_oom_events_total{"
    )
    assert problem.onset_query is not None and problem.onset_query.dating == "first_event"


def test_oom_kills_from_kube_state_metrics_without_the_cadvisor_counter() -> None:
    reasons = {"last_terminated": {"shop|cart-5d7f8c9b4b-m2n4p|app": {"reason": "OOMKilled"}}}
    problems = judge(extra=reasons, restarts={CART: 1.0, POD_A: 2.0}, last_terminated={CART: 1.0})
    assert sorted((p.kind, p.entity.name) for p in problems) == [
        ("container_oom", "shop/cart"),
        ("container_restarts", "shop/cart"),
        ("container_restarts", "shop/checkout"),
    ]
    oom = next(p for p in problems if p.kind == "container_oom")
    assert oom.title == "Container app of shop/cart OOM-killed at its last restart (1 restart in the last 1h)"
    assert oom.queries[0].startswith("kube_pod_container_status_last_terminated_reason{")
    restart = next(p for p in problems if p.entity.name == "shop/cart" and p.kind == "container_restarts")
    assert (
        restart.title
        == "Container app of shop/cart restarted 1 time in the last 1h (last terminated: OOMKilled)"
    )


def test_only_the_last_of_several_restarts_is_known_to_be_an_oom_kill() -> None:
    """kube-state-metrics keeps the last termination reason only: 4 restarts are not 4 OOM kills."""
    reasons = {"last_terminated": {"shop|cart-5d7f8c9b4b-m2n4p|app": {"reason": "OOMKilled"}}}
    problems = judge(extra=reasons, restarts={CART: 4.0}, last_terminated={CART: 1.0})
    oom = next(p for p in problems if p.kind == "container_oom")
    assert oom.severity is Severity.CRITICAL
    assert (
        oom.title == "Container app of shop/cart OOM-killed at its last restart (4 restarts in the last 1h)"
    )
    assert "earlier restarts may have other causes" in oom.summary
    assert measured(oom, "oom kills") == 1
    assert measured(oom, "restarts") == 4
    assert oom.details["containers"] == [
        {"pod": CART[1], "container": "app", "value": 1, "source": "kube-state-metrics", "restarts": 4}
    ]
    # dated by the last restart, the one known to be an OOM kill, not by the first
    assert oom.onset_query is not None and oom.onset_query.dating == "last_event"
    assert oom.onset_query.promql == CONTAINER_QUERIES.fleet(promql.RESTART_EVENTS)
    restart = next(p for p in problems if p.kind == "container_restarts")
    assert (
        restart.title
        == "Container app of shop/cart restarted 4 times in the last 1h (last terminated: OOMKilled)"
    )
    assert restart.onset_query is not None and restart.onset_query.dating == "first_event"


def test_a_cadvisor_counter_counts_every_oom_kill_and_ignores_termination_reasons() -> None:
    reasons = {"last_terminated": {"shop|cart-5d7f8c9b4b-m2n4p|app": {"reason": "OOMKilled"}}}
    [oom] = [
        p
        for p in judge(extra=reasons, ooms={CART: 3.0}, restarts={CART: 4.0}, last_terminated={CART: 1.0})
        if p.kind == "container_oom"
    ]
    assert oom.title == "Container app of shop/cart OOM-killed 3 times in the last 1h"
    assert [m.name for m in oom.values] == ["oom kills", "affected pods"]


def test_crash_looping_is_critical() -> None:
    [problem] = judge(restarts={POD_A: 6.3})
    assert problem.severity is Severity.CRITICAL
    assert measured(problem, "restarts") == 6


def test_a_pod_without_a_workload_is_its_own_container() -> None:
    [problem] = judge(restarts={BARE: 1.0})
    assert problem.entity.kind == "container"
    assert problem.entity.name == "default/debug-shell/shell"
    assert problem.title == "Container default/debug-shell/shell restarted 1 time in the last 1h"
    assert 'pod="debug-shell"' in problem.queries[0]


def test_healthy_containers_are_silent() -> None:
    assert (
        judge(
            throttled_share={POD_A: 0.1, POD_B: 0.2},
            working_set={POD_A: 100 * MIB, BARE: 900 * MIB},
            memory_limit={POD_A: 512 * MIB},
        )
        == []
    )


def test_counter_increases_count_whole_events() -> None:
    assert [events(v) for v in (0.0, 0.3, 1.04, 2.6)] == [0, 1, 1, 3]


def test_event_queries_look_back_a_short_range_to_date_each_event() -> None:
    text = CONTAINER_QUERIES.fleet(promql.CONTAINER_OOM_EVENTS)
    assert text.endswith("[2m])) > 0")
    assert CONTAINER_QUERIES.ranges.window == timedelta(hours=1).total_seconds()
