"""node_exporter- and cAdvisor-shaped series for staged fleets, as backfilled into a real Prometheus.

A :class:`Host` or :class:`Container` describes behaviour as functions of time (numpy arrays of
unix seconds -> values); :func:`host_series` and :func:`container_series` turn them into the
series the exporters would have produced, counters integrated from rates. Noise is seeded by
name, so every run stages the same values.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import numpy.typing as npt

from tests.support.prometheus import StagedSeries

Array = npt.NDArray[np.float64]
Curve = Callable[[Array], Array]
GIB = 1024.0**3
MIB = 1024.0**2


def const(value: float) -> Curve:
    return lambda t: np.full(t.shape, float(value))


def step_at(moment: datetime, before: float, after: float) -> Curve:
    """``before`` until ``moment``, ``after`` from then on."""
    return lambda t: np.where(t >= moment.timestamp(), float(after), float(before))


def linear_from(moment: datetime, value: float, slope: float) -> Curve:
    """Flat at ``value`` until ``moment``, then changing by ``slope`` per second."""
    return lambda t: value + slope * np.maximum(t - moment.timestamp(), 0.0)


def noisy(curve: Curve, sigma: float, seed: str, low: float = 0.0, high: float = float("inf")) -> Curve:
    """``curve`` plus gaussian noise (seeded by ``seed``), clipped to [low, high]."""

    def noisy_curve(t: Array) -> Array:
        rng = np.random.default_rng(zlib.crc32(seed.encode()))
        return np.clip(curve(t) + rng.normal(0.0, sigma, t.shape), low, high)

    return noisy_curve


def counter(rate: Array, step: float, start: float = 0.0) -> Array:
    """A counter accumulating ``rate`` per second, sampled every ``step`` seconds."""
    return start + np.concatenate(([0.0], np.cumsum(rate[:-1] * step)))


def events_counter(times: Array, events: Sequence[datetime], start: float = 0.0) -> Array:
    """A counter that rises by one at each of ``events``."""
    count = np.zeros(times.shape)
    for moment in events:
        count += times >= moment.timestamp()
    return start + count


_FILES_FREE = const(6_000_000)
_ZERO = const(0.0)
_THIRTY_PERCENT = const(0.3)
_ONE = const(1.0)
_TWO = const(2.0)
_EIGHT_GIB = const(8 * GIB)
_FD_USED = const(3000)
_CONNTRACK_USED = const(2000)
_FIFTH = const(0.2)
_WORKING_SET = const(200 * MIB)


@dataclass(frozen=True, slots=True, kw_only=True)
class Filesystem:
    mountpoint: str
    device: str
    size: float
    available: Curve
    fstype: str = "ext4"
    files: float = 6_553_600
    files_free: Curve = _FILES_FREE


@dataclass(frozen=True, slots=True, kw_only=True)
class Disk:
    device: str
    busy: Curve
    queue: Curve


@dataclass(frozen=True, slots=True, kw_only=True)
class Interface:
    device: str
    errors: Curve = _ZERO
    drops: Curve = _ZERO
    packets: float = 2000.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Host:
    instance: str
    nodename: str
    cores: int = 4
    busy: Curve = _THIRTY_PERCENT
    load1: Curve = _ONE
    running: Curve = _TWO
    memory_total: float = 16 * GIB
    memory_available: Curve = _EIGHT_GIB
    major_faults: Curve = _TWO
    swap_pages: Curve = _ZERO
    oom_kills: Sequence[datetime] = ()
    filesystems: Sequence[Filesystem] = ()
    disks: Sequence[Disk] = ()
    interfaces: Sequence[Interface] = ()
    fd_allocated: Curve = _FD_USED
    fd_maximum: float = 9_223_372_036_854_775_807
    conntrack_entries: Curve = _CONNTRACK_USED
    conntrack_limit: float = 262_144


def _series(name: str, labels: dict[str, str], times: Array, values: Array) -> StagedSeries:
    # 3 decimals keep the text (and the backfill) small without moving any judged value
    return StagedSeries(
        name=name, labels=labels, timestamps=times.tolist(), values=np.round(values, 3).tolist()
    )


def host_series(host: Host, times: Array, step: float) -> Iterator[StagedSeries]:
    """The node_exporter series of ``host``."""
    base = {"instance": host.instance, "job": "node"}
    busy = host.busy(times)
    for cpu in range(host.cores):
        labels = {**base, "cpu": str(cpu)}
        yield _series(
            "node_cpu_seconds_total", {**labels, "mode": "idle"}, times, counter(1 - busy, step, 1e6)
        )
        yield _series("node_cpu_seconds_total", {**labels, "mode": "user"}, times, counter(busy, step, 1e5))
    uname = {**base, "nodename": host.nodename, "sysname": "Linux", "release": "6.1.0-18-amd64"}
    yield _series("node_uname_info", uname, times, np.ones(times.shape))
    yield _series("node_load1", base, times, host.load1(times))
    yield _series("node_procs_running", base, times, host.running(times))
    yield _series("node_memory_MemTotal_bytes", base, times, np.full(times.shape, host.memory_total))
    yield _series("node_memory_MemAvailable_bytes", base, times, host.memory_available(times))
    yield _series("node_vmstat_pgmajfault", base, times, counter(host.major_faults(times), step, 5e5))
    swap = host.swap_pages(times)
    yield _series("node_vmstat_pswpin", base, times, counter(swap / 2, step))
    yield _series("node_vmstat_pswpout", base, times, counter(swap / 2, step))
    yield _series("node_vmstat_oom_kill", base, times, events_counter(times, host.oom_kills))
    for fs in host.filesystems:
        labels = {**base, "mountpoint": fs.mountpoint, "device": fs.device, "fstype": fs.fstype}
        available = fs.available(times)
        yield _series("node_filesystem_size_bytes", labels, times, np.full(times.shape, fs.size))
        yield _series("node_filesystem_avail_bytes", labels, times, available)
        yield _series("node_filesystem_free_bytes", labels, times, available + 0.05 * fs.size)
        yield _series("node_filesystem_files", labels, times, np.full(times.shape, fs.files))
        yield _series("node_filesystem_files_free", labels, times, fs.files_free(times))
    for disk in host.disks:
        labels = {**base, "device": disk.device}
        yield _series("node_disk_io_time_seconds_total", labels, times, counter(disk.busy(times), step, 1e4))
        yield _series(
            "node_disk_io_time_weighted_seconds_total", labels, times, counter(disk.queue(times), step, 2e4)
        )
    for nic in [Interface(device="lo"), *host.interfaces]:
        labels = {**base, "device": nic.device}
        errors, drops = nic.errors(times), nic.drops(times)
        packets = np.full(times.shape, nic.packets)
        for direction in ("receive", "transmit"):
            yield _series(f"node_network_{direction}_errs_total", labels, times, counter(errors / 2, step))
            yield _series(f"node_network_{direction}_drop_total", labels, times, counter(drops / 2, step))
            yield _series(
                f"node_network_{direction}_packets_total", labels, times, counter(packets, step, 1e7)
            )
    yield _series("node_filefd_allocated", base, times, host.fd_allocated(times))
    yield _series("node_filefd_maximum", base, times, np.full(times.shape, host.fd_maximum))
    yield _series("node_nf_conntrack_entries", base, times, host.conntrack_entries(times))
    yield _series("node_nf_conntrack_entries_limit", base, times, np.full(times.shape, host.conntrack_limit))


@dataclass(frozen=True, slots=True, kw_only=True)
class Container:
    namespace: str
    pod: str
    container: str
    node: str = "10.0.0.11:10250"
    cpu_usage: Curve = _FIFTH
    """Cores used."""
    cpu_limit: float | None = 1.0
    throttled_share: Curve = _ZERO
    working_set: Curve = _WORKING_SET
    memory_limit: float | None = 1 * GIB
    oom_kills: Sequence[datetime] = ()
    restarts: Sequence[datetime] = ()
    restarts_before: int = 0
    last_terminated_reason: str | None = None
    owner: tuple[str, str] | None = None
    """(owner_kind, owner_name) as kube_pod_owner says; None for a pod without controller."""
    extra_labels: dict[str, str] = field(default_factory=dict)
    spec_series: bool = True
    """False: cAdvisor's ``container_spec_*`` series are dropped (kube-prometheus-stack's default)."""


CFS_PERIODS_PER_S = 10.0  # the default 100 ms CFS period


def container_series(c: Container, times: Array, step: float) -> Iterator[StagedSeries]:
    """The cAdvisor (kubelet) and kube-state-metrics series of ``c``."""
    cadvisor = {
        "job": "kubelet",
        "metrics_path": "/metrics/cadvisor",
        "instance": c.node,
        "namespace": c.namespace,
        "pod": c.pod,
        "container": c.container,
        "image": f"registry.example/{c.container}:1.0",
        "id": f"/kubepods/burstable/pod-{c.pod}/{c.container}",
        "name": f"k8s_{c.container}_{c.pod}",
        **c.extra_labels,
    }
    usage = c.cpu_usage(times)
    yield _series("container_cpu_usage_seconds_total", cadvisor, times, counter(usage, step, 100.0))
    if c.cpu_limit is not None:
        periods = np.full(times.shape, CFS_PERIODS_PER_S)
        throttled = c.throttled_share(times) * periods
        yield _series("container_cpu_cfs_periods_total", cadvisor, times, counter(periods, step, 5e4))
        yield _series(
            "container_cpu_cfs_throttled_periods_total", cadvisor, times, counter(throttled, step, 10.0)
        )
        if c.spec_series:
            yield _series(
                "container_spec_cpu_quota", cadvisor, times, np.full(times.shape, c.cpu_limit * 100_000)
            )
            yield _series("container_spec_cpu_period", cadvisor, times, np.full(times.shape, 100_000.0))
    yield _series("container_memory_working_set_bytes", cadvisor, times, c.working_set(times))
    limit = 0.0 if c.memory_limit is None else c.memory_limit
    if c.spec_series:
        yield _series("container_spec_memory_limit_bytes", cadvisor, times, np.full(times.shape, limit))
    yield _series("container_oom_events_total", cadvisor, times, events_counter(times, c.oom_kills))
    ksm = {"job": "kube-state-metrics", "instance": "10.0.0.5:8080", "namespace": c.namespace, "pod": c.pod}
    restarts = events_counter(times, c.restarts, start=c.restarts_before)
    yield _series(
        "kube_pod_container_status_restarts_total", {**ksm, "container": c.container}, times, restarts
    )
    if c.last_terminated_reason:
        reason = {**ksm, "container": c.container, "reason": c.last_terminated_reason}
        yield _series("kube_pod_container_status_last_terminated_reason", reason, times, np.ones(times.shape))
    for resource, unit, value in (("cpu", "core", c.cpu_limit), ("memory", "byte", c.memory_limit)):
        if value is not None:
            labels = {**ksm, "container": c.container, "resource": resource, "unit": unit, "node": "node-1"}
            yield _series("kube_pod_container_resource_limits", labels, times, np.full(times.shape, value))
    if c.owner is not None:
        owner = {**ksm, "owner_kind": c.owner[0], "owner_name": c.owner[1], "owner_is_controller": "true"}
        yield _series("kube_pod_owner", owner, times, np.ones(times.shape))


def unique(series: Iterable[StagedSeries]) -> Iterator[StagedSeries]:
    """``series`` without repeats of a name and label set (a pod's series shared by its containers)."""
    seen: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
    for item in series:
        key = (item.name, tuple(sorted(item.labels.items())))
        if key not in seen:
            seen.add(key)
            yield item


def pod_cgroup_series(
    namespace: str, pod: str, times: Array, working_set: float, limit: float
) -> Iterator[StagedSeries]:
    """The pod-level cgroup (``container=""``) and pause container series cAdvisor also exports."""
    for container in ("", "POD"):
        labels = {
            "job": "kubelet",
            "instance": "10.0.0.11:10250",
            "namespace": namespace,
            "pod": pod,
            "container": container,
        }
        yield _series("container_memory_working_set_bytes", labels, times, np.full(times.shape, working_set))
        yield _series("container_spec_memory_limit_bytes", labels, times, np.full(times.shape, limit))
