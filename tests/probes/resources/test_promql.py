"""PromQL templates: rendering, narrowing to one entity, matcher validation, discovery."""

from __future__ import annotations

from datetime import timedelta

import pytest

from probes.resources import promql
from probes.resources.client_containers import all_metrics as container_metrics
from probes.resources.client_nodes import SIGNALS, all_metrics
from probes.resources.containers import ContainerOptions
from probes.resources.containers import query_set as container_queries


def test_rendering_fills_ranges_and_tidies_empty_matchers() -> None:
    ranges = promql.Ranges(rate=300, window=7200)
    assert (
        promql.render(promql.CORES, {"node": ""}, ranges)
        == 'count by (instance) (node_cpu_seconds_total{mode="idle"})'
    )
    assert promql.render(promql.LOAD1, {"node": ""}, ranges) == "node_load1"
    assert (
        promql.render(promql.OOM_KILLS, {"node": 'job="node"'}, ranges)
        == 'increase(node_vmstat_oom_kill{job="node"}[2h]) > 0'
    )
    assert promql.render(promql.MAJOR_FAULTS, {"node": ""}, ranges, at=1741089600) == (
        "rate(node_vmstat_pgmajfault[5m] @ 1741089600.000)"
    )


@pytest.mark.parametrize(
    ("seconds", "text"), [(300, "5m"), (3600, "1h"), (86400, "1d"), (90, "90s"), (0.2, "1s")]
)
def test_durations_are_written_the_prometheus_way(seconds: float, text: str) -> None:
    assert promql.seconds(seconds) == text


def test_a_scoped_query_narrows_every_selector_to_the_entity() -> None:
    queries = promql.QuerySet(matchers={"fs": 'fstype!~"tmpfs"'}, ranges=promql.Ranges(rate=300, window=3600))
    scoped = queries.scoped(promql.FS_USED_RATIO, {"instance": "db-1:9100", "mountpoint": '/we"ird'})
    # the built-in exclusions are left out: the entity's labels already select it
    assert scoped == (
        '1 - node_filesystem_avail_bytes{instance="db-1:9100",mountpoint="/we\\"ird"}'
        ' / node_filesystem_size_bytes{instance="db-1:9100",mountpoint="/we\\"ird"}'
    )
    assert queries.fleet(promql.FS_AVAILABLE) == 'node_filesystem_avail_bytes{fstype!~"tmpfs"}'
    assert queries.breach(promql.FS_USED_RATIO, ">=", 0.85).endswith(") >= 0.85")


def test_time_to_full_needs_the_long_and_the_recent_trend_falling() -> None:
    queries = promql.QuerySet(
        matchers={"fs": ""}, ranges=promql.Ranges(rate=300, window=3600, trend=3600, horizon=86400)
    )
    text = queries.fleet(promql.FS_TIME_TO_FULL)
    assert text.startswith("( node_filesystem_avail_bytes / -(")
    assert text.count("deriv(node_filesystem_avail_bytes[1h])") == 1
    assert text.count("deriv(node_filesystem_avail_bytes[5m])") == 2
    assert ") < 0 ) > 0 <= 86400 )" in text
    assert text.endswith("<= 24 * (time() - min_over_time(timestamp(node_filesystem_avail_bytes)[1h:1m]))")


@pytest.mark.parametrize("text", ['job="node"', 'job="node", env!~"dev|test"', 'a=~"x,y",b!="z"', ""])
def test_label_matchers_are_accepted(text: str) -> None:
    assert promql.check_matchers(text) == text.strip()


@pytest.mark.parametrize("text", ["job=node", '{job="node"}', 'job="node"} or vector(1)', 'job="a" b="c"'])
def test_anything_but_label_matchers_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="expected PromQL label matchers"):
        promql.check_matchers(text)


def test_discovery_asks_for_every_metric_a_signal_needs() -> None:
    names = all_metrics()
    assert {m for _, _, metrics in SIGNALS.values() for m in metrics} <= set(names)
    assert (
        "node_cpu_seconds_total" in names
        and "container_cpu_cfs_throttled_periods_total" in container_metrics()
    )


def test_regex_literals_escape_only_what_re2_needs() -> None:
    assert promql.regex_literal("report-worker") == "report-worker"
    assert promql.regex_literal("a.b(c)|d") == "a\\.b\\(c\\)\\|d"
    assert promql.regex_alternatives(["node_load1", "node_procs_running"]) == "node_load1|node_procs_running"


def test_a_user_selector_applies_to_scoped_queries_too() -> None:
    queries = promql.QuerySet(
        matchers={"node": 'job="node"'},
        ranges=promql.Ranges(rate=300, window=3600),
        scopes={"node": 'job="node"'},
    )
    assert (
        queries.scoped(promql.LOAD1, {"instance": "web-1:9100"})
        == 'node_load1{job="node",instance="web-1:9100"}'
    )


KUBELET = ContainerOptions(selector='job="kubelet"', kube_state_selector='job="kube-state-metrics"')


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        (
            promql.THROTTLED_SHARE,
            'sum by (namespace, pod, container) (rate(container_cpu_cfs_throttled_periods_total{container!="",container!="POD",pod!="",job="kubelet"}[5m]))'
            ' / sum by (namespace, pod, container) (rate(container_cpu_cfs_periods_total{container!="",container!="POD",pod!="",job="kubelet"}[5m]))',
        ),
        (
            promql.RESTARTS,
            'sum by (namespace, pod, container) (increase(kube_pod_container_status_restarts_total{container!="",pod!="",job="kube-state-metrics"}[1h])) > 0',
        ),
        (
            promql.LAST_TERMINATED,
            'kube_pod_container_status_last_terminated_reason{container!="",pod!="",job="kube-state-metrics"} == 1'
            " and on (namespace, pod, container)"
            ' (increase(kube_pod_container_status_restarts_total{container!="",pod!="",job="kube-state-metrics"}[1h]) > 0)',
        ),
        (promql.POD_OWNERS, 'kube_pod_owner{owner_is_controller="true",pod!="",job="kube-state-metrics"}'),
    ],
)
def test_each_exporter_of_containers_has_its_own_selector(template: str, expected: str) -> None:
    assert container_queries(KUBELET, timedelta(hours=1)).fleet(template) == expected


def test_a_finding_query_keeps_the_selector_of_its_exporter() -> None:
    queries = container_queries(KUBELET, timedelta(hours=1))
    scope = {"namespace": "shop", "container": "app"}
    assert queries.scoped(promql.RESTARTS, scope, regex={"pod": "cart-.+"}) == (
        "sum by (namespace, pod, container) (increase(kube_pod_container_status_restarts_total"
        '{job="kube-state-metrics",namespace="shop",container="app",pod=~"cart-.+"}[1h])) > 0'
    )
    assert queries.scoped(promql.WORKING_SET, scope) == (
        'max by (namespace, pod, container) (container_memory_working_set_bytes{job="kubelet",namespace="shop",container="app"})'
    )


def test_discovery_is_one_query_with_a_part_per_scope() -> None:
    assert promql.discovery({"": ["node_load1", "node_cpu_seconds_total"]}) == (
        'count by (__name__) ({__name__=~"node_cpu_seconds_total|node_load1"})'
    )
    assert promql.discovery({'job="a"': ["x_total"], 'job="b"': ["y", "z"], 'job="c"': []}) == (
        'count by (__name__) ({__name__=~"x_total",job="a"}) or on (__name__) count by (__name__) ({__name__=~"y|z",job="b"})'
    )
