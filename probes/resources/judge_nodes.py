"""Judging hosts: CPU, memory, OOM kills and kernel tables. Pure functions over a NodeSnapshot."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta

from diagnostics import Entity, Measurement, Severity
from diagnostics.units import format_duration
from probes.resources import promql
from probes.resources.baseline import dating
from probes.resources.client_nodes import HOST, NodeSnapshot
from probes.resources.problem import OnsetQuery, Problem


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeThresholds:
    """Thresholds of ``resources.nodes``; ratios are 0..1, rates per second."""

    load_per_core_warning: float = 1.5
    load_per_core_critical: float = 3.0
    cpu_busy_warning: float = 0.90
    memory_available_warning: float = 0.10
    memory_available_critical: float = 0.05
    swap_pages_warning: float = 256.0
    major_faults_floor: float = 100.0
    oom_kills_critical: float = 1.0
    disk_used_warning: float = 0.85
    disk_used_critical: float = 0.95
    time_to_full_warning_s: float = 24 * 3600.0
    time_to_full_critical_s: float = 4 * 3600.0
    time_to_full_critical_min_used: float = 0.5
    inodes_used_warning: float = 0.85
    inodes_used_critical: float = 0.95
    disk_busy_warning: float = 0.90
    disk_queue_critical: float = 8.0
    disk_queue_floor: float = 1.0
    network_errors_warning: float = 1.0
    network_drops_warning: float = 100.0
    network_faults_floor: float = 1.0
    fd_warning: float = 0.80
    fd_critical: float = 0.95
    conntrack_warning: float = 0.80
    conntrack_critical: float = 0.95


def host_name(instance: str) -> str:
    """``instance`` without its port: ``web-1:9100`` -> ``web-1``, ``[::1]:9100`` -> ``::1``."""
    if instance.startswith("["):
        return instance[1:].split("]", 1)[0]
    if instance.count(":") == 1:
        return instance.rsplit(":", 1)[0]
    return instance


def host_entities(snapshot: NodeSnapshot) -> dict[str, Entity]:
    """One ``host`` entity per instance, with its job and node name when known."""
    entities = {}
    for instance in snapshot.instances():
        key = (instance,)
        attributes = {"instance": instance}
        for vector in (snapshot["uname"], snapshot["load1"], snapshot["memory_total"]):
            labels = vector.labels.get(key)
            if labels and labels.get("job"):
                attributes["job"] = labels["job"]
                break
        nodename = (snapshot["uname"].labels.get(key) or {}).get("nodename")
        if nodename:
            attributes["node"] = nodename
        entities[instance] = Entity(kind="host", name=host_name(instance), attributes=attributes)
    return entities


def grade(value: float, warning: float, critical: float, *, below: bool = False) -> Severity | None:
    """The severity of ``value`` against two thresholds (``below``: lower is worse)."""
    if math.isnan(value):
        return None
    if (value <= critical) if below else (value >= critical):
        return Severity.CRITICAL
    if (value <= warning) if below else (value >= warning):
        return Severity.WARNING
    return None


def judge_hosts(
    snapshot: NodeSnapshot, queries: promql.QuerySet, limits: NodeThresholds, window: timedelta
) -> list[Problem]:
    """CPU saturation, memory pressure, OOM kills, file descriptors and conntrack per host."""
    problems: list[Problem] = []
    for instance, entity in host_entities(snapshot).items():
        scope = {"instance": instance}
        problems += _cpu(snapshot, queries, limits, entity, scope)
        problems += _memory(snapshot, queries, limits, entity, scope)
        problems += _oom(snapshot, queries, limits, entity, scope, window)
        problems += _tables(snapshot, queries, limits, entity, scope)
    return problems


def _cpu(
    s: NodeSnapshot, q: promql.QuerySet, limits: NodeThresholds, host: Entity, scope: Mapping[str, str]
) -> Iterator[Problem]:
    key = (scope["instance"],)
    cores, load1 = s["cores"].get(key), s["load1"].get(key)
    if not cores or load1 is None:
        return
    busy = s["cpu_busy"].get(key)
    per_core = load1 / cores
    severity = grade(per_core, limits.load_per_core_warning, limits.load_per_core_critical)
    onset = q.breach(promql.LOAD_PER_CORE, ">=", limits.load_per_core_warning)
    if severity is None and busy is not None and busy >= limits.cpu_busy_warning and per_core >= 1.0:
        severity = Severity.WARNING
        onset = q.breach(promql.CPU_BUSY, ">=", limits.cpu_busy_warning)
    if severity is None:
        return
    run_queue = s["run_queue"].get(key)
    busy_text = f", {busy * 100:.0f} % busy" if busy is not None else ""
    yield Problem(
        kind="cpu_saturation",
        severity=severity,
        title=f"CPU saturated on {host.name}: load {load1:.1f} on {cores:.0f} cores ({per_core:.1f} per core){busy_text}",
        summary="More runnable work than cores: requests queue for CPU and latency rises.",
        entity=host,
        values=(
            Measurement(name="cpu utilization", value=None if busy is None else round(busy, 4), unit="ratio"),
            Measurement(name="load 1m", value=round(load1, 2)),
            Measurement(name="cores", value=int(cores), unit="count"),
            Measurement(name="load per core", value=round(per_core, 2)),
            Measurement(
                name="runnable processes", value=None if run_queue is None else int(run_queue), unit="count"
            ),
        ),
        queries=(
            q.scoped(promql.LOAD_PER_CORE, scope),
            q.scoped(promql.CPU_BUSY, scope),
            q.scoped(promql.RUN_QUEUE, scope),
        ),
        details={
            "thresholds": {
                "load_per_core_warning": limits.load_per_core_warning,
                "load_per_core_critical": limits.load_per_core_critical,
            }
        },
        next_steps=(f"ssh {host.name} top -o %CPU", f"ssh {host.name} pidstat -u 5 1"),
        onset_query=OnsetQuery(promql=onset, key_labels=HOST),
        onset_keys=(key,),
    )


def _memory(
    s: NodeSnapshot, q: promql.QuerySet, limits: NodeThresholds, host: Entity, scope: Mapping[str, str]
) -> Iterator[Problem]:
    key = (scope["instance"],)
    available, total = s["memory_available"].get(key), s["memory_total"].get(key)
    swap = s["swap_pages"].get(key)
    faults = s.departures.get("major_faults", {}).get(key)
    ratio = available / total if available is not None and total else math.nan
    severity = grade(ratio, limits.memory_available_warning, limits.memory_available_critical, below=True)
    onset_query = OnsetQuery(
        promql=q.breach(promql.MEMORY_AVAILABLE_RATIO, "<=", limits.memory_available_warning), key_labels=HOST
    )
    reasons = [f"{ratio * 100:.1f} % memory available"] if severity else []
    if swap is not None and swap >= limits.swap_pages_warning:
        severity = severity or Severity.WARNING
        reasons.append(f"swapping {swap:.0f} pages/s")
        if len(reasons) == 1:
            onset_query = OnsetQuery(
                promql=q.breach(promql.SWAP_PAGES, ">=", limits.swap_pages_warning), key_labels=HOST
            )
    dated_by_faults = False
    if faults is not None:
        severity = severity or Severity.WARNING
        reasons.append(f"{faults.value:.0f} major page faults/s (normally up to {faults.normal_high:.0f})")
        dated_by_faults = len(reasons) == 1
    if severity is None:
        return
    # major faults alone cross no threshold: their departure dates the problem
    onset, dated_onset_query, before_window = dating(faults if dated_by_faults else None, onset_query)
    yield Problem(
        kind="memory_pressure",
        severity=severity,
        title=f"Memory pressure on {host.name}: {', '.join(reasons)}",
        summary="Little memory left: the kernel reclaims, swaps or reads pages back from disk, and the OOM killer is near.",
        entity=host,
        values=(
            Measurement(name="memory available", value=available, unit="bytes"),
            Measurement(name="memory total", value=total, unit="bytes"),
            Measurement(
                name="available ratio", value=None if math.isnan(ratio) else round(ratio, 4), unit="ratio"
            ),
            Measurement(name="swap in+out", value=None if swap is None else round(swap, 1), unit="pages/s"),
            Measurement(
                name="major page faults",
                value=None if faults is None else round(faults.value, 1),
                unit="faults/s",
            ),
        ),
        queries=(
            q.scoped(promql.MEMORY_AVAILABLE_RATIO, scope),
            q.scoped(promql.SWAP_PAGES, scope),
            q.scoped(promql.MAJOR_FAULTS, scope),
        ),
        details={"major_faults_expected": None if faults is None else round(faults.expected, 1)},
        next_steps=(f"ssh {host.name} 'ps aux --sort=-rss | head'", f"ssh {host.name} vmstat 5 3"),
        onset=onset,
        onset_query=dated_onset_query,
        onset_keys=(key,),
        began_before_window=before_window,
    )


def _oom(
    s: NodeSnapshot,
    q: promql.QuerySet,
    limits: NodeThresholds,
    host: Entity,
    scope: Mapping[str, str],
    window: timedelta,
) -> Iterator[Problem]:
    key = (scope["instance"],)
    kills = s["oom_kills"].get(key)
    count = 0 if kills is None or kills <= 0 else max(1, round(kills))
    if count == 0 or count < limits.oom_kills_critical:
        return
    yield Problem(
        kind="oom_kill",
        severity=Severity.CRITICAL,
        title=f"OOM killer fired {count} time{'s' if count > 1 else ''} on {host.name} in the last {format_duration(window)}",
        summary="The kernel ran out of memory and killed a process.",
        entity=host,
        values=(Measurement(name="oom kills", value=count, unit="count"),),
        queries=(q.scoped(promql.OOM_KILLS, scope),),
        next_steps=(
            f"ssh {host.name} journalctl -k --since=-{format_duration(window)} | grep -i -A5 'out of memory'",
        ),
        onset_query=OnsetQuery(promql=q.fleet(promql.OOM_KILL_EVENTS), key_labels=HOST, dating="first_event"),
        onset_keys=(key,),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class _Table:
    """A kernel table judged by how full it is: its signals, thresholds and wording."""

    kind: str
    used: str
    limit: str
    thresholds: str
    """Prefix of the ``*_warning`` and ``*_critical`` thresholds."""
    template: str
    what: str
    consequence: str
    remedy: str


TABLES = (
    _Table(
        kind="fd_exhaustion",
        used="fd_allocated",
        limit="fd_maximum",
        thresholds="fd",
        template=promql.FD_RATIO,
        what="File descriptors",
        consequence="new files and sockets fail with EMFILE/ENFILE",
        remedy="cat /proc/sys/fs/file-nr; lsof -n | awk '{print $1}' | sort | uniq -c | sort -rn | head",
    ),
    _Table(
        kind="conntrack",
        used="conntrack_entries",
        limit="conntrack_limit",
        thresholds="conntrack",
        template=promql.CONNTRACK_RATIO,
        what="Conntrack table",
        consequence="new connections are dropped when the table is full",
        remedy="conntrack -S; sysctl net.netfilter.nf_conntrack_max",
    ),
)


def _tables(
    s: NodeSnapshot, q: promql.QuerySet, limits: NodeThresholds, host: Entity, scope: Mapping[str, str]
) -> Iterator[Problem]:
    key = (scope["instance"],)
    for table in TABLES:
        used, limit = s[table.used].get(key), s[table.limit].get(key)
        if used is None or not limit:
            continue
        ratio = used / limit
        warning = getattr(limits, f"{table.thresholds}_warning")
        severity = grade(ratio, warning, getattr(limits, f"{table.thresholds}_critical"))
        if severity is None:
            continue
        yield Problem(
            kind=table.kind,
            severity=severity,
            title=f"{table.what} on {host.name} {ratio * 100:.1f} % used ({used:.0f} of {limit:.0f})",
            summary=f"{table.what} nearly exhausted: {table.consequence}.",
            entity=host,
            values=(
                Measurement(name="used", value=int(used), unit="count"),
                Measurement(name="limit", value=int(limit), unit="count"),
                Measurement(name="used ratio", value=round(ratio, 4), unit="ratio"),
            ),
            queries=(q.scoped(table.template, scope),),
            next_steps=(f"ssh {host.name} '{table.remedy}'",),
            onset_query=OnsetQuery(promql=q.breach(table.template, ">=", warning), key_labels=HOST),
            onset_keys=(key,),
        )
