"""Reading containers' cAdvisor (kubelet) and kube-state-metrics series: one query per signal.

Restarts, last termination reasons and pod owners come from kube-state-metrics when it is
scraped; without it, workloads are derived from pod names and restarts are not judged. CPU and
memory limits come from cAdvisor's ``container_spec_*`` series, or, when those are dropped (as
kube-prometheus-stack does by default), from kube-state-metrics'
``kube_pod_container_resource_limits``. Metric
discovery looks for each exporter's metrics among the series its own selector picks.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from probes.resources import promql
from probes.resources.client import Fetcher, Vector, empty, require_exporter

CONTAINER = ("namespace", "pod", "container")
POD = ("namespace", "pod")

MARKERS = ("container_cpu_usage_seconds_total", "container_memory_working_set_bytes")
"""cAdvisor is there when any of these is; without them the probe is skipped."""
KUBE_STATE_METRICS = frozenset(
    {
        "kube_pod_container_status_restarts_total",
        "kube_pod_container_status_last_terminated_reason",
        "kube_pod_owner",
        "kube_pod_container_resource_limits",
    }
)
"""The metrics of kube-state-metrics (selected with ``kube_state_selector``); the others are cAdvisor's."""

SIGNALS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "throttled_share": (
        promql.THROTTLED_SHARE,
        CONTAINER,
        ("container_cpu_cfs_throttled_periods_total", "container_cpu_cfs_periods_total"),
    ),
    "cpu_usage": (promql.CPU_USAGE, CONTAINER, ("container_cpu_usage_seconds_total",)),
    "cpu_limit": (promql.CPU_LIMIT, CONTAINER, ("container_spec_cpu_quota", "container_spec_cpu_period")),
    "working_set": (promql.WORKING_SET, CONTAINER, ("container_memory_working_set_bytes",)),
    "memory_limit": (promql.MEMORY_LIMIT, CONTAINER, ("container_spec_memory_limit_bytes",)),
    "ooms": (promql.CONTAINER_OOMS, CONTAINER, ("container_oom_events_total",)),
    "restarts": (promql.RESTARTS, CONTAINER, ("kube_pod_container_status_restarts_total",)),
    "last_terminated": (
        promql.LAST_TERMINATED,
        CONTAINER,
        ("kube_pod_container_status_last_terminated_reason", "kube_pod_container_status_restarts_total"),
    ),
    "owners": (promql.POD_OWNERS, POD, ("kube_pod_owner",)),
}
KSM_LIMITS = "kube_pod_container_resource_limits"
LIMIT_FALLBACKS = {"cpu_limit": promql.KSM_CPU_LIMIT, "memory_limit": promql.KSM_MEMORY_LIMIT}
"""Limits read from kube-state-metrics when cAdvisor's spec series are absent."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ContainerSnapshot:
    """Every signal of every container at the diagnosed time."""

    present: frozenset[str]
    signals: dict[str, Vector]
    limits_from_kube_state: frozenset[str] = frozenset()
    """The limit signals (``cpu_limit``, ``memory_limit``) read from kube-state-metrics."""

    def __getitem__(self, name: str) -> Vector:
        return self.signals[name]


def all_metrics() -> list[str]:
    """Every metric the probe reads, sorted."""
    names = {metric for _, _, metrics in SIGNALS.values() for metric in metrics}
    return sorted(names | set(MARKERS) | {KSM_LIMITS})


def metrics_by_scope(queries: promql.QuerySet) -> dict[str, list[str]]:
    """The metrics to discover, grouped by the user's matchers of their exporter."""
    grouped: dict[str, list[str]] = defaultdict(list)
    for name in all_metrics():
        grouped[queries.scopes.get("ksm" if name in KUBE_STATE_METRICS else "c", "")].append(name)
    return dict(grouped)


def collect_containers(fetcher: Fetcher, queries: promql.QuerySet) -> ContainerSnapshot:
    """Read every signal (skipping the probe when cAdvisor's metrics are absent)."""
    present = fetcher.metrics_present(metrics_by_scope(queries))
    require_exporter(
        present,
        MARKERS,
        "cAdvisor",
        "scrape the kubelets' /metrics/cadvisor endpoint (or run cAdvisor) in Prometheus",
    )
    signals = {
        name: fetcher.vector(queries.fleet(template), key_labels)
        if present.issuperset(metrics)
        else empty(key_labels)
        for name, (template, key_labels, metrics) in SIGNALS.items()
    }
    fallbacks = {
        name for name in LIMIT_FALLBACKS if not present.issuperset(SIGNALS[name][2]) and KSM_LIMITS in present
    }
    for name in fallbacks:
        signals[name] = fetcher.vector(queries.fleet(LIMIT_FALLBACKS[name]), CONTAINER)
    return ContainerSnapshot(present=present, signals=signals, limits_from_kube_state=frozenset(fallbacks))
