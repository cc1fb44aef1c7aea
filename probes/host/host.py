"""``resources.host``: this host's CPU, memory, disks, inodes and file descriptors (psutil).

Signals and default thresholds:

- CPU saturation: 1-minute load per core >= 1.5 (warning), >= 3 (critical); or >= 90 % busy
  with load per core >= 1 (warning). Evidence lists the top processes by CPU.
- Memory: available <= 10 % (warning), <= 5 % (critical); swapping out >= 1 MiB/s (warning).
- Disk space per mount: used >= 85 % (warning), >= 95 % (critical). Time to full only from a
  sustained fill: free space falling at every step of an observation of ``fill_observation``
  (3 s; started only for mounts whose free space fell over the sample interval), never rising
  (a deletion is churn), by >= 1 MiB, and extrapolated no further than 24x the observation;
  <= 24 h (warning), <= 4 h (critical, or warning while the disk is < 50 % used). Inodes:
  >= 85 % / >= 95 %.
- CPU: diag's own process and its children are never listed among the top processes.
- File handles: system-wide >= 80 % of fs.file-max; a process at >= 80 % of its RLIMIT_NOFILE.

The host keeps no history: the snapshot is of now, whatever ``--at`` says; findings carry no
onset but ``seen_at`` (rendered "seen now").
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import timedelta

from pydantic import Field

from diagnostics import ChecklistItem, Duration, Finding, Probe, ProbeContext, ProbeOptions


class HostOptions(ProbeOptions):
    """Thresholds of ``resources.host`` (ratios are 0..1)."""

    sample_interval: Duration = timedelta(seconds=0.5)
    """CPU, process CPU, swap and free space are sampled over this interval."""
    load_per_core_warning: float = Field(1.5, gt=0)
    """1-minute load average per core that makes a warning."""
    load_per_core_critical: float = Field(3.0, gt=0)
    """1-minute load average per core that makes a critical finding."""
    cpu_utilization_warning: float = Field(0.90, gt=0, le=1)
    """CPU busy share over the sample that makes a warning while load per core is at least 1."""
    memory_available_warning: float = Field(0.10, ge=0, le=1)
    """Available memory as a share of the total at or below which a warning is made."""
    memory_available_critical: float = Field(0.05, ge=0, le=1)
    """Available memory as a share of the total at or below which a critical finding is made."""
    swap_out_warning_bytes_per_s: float = Field(1024 * 1024, ge=0)
    """Bytes swapped out per second over the sample that make a warning."""
    disk_used_warning: float = Field(0.85, gt=0, le=1)
    """Share of a mount's space used that makes a warning."""
    disk_used_critical: float = Field(0.95, gt=0, le=1)
    """Share of a mount's space used that makes a critical finding."""
    inodes_used_warning: float = Field(0.85, gt=0, le=1)
    """Share of a mount's inodes used that makes a warning."""
    inodes_used_critical: float = Field(0.95, gt=0, le=1)
    """Share of a mount's inodes used that makes a critical finding."""
    time_to_full_warning: Duration = timedelta(hours=24)
    """A mount filling steadily and predicted full within this time makes a warning."""
    time_to_full_critical: Duration = timedelta(hours=4)
    """A mount filling steadily and predicted full within this time makes a critical finding (see ``time_to_full_critical_min_used``)."""
    time_to_full_critical_min_used: float = Field(0.5, ge=0, le=1)
    """Below this share used, a time to full alone makes a disk a warning, never critical."""
    fill_observation: Duration = timedelta(seconds=3)
    """How long a mount whose free space falls is watched before its fill counts as sustained."""
    file_handles_warning: float = Field(0.80, gt=0, le=1)
    """System-wide open file handles as a share of fs.file-max that make a warning."""
    process_fds_warning: float = Field(0.80, gt=0, le=1)
    """A process's open file descriptors as a share of its RLIMIT_NOFILE that make a warning."""
    top_processes: int = Field(5, ge=1, le=50)
    """Processes by CPU listed as evidence of CPU saturation."""
    ignore_mounts: tuple[str, ...] = (
        "/snap/*",
        "/boot/efi",
        "/proc/*",
        "/sys/*",
        "/dev",
        "/run/credentials/*",
    )
    """Glob patterns of mount points not to judge."""


class HostProbe(Probe):
    id = "resources.host"
    checklist_item = ChecklistItem.RESOURCES
    description = "This host: CPU saturation, memory and swap, disk space and inodes, file descriptors"
    options_model = HostOptions

    def run(self, ctx: ProbeContext[HostOptions]) -> Iterable[Finding]:
        from probes.host.client import own_processes, take_snapshot
        from probes.host.judge_host import HostThresholds, judge_host

        options = ctx.options
        interval = min(options.sample_interval.total_seconds(), max(ctx.remaining() / 4, 0.05))
        observation = min(options.fill_observation.total_seconds(), max(ctx.remaining() / 2, interval))
        snapshot = take_snapshot(
            sample_interval=interval,
            ignore_mounts=options.ignore_mounts,
            fill_observation=observation,
            exclude_pids=own_processes(),
        )
        limits = HostThresholds(
            load_per_core_warning=options.load_per_core_warning,
            load_per_core_critical=options.load_per_core_critical,
            cpu_utilization_warning=options.cpu_utilization_warning,
            memory_available_warning=options.memory_available_warning,
            memory_available_critical=options.memory_available_critical,
            swap_out_warning_bytes_per_s=options.swap_out_warning_bytes_per_s,
            disk_used_warning=options.disk_used_warning,
            disk_used_critical=options.disk_used_critical,
            inodes_used_warning=options.inodes_used_warning,
            inodes_used_critical=options.inodes_used_critical,
            time_to_full_warning_s=options.time_to_full_warning.total_seconds(),
            time_to_full_critical_s=options.time_to_full_critical.total_seconds(),
            time_to_full_critical_min_used=options.time_to_full_critical_min_used,
            file_handles_warning=options.file_handles_warning,
            process_fds_warning=options.process_fds_warning,
            top_processes=options.top_processes,
        )
        # the host keeps no history: what it shows was seen now, at an unknown time after it began
        return judge_host(snapshot, limits, functools.partial(ctx.finding, seen_at=ctx.at))
