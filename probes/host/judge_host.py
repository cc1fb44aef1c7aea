"""Turning a host snapshot into findings: pure functions over plain values."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from diagnostics import Entity, Finding, Measurement, Severity
from probes.host.client import HostSnapshot, MountUsage, ProcessUsage

MakeFinding = Callable[..., Finding]


@dataclass(frozen=True, slots=True, kw_only=True)
class HostThresholds:
    load_per_core_warning: float
    load_per_core_critical: float
    cpu_utilization_warning: float
    memory_available_warning: float
    memory_available_critical: float
    swap_out_warning_bytes_per_s: float
    disk_used_warning: float
    disk_used_critical: float
    inodes_used_warning: float
    inodes_used_critical: float
    time_to_full_warning_s: float
    time_to_full_critical_s: float
    time_to_full_critical_min_used: float
    file_handles_warning: float
    process_fds_warning: float
    top_processes: int


def top_processes(processes: Iterable[ProcessUsage], key: str, count: int) -> list[dict[str, object]]:
    ranked = sorted(processes, key=lambda p: getattr(p, key), reverse=True)[:count]
    return [
        {
            "pid": p.pid,
            "name": p.name,
            "user": p.user,
            "cpu_percent": round(p.cpu_percent, 1),
            "rss_bytes": p.rss_bytes,
        }
        for p in ranked
    ]


def host_entity(snapshot: HostSnapshot) -> Entity:
    """The local machine; ``aliases`` lists its addresses and localhost, so the summary knows a
    node_exporter scraped at ``127.0.0.1:9100`` or ``10.0.2.15:9100`` is this same machine."""
    aliases = ",".join(dict.fromkeys((snapshot.hostname, *snapshot.addresses)))
    return Entity(kind="host", name=snapshot.hostname, attributes={"aliases": aliases})


def judge_host(snapshot: HostSnapshot, limits: HostThresholds, make: MakeFinding) -> list[Finding]:
    host = host_entity(snapshot)
    findings = [
        *judge_cpu(snapshot, limits, make, host),
        *judge_memory(snapshot, limits, make, host),
        *judge_file_handles(snapshot, limits, make, host),
    ]
    for mount in snapshot.mounts:
        findings += judge_mount(mount, snapshot.hostname, limits, make)
    # every finding names the machine's other names, so its filesystems and processes are
    # matched with what resources.nodes says of the same machine under an address
    aliases = host.attributes["aliases"]
    return [
        replace(f, entity=replace(f.entity, attributes={**f.entity.attributes, "aliases": aliases}))
        for f in findings
    ]


def judge_cpu(
    snapshot: HostSnapshot, limits: HostThresholds, make: MakeFinding, host: Entity
) -> list[Finding]:
    load1 = snapshot.load_average[0]
    per_core = load1 / max(snapshot.cpu_count, 1)
    busy = snapshot.cpu_percent / 100.0
    if per_core >= limits.load_per_core_critical:
        severity = Severity.CRITICAL
    elif per_core >= limits.load_per_core_warning or (
        busy >= limits.cpu_utilization_warning and per_core >= 1.0
    ):
        severity = Severity.WARNING
    else:
        return []
    return [
        make(
            kind="cpu_saturation",
            severity=severity,
            title=f"CPU saturated: load {load1:.1f} on {snapshot.cpu_count} cores ({per_core:.1f} per core), {snapshot.cpu_percent:.0f} % busy",
            entity=host,
            summary="More runnable work than cores: requests queue for CPU and latency rises.",
            values=[
                Measurement(name="cpu utilization", value=round(snapshot.cpu_percent, 1), unit="%"),
                Measurement(name="load 1m", value=load1),
                Measurement(name="load 5m", value=snapshot.load_average[1]),
                Measurement(name="load 15m", value=snapshot.load_average[2]),
                Measurement(name="cores", value=snapshot.cpu_count, unit="count"),
                Measurement(name="load per core", value=round(per_core, 2)),
            ],
            queries=["psutil.cpu_percent, os.getloadavg"],
            details={"top_by_cpu": top_processes(snapshot.processes, "cpu_percent", limits.top_processes)},
            next_steps=["top -o %CPU", "pidstat -u 5 1"],
        )
    ]


def judge_memory(
    snapshot: HostSnapshot, limits: HostThresholds, make: MakeFinding, host: Entity
) -> list[Finding]:
    if snapshot.memory_total <= 0:
        return []
    available = snapshot.memory_available / snapshot.memory_total
    swapping = snapshot.swap_out_bytes_per_s >= limits.swap_out_warning_bytes_per_s
    if available <= limits.memory_available_critical:
        severity = Severity.CRITICAL
    elif available <= limits.memory_available_warning or swapping:
        severity = Severity.WARNING
    else:
        return []
    reason = f"{available * 100:.1f} % memory available"
    if swapping:
        reason += f", swapping out {snapshot.swap_out_bytes_per_s / 1048576:.1f} MiB/s"
    return [
        make(
            kind="memory_pressure",
            severity=severity,
            title=f"Memory pressure: {reason}",
            entity=host,
            summary="Little memory left: the OOM killer or swapping is near.",
            values=[
                Measurement(name="memory available", value=snapshot.memory_available, unit="bytes"),
                Measurement(name="memory total", value=snapshot.memory_total, unit="bytes"),
                Measurement(name="available ratio", value=round(available, 4), unit="ratio"),
                Measurement(name="swap used", value=snapshot.swap_used, unit="bytes"),
                Measurement(name="swap out", value=round(snapshot.swap_out_bytes_per_s), unit="bytes/s"),
            ],
            queries=["psutil.virtual_memory, psutil.swap_memory"],
            details={"top_by_memory": top_processes(snapshot.processes, "rss_bytes", limits.top_processes)},
            next_steps=["ps aux --sort=-rss | head", "dmesg -T | grep -i 'out of memory'"],
        )
    ]


def judge_mount(mount: MountUsage, hostname: str, limits: HostThresholds, make: MakeFinding) -> list[Finding]:
    entity = Entity(
        kind="filesystem",
        name=f"{hostname}:{mount.mountpoint}",
        attributes={"host": hostname, "mountpoint": mount.mountpoint},
    )
    findings = []
    usable = mount.used_bytes + mount.free_bytes
    used = mount.used_bytes / usable if usable else 0.0
    time_to_full = credible_time_to_full(mount)
    severity = None
    if used >= limits.disk_used_critical:
        severity = Severity.CRITICAL
    elif used >= limits.disk_used_warning:
        severity = Severity.WARNING
    if time_to_full is not None:
        filling = None
        if time_to_full <= limits.time_to_full_critical_s:
            # a mostly empty disk is never critical on a trend alone: the trend may still turn
            mostly_empty = used < limits.time_to_full_critical_min_used
            filling = Severity.WARNING if mostly_empty else Severity.CRITICAL
        elif time_to_full <= limits.time_to_full_warning_s:
            filling = Severity.WARNING
        if filling is not None and (severity is None or filling > severity):
            severity = filling
    if severity is not None:
        from diagnostics.units import format_bytes, format_duration

        ttf_text = (
            f", full in {format_duration(time_to_full)} at its rate over the last {format_duration(mount.fill.observed_s)}"
            if time_to_full is not None and mount.fill is not None
            else ""
        )
        findings.append(
            make(
                kind="disk_space",
                severity=severity,
                title=f"Disk {mount.mountpoint} {used * 100:.1f} % full ({format_bytes(mount.free_bytes)} free){ttf_text}",
                entity=entity,
                summary=f"{mount.device} ({mount.fstype}) on {mount.mountpoint} is running out of space.",
                values=[
                    Measurement(name="used", value=round(used * 100, 2), unit="%"),
                    Measurement(name="free", value=mount.free_bytes, unit="bytes"),
                    Measurement(name="size", value=mount.total_bytes, unit="bytes"),
                    *(
                        [
                            Measurement(name="growth", value=round(mount.fill.bytes_per_s), unit="bytes/s"),
                            Measurement(name="observed for", value=round(mount.fill.observed_s, 2), unit="s"),
                            Measurement(name="time to full", value=round(time_to_full, 1), unit="s"),
                        ]
                        if time_to_full is not None and mount.fill is not None
                        else []
                    ),
                ],
                queries=[
                    f"statvfs({mount.mountpoint})"
                    + (f" sampled {mount.fill.samples} times" if mount.fill is not None else "")
                ],
                next_steps=[
                    f"du -xh --max-depth=2 {mount.mountpoint} | sort -rh | head -20",
                    "lsof +L1  # deleted files still held open",
                ],
            )
        )
    if mount.inodes_total > 0:
        inodes_used = 1 - mount.inodes_free / mount.inodes_total
        inode_severity = (
            Severity.CRITICAL
            if inodes_used >= limits.inodes_used_critical
            else Severity.WARNING
            if inodes_used >= limits.inodes_used_warning
            else None
        )
        if inode_severity is not None:
            findings.append(
                make(
                    kind="inodes",
                    severity=inode_severity,
                    title=f"Inodes on {mount.mountpoint} {inodes_used * 100:.1f} % used ({mount.inodes_free} left)",
                    entity=entity,
                    summary="Out of inodes, no file can be created even with space left.",
                    values=[
                        Measurement(name="inodes used", value=round(inodes_used * 100, 2), unit="%"),
                        Measurement(name="inodes free", value=mount.inodes_free, unit="count"),
                        Measurement(name="inodes total", value=mount.inodes_total, unit="count"),
                    ],
                    queries=[f"statvfs({mount.mountpoint})"],
                    next_steps=[
                        f"find {mount.mountpoint} -xdev -type f | cut -d/ -f2-3 | sort | uniq -c | sort -rn | head"
                    ],
                )
            )
    return findings


def credible_time_to_full(mount: MountUsage) -> float | None:
    """Seconds until ``mount`` is full at its sustained fill rate; None without a sustained fill
    or when that is further ahead than the observation can tell."""
    if mount.fill is None or mount.fill.bytes_per_s <= 0:
        return None
    seconds = mount.free_bytes / mount.fill.bytes_per_s
    return seconds if seconds <= mount.fill.horizon_s else None


def judge_file_handles(
    snapshot: HostSnapshot, limits: HostThresholds, make: MakeFinding, host: Entity
) -> list[Finding]:
    findings = []
    if snapshot.open_files is not None and snapshot.max_files:
        share = snapshot.open_files / snapshot.max_files
        if share >= limits.file_handles_warning:
            findings.append(
                make(
                    kind="file_handles",
                    severity=Severity.CRITICAL if share >= 0.95 else Severity.WARNING,
                    title=f"{share * 100:.0f} % of the system's file handles in use ({snapshot.open_files} of {snapshot.max_files})",
                    entity=host,
                    values=[
                        Measurement(name="open files", value=snapshot.open_files, unit="count"),
                        Measurement(name="max files", value=snapshot.max_files, unit="count"),
                    ],
                    queries=["/proc/sys/fs/file-nr"],
                    next_steps=["lsof -n | awk '{print $2}' | sort | uniq -c | sort -rn | head"],
                )
            )
    near_limit = sorted(
        (
            p
            for p in snapshot.processes
            if p.open_fds is not None and p.fd_limit and p.open_fds / p.fd_limit >= limits.process_fds_warning
        ),
        key=lambda p: (p.open_fds or 0) / (p.fd_limit or 1),
        reverse=True,
    )
    for proc in near_limit[: limits.top_processes]:
        assert proc.open_fds is not None and proc.fd_limit is not None
        share = proc.open_fds / proc.fd_limit
        findings.append(
            make(
                kind="process_fds",
                severity=Severity.CRITICAL if share >= 0.95 else Severity.WARNING,
                title=f"Process {proc.name} (pid {proc.pid}) uses {proc.open_fds} of its {proc.fd_limit} file descriptors",
                entity=Entity(
                    kind="process",
                    name=f"{snapshot.hostname}:{proc.name}",
                    attributes={"host": snapshot.hostname, "pid": str(proc.pid)},
                ),
                summary="At its limit the process fails to open files and sockets (EMFILE).",
                values=[
                    Measurement(name="open fds", value=proc.open_fds, unit="count"),
                    Measurement(name="fd limit", value=proc.fd_limit, unit="count"),
                ],
                queries=[f"/proc/{proc.pid}/fd, getrlimit(RLIMIT_NOFILE)"],
                next_steps=[
                    f"ls -l /proc/{proc.pid}/fd | awk '{{print $NF}}' | sort | uniq -c | sort -rn | head"
                ],
            )
        )
    return findings
