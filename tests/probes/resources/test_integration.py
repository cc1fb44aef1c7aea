"""resources.nodes and resources.containers against a real Prometheus holding staged fleets."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from diagnostics import Finding, Severity, Status
from diagnostics.report.serialize import report_to_dict
from diagnostics.testing import ProbeRun, run_probe
from probes.prometheus.client import PrometheusClient, RangeResult, Sample
from probes.prometheus.config import PrometheusConfig
from probes.resources.client import Fetcher, QueryClient
from probes.resources.containers import ContainerResourcesProbe
from probes.resources.nodes import NodeOptions, NodeResourcesProbe, fleet_problems
from tests.probes.resources import fleets
from tests.support.prometheus import PrometheusDataset, PrometheusServer

pytestmark = pytest.mark.integration

Servers = Callable[[PrometheusDataset], PrometheusServer]
NODE_OPTIONS = {"baseline": "2h"}


def value(finding: Finding, name: str) -> object:
    return next(m.value for m in finding.evidence.values if m.name == name)


def near(
    moment: datetime | None,
    expected: datetime,
    *,
    after: timedelta = timedelta(0),
    slack: timedelta = timedelta(seconds=30),
) -> bool:
    """``moment`` is ``expected`` (within ``slack``), or up to ``after`` later (a rate's lag)."""
    return moment is not None and expected - slack <= moment <= expected + after + slack


def only(run: ProbeRun, kind: str, entity: str) -> Finding:
    [finding] = [f for f in run.findings if f.kind == kind and f.entity.name == entity]
    return finding


@pytest.fixture(scope="module")
def incident_nodes(prometheus_server: Servers) -> ProbeRun:
    server = prometheus_server(fleets.INCIDENTS)
    return run_probe(
        NodeResourcesProbe,
        config={"prometheus": server.config()},
        options=NODE_OPTIONS,
        at=fleets.AT,
        window=fleets.WINDOW,
    )


@pytest.fixture(scope="module")
def incident_containers(prometheus_server: Servers) -> ProbeRun:
    server = prometheus_server(fleets.INCIDENTS)
    return run_probe(
        ContainerResourcesProbe, config={"prometheus": server.config()}, at=fleets.AT, window=fleets.WINDOW
    )


def test_every_staged_host_incident_and_nothing_else(incident_nodes: ProbeRun) -> None:
    assert incident_nodes.outcome.status is Status.CRITICAL, incident_nodes.outcome.error
    assert sorted((f.kind, f.entity.name) for f in incident_nodes.findings) == [
        ("cpu_saturation", "api-7"),
        ("disk_filling", "db-1:/data"),
        ("disk_space", "db-1:/backup"),
        ("network_errors", "edge-3"),
        ("oom_kill", "batch-2"),
    ]


def test_a_disk_filling_to_full_in_three_hours(incident_nodes: ProbeRun) -> None:
    finding = only(incident_nodes, "disk_filling", "db-1:/data")
    assert finding.severity is Severity.CRITICAL
    assert finding.entity.kind == "filesystem"
    assert finding.entity.attributes == {
        "host": "db-1",
        "mountpoint": "/data",
        "instance": "db-1:9100",
        "device": "/dev/nvme1n1",
        "fstype": "ext4",
    }
    assert value(finding, "time to full") == pytest.approx(3 * 3600, rel=0.01)
    assert finding.title.startswith("Disk /data on db-1 full in 3h")
    free = fleets.FILL_FREE_AT_ONSET - fleets.FILL_RATE * 75 * 60
    assert value(finding, "available") == pytest.approx(free, rel=1e-3)
    # the forecast says "full within 24 h" once the last hour's trend has turned
    assert near(finding.onset, fleets.FILL_ONSET, after=timedelta(minutes=20))
    assert finding.evidence.queries[0] == (
        'predict_linear(node_filesystem_avail_bytes{instance="db-1:9100",mountpoint="/data"}[1h], 86400)'
    )


def test_a_disk_emptied_minutes_ago_is_not_full_in_seconds(incident_nodes: ProbeRun) -> None:
    # its hour-long trend still falls steeply, but the last minutes do not: filling no more
    assert [f for f in incident_nodes.findings if f.entity.name == "db-2:/data"] == []


def test_a_disk_full_since_before_the_window_is_not_dated_at_the_windows_start(
    incident_nodes: ProbeRun,
) -> None:
    finding = only(incident_nodes, "disk_space", "db-1:/backup")
    assert finding.severity is Severity.CRITICAL
    assert finding.title == "Disk /backup on db-1 96.0 % full (20.0 GiB free)"
    assert finding.onset is None
    assert finding.evidence.details["began_before_window"] is True
    assert finding.summary.endswith(
        "This was already so when the diagnosed window began: it started earlier."
    )
    # so it is no new event on the summary's timeline, unlike the disk that began filling in the window
    assert incident_nodes.report.summary is not None
    timeline = [event.entity.name for event in incident_nodes.report.summary.timeline]
    assert "db-1:/backup" not in timeline and "db-1:/data" in timeline


def test_a_host_at_full_cpu_with_load_eight_times_its_cores(incident_nodes: ProbeRun) -> None:
    finding = only(incident_nodes, "cpu_saturation", "api-7")
    assert finding.severity is Severity.CRITICAL
    assert finding.title == "CPU saturated on api-7: load 32.0 on 4 cores (8.0 per core), 100 % busy"
    assert finding.entity.kind == "host"
    assert finding.entity.attributes == {"instance": "api-7:9100", "job": "node", "node": "api-7"}
    assert value(finding, "load per core") == 8.0
    assert value(finding, "cores") == 4
    assert value(finding, "cpu utilization") == pytest.approx(1.0, abs=0.001)
    assert value(finding, "runnable processes") == 32
    assert near(finding.onset, fleets.CPU_ONSET)
    assert finding.evidence.queries[0] == (
        'node_load1{instance="api-7:9100"} / on (instance) count by (instance) '
        '(node_cpu_seconds_total{mode="idle",instance="api-7:9100"})'
    )


def test_an_oom_kill_on_a_host(incident_nodes: ProbeRun) -> None:
    finding = only(incident_nodes, "oom_kill", "batch-2")
    assert finding.severity is Severity.CRITICAL
    assert finding.title == "OOM killer fired 1 time on batch-2 in the last 2h"
    assert value(finding, "oom kills") == 1
    assert near(finding.onset, fleets.HOST_OOM_AT)


def test_drops_departing_from_the_interfaces_own_baseline(incident_nodes: ProbeRun) -> None:
    finding = only(incident_nodes, "network_errors", "edge-3")
    assert finding.severity is Severity.WARNING
    assert finding.title.startswith("Interface eth0 on edge-3: 0.0 errors/s, 4")
    assert "drops/s (normally up to" in finding.title
    assert value(finding, "drops") == pytest.approx(40, rel=0.05)
    assert near(finding.onset, fleets.DROPS_ONSET, after=timedelta(minutes=2))
    assert finding.evidence.details["interfaces"] == [
        {"device": "eth0", "errors_per_s": 0.0, "drops_per_s": value(finding, "drops")}
    ]


def test_every_staged_container_incident_and_nothing_else(incident_containers: ProbeRun) -> None:
    assert incident_containers.outcome.status is Status.CRITICAL, incident_containers.outcome.error
    # pod-level cgroups near their limit, sidecars and a bare pod's old restarts stay silent
    assert sorted((f.kind, f.entity.name) for f in incident_containers.findings) == [
        ("container_oom", "jobs/report-worker"),
        ("container_restarts", "jobs/report-worker"),
        ("cpu_throttling", "shop/checkout"),
        ("memory_limit", "shop/cart"),
    ]


def test_a_container_throttled_in_sixty_percent_of_its_periods(incident_containers: ProbeRun) -> None:
    finding = only(incident_containers, "cpu_throttling", "shop/checkout")
    assert finding.severity is Severity.CRITICAL
    assert finding.title == "Container app of shop/checkout throttled in 60 % of CPU periods (2 pods)"
    assert finding.entity.kind == "workload"
    assert finding.entity.attributes == {
        "namespace": "shop",
        "workload": "checkout",
        "workload_kind": "Deployment",
        "pod": "checkout-6b8f9d7c5c-q2w4z",
        "container": "app",
    }
    assert value(finding, "throttled periods") == pytest.approx(0.60, abs=0.005)
    assert value(finding, "cpu limit") == 1.0
    assert value(finding, "affected pods") == 2
    pods = [(c["pod"], c["container"], round(c["value"], 2)) for c in finding.evidence.details["containers"]]
    assert pods == [("checkout-6b8f9d7c5c-q2w4z", "app", 0.60), ("checkout-6b8f9d7c5c-x7kpl", "app", 0.55)]
    assert near(finding.onset, fleets.THROTTLE_ONSET, after=timedelta(minutes=5))
    assert 'namespace="shop",container="app",pod=~"checkout-.+"}' in finding.evidence.queries[0]


def test_a_container_at_97_percent_of_its_memory_limit(incident_containers: ProbeRun) -> None:
    finding = only(incident_containers, "memory_limit", "shop/cart")
    assert finding.severity is Severity.CRITICAL
    assert finding.title == "Container app of shop/cart at 97 % of its 512.0 MiB memory limit"
    assert value(finding, "limit used") == pytest.approx(0.97, abs=0.001)
    assert value(finding, "memory limit") == fleets.CART_LIMIT
    assert near(finding.onset, fleets.MEMORY_ONSET)


def test_an_oom_killed_container_and_its_restart(incident_containers: ProbeRun) -> None:
    oom = only(incident_containers, "container_oom", "jobs/report-worker")
    assert oom.severity is Severity.CRITICAL
    assert oom.title == "Container worker of jobs/report-worker OOM-killed 1 time in the last 2h"
    assert oom.entity.attributes["pod"] == "report-worker-7c9d5f6b8-z5z6q"
    assert near(oom.onset, fleets.CONTAINER_OOM_AT)
    restart = only(incident_containers, "container_restarts", "jobs/report-worker")
    assert restart.severity is Severity.WARNING
    assert restart.title.endswith("restarted 1 time in the last 2h (last terminated: OOMKilled)")
    assert near(restart.onset, fleets.CONTAINER_OOM_AT + timedelta(seconds=20))


def test_without_cadvisor_spec_series_the_memory_limit_comes_from_kube_state_metrics(
    prometheus_server: Servers,
) -> None:
    server = prometheus_server(fleets.SPEC_DROPPED)
    run = run_probe(
        ContainerResourcesProbe, config={"prometheus": server.config()}, at=fleets.AT, window="1h"
    )
    [limit] = run.findings
    assert (limit.kind, limit.severity, limit.entity.name) == ("memory_limit", Severity.CRITICAL, "shop/cart")
    assert limit.title == "Container app of shop/cart at 97 % of its 512.0 MiB memory limit"
    assert value(limit, "memory limit") == fleets.CART_LIMIT
    assert "kube_pod_container_resource_limits" in limit.evidence.queries[0]
    [container] = limit.evidence.details["containers"]  # type: ignore[misc]
    assert container["limit_source"] == "kube-state-metrics"
    assert near(limit.onset, fleets.MEMORY_ONSET)


def test_a_kubelet_selector_still_judges_restarts_from_kube_state_metrics(prometheus_server: Servers) -> None:
    """cAdvisor series come from the kubelets' job, kube-state-metrics' from its own."""
    server = prometheus_server(fleets.INCIDENTS)
    run = run_probe(
        ContainerResourcesProbe,
        config={"prometheus": server.config()},
        options={"selector": 'job="kubelet"', "kube_state_selector": 'job="kube-state-metrics"'},
        at=fleets.AT,
        window=fleets.WINDOW,
    )
    assert sorted((f.kind, f.entity.name) for f in run.findings) == [
        ("container_oom", "jobs/report-worker"),
        ("container_restarts", "jobs/report-worker"),
        ("cpu_throttling", "shop/checkout"),
        ("memory_limit", "shop/cart"),
    ]
    restart = only(run, "container_restarts", "jobs/report-worker")
    assert restart.title.endswith("(last terminated: OOMKilled)")
    assert near(restart.onset, fleets.CONTAINER_OOM_AT + timedelta(seconds=20))
    assert 'restarts_total{job="kube-state-metrics",namespace="jobs"' in restart.evidence.queries[0]
    throttled = only(run, "cpu_throttling", "shop/checkout")
    assert 'periods_total{job="kubelet",namespace="shop"' in throttled.evidence.queries[0]


@pytest.mark.parametrize(
    ("probe", "options"),
    [(NodeResourcesProbe, {}), (NodeResourcesProbe, {"baseline": "1h"}), (ContainerResourcesProbe, {})],
    ids=["nodes-defaults", "nodes-1h-baseline", "containers-defaults"],
)
def test_a_healthy_fleet_of_fifty_nodes_yields_nothing(
    prometheus_server: Servers, probe: type, options: dict[str, str]
) -> None:
    server = prometheus_server(fleets.HEALTHY)
    run = run_probe(probe, config={"prometheus": server.config()}, options=options, at=fleets.AT)
    assert run.outcome.status is Status.OK, run.outcome.error
    assert run.findings == ()


class RangeRecorder:
    """A client that keeps every range query's answer."""

    def __init__(self, client: QueryClient) -> None:
        self.client = client
        self.ranges: list[RangeResult] = []

    def query(self, promql: str, at: datetime) -> tuple[Sample, ...]:
        return self.client.query(promql, at)

    def query_range(self, promql: str, start: datetime, end: datetime, step: float) -> RangeResult:
        self.ranges.append(self.client.query_range(promql, start, end, step))
        return self.ranges[-1]


def test_the_healthy_fleet_is_judged_against_a_full_default_baseline(prometheus_server: Servers) -> None:
    """Silence with the defaults is not for want of history: the steady hosts above a floor are
    compared with a whole day, and are normal for themselves."""
    server = prometheus_server(fleets.HEALTHY)
    with PrometheusClient(PrometheusConfig(url=server.url), deadline=time.monotonic() + 60) as client:
        recorder = RangeRecorder(client)
        snapshot, problems = fleet_problems(
            Fetcher(recorder, at=fleets.AT), NodeOptions(), timedelta(hours=1)
        )
    assert problems == []
    assert {name: len(found) for name, found in snapshot.departures.items()} == {
        "major_faults": 0,
        "disk_queue": 0,
        "net_faults": 0,
    }
    # major faults (busy-pager) and errors + drops (lossy-nic): a recent range and a baseline each
    assert len(recorder.ranges) == 4
    baselines = [r for r in recorder.ranges if r.end - r.start >= 86400 - 3600]
    assert [len(r.series) for r in baselines] == [1, 1]
    for baseline in baselines:
        grid = baseline.grid()
        assert grid.present.mean() >= 0.95  # the day is covered, not merely its last hours


@pytest.mark.parametrize(
    ("probe", "exporter", "hint"),
    [
        (NodeResourcesProbe, "no node_exporter metrics (node_cpu_seconds_total", "install node_exporter"),
        (
            ContainerResourcesProbe,
            "no cAdvisor metrics (container_cpu_usage_seconds_total",
            "/metrics/cadvisor",
        ),
    ],
)
def test_absent_exporter_metrics_skip_the_probe_and_say_which(
    prometheus_server: Servers, probe: type, exporter: str, hint: str
) -> None:
    server = prometheus_server(fleets.INCIDENTS)
    run = run_probe(
        probe, config={"prometheus": server.config()}, options={"selector": 'job="absent"'}, at=fleets.AT
    )
    assert run.outcome.status is Status.SKIPPED
    assert run.outcome.error is not None and run.outcome.error.startswith(exporter)
    assert run.outcome.hint is not None and hint in run.outcome.hint
    assert run.findings == ()


def test_a_node_exporter_that_stopped_answering_is_a_finding_not_a_setup_hint(
    prometheus_server: Servers,
) -> None:
    server = prometheus_server(fleets.DEAD_EXPORTER)
    run = run_probe(
        NodeResourcesProbe,
        config={"prometheus": server.config()},
        options=NODE_OPTIONS,
        at=fleets.AT,
        window="1h",
    )
    assert run.outcome.status is Status.WARNING, run.outcome.error
    # new-2's 10 minutes of falling free space do not tell "full in 10h"
    [down] = run.findings
    assert (down.kind, down.severity, down.entity.kind, down.entity.name) == (
        "exporter_down",
        Severity.WARNING,
        "host",
        "gone-1",
    )
    assert down.title == f"node exporter on gone-1 down since {fleets.EXPORTER_DIED:%Y-%m-%d %H:%M:%S}Z"
    assert near(down.onset, fleets.EXPORTER_DIED)
    assert (
        down.entity.attributes["job"] == "node" and down.evidence.details["scrape_probe"] == "metrics.scrape"
    )
    # alone in Prometheus, the dead exporter still makes a finding, not a skip
    alone = run_probe(
        NodeResourcesProbe,
        config={"prometheus": server.config()},
        options={**NODE_OPTIONS, "selector": 'instance="gone-1:9100"'},
        at=fleets.AT,
        window="1h",
    )
    assert alone.outcome.status is Status.WARNING
    assert [f.kind for f in alone.findings] == ["exporter_down"]


def test_the_token_never_appears_in_the_report(prometheus_server: Servers) -> None:
    server = prometheus_server(fleets.INCIDENTS)
    token = "tok-Secret-8c1f0e"
    run = run_probe(
        ContainerResourcesProbe,
        config={"prometheus": server.config(bearer_token=token)},
        at=fleets.AT,
        window=fleets.WINDOW,
    )
    assert run.outcome.status is Status.CRITICAL
    assert token not in json.dumps(report_to_dict(run.report))


def test_an_unreachable_prometheus_is_a_connect_error_without_the_password() -> None:
    from tests.support.ports import free_port

    password = "pw-Secret-41d9"
    config = {
        "url": f"http://127.0.0.1:{free_port()}",
        "basic_auth": {"username": "diag", "password": password},
    }
    run = run_probe(NodeResourcesProbe, config={"prometheus": config}, at=fleets.AT)
    assert run.outcome.status is Status.ERROR
    assert run.outcome.error_kind is not None and run.outcome.error_kind.value == "connect"
    assert "Connection refused" in (run.outcome.error or "")
    assert password not in json.dumps(report_to_dict(run.report))
