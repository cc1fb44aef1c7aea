"""``resources.containers``: every container cAdvisor (through the kubelet) reports, by workload.

Signals (one instant query each across all containers) and default thresholds:

- CPU throttling (``cpu_throttling``): share of CFS periods throttled,
  ``container_cpu_cfs_throttled_periods_total / container_cpu_cfs_periods_total``, >= 25 %
  (warning), >= 50 % (critical). Evidence: CPU usage and limit (quota / period) in cores.
- Memory limit (``memory_limit``): working set >= 90 % (warning), >= 95 % (critical) of
  ``container_spec_memory_limit_bytes``, or of kube-state-metrics'
  ``kube_pod_container_resource_limits{resource="memory"}`` when cAdvisor's spec series are
  dropped (kube-prometheus-stack's default); CPU limits likewise.
- OOM kills (``container_oom``): any ``container_oom_events_total`` increase in the window
  (critical); without that counter, a container restarted in the window whose last termination
  reason (kube-state-metrics) is ``OOMKilled``: one known kill, the last restart, since
  kube-state-metrics keeps no reason for the earlier ones.
- Restarts (``container_restarts``, kube-state-metrics): >= 1 (warning), >= 5 (critical) in the
  window, with the last termination reason.

cAdvisor series are selected with ``selector``, kube-state-metrics series (restarts, termination
reasons, pod owners) with ``kube_state_selector``: the two exporters are scraped by different
jobs, so one selector cannot serve both.

Containers are grouped by workload (``namespace/name``, from ``kube_pod_owner`` or the pod
name): one finding per kind and workload naming the worst pod, the others in its details.
The pause container and pod-level cgroups (``container="POD"`` or empty) are never judged.
Without cAdvisor metrics in Prometheus the probe ends ``skipped``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING

from pydantic import Field

from diagnostics import ChecklistItem, Finding, Probe, ProbeContext
from probes.prometheus.config import SECTION
from probes.resources.config import Matchers, Ordered, ResourceOptions, thresholds

if TYPE_CHECKING:
    from probes.resources.client import Fetcher
    from probes.resources.client_containers import ContainerSnapshot
    from probes.resources.problem import Problem
    from probes.resources.promql import QuerySet

CONTAINERS = 'container!="",container!="POD",pod!=""'
"""Built into every cAdvisor container selector: no pod-level cgroup, no pause container."""
KUBE_STATE_CONTAINERS = 'container!="",pod!=""'
KUBE_STATE_PODS = 'pod!=""'


class ContainerOptions(ResourceOptions):
    """Settings of ``resources.containers`` (ratios are 0..1, counts over the window)."""

    ordered = (
        Ordered("throttling_warning", "throttling_critical"),
        Ordered("memory_limit_warning", "memory_limit_critical"),
        Ordered("restarts_warning", "restarts_critical"),
    )

    selector: Matchers = ""
    """Extra PromQL label matchers for every cAdvisor series, e.g. ``namespace!="kube-system"``."""
    kube_state_selector: Matchers = ""
    """Extra PromQL label matchers for every kube-state-metrics series (restarts, termination
    reasons, pod owners), e.g. ``job="kube-state-metrics"``."""
    throttling_warning: float = Field(0.25, gt=0, le=1)
    """Share of CFS periods throttled (0..1) that makes a warning."""
    throttling_critical: float = Field(0.50, gt=0, le=1)
    """Share of CFS periods throttled (0..1) that makes a critical finding."""
    memory_limit_warning: float = Field(0.90, gt=0)
    """Working set as a share of the memory limit that makes a warning."""
    memory_limit_critical: float = Field(0.95, gt=0)
    """Working set as a share of the memory limit that makes a critical finding."""
    ooms_critical: float = Field(1.0, ge=1)
    """OOM kills of a container in the window that make a critical finding."""
    restarts_warning: float = Field(1.0, ge=1)
    """Restarts of a container in the window that make a warning."""
    restarts_critical: float = Field(5.0, ge=1)
    """Restarts of a container in the window that make a critical finding."""


class ContainerResourcesProbe(Probe):
    """``resources.containers``: a cluster's containers by workload, from cAdvisor and kube-state-metrics."""

    id = "resources.containers"
    checklist_item = ChecklistItem.RESOURCES
    description = "Every cAdvisor container by workload: CPU throttling, memory vs limit, OOM kills, restarts"
    options_model = ContainerOptions
    backend_section = SECTION

    def run(self, ctx: ProbeContext[ContainerOptions]) -> Iterable[Finding]:
        """Collect every signal across the cluster, judge it by workload, date what was found."""
        from probes.prometheus.client import PrometheusClient
        from probes.resources.client import Fetcher
        from probes.resources.problem import to_findings

        options = ctx.options
        with PrometheusClient.from_context(ctx) as client:
            fetcher = Fetcher(client, at=ctx.at)
            snapshot, problems = fleet_problems(fetcher, options, ctx.window)
        ctx.logger.debug(
            "%s: %d containers judged with %d queries",
            self.id,
            len(snapshot["working_set"]),
            len(fetcher.records),
        )
        return to_findings(problems, ctx.finding)


def fleet_problems(
    fetcher: Fetcher, options: ContainerOptions, window: timedelta
) -> tuple[ContainerSnapshot, list[Problem]]:
    """The probe's work through ``fetcher``: collect, judge, then date the problems found."""
    from probes.resources.client_containers import collect_containers
    from probes.resources.judge_containers import ContainerThresholds, judge_containers
    from probes.resources.problem import with_onsets

    queries = query_set(options, window)
    snapshot = collect_containers(fetcher, queries)
    problems = judge_containers(snapshot, queries, thresholds(options, ContainerThresholds), window)
    return snapshot, with_onsets(problems, fetcher, fetcher.at - window)


def query_set(options: ContainerOptions, window: timedelta) -> QuerySet:
    """The matchers and ranges of one run: ``c`` for cAdvisor series, ``ksm`` and ``ksm_pod``
    for kube-state-metrics' container and pod series."""
    from probes.resources.problem import event_lookback
    from probes.resources.promql import QuerySet, Ranges, join_matchers

    return QuerySet(
        matchers={
            "c": join_matchers(CONTAINERS, options.selector),
            "ksm": join_matchers(KUBE_STATE_CONTAINERS, options.kube_state_selector),
            "ksm_pod": join_matchers(KUBE_STATE_PODS, options.kube_state_selector),
        },
        ranges=Ranges(
            rate=options.rate_interval.total_seconds(),
            window=window.total_seconds(),
            lookback=event_lookback(window),
        ),
        scopes={
            "c": options.selector,
            "ksm": options.kube_state_selector,
            "ksm_pod": options.kube_state_selector,
        },
    )
