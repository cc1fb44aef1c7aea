"""Every PromQL query of the resource probes, as named templates, and how they are filled in.

Templates use ``string.Template`` placeholders so that PromQL's own braces stay readable:

- ``$node``, ``$fs``, ``$disk``, ``$nic``: label matchers of node_exporter series (all of them,
  filesystems, block devices, network interfaces); ``$c`` of cAdvisor container series;
  ``$ksm`` and ``$ksm_pod`` of kube-state-metrics' container and pod series. Each exporter has
  its own matchers (a kubelet's ``job`` is not kube-state-metrics'). The same template serves
  the fleet-wide query and, narrowed with the entity's labels, the query a finding shows.
- ``$rate``: the ``rate()`` range; ``$window``: the diagnosed window; ``$trend``: the
  ``predict_linear`` lookback; ``$horizon``: the longest time to full worth reporting;
  ``$lookback``: the short range of event queries whose range shows when events happened.
- ``$at``: empty, or `` @ <unix time>`` on the selectors of a candidate filter, so that a range
  query keeps only the series that were past a floor at the diagnosed time.

Written for Prometheus >= 2.33 (the ``@`` modifier; 2.25 to 2.32 need
``--enable-feature=promql-at-modifier``), node_exporter >= 1.0, cAdvisor as served by the kubelet
at ``/metrics/cadvisor`` and kube-state-metrics >= 2.0.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from string import Template

# -- node_exporter: CPU ------------------------------------------------------------------------

CORES = 'count by (instance) (node_cpu_seconds_total{mode="idle",$node})'
CPU_BUSY = '1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle",$node}[$rate]))'
LOAD1 = "node_load1{$node}"
RUN_QUEUE = "node_procs_running{$node}"
LOAD_PER_CORE = """
node_load1{$node}
  / on (instance) count by (instance) (node_cpu_seconds_total{mode="idle",$node})
"""

# -- memory ------------------------------------------------------------------------------------

MEMORY_AVAILABLE = "node_memory_MemAvailable_bytes{$node}"
MEMORY_TOTAL = "node_memory_MemTotal_bytes{$node}"
MEMORY_AVAILABLE_RATIO = "node_memory_MemAvailable_bytes{$node} / node_memory_MemTotal_bytes{$node}"
MAJOR_FAULTS = "rate(node_vmstat_pgmajfault{$node}[$rate]$at)"
SWAP_PAGES = "rate(node_vmstat_pswpin{$node}[$rate]) + rate(node_vmstat_pswpout{$node}[$rate])"
OOM_KILLS = "increase(node_vmstat_oom_kill{$node}[$window]) > 0"
OOM_KILL_EVENTS = "increase(node_vmstat_oom_kill{$node}[$lookback]) > 0"

# -- filesystems -------------------------------------------------------------------------------

FS_AVAILABLE = "node_filesystem_avail_bytes{$fs}"
FS_SIZE = "node_filesystem_size_bytes{$fs}"
FS_USED_RATIO = "1 - node_filesystem_avail_bytes{$fs} / node_filesystem_size_bytes{$fs}"
FS_TIME_TO_FULL = """
(
  node_filesystem_avail_bytes{$fs}
    / -(
        (
          (deriv(node_filesystem_avail_bytes{$fs}[$trend]) >= deriv(node_filesystem_avail_bytes{$fs}[$rate]))
          or deriv(node_filesystem_avail_bytes{$fs}[$rate])
        ) < 0
      )
  > 0 <= $horizon
)
<= $extrapolation * (time() - min_over_time(timestamp(node_filesystem_avail_bytes{$fs})[$trend:$resolution]))
"""
"""Seconds until the free space now reaches zero at the slower of two fill rates: the trend
of the last ``$trend`` and of the last ``$rate``. Both must be falling, so a fill must be
sustained over the long range and still going on: a disk emptied a few minutes ago (its long
trend still falling) is not "full in 19s". A trend is extrapolated no further than
``$extrapolation`` times the history it was fitted on (a few minutes of churn after an
exporter started say nothing about tomorrow). Only filesystems full within ``$horizon``."""
FS_FORECAST = "predict_linear(node_filesystem_avail_bytes{$fs}[$trend], $horizon)"
FS_FILES_FREE = "node_filesystem_files_free{$fs}"
FS_FILES = "node_filesystem_files{$fs}"
FS_INODES_USED_RATIO = "1 - node_filesystem_files_free{$fs} / node_filesystem_files{$fs}"

# -- block devices -----------------------------------------------------------------------------

DISK_BUSY = "rate(node_disk_io_time_seconds_total{$disk}[$rate])"
DISK_QUEUE = "rate(node_disk_io_time_weighted_seconds_total{$disk}[$rate]$at)"
"""Average number of requests in flight (queued or serviced): the device's saturation."""

# -- network -----------------------------------------------------------------------------------

NET_ERRORS = """
rate(node_network_receive_errs_total{$nic}[$rate])
  + rate(node_network_transmit_errs_total{$nic}[$rate])
"""
NET_DROPS = """
rate(node_network_receive_drop_total{$nic}[$rate])
  + rate(node_network_transmit_drop_total{$nic}[$rate])
"""
NET_FAULTS = """
rate(node_network_receive_errs_total{$nic}[$rate]$at)
  + rate(node_network_transmit_errs_total{$nic}[$rate]$at)
  + rate(node_network_receive_drop_total{$nic}[$rate]$at)
  + rate(node_network_transmit_drop_total{$nic}[$rate]$at)
"""

# -- kernel tables -----------------------------------------------------------------------------

FD_ALLOCATED = "node_filefd_allocated{$node}"
FD_MAXIMUM = "node_filefd_maximum{$node}"
FD_RATIO = "node_filefd_allocated{$node} / node_filefd_maximum{$node}"
CONNTRACK_ENTRIES = "node_nf_conntrack_entries{$node}"
CONNTRACK_LIMIT = "node_nf_conntrack_entries_limit{$node}"
CONNTRACK_RATIO = "node_nf_conntrack_entries{$node} / node_nf_conntrack_entries_limit{$node}"
UNAME = "node_uname_info{$node}"
EXPORTER_DOWN = """
up{$node} == 0
  and on (instance, job) group by (instance, job) (present_over_time(node_load1{$node}[$history]))
"""
"""node_exporter targets Prometheus scraped within ``$history`` and cannot scrape now."""

# -- containers (cAdvisor through the kubelet, kube-state-metrics) -----------------------------

BY_CONTAINER = "namespace, pod, container"
THROTTLED_SHARE = """
sum by (namespace, pod, container) (rate(container_cpu_cfs_throttled_periods_total{$c}[$rate]))
  / sum by (namespace, pod, container) (rate(container_cpu_cfs_periods_total{$c}[$rate]))
"""
CPU_USAGE = "sum by (namespace, pod, container) (rate(container_cpu_usage_seconds_total{$c}[$rate]))"
CPU_LIMIT = """
max by (namespace, pod, container) (container_spec_cpu_quota{$c} / container_spec_cpu_period{$c})
"""
WORKING_SET = "max by (namespace, pod, container) (container_memory_working_set_bytes{$c})"
MEMORY_LIMIT = "max by (namespace, pod, container) (container_spec_memory_limit_bytes{$c} > 0)"
MEMORY_LIMIT_RATIO = """
max by (namespace, pod, container) (container_memory_working_set_bytes{$c})
  / max by (namespace, pod, container) (container_spec_memory_limit_bytes{$c} > 0)
"""
KSM_CPU_LIMIT = """
max by (namespace, pod, container) (kube_pod_container_resource_limits{resource="cpu",$ksm})
"""
"""kube-state-metrics' CPU limits (cores): the fallback when cAdvisor's spec series are dropped
(kube-prometheus-stack drops every ``container_spec_*`` series by default)."""
KSM_MEMORY_LIMIT = """
max by (namespace, pod, container) (kube_pod_container_resource_limits{resource="memory",$ksm} > 0)
"""
KSM_MEMORY_LIMIT_RATIO = """
max by (namespace, pod, container) (container_memory_working_set_bytes{$c})
  / on (namespace, pod, container)
    max by (namespace, pod, container) (kube_pod_container_resource_limits{resource="memory",$ksm} > 0)
"""
CONTAINER_OOMS = "sum by (namespace, pod, container) (increase(container_oom_events_total{$c}[$window])) > 0"
CONTAINER_OOM_EVENTS = (
    "sum by (namespace, pod, container) (increase(container_oom_events_total{$c}[$lookback])) > 0"
)
RESTARTS = "sum by (namespace, pod, container) (increase(kube_pod_container_status_restarts_total{$ksm}[$window])) > 0"
RESTART_EVENTS = "sum by (namespace, pod, container) (increase(kube_pod_container_status_restarts_total{$ksm}[$lookback])) > 0"
LAST_TERMINATED = """
kube_pod_container_status_last_terminated_reason{$ksm} == 1
  and on (namespace, pod, container)
    (increase(kube_pod_container_status_restarts_total{$ksm}[$window]) > 0)
"""
POD_OWNERS = 'kube_pod_owner{owner_is_controller="true",$ksm_pod}'

# -- discovery ---------------------------------------------------------------------------------

METRICS_PRESENT = 'count by (__name__) ({__name__=~"$names",$scope})'
"""Which of ``$names`` Prometheus has among the series ``$scope`` selects at the diagnosed time."""

_MATCHER = re.compile(r'^\s*[a-zA-Z_][a-zA-Z0-9_]*\s*(=|!=|=~|!~)\s*"(?:[^"\\]|\\.)*"\s*$')


def check_matchers(text: str) -> str:
    """Validate a comma-separated list of PromQL label matchers (``job="node",env!~"dev.*"``)."""
    for part in split_matchers(text):
        if not _MATCHER.match(part):
            raise ValueError(f'expected PromQL label matchers such as job="node", got {part!r}')
    return text.strip().strip(",")


def split_matchers(text: str) -> list[str]:
    """The matchers of a comma-separated list, commas inside quoted values respected."""
    parts, current, quoted, escaped = [], "", False, False
    for char in text:
        if char == "," and not quoted:
            parts.append(current)
            current = ""
            continue
        current += char
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
    parts.append(current)
    return [p.strip() for p in parts if p.strip()]


def quote(value: str) -> str:
    """A PromQL string literal."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def join_matchers(*parts: str) -> str:
    """One comma-separated list of the non-empty matcher lists ``parts``."""
    return ",".join(p.strip().strip(",") for p in parts if p.strip().strip(","))


def exact(labels: Mapping[str, str]) -> str:
    """Equality matchers for ``labels``: narrows a fleet-wide template to one entity."""
    return ",".join(f"{name}={quote(value)}" for name, value in labels.items())


def regex_literal(text: str) -> str:
    """``text`` as a regex matching itself (RE2 syntax; ``-`` left alone, unlike ``re.escape``)."""
    return re.sub(r"([.^$*+?()\[\]{}|\\])", r"\\\1", text)


def regex_alternatives(values: Iterable[str]) -> str:
    """A regex matching exactly ``values`` (for ``__name__=~``)."""
    return "|".join(regex_literal(v) for v in values)


@dataclass(frozen=True, slots=True, kw_only=True)
class Ranges:
    """The durations substituted into templates, as PromQL durations (``300s``)."""

    rate: float
    window: float
    trend: float = 3600.0
    horizon: float = 86400.0
    lookback: float = 120.0
    history: float = 86400.0
    extrapolation: float = 24.0
    """A trend fitted on w seconds of history predicts no more than this times w ahead."""


def seconds(value: float) -> str:
    """A PromQL duration: ``1h``, ``5m`` or ``90s``."""
    whole = max(round(value), 1)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if whole % size == 0:
            return f"{whole // size}{unit}"
    return f"{whole}s"


def render(template: str, matchers: Mapping[str, str], ranges: Ranges, *, at: float | None = None) -> str:
    """Fill ``template`` in; line breaks and indentation are collapsed into one line."""
    text = Template(template).substitute(
        {
            **matchers,
            "rate": seconds(ranges.rate),
            "window": seconds(ranges.window),
            "trend": seconds(ranges.trend),
            "horizon": f"{round(ranges.horizon)}",
            "lookback": seconds(ranges.lookback),
            "history": seconds(ranges.history),
            "extrapolation": f"{ranges.extrapolation:g}",
            "resolution": seconds(max(ranges.trend / 60, 1)),
            "at": "" if at is None else f" @ {at:.3f}",
        }
    )
    text = re.sub(r"\s*\n\s*", " ", text).strip()
    # empty matcher lists leave `{a="b",}` or `name{}`: tidy them for the queries findings show
    return _EMPTY_BRACES.sub("", _TRAILING_COMMA.sub("}", text))


_TRAILING_COMMA = re.compile(r",\s*}")
_EMPTY_BRACES = re.compile(r"(?<=[a-zA-Z0-9_]){}")


def discovery(names_by_scope: Mapping[str, Iterable[str]]) -> str:
    """One query telling which metrics exist: each group of names among the series its scope
    (the user's matchers of their exporter) selects, the groups joined with ``or on (__name__)``
    (a plain ``or`` matches without the metric name, and would keep the first group only)."""
    parts = [
        render(
            METRICS_PRESENT,
            {"names": regex_alternatives(sorted(names)), "scope": scope},
            Ranges(rate=1, window=1),
        )
        for scope, names in names_by_scope.items()
        if names
    ]
    return " or on (__name__) ".join(parts)


@dataclass(frozen=True, slots=True, kw_only=True)
class QuerySet:
    """The label matchers and ranges of one probe run: renders fleet-wide or scoped queries."""

    matchers: Mapping[str, str]
    """Placeholder name (``node``, ``fs``, ``c``...) -> label matchers (built-in and the user's)."""
    ranges: Ranges
    scopes: Mapping[str, str] = field(default_factory=dict)
    """Placeholder name -> the user's own matchers alone: what a scoped query keeps and what
    metric discovery is limited to (none when absent)."""

    def fleet(self, template: str, *, at: float | None = None) -> str:
        """``template`` across the fleet (``at``: pin the selectors of a candidate filter)."""
        return render(template, self.matchers, self.ranges, at=at)

    def scoped(
        self, template: str, labels: Mapping[str, str], *, regex: Mapping[str, str] | None = None
    ) -> str:
        """``template`` for one entity: its identity ``labels`` (and ``regex`` matchers).

        The built-in exclusions (pseudo filesystems, virtual interfaces, pause containers) are
        left out: the entity's own labels already select it, and the query stays readable.
        """
        regexes = ",".join(f"{k}=~{quote(v)}" for k, v in (regex or {}).items())
        narrowed = {
            name: join_matchers(self.scopes.get(name, ""), exact(labels), regexes) for name in self.matchers
        }
        return render(template, narrowed, self.ranges)

    def breach(self, template: str, operator: str, threshold: float) -> str:
        """The fleet-wide filter keeping the series past ``threshold`` (an onset query)."""
        return f"({self.fleet(template)}) {operator} {threshold:g}"
