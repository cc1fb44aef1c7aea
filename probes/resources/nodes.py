"""``resources.nodes``: every host Prometheus scrapes with node_exporter, USE method.

Signals (one instant query each across the fleet) and default thresholds:

- CPU saturation (``cpu_saturation``): 1-minute load per core >= 1.5 (warning), >= 3
  (critical); or >= 90 % busy with load per core >= 1 (warning). Evidence: utilization, load,
  cores, runnable processes (the run queue).
- Memory (``memory_pressure``): MemAvailable <= 10 % (warning), <= 5 % (critical) of MemTotal;
  swap in+out >= 256 pages/s (warning); major page faults departing upwards from the host's
  baseline while >= 100/s (warning).
- OOM kills (``oom_kill``): any ``node_vmstat_oom_kill`` increase in the window (critical).
- Disk space per mount (``disk_space``): used >= 85 % (warning), >= 95 % (critical); time to
  full from ``predict_linear`` over the last hour (``disk_filling``): <= 24 h (warning), <= 4 h
  (critical). Inodes (``inodes``): >= 85 % / >= 95 %.
- Disk I/O (``disk_io_saturation``): device busy >= 90 % of the time (warning), and an average
  queue depth >= 8 (critical); or a queue depth departing from its baseline while >= 1 (warning).
- Network (``network_errors``): errors >= 1/s or drops >= 100/s per interface (warning); or
  errors plus drops departing from their baseline while >= 1/s (warning).
- Kernel tables: file descriptors (``fd_exhaustion``) and the conntrack table (``conntrack``)
  >= 80 % (warning), >= 95 % (critical) of their limit.

Baselines use :mod:`probes.prometheus.anomaly` over the day before the window (``baseline``).
Without node_exporter metrics in Prometheus the probe ends ``skipped``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING

from pydantic import Field, field_validator, model_validator

from diagnostics import ChecklistItem, Duration, Finding, Probe, ProbeContext, ProbeOptions
from probes.prometheus.backend import SECTION
from probes.resources.promql import check_matchers

if TYPE_CHECKING:
    from probes.resources.nodes_judge import NodeThresholds
    from probes.resources.promql import QuerySet

FILESYSTEMS = (
    'fstype!~"tmpfs|ramfs|squashfs|overlay|nsfs|fuse.lxcfs|autofs|devtmpfs|iso9660",'
    'mountpoint!~"/run(/.*)?|/var/lib/(docker|kubelet|containers)/.+|/snap/.+|/boot/efi"'
)
DISKS = 'device!~"(ram|loop|fd|sr|nbd|zram)[0-9]+"'
INTERFACES = 'device!~"lo|veth.*|cali.*|cilium.*|lxc.*|docker.*|br-.*|virbr.*|flannel.*|cni.*|tunl.*|vxlan.*|kube-ipvs.*"'


class NodeOptions(ProbeOptions):
    """Settings of ``resources.nodes`` (ratios are 0..1, rates per second)."""

    selector: str = ""
    """Extra PromQL label matchers for every node_exporter series, e.g. ``job="node"``."""
    filesystem_selector: str = FILESYSTEMS
    disk_selector: str = DISKS
    network_selector: str = INTERFACES
    rate_interval: Duration = timedelta(minutes=5)
    trend: Duration = timedelta(hours=1)
    """How far back ``predict_linear`` fits the free space of a filesystem."""
    baseline: Duration = timedelta(days=1)
    baseline_persistence: Duration = timedelta(minutes=5)
    baseline_threshold: float = Field(6.0, gt=0)
    load_per_core_warning: float = Field(1.5, gt=0)
    load_per_core_critical: float = Field(3.0, gt=0)
    cpu_busy_warning: float = Field(0.90, gt=0, le=1)
    memory_available_warning: float = Field(0.10, ge=0, le=1)
    memory_available_critical: float = Field(0.05, ge=0, le=1)
    swap_pages_warning: float = Field(256.0, gt=0)
    major_faults_floor: float = Field(100.0, ge=0)
    oom_kills_critical: float = Field(1.0, ge=1)
    disk_used_warning: float = Field(0.85, gt=0, le=1)
    disk_used_critical: float = Field(0.95, gt=0, le=1)
    time_to_full_warning: Duration = timedelta(hours=24)
    time_to_full_critical: Duration = timedelta(hours=4)
    inodes_used_warning: float = Field(0.85, gt=0, le=1)
    inodes_used_critical: float = Field(0.95, gt=0, le=1)
    disk_busy_warning: float = Field(0.90, gt=0, le=1)
    disk_queue_critical: float = Field(8.0, gt=0)
    disk_queue_floor: float = Field(1.0, ge=0)
    network_errors_warning: float = Field(1.0, gt=0)
    network_drops_warning: float = Field(100.0, gt=0)
    network_faults_floor: float = Field(1.0, ge=0)
    fd_warning: float = Field(0.80, gt=0, le=1)
    fd_critical: float = Field(0.95, gt=0, le=1)
    conntrack_warning: float = Field(0.80, gt=0, le=1)
    conntrack_critical: float = Field(0.95, gt=0, le=1)

    @field_validator("selector", "filesystem_selector", "disk_selector", "network_selector")
    @classmethod
    def _matchers(cls, value: str) -> str:
        return check_matchers(value)

    @model_validator(mode="after")
    def _ordered(self) -> NodeOptions:
        for warning, critical, lower_is_worse in (
            ("load_per_core_warning", "load_per_core_critical", False),
            ("memory_available_warning", "memory_available_critical", True),
            ("disk_used_warning", "disk_used_critical", False),
            ("time_to_full_warning", "time_to_full_critical", True),
            ("inodes_used_warning", "inodes_used_critical", False),
            ("fd_warning", "fd_critical", False),
            ("conntrack_warning", "conntrack_critical", False),
        ):
            low, high = getattr(self, warning), getattr(self, critical)
            if (low < high) if lower_is_worse else (low > high):
                relation = "at least" if lower_is_worse else "at most"
                raise ValueError(f"{warning} must be {relation} {critical}")
        return self


class NodeResourcesProbe(Probe):
    id = "resources.nodes"
    checklist_item = ChecklistItem.RESOURCES
    description = "Every node_exporter host: CPU, memory, disks, network, kernel tables (USE method)"
    options_model = NodeOptions
    backend_section = SECTION

    def run(self, ctx: ProbeContext) -> Iterable[Finding]:
        from probes.prometheus.client import PrometheusClient
        from probes.resources.baseline import BaselineSettings
        from probes.resources.devices_judge import judge_devices
        from probes.resources.fetch import Fetcher
        from probes.resources.nodes_collect import BaselineFloors, collect_nodes
        from probes.resources.nodes_judge import judge_hosts
        from probes.resources.problem import to_findings, with_onsets

        options = ctx.options
        assert isinstance(options, NodeOptions)
        limits = thresholds(options)
        queries = query_set(options, ctx.window)
        with PrometheusClient.from_context(ctx) as client:
            fetcher = Fetcher(client, at=ctx.at)
            snapshot = collect_nodes(
                fetcher,
                queries,
                floors=BaselineFloors(
                    major_faults=options.major_faults_floor,
                    disk_queue=options.disk_queue_floor,
                    net_faults=options.network_faults_floor,
                ),
                baseline=BaselineSettings(
                    baseline=options.baseline.total_seconds(),
                    persistence=options.baseline_persistence.total_seconds(),
                    threshold=options.baseline_threshold,
                ),
                window=ctx.window,
            )
            problems = judge_hosts(snapshot, queries, limits, ctx.window) + judge_devices(
                snapshot, queries, limits
            )
            problems = with_onsets(problems, fetcher, ctx.start)
        ctx.logger.debug(
            "%s: %d hosts judged with %d queries", self.id, len(snapshot.instances()), len(fetcher.records)
        )
        return to_findings(problems, ctx.finding)


def query_set(options: NodeOptions, window: timedelta) -> QuerySet:
    """The matchers and ranges of one run."""
    from probes.prometheus.client import nice_step
    from probes.resources.problem import ONSET_POINTS
    from probes.resources.promql import QuerySet, Ranges, join_matchers

    step = nice_step(window.total_seconds(), ONSET_POINTS, minimum=15.0)
    return QuerySet(
        matchers={
            "node": options.selector,
            "fs": join_matchers(options.selector, options.filesystem_selector),
            "disk": join_matchers(options.selector, options.disk_selector),
            "nic": join_matchers(options.selector, options.network_selector),
        },
        ranges=Ranges(
            rate=options.rate_interval.total_seconds(),
            window=window.total_seconds(),
            trend=options.trend.total_seconds(),
            horizon=options.time_to_full_warning.total_seconds(),
            lookback=max(2 * step, 120.0),
        ),
        scope=options.selector,
    )


def thresholds(options: NodeOptions) -> NodeThresholds:
    """The judge's thresholds from the options (durations in seconds: ``*_s``)."""
    import dataclasses

    from probes.resources.nodes_judge import NodeThresholds

    values = {}
    for item in dataclasses.fields(NodeThresholds):
        if item.name.endswith("_s"):
            values[item.name] = getattr(options, item.name.removesuffix("_s")).total_seconds()
        else:
            values[item.name] = getattr(options, item.name)
    return NodeThresholds(**values)
