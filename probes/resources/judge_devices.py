"""Judging filesystems, block devices and network interfaces. Pure functions over a NodeSnapshot."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping

from diagnostics import Entity, Measurement, Severity
from diagnostics.units import format_bytes, format_duration
from probes.resources import promql
from probes.resources.baseline import dating
from probes.resources.client import Key
from probes.resources.client_nodes import DEVICE, FILESYSTEM, NodeSnapshot
from probes.resources.judge_nodes import NodeThresholds, grade, host_entities, host_name
from probes.resources.problem import OnsetQuery, Problem


def judge_devices(snapshot: NodeSnapshot, queries: promql.QuerySet, limits: NodeThresholds) -> list[Problem]:
    """Disk space, time to full and inodes per filesystem; disk I/O and network per host."""
    hosts = host_entities(snapshot)
    problems: list[Problem] = []
    for key in sorted(set(snapshot["fs_size"].values) | set(snapshot["fs_files"].values)):
        problems += _filesystem(snapshot, queries, limits, key)
    problems += _disk_io(snapshot, queries, limits, hosts)
    problems += _network(snapshot, queries, limits, hosts)
    return problems


def _filesystem_entity(s: NodeSnapshot, key: Key) -> Entity:
    instance, mountpoint = key
    labels = s["fs_size"].labels.get(key) or s["fs_files"].labels.get(key) or {}
    host = host_name(instance)
    attributes = {"host": host, "mountpoint": mountpoint, "instance": instance}
    attributes.update({k: labels[k] for k in ("device", "fstype") if labels.get(k)})
    return Entity(kind="filesystem", name=f"{host}:{mountpoint}", attributes=attributes)


def _filesystem(s: NodeSnapshot, q: promql.QuerySet, limits: NodeThresholds, key: Key) -> Iterator[Problem]:
    entity = _filesystem_entity(s, key)
    scope = {"instance": key[0], "mountpoint": key[1]}
    host, mountpoint = entity.attributes["host"], key[1]
    size, available = s["fs_size"].get(key), s["fs_available"].get(key)
    time_to_full = s["fs_time_to_full"].get(key)
    used = 1 - available / size if size and available is not None else None
    filling = (
        grade(time_to_full, limits.time_to_full_warning_s, limits.time_to_full_critical_s, below=True)
        if time_to_full is not None
        else None
    )
    if filling is Severity.CRITICAL and (used is None or used < limits.time_to_full_critical_min_used):
        filling = Severity.WARNING  # a mostly empty disk is never critical on a trend alone
    space = grade(used, limits.disk_used_warning, limits.disk_used_critical) if used is not None else None
    values = (
        Measurement(name="used", value=None if used is None else round(used, 4), unit="ratio"),
        Measurement(name="available", value=available, unit="bytes"),
        Measurement(name="size", value=size, unit="bytes"),
        Measurement(
            name="time to full", value=None if time_to_full is None else round(time_to_full), unit="s"
        ),
    )
    steps = (
        f"ssh {host} 'du -xh --max-depth=2 {mountpoint} | sort -rh | head -20'",
        f"ssh {host} 'lsof +L1'  # deleted files still held open",
    )
    used_text = f"{used * 100:.1f} % used" if used is not None else "usage unknown"
    if filling is not None and time_to_full is not None:
        yield Problem(
            kind="disk_filling",
            severity=filling,
            title=f"Disk {mountpoint} on {host} full in {format_duration(time_to_full)} at the current rate ({used_text}, {format_bytes(available or 0)} free)",
            summary=(
                f"At the slower of its fill rates over the last {format_duration(q.ranges.trend)} and the last "
                f"{format_duration(q.ranges.rate)} (both falling), the free space of {mountpoint} reaches zero "
                f"in {format_duration(time_to_full)}."
            ),
            entity=entity,
            values=values,
            queries=(
                q.scoped(promql.FS_FORECAST, scope),
                q.scoped(promql.FS_TIME_TO_FULL, scope),
                q.scoped(promql.FS_AVAILABLE, scope),
            ),
            next_steps=steps,
            onset_query=OnsetQuery(promql=q.fleet(promql.FS_TIME_TO_FULL), key_labels=FILESYSTEM),
            onset_keys=(key,),
        )
    if space is not None and used is not None and (filling is None or space > filling):
        yield Problem(
            kind="disk_space",
            severity=space,
            title=f"Disk {mountpoint} on {host} {used * 100:.1f} % full ({format_bytes(available or 0)} free)",
            summary=f"{entity.attributes.get('device', 'the device')} on {mountpoint} is running out of space.",
            entity=entity,
            values=values,
            queries=(q.scoped(promql.FS_USED_RATIO, scope),),
            next_steps=steps,
            onset_query=OnsetQuery(
                promql=q.breach(promql.FS_USED_RATIO, ">=", limits.disk_used_warning), key_labels=FILESYSTEM
            ),
            onset_keys=(key,),
        )
    files, free_files = s["fs_files"].get(key), s["fs_files_free"].get(key)
    if files and free_files is not None:
        inodes_used = 1 - free_files / files
        severity = grade(inodes_used, limits.inodes_used_warning, limits.inodes_used_critical)
        if severity is not None:
            yield Problem(
                kind="inodes",
                severity=severity,
                title=f"Inodes of {mountpoint} on {host} {inodes_used * 100:.1f} % used ({free_files:.0f} left)",
                summary="Out of inodes, no file can be created even with space left.",
                entity=entity,
                values=(
                    Measurement(name="inodes used", value=round(inodes_used, 4), unit="ratio"),
                    Measurement(name="inodes free", value=int(free_files), unit="count"),
                    Measurement(name="inodes total", value=int(files), unit="count"),
                ),
                queries=(q.scoped(promql.FS_INODES_USED_RATIO, scope),),
                next_steps=(
                    f"ssh {host} 'find {mountpoint} -xdev -type d -size +1M'  # directories with many entries",
                ),
                onset_query=OnsetQuery(
                    promql=q.breach(promql.FS_INODES_USED_RATIO, ">=", limits.inodes_used_warning),
                    key_labels=FILESYSTEM,
                ),
                onset_keys=(key,),
            )


def _by_host(keys: set[Key]) -> dict[str, list[Key]]:
    grouped: dict[str, list[Key]] = defaultdict(list)
    for key in sorted(keys):
        grouped[key[0]].append(key)
    return grouped


def _disk_io(
    s: NodeSnapshot, q: promql.QuerySet, limits: NodeThresholds, hosts: Mapping[str, Entity]
) -> Iterator[Problem]:
    busy, queue = s["disk_busy"], s["disk_queue"]
    departed = s.departures.get("disk_queue", {})
    saturated = {k for k, v in busy.values.items() if v >= limits.disk_busy_warning} | set(departed)
    for instance, keys in _by_host(saturated).items():
        devices = []
        for key in keys:
            utilization, depth = busy.get(key) or 0.0, queue.get(key)
            severity = Severity.WARNING
            if (
                utilization >= limits.disk_busy_warning
                and depth is not None
                and depth >= limits.disk_queue_critical
            ):
                severity = Severity.CRITICAL
            devices.append((severity, utilization, depth, key))
        devices.sort(key=lambda d: (-d[0], -d[1]))
        severity, utilization, depth, worst = devices[0]
        entity = _host(hosts, instance)
        depth_text = f", {depth:.1f} requests in flight on average" if depth is not None else ""
        more = (
            f" (and {len(devices) - 1} more device{'s' if len(devices) > 2 else ''})"
            if len(devices) > 1
            else ""
        )
        departure = departed.get(worst)
        normal = f" (normally up to {departure.normal_high:.1f})" if departure else ""
        onset, onset_query, before_window = dating(
            departure if worst not in _over(busy.values, limits.disk_busy_warning) else None,
            OnsetQuery(promql=q.breach(promql.DISK_BUSY, ">=", limits.disk_busy_warning), key_labels=DEVICE),
        )
        yield Problem(
            kind="disk_io_saturation",
            severity=severity,
            title=f"Disk {worst[1]} on {entity.name} busy {utilization * 100:.0f} % of the time{depth_text}{normal}{more}",
            summary="The device cannot keep up: I/O waits queue up behind it.",
            entity=entity,
            values=(
                Measurement(name="device", value=worst[1]),
                Measurement(name="utilization", value=round(utilization, 4), unit="ratio"),
                Measurement(name="average queue depth", value=None if depth is None else round(depth, 2)),
            ),
            queries=(
                q.scoped(promql.DISK_BUSY, {"instance": instance, "device": worst[1]}),
                q.scoped(promql.DISK_QUEUE, {"instance": instance, "device": worst[1]}),
            ),
            details={
                "devices": [
                    {
                        "device": k[1],
                        "utilization": round(u, 4),
                        "queue_depth": None if d is None else round(d, 2),
                    }
                    for _, u, d, k in devices
                ]
            },
            next_steps=(f"ssh {entity.name} iostat -xz 5 3", f"ssh {entity.name} iotop -obn 3"),
            onset=onset,
            onset_query=onset_query,
            onset_keys=tuple(k for _, _, _, k in devices),
            began_before_window=before_window,
        )


def _network(
    s: NodeSnapshot, q: promql.QuerySet, limits: NodeThresholds, hosts: Mapping[str, Entity]
) -> Iterator[Problem]:
    errors, drops = s["net_errors"], s["net_drops"]
    departed = s.departures.get("net_faults", {})
    over_errors = _over(errors.values, limits.network_errors_warning)
    over_drops = _over(drops.values, limits.network_drops_warning)
    for instance, keys in _by_host(over_errors | over_drops | set(departed)).items():
        ranked = sorted(keys, key=lambda k: -((errors.get(k) or 0.0) + (drops.get(k) or 0.0)))
        worst = ranked[0]
        entity = _host(hosts, instance)
        err, drop = errors.get(worst) or 0.0, drops.get(worst) or 0.0
        departure = departed.get(worst)
        normal = (
            f" (normally up to {departure.normal_high:.1f}/s)"
            if departure and worst not in over_errors | over_drops
            else ""
        )
        more = (
            f" (and {len(ranked) - 1} more interface{'s' if len(ranked) > 2 else ''})"
            if len(ranked) > 1
            else ""
        )
        scope = {"instance": instance, "device": worst[1]}
        threshold_breach = worst in over_errors or worst in over_drops
        onset, onset_query, before_window = dating(
            None if threshold_breach else departure,
            OnsetQuery(
                promql=q.breach(promql.NET_ERRORS, ">=", limits.network_errors_warning)
                if worst in over_errors
                else q.breach(promql.NET_DROPS, ">=", limits.network_drops_warning),
                key_labels=DEVICE,
            ),
        )
        yield Problem(
            kind="network_errors",
            severity=Severity.WARNING,
            title=f"Interface {worst[1]} on {entity.name}: {err:.1f} errors/s, {drop:.1f} drops/s{normal}{more}",
            summary="Packets are lost on this interface: retransmissions, timeouts and resets follow.",
            entity=entity,
            values=(
                Measurement(name="interface", value=worst[1]),
                Measurement(name="errors", value=round(err, 3), unit="errors/s"),
                Measurement(name="drops", value=round(drop, 3), unit="drops/s"),
            ),
            queries=(q.scoped(promql.NET_ERRORS, scope), q.scoped(promql.NET_DROPS, scope)),
            details={
                "interfaces": [
                    {
                        "device": k[1],
                        "errors_per_s": round(errors.get(k) or 0.0, 3),
                        "drops_per_s": round(drops.get(k) or 0.0, 3),
                    }
                    for k in ranked
                ]
            },
            next_steps=(
                f"ssh {entity.name} ip -s link show {worst[1]}",
                f"ssh {entity.name} ethtool -S {worst[1]} | grep -iE 'err|drop'",
            ),
            onset=onset,
            onset_query=onset_query,
            onset_keys=tuple(ranked),
            began_before_window=before_window,
        )


def _over(values: Mapping[Key, float], threshold: float) -> set[Key]:
    return {k for k, v in values.items() if v >= threshold}


def _host(hosts: Mapping[str, Entity], instance: str) -> Entity:
    return hosts.get(instance) or Entity(
        kind="host", name=host_name(instance), attributes={"instance": instance}
    )
