"""resources.nodes and resources.containers on a fleet of 1,000 hosts and 10,000 containers.

Claims: judging 1,000 hosts (3 filesystems, 2 disks, 2 interfaces each) and 10,000 containers
takes < 3 s of our own processing beyond Prometheus' query time, with a number of queries that
does not depend on the size of the fleet.

1. Synthetic: the real collect, judge and onset code fed by :class:`SyntheticPrometheus`, its
   answers recorded once and replayed, so the time is only ours (vector building, judging,
   findings); query counts for fleets of 10 and 1,000 hosts, 20 and 10,000 containers.
2. Real Prometheus (skip with ``--synthetic-only``): the same fleet staged with promtool
   (20 minutes every 60 s), both probes' collect path over HTTP; Prometheus' query time is
   measured by replaying every query the probes made with bare HTTP requests (no parsing),
   and our processing is the probes' wall time minus that.

    .venv/bin/python benchmarks/bench_resources.py [--synthetic-only]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from diagnostics import Finding, ProbeContext
from probes.prometheus.client import RangeResult, Sample
from probes.resources.client import Fetcher, QueryClient
from probes.resources.containers import ContainerOptions, ContainerResourcesProbe
from probes.resources.containers import fleet_problems as container_problems
from probes.resources.nodes import NodeOptions, NodeResourcesProbe
from probes.resources.nodes import fleet_problems as node_problems
from probes.resources.problem import to_findings
from tests.probes.resources.fleets import AT
from tests.probes.resources.synthetic import SyntheticPrometheus

HOSTS, CONTAINERS = 1_000, 10_000
WINDOW = timedelta(hours=1)


def run_nodes(client: QueryClient, options: NodeOptions) -> tuple[list[Finding], Fetcher]:
    """resources.nodes' run, minus the HTTP client's construction."""
    ctx = ProbeContext(probe_id=NodeResourcesProbe.id, at=AT, window=WINDOW, options=options)
    fetcher = Fetcher(client, at=AT)
    _, problems = node_problems(fetcher, options, WINDOW)
    return to_findings(problems, ctx.finding), fetcher


def run_containers(client: QueryClient, options: ContainerOptions) -> tuple[list[Finding], Fetcher]:
    """resources.containers' run, minus the HTTP client's construction."""
    ctx = ProbeContext(probe_id=ContainerResourcesProbe.id, at=AT, window=WINDOW, options=options)
    fetcher = Fetcher(client, at=AT)
    _, problems = container_problems(fetcher, options, WINDOW)
    return to_findings(problems, ctx.finding), fetcher


class Replay:
    """Answers recorded from another client, so that replaying costs a dict lookup."""

    def __init__(self, source: QueryClient) -> None:
        self.source = source
        self.answers: dict[tuple[str, str], Any] = {}
        self.recording = True

    def query(self, promql: str, at: datetime) -> tuple[Sample, ...]:
        """The recorded answer (asked of the source while recording)."""
        if self.recording:
            self.answers["instant", promql] = self.source.query(promql, at)
        return self.answers["instant", promql]  # type: ignore[no-any-return]

    def query_range(self, promql: str, start: datetime, end: datetime, step: float) -> RangeResult:
        """The recorded answer (asked of the source while recording)."""
        if self.recording:
            self.answers["range", promql] = self.source.query_range(promql, start, end, step)
        return self.answers["range", promql]  # type: ignore[no-any-return]


def best_of(runs: int, work: Callable[[], object]) -> tuple[float, float]:
    """The best and the median time of ``runs`` calls of ``work``."""
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        work()
        times.append(time.perf_counter() - began)
    return min(times), statistics.median(times)


def synthetic() -> None:
    """Part 1: query counts and our processing time on synthetic fleets, answers replayed."""
    print(f"== synthetic: {HOSTS} hosts, {CONTAINERS} containers, answers replayed (our processing only)")
    for size in (10, HOSTS):
        fleet = SyntheticPrometheus(hosts=size)
        findings, fetcher = run_nodes(fleet, NodeOptions())
        print(
            f"resources.nodes      {size:>6} hosts:      {len(fetcher.records):>3} queries, {len(findings)} findings"
        )
    for size in (20, CONTAINERS):
        fleet = SyntheticPrometheus(containers=size)
        findings, fetcher = run_containers(fleet, ContainerOptions())
        print(
            f"resources.containers {size:>6} containers: {len(fetcher.records):>3} queries, {len(findings)} findings"
        )
    nodes = Replay(SyntheticPrometheus(hosts=HOSTS))
    run_nodes(nodes, NodeOptions())
    containers = Replay(SyntheticPrometheus(containers=CONTAINERS))
    run_containers(containers, ContainerOptions())
    nodes.recording = containers.recording = False
    node_best, node_median = best_of(5, lambda: run_nodes(nodes, NodeOptions()))
    container_best, container_median = best_of(5, lambda: run_containers(containers, ContainerOptions()))
    print(f"resources.nodes      processing: {node_best:.3f} s best, {node_median:.3f} s median of 5")
    print(
        f"resources.containers processing: {container_best:.3f} s best, {container_median:.3f} s median of 5"
    )
    print(f"both:                processing: {node_best + container_best:.3f} s (claim: < 3 s)")


def real_prometheus() -> None:
    """Part 2: the fleet staged in a real Prometheus; our processing is wall time minus its answers'."""
    import numpy as np
    import requests

    from probes.prometheus.client import PrometheusClient
    from probes.prometheus.config import PrometheusConfig
    from tests.probes.resources.fleets import healthy_containers, healthy_hosts
    from tests.probes.resources.staging import container_series, host_series, unique
    from tests.support.prometheus import PrometheusDataset, start_prometheus

    step = 60.0
    times = AT.timestamp() - step * np.arange(21, dtype=np.float64)[::-1]

    def fleet() -> Any:
        hosts = healthy_hosts()
        for index in range(HOSTS):
            template = hosts[index % len(hosts)]
            yield from host_series(
                type(template)(
                    **{
                        **_fields(template),
                        "instance": f"node-{index:04d}:9100",
                        "nodename": f"node-{index:04d}",
                    }
                ),
                times,
                step,
            )
        containers = healthy_containers()
        for index in range(CONTAINERS):
            model = containers[index % len(containers)]
            pod = f"svc{index // 10:04d}-6b8f9d7c5c-{'bcdfghjklm'[index % 10]}x2k4"
            changed = {
                **_fields(model),
                "pod": pod,
                "owner": ("ReplicaSet", f"svc{index // 10:04d}-6b8f9d7c5c"),
            }
            yield from unique(container_series(type(model)(**changed), times, step))

    print(f"\n== real Prometheus: {HOSTS} hosts, {CONTAINERS} containers, 20 minutes every 60 s")
    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as workdir:
        server = start_prometheus(PrometheusDataset(name="bench", series=fleet), Path(workdir))
        print(f"staged and started in {time.perf_counter() - began:.0f} s")
        try:
            config = PrometheusConfig(url=server.url, timeout="60s")
            runs: list[tuple[str, Callable[[QueryClient], tuple[list[Finding], Fetcher]]]] = [
                ("resources.nodes", lambda client: run_nodes(client, NodeOptions())),
                ("resources.containers", lambda client: run_containers(client, ContainerOptions())),
            ]
            for name, run in runs:
                client = Recorder(PrometheusClient(config, deadline=time.monotonic() + 600))
                run(client)  # warms Prometheus' caches
                walls, raws, own = [], [], []
                for _ in range(3):
                    client.calls.clear()
                    began = time.perf_counter()
                    findings, fetcher = run(client)
                    walls.append(time.perf_counter() - began)
                    raws.append(client.replay_raw(requests, server.url))
                    own.append(walls[-1] - raws[-1])
                series = sum(r.series for r in fetcher.records)
                print(
                    f"{name:<21} {len(fetcher.records):>3} queries ({series} series returned), "
                    f"{len(findings)} findings: wall {min(walls):.3f} s, Prometheus + HTTP {min(raws):.3f} s, "
                    f"our processing {statistics.median(own):.3f} s (median of 3)"
                )
        finally:
            server.stop()


class Recorder:
    """Passes queries to a client and keeps their exact parameters, to replay them bare."""

    def __init__(self, client: QueryClient) -> None:
        self.client = client
        self.calls: list[tuple[str, dict[str, str]]] = []

    def query(self, promql: str, at: datetime) -> tuple[Sample, ...]:
        """Record the request, then pass it on."""
        self.calls.append(("/api/v1/query", {"query": promql, "time": f"{at.timestamp():.3f}"}))
        return self.client.query(promql, at)

    def query_range(self, promql: str, start: datetime, end: datetime, step: float) -> RangeResult:
        """Record the request, then pass it on."""
        params = {"query": promql, "start": f"{round(start.timestamp())}", "end": f"{round(end.timestamp())}"}
        self.calls.append(("/api/v1/query_range", {**params, "step": f"{step:g}"}))
        return self.client.query_range(promql, start, end, step)

    def replay_raw(self, requests: Any, url: str) -> float:
        """Seconds Prometheus takes to answer the same requests, bodies downloaded, not parsed."""
        session = requests.Session()
        began = time.perf_counter()
        for path, params in self.calls:
            _ = session.get(url + path, params=params, timeout=60).content
        return time.perf_counter() - began


def _fields(instance: Any) -> dict[str, Any]:
    return {name: getattr(instance, name) for name in instance.__dataclass_fields__}


def main() -> None:
    """Run the synthetic part, then (unless ``--synthetic-only``) the real one."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--synthetic-only", action="store_true")
    arguments = parser.parse_args()
    synthetic()
    if not arguments.synthetic_only:
        real_prometheus()


if __name__ == "__main__":
    main()
