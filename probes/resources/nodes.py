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
  full (``disk_filling``) from the slower of the fill rates over the last hour (``trend``) and
  the last ``rate_interval``, both falling (a disk emptied since is not filling), extrapolated
  no further than 24x the history it was fitted on: <= 24 h (warning), <= 4 h (critical;
  warning while < 50 % used). Inodes (``inodes``): >= 85 % / >= 95 %.
- Disk I/O (``disk_io_saturation``): device busy >= 90 % of the time (warning), and an average
  queue depth >= 8 (critical); or a queue depth departing from its baseline while >= 1 (warning).
- Network (``network_errors``): errors >= 1/s or drops >= 100/s per interface (warning); or
  errors plus drops departing from their baseline while >= 1/s (warning).
- Kernel tables: file descriptors (``fd_exhaustion``) and the conntrack table (``conntrack``)
  >= 80 % (warning), >= 95 % (critical) of their limit.

- Exporters (``exporter_down``): a node_exporter target scraped within ``baseline`` whose
  ``up`` is 0 now (warning), dated by its run of failed scrapes: "node exporter on X down since T".

Baselines use :mod:`probes.prometheus.judge_series` over the day before the window (``baseline``).
Without node_exporter metrics in Prometheus, and no node_exporter target down, the probe ends
``skipped``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING

from pydantic import Field

from diagnostics import ChecklistItem, Duration, Finding, Probe, ProbeContext
from probes.prometheus.config import SECTION
from probes.resources.config import Matchers, Ordered, ResourceOptions, thresholds

if TYPE_CHECKING:
    from probes.resources.client import Fetcher
    from probes.resources.client_nodes import NodeSnapshot
    from probes.resources.problem import Problem
    from probes.resources.promql import QuerySet

FILESYSTEMS = (
    'fstype!~"tmpfs|ramfs|squashfs|overlay|nsfs|fuse.lxcfs|autofs|devtmpfs|iso9660",'
    'mountpoint!~"/run(/.*)?|/var/lib/(docker|kubelet|containers)/.+|/snap/.+|/boot/efi"'
)
DISKS = 'device!~"(ram|loop|fd|sr|nbd|zram)[0-9]+"'
INTERFACES = 'device!~"lo|veth.*|cali.*|cilium.*|lxc.*|docker.*|br-.*|virbr.*|flannel.*|cni.*|tunl.*|vxlan.*|kube-ipvs.*"'


class NodeOptions(ResourceOptions):
    """Settings of ``resources.nodes`` (ratios are 0..1, rates per second)."""

    ordered = (
        Ordered("load_per_core_warning", "load_per_core_critical"),
        Ordered("memory_available_warning", "memory_available_critical", lower_is_worse=True),
        Ordered("disk_used_warning", "disk_used_critical"),
        Ordered("time_to_full_warning", "time_to_full_critical", lower_is_worse=True),
        Ordered("inodes_used_warning", "inodes_used_critical"),
        Ordered("fd_warning", "fd_critical"),
        Ordered("conntrack_warning", "conntrack_critical"),
    )

    selector: Matchers = ""
    """Extra PromQL label matchers for every node_exporter series, e.g. ``job="node"``."""
    filesystem_selector: Matchers = FILESYSTEMS
    """PromQL label matchers choosing the filesystems judged (default: no pseudo, container or boot filesystems)."""
    disk_selector: Matchers = DISKS
    """PromQL label matchers choosing the block devices judged (default: no ram, loop, optical or zram devices)."""
    network_selector: Matchers = INTERFACES
    """PromQL label matchers choosing the interfaces judged (default: no loopback, bridge, veth or CNI interfaces)."""
    trend: Duration = timedelta(hours=1)
    """How far back ``predict_linear`` fits the free space of a filesystem."""
    baseline: Duration = timedelta(days=1)
    """History before the window a host's own rates are compared against; also how far back a down exporter must have been scraped."""
    baseline_threshold: float = Field(6.0, gt=0)
    """Robust z-score against the host's baseline beyond which a rate (major faults, disk queue, network faults) departs."""
    load_per_core_warning: float = Field(1.5, gt=0)
    """1-minute load average per core that makes a warning."""
    load_per_core_critical: float = Field(3.0, gt=0)
    """1-minute load average per core that makes a critical finding."""
    cpu_busy_warning: float = Field(0.90, gt=0, le=1)
    """CPU busy share (0..1) that makes a warning while load per core is at least 1."""
    memory_available_warning: float = Field(0.10, ge=0, le=1)
    """MemAvailable as a share of MemTotal at or below which a warning is made."""
    memory_available_critical: float = Field(0.05, ge=0, le=1)
    """MemAvailable as a share of MemTotal at or below which a critical finding is made."""
    swap_pages_warning: float = Field(256.0, gt=0)
    """Pages swapped in plus out per second that make a warning."""
    major_faults_floor: float = Field(100.0, ge=0)
    """Major page faults per second below which they are not compared with the host's baseline."""
    oom_kills_critical: float = Field(1.0, ge=1)
    """Kernel OOM kills on a host in the window that make a critical finding."""
    disk_used_warning: float = Field(0.85, gt=0, le=1)
    """Share of a filesystem's space used that makes a warning."""
    disk_used_critical: float = Field(0.95, gt=0, le=1)
    """Share of a filesystem's space used that makes a critical finding."""
    time_to_full_warning: Duration = timedelta(hours=24)
    """A filesystem predicted full within this time makes a warning."""
    time_to_full_critical: Duration = timedelta(hours=4)
    """A filesystem predicted full within this time makes a critical finding (see ``time_to_full_critical_min_used``)."""
    time_to_full_critical_min_used: float = Field(0.5, ge=0, le=1)
    """Below this share used, a time to full alone makes a disk a warning, never critical."""
    inodes_used_warning: float = Field(0.85, gt=0, le=1)
    """Share of a filesystem's inodes used that makes a warning."""
    inodes_used_critical: float = Field(0.95, gt=0, le=1)
    """Share of a filesystem's inodes used that makes a critical finding."""
    disk_busy_warning: float = Field(0.90, gt=0, le=1)
    """Share of time a device is busy doing I/O that makes a warning."""
    disk_queue_critical: float = Field(8.0, gt=0)
    """Average I/O queue depth of a busy device that makes the finding critical."""
    disk_queue_floor: float = Field(1.0, ge=0)
    """Average I/O queue depth below which it is not compared with the host's baseline."""
    network_errors_warning: float = Field(1.0, gt=0)
    """Receive plus transmit errors per second on an interface that make a warning."""
    network_drops_warning: float = Field(100.0, gt=0)
    """Receive plus transmit drops per second on an interface that make a warning."""
    network_faults_floor: float = Field(1.0, ge=0)
    """Errors plus drops per second below which they are not compared with the host's baseline."""
    fd_warning: float = Field(0.80, gt=0, le=1)
    """Allocated file descriptors as a share of the kernel limit that make a warning."""
    fd_critical: float = Field(0.95, gt=0, le=1)
    """Allocated file descriptors as a share of the kernel limit that make a critical finding."""
    conntrack_warning: float = Field(0.80, gt=0, le=1)
    """Conntrack entries as a share of the table's limit that make a warning."""
    conntrack_critical: float = Field(0.95, gt=0, le=1)
    """Conntrack entries as a share of the table's limit that make a critical finding."""


class NodeResourcesProbe(Probe):
    """``resources.nodes``: the hosts of a fleet, judged from Prometheus' node_exporter series."""

    id = "resources.nodes"
    checklist_item = ChecklistItem.RESOURCES
    description = "Every node_exporter host: CPU, memory, disks, network, kernel tables (USE method)"
    options_model = NodeOptions
    backend_section = SECTION

    def run(self, ctx: ProbeContext[NodeOptions]) -> Iterable[Finding]:
        """Collect every signal across the fleet, judge it, date what was found."""
        from probes.prometheus.client import PrometheusClient
        from probes.resources.client import Fetcher
        from probes.resources.problem import to_findings

        options = ctx.options
        with PrometheusClient.from_context(ctx) as client:
            fetcher = Fetcher(client, at=ctx.at)
            snapshot, problems = fleet_problems(fetcher, options, ctx.window)
        ctx.logger.debug(
            "%s: %d hosts judged with %d queries", self.id, len(snapshot.instances()), len(fetcher.records)
        )
        return to_findings(problems, ctx.finding)


def fleet_problems(
    fetcher: Fetcher, options: NodeOptions, window: timedelta
) -> tuple[NodeSnapshot, list[Problem]]:
    """The probe's work through ``fetcher``: collect, judge, then date the problems found."""
    from probes.resources.baseline import BaselineSettings
    from probes.resources.client_nodes import BaselineFloors, collect_nodes
    from probes.resources.judge_devices import judge_devices
    from probes.resources.judge_exporters import judge_exporters, titled_with_onset
    from probes.resources.judge_nodes import NodeThresholds, judge_hosts
    from probes.resources.problem import with_onsets

    queries = query_set(options, window)
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
            threshold=options.baseline_threshold,
        ),
        window=window,
    )
    limits = thresholds(options, NodeThresholds)
    problems = [
        *judge_exporters(snapshot, queries),
        *judge_hosts(snapshot, queries, limits, window),
        *judge_devices(snapshot, queries, limits),
    ]
    return snapshot, titled_with_onset(with_onsets(problems, fetcher, fetcher.at - window))


def query_set(options: NodeOptions, window: timedelta) -> QuerySet:
    """The matchers and ranges of one run."""
    from probes.resources.problem import event_lookback
    from probes.resources.promql import QuerySet, Ranges, join_matchers

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
            lookback=event_lookback(window),
            history=options.baseline.total_seconds(),
        ),
        scopes=dict.fromkeys(("node", "fs", "disk", "nic"), options.selector),
    )
