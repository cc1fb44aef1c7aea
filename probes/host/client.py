"""Reading this host's state with psutil: one snapshot, sampled over a short interval.

Free space is sampled every :data:`DISK_SAMPLE_STEP` seconds; a mount whose free space kept
falling over the short interval is observed longer (up to ``fill_observation``) so that a
sustained fill can be told from churn (:mod:`probes.host.disk_trend`). diag's own process and
its children are left out of the process list: the tool must not report itself.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import time
from dataclasses import dataclass
from pathlib import Path

from probes.host.disk_trend import FillTrend, still_falling, sustained_fill

# filesystems that are views of the kernel, not storage that can fill up
PSEUDO_FILESYSTEMS = frozenset(
    {
        "autofs", "binfmt_misc", "bpf", "cgroup", "cgroup2", "configfs", "debugfs", "devpts",
        "devtmpfs", "fusectl", "hugetlbfs", "mqueue", "nsfs", "proc", "pstore", "ramfs",
        "rpc_pipefs", "securityfs", "selinuxfs", "squashfs", "sysfs", "tracefs", "iso9660",
        "efivarfs", "fuse.lxcfs", "fuse.portal", "nfsd", "overlay_ro",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcessUsage:
    pid: int
    name: str
    user: str | None
    cpu_percent: float
    rss_bytes: int
    memory_percent: float
    open_fds: int | None
    fd_limit: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class MountUsage:
    mountpoint: str
    device: str
    fstype: str
    total_bytes: int
    used_bytes: int
    free_bytes: int
    inodes_total: int
    inodes_free: int
    fill: FillTrend | None = None
    """A sustained fill measured over the observation; None when the free space did not fall
    steadily (idle, or churn: written and deleted)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class HostSnapshot:
    hostname: str
    cpu_count: int
    cpu_percent: float
    load_average: tuple[float, float, float]
    memory_total: int
    memory_available: int
    swap_total: int
    swap_used: int
    swap_in_bytes_per_s: float
    swap_out_bytes_per_s: float
    mounts: tuple[MountUsage, ...]
    open_files: int | None
    max_files: int | None
    processes: tuple[ProcessUsage, ...]
    sample_interval_s: float
    addresses: tuple[str, ...] = ()
    """This machine's other names: its interface addresses (loopback included) and localhost."""


DISK_SAMPLE_STEP = 0.1
"""Seconds between two readings of every mount's free space."""


def _storage_mounts(ignore: tuple[str, ...]) -> list[tuple[str, str, str]]:
    import psutil

    seen_devices: set[str] = set()
    mounts = []
    for part in psutil.disk_partitions(all=True):
        if part.fstype in PSEUDO_FILESYSTEMS or not part.fstype:
            continue
        if any(fnmatch.fnmatch(part.mountpoint, pattern) for pattern in ignore):
            continue
        key = f"{part.device}:{part.fstype}" if part.fstype != "tmpfs" else part.mountpoint
        if key in seen_devices:
            continue
        seen_devices.add(key)
        mounts.append((part.mountpoint, part.device, part.fstype))
    return mounts


def _statvfs(mountpoint: str) -> os.statvfs_result | None:
    try:
        return os.statvfs(mountpoint)
    except OSError:
        return None  # unmounted meanwhile, or not readable: nothing to judge


def _file_handles() -> tuple[int | None, int | None]:
    try:
        allocated, _, maximum = Path("/proc/sys/fs/file-nr").read_text().split()
        return int(allocated), int(maximum)
    except (OSError, ValueError):
        return None, None


def own_processes() -> frozenset[int]:
    """The pids of diag itself and its children (never reported as the host's load)."""
    import psutil

    me = psutil.Process()
    try:
        children = [child.pid for child in me.children(recursive=True)]
    except psutil.Error:
        children = []
    return frozenset({me.pid, *children})


FreeSamples = dict[str, list[tuple[float, int]]]


def _sample_free(mountpoints: list[str], samples: FreeSamples) -> None:
    now = time.monotonic()
    for mountpoint in mountpoints:
        stats = _statvfs(mountpoint)
        if stats is not None:
            samples[mountpoint].append((now, stats.f_bfree * stats.f_frsize))


def _observe_free_space(mountpoints: list[str], samples: FreeSamples, until: float) -> None:
    """Keep sampling ``mountpoints`` every step until ``until`` (monotonic seconds)."""
    while time.monotonic() < until:
        time.sleep(min(DISK_SAMPLE_STEP, max(until - time.monotonic(), 0.0)))
        _sample_free(mountpoints, samples)


def _falling(samples: FreeSamples) -> list[str]:
    return [m for m, readings in samples.items() if len(readings) >= 2 and still_falling(readings)]


def take_snapshot(
    *,
    sample_interval: float,
    ignore_mounts: tuple[str, ...],
    fill_observation: float = 0.0,
    exclude_pids: frozenset[int] = frozenset(),
) -> HostSnapshot:
    """Sample CPU, processes and swap over ``sample_interval`` seconds, and the free space of
    every mount over that interval, longer (up to ``fill_observation``) for mounts filling."""
    import psutil

    mounts = _storage_mounts(ignore_mounts)
    free: FreeSamples = {m: [] for m, _, _ in mounts}
    _sample_free(list(free), free)
    processes = [p for p in psutil.process_iter(["pid", "name", "username"]) if p.pid not in exclude_pids]
    for proc in processes:
        with contextlib.suppress(psutil.Error):
            proc.cpu_percent(None)
    psutil.cpu_percent(None)
    swap_before = psutil.swap_memory()
    began = time.monotonic()
    _observe_free_space(list(free), free, began + sample_interval)
    elapsed = max(time.monotonic() - began, 1e-3)
    cpu = psutil.cpu_percent(None)
    swap = psutil.swap_memory()
    memory = psutil.virtual_memory()
    usages = []
    for proc in processes:
        try:
            with proc.oneshot():
                rss = proc.memory_info().rss
                fds = proc.num_fds() if hasattr(proc, "num_fds") else None
                try:
                    limit = proc.rlimit(psutil.RLIMIT_NOFILE)[0] if hasattr(psutil, "RLIMIT_NOFILE") else None
                except (psutil.Error, OSError):
                    limit = None
                usages.append(
                    ProcessUsage(
                        pid=proc.pid,
                        name=proc.info.get("name") or "?",
                        user=proc.info.get("username"),
                        cpu_percent=proc.cpu_percent(None),
                        rss_bytes=rss,
                        memory_percent=100.0 * rss / memory.total if memory.total else 0.0,
                        open_fds=fds,
                        fd_limit=limit if limit and limit > 0 else None,
                    )
                )
        except psutil.Error:
            continue  # exited or not ours to read
    # only a mount still falling is worth watching longer; stop as soon as none is
    deadline = began + max(fill_observation, sample_interval)
    while (falling := _falling(free)) and time.monotonic() < deadline:
        _observe_free_space(falling, free, min(time.monotonic() + 0.5, deadline))
    mount_usages = []
    for mountpoint, device, fstype in mounts:
        stats = _statvfs(mountpoint)
        if stats is None or stats.f_blocks == 0:
            continue
        total = stats.f_blocks * stats.f_frsize
        mount_usages.append(
            MountUsage(
                mountpoint=mountpoint,
                device=device,
                fstype=fstype,
                total_bytes=total,
                used_bytes=(stats.f_blocks - stats.f_bfree) * stats.f_frsize,
                free_bytes=stats.f_bavail * stats.f_frsize,
                inodes_total=stats.f_files,
                inodes_free=stats.f_favail,
                fill=sustained_fill(free.get(mountpoint, []), min_observed_s=fill_observation),
            )
        )
    open_files, max_files = _file_handles()
    return HostSnapshot(
        hostname=os.uname().nodename,
        cpu_count=psutil.cpu_count() or 1,
        cpu_percent=cpu,
        load_average=psutil.getloadavg(),
        memory_total=memory.total,
        memory_available=memory.available,
        swap_total=swap.total,
        swap_used=swap.used,
        swap_in_bytes_per_s=max(0.0, (swap.sin - swap_before.sin) / elapsed),
        swap_out_bytes_per_s=max(0.0, (swap.sout - swap_before.sout) / elapsed),
        mounts=tuple(mount_usages),
        open_files=open_files,
        max_files=max_files,
        processes=tuple(usages),
        sample_interval_s=elapsed,
        addresses=_addresses(),
    )


def _addresses() -> tuple[str, ...]:
    """``localhost`` and every address of this machine's interfaces (IPv6 scope ids dropped)."""
    import socket

    import psutil

    found = {"localhost", "127.0.0.1", "::1"}
    with contextlib.suppress(OSError):
        for entries in psutil.net_if_addrs().values():
            found.update(
                entry.address.split("%", 1)[0]
                for entry in entries
                if entry.family in (socket.AF_INET, socket.AF_INET6)
            )
    return tuple(sorted(found))
