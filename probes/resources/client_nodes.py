"""Reading a fleet's node_exporter metrics: one instant query per signal, across every host.

Which signals are read depends on the metrics Prometheus has (one discovery query); a signal
whose metrics are absent is left empty rather than queried. Baseline departures cost two range
queries per signal, only when some host is past the signal's floor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from probes.resources import promql
from probes.resources.baseline import BaselineSettings, Departure, departures
from probes.resources.client import Fetcher, Key, Vector, empty, require_exporter

HOST = ("instance",)
FILESYSTEM = ("instance", "mountpoint")
DEVICE = ("instance", "device")

MARKERS = ("node_cpu_seconds_total", "node_load1", "node_memory_MemAvailable_bytes")
"""node_exporter is there when any of these is; without them (and without a node_exporter
target that is down) the probe is skipped."""

# signal -> (template, identity labels, metrics it needs)
SIGNALS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "uname": (promql.UNAME, HOST, ("node_uname_info",)),
    "cores": (promql.CORES, HOST, ("node_cpu_seconds_total",)),
    "cpu_busy": (promql.CPU_BUSY, HOST, ("node_cpu_seconds_total",)),
    "load1": (promql.LOAD1, HOST, ("node_load1",)),
    "run_queue": (promql.RUN_QUEUE, HOST, ("node_procs_running",)),
    "memory_available": (promql.MEMORY_AVAILABLE, HOST, ("node_memory_MemAvailable_bytes",)),
    "memory_total": (promql.MEMORY_TOTAL, HOST, ("node_memory_MemTotal_bytes",)),
    "major_faults": (promql.MAJOR_FAULTS, HOST, ("node_vmstat_pgmajfault",)),
    "swap_pages": (promql.SWAP_PAGES, HOST, ("node_vmstat_pswpin", "node_vmstat_pswpout")),
    "oom_kills": (promql.OOM_KILLS, HOST, ("node_vmstat_oom_kill",)),
    "fs_available": (promql.FS_AVAILABLE, FILESYSTEM, ("node_filesystem_avail_bytes",)),
    "fs_size": (promql.FS_SIZE, FILESYSTEM, ("node_filesystem_size_bytes",)),
    "fs_time_to_full": (promql.FS_TIME_TO_FULL, FILESYSTEM, ("node_filesystem_avail_bytes",)),
    "fs_files_free": (promql.FS_FILES_FREE, FILESYSTEM, ("node_filesystem_files_free",)),
    "fs_files": (promql.FS_FILES, FILESYSTEM, ("node_filesystem_files",)),
    "disk_busy": (promql.DISK_BUSY, DEVICE, ("node_disk_io_time_seconds_total",)),
    "disk_queue": (promql.DISK_QUEUE, DEVICE, ("node_disk_io_time_weighted_seconds_total",)),
    "net_errors": (
        promql.NET_ERRORS,
        DEVICE,
        ("node_network_receive_errs_total", "node_network_transmit_errs_total"),
    ),
    "net_drops": (
        promql.NET_DROPS,
        DEVICE,
        ("node_network_receive_drop_total", "node_network_transmit_drop_total"),
    ),
    "fd_allocated": (promql.FD_ALLOCATED, HOST, ("node_filefd_allocated",)),
    "fd_maximum": (promql.FD_MAXIMUM, HOST, ("node_filefd_maximum",)),
    "conntrack_entries": (promql.CONNTRACK_ENTRIES, HOST, ("node_nf_conntrack_entries",)),
    "conntrack_limit": (promql.CONNTRACK_LIMIT, HOST, ("node_nf_conntrack_entries_limit",)),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class BaselineFloors:
    """Below these current values a signal is not compared with its baseline."""

    major_faults: float
    disk_queue: float
    net_faults: float


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeSnapshot:
    """Every signal of every host at the diagnosed time, and departures from baselines."""

    present: frozenset[str]
    signals: dict[str, Vector]
    departures: dict[str, dict[Key, Departure]] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Vector:
        return self.signals[name]

    def instances(self) -> list[str]:
        """Every host seen by any host-level signal."""
        seen: set[str] = set()
        for vector in self.signals.values():
            seen.update(key[0] for key in vector.values)
        return sorted(seen)


def all_metrics() -> list[str]:
    """Every metric the probe reads, sorted."""
    names = {metric for _, _, metrics in SIGNALS.values() for metric in metrics}
    return sorted(names | set(MARKERS))


def collect_nodes(
    fetcher: Fetcher,
    queries: promql.QuerySet,
    *,
    floors: BaselineFloors,
    baseline: BaselineSettings,
    window: timedelta,
) -> NodeSnapshot:
    """Read every signal (skipping the probe when node_exporter is absent)."""
    present = fetcher.metrics_present({queries.scopes.get("node", ""): all_metrics()})
    # an exporter Prometheus scraped before and cannot scrape now is a finding, not a setup hint
    down = fetcher.vector(queries.fleet(promql.EXPORTER_DOWN), HOST)
    if not down:
        require_exporter(
            present, MARKERS, "node_exporter", "install node_exporter on the hosts and scrape it"
        )
    signals: dict[str, Vector] = {"exporter_down": down}
    for name, (template, key_labels, metrics) in SIGNALS.items():
        if present.issuperset(metrics):
            signals[name] = fetcher.vector(queries.fleet(template), key_labels)
        else:
            signals[name] = empty(key_labels)
    found: dict[str, dict[Key, Departure]] = {}
    faults = _faults(signals["net_errors"], signals["net_drops"])
    for name, template, current, floor in (
        ("major_faults", promql.MAJOR_FAULTS, signals["major_faults"], floors.major_faults),
        ("disk_queue", promql.DISK_QUEUE, signals["disk_queue"], floors.disk_queue),
        ("net_faults", promql.NET_FAULTS, faults, floors.net_faults),
    ):
        found[name] = departures(
            fetcher,
            current,
            template,
            queries.matchers,
            queries.ranges,
            floor=floor,
            window=window,
            settings=baseline,
        )
    return NodeSnapshot(present=present, signals=signals, departures=found)


def _faults(errors: Vector, drops: Vector) -> Vector:
    """Errors plus drops per interface, from the two instant vectors (no extra query)."""
    keys = set(errors.values) | set(drops.values)
    values = {k: errors.values.get(k, 0.0) + drops.values.get(k, 0.0) for k in keys}
    return Vector(query="", key_labels=errors.key_labels, values=values)
