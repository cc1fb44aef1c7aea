"""A synthetic fleet answering the resource probes' queries without a Prometheus.

:class:`SyntheticPrometheus` implements the probes' ``QueryClient``: every instant query gets one
sample per host, filesystem, device or container of a fleet of any size (values by the first
metric the query names), every range query the series of the few sick entities. It feeds the
real collect and judge code for unit tests and the benchmark (processing time, query counts).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from probes.prometheus.client import RangeResult, Sample, Series

GIB = 1024.0**3
_PARTS = {
    "filesystem": ("/", "/var", "/data"),
    "disk": ("sda", "sdb"),
    "network": ("eth0", "eth1"),
}
"""Mount points, block devices and interfaces of every synthetic host."""
_METRIC = re.compile(r"\b((?:node|container|kube)_[a-zA-Z0-9_]+)")
_DISCOVERED = re.compile(r'__name__=~"([^"]*)"')
"""The names each part of a discovery query looks for."""


def _host_value(metric: str, query: str, index: int, sick: bool) -> float:
    if metric == "node_cpu_seconds_total":
        if query.startswith("count"):
            return 8.0
        return 1.0 if sick else 0.3 + (index % 7) / 100
    return {
        "node_load1": 64.0 if sick else 2.0 + (index % 5) / 10,
        "node_procs_running": 60.0 if sick else 3.0,
        "node_memory_MemAvailable_bytes": 6 * GIB,
        "node_memory_MemTotal_bytes": 16 * GIB,
        "node_vmstat_pgmajfault": 5.0,
        "node_vmstat_pswpin": 0.0,
        "node_filesystem_avail_bytes": 10800.0 if sick and "deriv(" in query else 40 * GIB,
        "node_filesystem_size_bytes": 100 * GIB,
        "node_filesystem_files_free": 5e6,
        "node_filesystem_files": 6e6,
        "node_disk_io_time_seconds_total": 0.2,
        "node_disk_io_time_weighted_seconds_total": 0.4,
        "node_network_receive_errs_total": 0.0,
        "node_network_receive_drop_total": 0.1,
        "node_filefd_allocated": 5000.0,
        "node_filefd_maximum": 1e6,
        "node_nf_conntrack_entries": 1e4,
        "node_nf_conntrack_entries_limit": 262144.0,
        "node_uname_info": 1.0,
    }.get(metric, 0.0)


def _container_value(metric: str, index: int, sick: bool) -> float:
    return {
        "container_cpu_cfs_throttled_periods_total": 0.6 if sick else 0.02,
        "container_cpu_usage_seconds_total": 0.4,
        "container_spec_cpu_quota": 1.0,
        "container_memory_working_set_bytes": 0.5 * GIB,
        "container_spec_memory_limit_bytes": GIB,
        "kube_pod_owner": 1.0,
    }.get(metric, 0.0)


@dataclass(slots=True, kw_only=True)
class SyntheticPrometheus:
    """``hosts`` node_exporter hosts (3 filesystems, 2 disks, 2 interfaces each) and
    ``containers`` containers (10 per workload); the first host (CPU saturated, its ``/`` full
    in 3 h) and the first container (throttled 60 %) are sick."""

    hosts: int = 0
    containers: int = 0
    metrics: frozenset[str] = frozenset()
    """Metric names the fleet has (all the probes read, when empty)."""
    queries: list[str] = field(default_factory=list)

    def query(self, promql: str, at: datetime) -> tuple[Sample, ...]:
        self.queries.append(promql)
        moment = at.timestamp()
        if promql.startswith("count by (__name__)"):
            wanted = [n for group in _DISCOVERED.findall(promql) for n in group.replace("\\", "").split("|")]
            names = [n for n in wanted if not self.metrics or n in self.metrics]
            return tuple(Sample(labels={"__name__": n}, timestamp=moment, value=1.0) for n in names)
        if promql.startswith("up"):
            return ()  # every exporter is up
        found = _METRIC.search(promql)
        metric = found.group(1) if found else ""
        if metric.startswith("node_"):
            if "> 0" in promql and "deriv(" not in promql:
                return ()  # event counters: no OOM kill anywhere
            parts = _PARTS.get(metric.split("_")[1], ("",))
            return tuple(
                Sample(
                    labels={**self._host_labels(i), "mountpoint": part or "/", "device": part or "sda"},
                    timestamp=moment,
                    value=_host_value(metric, promql, i, i == 0 and j == 0),
                )
                for i in range(self.hosts)
                for j, part in enumerate(parts)
            )
        if metric.startswith(("container_", "kube_")):
            if "> 0" in promql and "limit_bytes" not in promql:
                return ()
            return tuple(
                Sample(
                    labels=self._container_labels(i),
                    timestamp=moment,
                    value=_container_value(metric, i, i == 0),
                )
                for i in range(self.containers)
            )
        return ()

    def query_range(self, promql: str, start: datetime, end: datetime, step: float) -> RangeResult:
        self.queries.append(promql)
        times = np.arange(start.timestamp(), end.timestamp() + 1, step)
        labels = self._host_labels(0) if "node_" in promql else self._container_labels(0)
        values = np.where(times >= end.timestamp() - 600, 1.0, np.nan)
        series = (Series(labels=labels, timestamps=times, values=values),)
        return RangeResult(
            query=promql, start=start.timestamp(), end=end.timestamp(), step=step, series=series
        )

    @staticmethod
    def _host_labels(index: int) -> Mapping[str, str]:
        name = f"node-{index:04d}"
        return {
            "instance": f"{name}:9100",
            "job": "node",
            "nodename": name,
            "mountpoint": "/",
            "device": "sda",
            "fstype": "ext4",
        }

    @staticmethod
    def _container_labels(index: int) -> Mapping[str, str]:
        workload = f"svc{index // 10:04d}"
        return {
            "namespace": f"team{index // 10 % 20}",
            "pod": f"{workload}-6b8f9d7c5c-{'bcdfghjklm'[index % 10]}x2k4",
            "container": "app",
            "owner_kind": "ReplicaSet",
            "owner_name": f"{workload}-6b8f9d7c5c",
        }
