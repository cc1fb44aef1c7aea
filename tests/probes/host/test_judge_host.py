"""resources.host judging on plain snapshots."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from diagnostics.contract import ProbeContext
from diagnostics.model import Severity
from probes.host.client import HostSnapshot, MountUsage, ProcessUsage
from probes.host.disk_trend import FillTrend
from probes.host.host import HostOptions, HostProbe
from probes.host.judge_host import judge_host

GIB = 1024**3
OPTIONS = HostOptions()
CTX = ProbeContext(
    probe_id=HostProbe.id, at=datetime(2026, 11, 27, tzinfo=UTC), window=timedelta(hours=1), options=OPTIONS
)


def limits():  # type: ignore[no-untyped-def]
    from probes.host.judge_host import HostThresholds

    o = OPTIONS
    return HostThresholds(
        load_per_core_warning=o.load_per_core_warning,
        load_per_core_critical=o.load_per_core_critical,
        cpu_utilization_warning=o.cpu_utilization_warning,
        memory_available_warning=o.memory_available_warning,
        memory_available_critical=o.memory_available_critical,
        swap_out_warning_bytes_per_s=o.swap_out_warning_bytes_per_s,
        disk_used_warning=o.disk_used_warning,
        disk_used_critical=o.disk_used_critical,
        inodes_used_warning=o.inodes_used_warning,
        inodes_used_critical=o.inodes_used_critical,
        time_to_full_warning_s=o.time_to_full_warning.total_seconds(),
        time_to_full_critical_s=o.time_to_full_critical.total_seconds(),
        time_to_full_critical_min_used=o.time_to_full_critical_min_used,
        file_handles_warning=o.file_handles_warning,
        process_fds_warning=o.process_fds_warning,
        top_processes=3,
    )


def mount(
    used: float = 0.5, growth: float | None = None, observed_s: float = 3.0, inodes_free: int = 900_000
) -> MountUsage:
    total = 100 * GIB
    return MountUsage(
        mountpoint="/data",
        device="/dev/vdb",
        fstype="ext4",
        total_bytes=total,
        used_bytes=int(total * used),
        free_bytes=int(total * (1 - used)),
        inodes_total=1_000_000,
        inodes_free=inodes_free,
        fill=None if growth is None else FillTrend(bytes_per_s=growth, observed_s=observed_s, samples=30),
    )


def snapshot(**changes: object) -> HostSnapshot:
    base: dict[str, object] = {
        "hostname": "web-1",
        "cpu_count": 4,
        "cpu_percent": 20.0,
        "load_average": (0.8, 0.7, 0.6),
        "memory_total": 16 * GIB,
        "memory_available": 8 * GIB,
        "swap_total": 0,
        "swap_used": 0,
        "swap_in_bytes_per_s": 0.0,
        "swap_out_bytes_per_s": 0.0,
        "mounts": (mount(),),
        "open_files": 2000,
        "max_files": 1_000_000,
        "processes": (
            ProcessUsage(
                pid=1,
                name="init",
                user="root",
                cpu_percent=0.1,
                rss_bytes=10_000_000,
                memory_percent=0.1,
                open_fds=40,
                fd_limit=1024,
            ),
            ProcessUsage(
                pid=812,
                name="java",
                user="app",
                cpu_percent=380.0,
                rss_bytes=6 * GIB,
                memory_percent=37.5,
                open_fds=100,
                fd_limit=1024,
            ),
        ),
        "sample_interval_s": 0.5,
    }
    base.update(changes)
    return HostSnapshot(**base)  # type: ignore[arg-type]


def test_a_healthy_host_yields_nothing() -> None:
    assert judge_host(snapshot(), limits(), CTX.finding) == []


def test_cpu_saturation_names_load_per_core_and_the_top_process() -> None:
    [finding] = judge_host(
        snapshot(cpu_percent=100.0, load_average=(32.0, 20.0, 10.0)), limits(), CTX.finding
    )
    assert finding.severity is Severity.CRITICAL
    assert finding.kind == "cpu_saturation"
    assert finding.title == "CPU saturated: load 32.0 on 4 cores (8.0 per core), 100 % busy"
    assert finding.evidence.details["top_by_cpu"][0]["name"] == "java"


def test_memory_pressure_and_swapping() -> None:
    [critical] = judge_host(snapshot(memory_available=int(0.4 * GIB)), limits(), CTX.finding)
    assert critical.severity is Severity.CRITICAL and critical.title.startswith(
        "Memory pressure: 2.5 % memory available"
    )
    [warning] = judge_host(snapshot(swap_out_bytes_per_s=5 * 1048576.0), limits(), CTX.finding)
    assert warning.severity is Severity.WARNING and "swapping out 5.0 MiB/s" in warning.title


def test_disk_thresholds_and_time_to_full() -> None:
    [warning] = judge_host(snapshot(mounts=(mount(used=0.9),)), limits(), CTX.finding)
    assert warning.severity is Severity.WARNING and warning.title == "Disk /data 90.0 % full (10.0 GiB free)"
    assert warning.entity.name == "web-1:/data"
    # 40 GiB free, filling 200 MiB/s steadily for 30 s: full in 3m25s
    [filling] = judge_host(
        snapshot(mounts=(mount(used=0.6, growth=200 * 1048576.0, observed_s=30.0),)), limits(), CTX.finding
    )
    assert filling.severity is Severity.CRITICAL
    assert (
        filling.title == "Disk /data 60.0 % full (40.0 GiB free), full in 3m25s at its rate over the last 30s"
    )
    ttf = next(m for m in filling.evidence.values if m.name == "time to full")
    assert 200 < ttf.value < 210


def test_a_mostly_empty_disk_filling_fast_is_a_warning_not_critical() -> None:
    [filling] = judge_host(
        snapshot(mounts=(mount(used=0.25, growth=500 * 1048576.0, observed_s=30.0),)), limits(), CTX.finding
    )
    assert filling.severity is Severity.WARNING
    assert "full in 2m34s" in filling.title


def test_a_time_to_full_beyond_what_the_observation_can_tell_is_not_claimed() -> None:
    # 50 GiB free at 5 MiB/s is 2h50m away; a 3 s observation cannot tell that far
    assert judge_host(snapshot(mounts=(mount(used=0.5, growth=5 * 1048576.0),)), limits(), CTX.finding) == []


def test_inodes_and_file_descriptors() -> None:
    [inodes] = judge_host(snapshot(mounts=(mount(inodes_free=20_000),)), limits(), CTX.finding)
    assert inodes.kind == "inodes" and inodes.severity is Severity.CRITICAL
    near = ProcessUsage(
        pid=77,
        name="nginx",
        user="www",
        cpu_percent=1.0,
        rss_bytes=1,
        memory_percent=0.0,
        open_fds=1000,
        fd_limit=1024,
    )
    [fds] = judge_host(snapshot(processes=(near,)), limits(), CTX.finding)
    assert fds.title == "Process nginx (pid 77) uses 1000 of its 1024 file descriptors"
    assert fds.severity is Severity.CRITICAL


def test_every_finding_names_the_machine_by_its_addresses_too() -> None:
    hot = snapshot(
        cpu_percent=100.0,
        load_average=(32.0, 20.0, 10.0),
        mounts=(mount(used=0.9),),
        addresses=("10.0.2.15", "127.0.0.1", "::1", "localhost"),
    )
    findings = judge_host(hot, limits(), CTX.finding)
    assert {f.entity.kind for f in findings} == {"host", "filesystem"}
    for finding in findings:
        assert finding.entity.attributes["aliases"] == f"{hot.hostname},10.0.2.15,127.0.0.1,::1,localhost"


def test_a_node_exporter_scraped_at_loopback_is_the_same_machine_in_the_summary() -> None:
    from datetime import UTC, datetime, timedelta

    from diagnostics.model import ChecklistItem, Entity, ProbeOutcome, Report, Status
    from diagnostics.summary.build import summarize

    hot = snapshot(cpu_percent=100.0, load_average=(32.0, 20.0, 10.0), mounts=(mount(used=0.9),),
                   addresses=("127.0.0.1", "::1", "localhost"))  # fmt: skip
    own = judge_host(hot, limits(), CTX.finding)
    # resources.nodes' view of the same machine: instance 127.0.0.1:9100, no uname series
    node = Entity(kind="host", name="127.0.0.1", attributes={"instance": "127.0.0.1:9100"})
    mountpoint = own[1].entity.attributes["mountpoint"]
    disk = Entity(
        kind="filesystem",
        name=f"127.0.0.1:{mountpoint}",
        attributes={"host": "127.0.0.1", "mountpoint": mountpoint},
    )
    seen = [
        replace(own[0], probe="resources.nodes", entity=node),
        replace(own[1], probe="resources.nodes", entity=disk),
    ]
    at = datetime(2026, 12, 7, tzinfo=UTC)
    outcomes = tuple(
        ProbeOutcome(probe=p, checklist_item=ChecklistItem.RESOURCES, status=Status.CRITICAL, duration_s=0.1)
        for p in ("resources.host", "resources.nodes")
    )
    report = Report(at=at, window=timedelta(hours=1), started_at=at, duration_s=1.0, probes=outcomes,
                    findings=(*own, *seen))  # fmt: skip
    ranking = summarize(report).ranking
    assert sorted(p.entity for p in ranking) == [
        f"filesystem {hot.hostname}:{mountpoint}",
        f"host {hot.hostname}",
    ]
    assert all(len(p.members) == 1 for p in ranking)
