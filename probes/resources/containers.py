"""``resources.containers``: every container cAdvisor (through the kubelet) reports, by workload.

Signals (one instant query each across all containers) and default thresholds:

- CPU throttling (``cpu_throttling``): share of CFS periods throttled,
  ``container_cpu_cfs_throttled_periods_total / container_cpu_cfs_periods_total``, >= 25 %
  (warning), >= 50 % (critical). Evidence: CPU usage and limit (quota / period) in cores.
- Memory limit (``memory_limit``): working set >= 90 % (warning), >= 95 % (critical) of
  ``container_spec_memory_limit_bytes``.
- OOM kills (``container_oom``): any ``container_oom_events_total`` increase in the window
  (critical); without that counter, kube-state-metrics restarts whose last termination reason
  is ``OOMKilled``.
- Restarts (``container_restarts``, kube-state-metrics): >= 1 (warning), >= 5 (critical) in the
  window, with the last termination reason.

Containers are grouped by workload (``namespace/name``, from ``kube_pod_owner`` or the pod
name): one finding per kind and workload naming the worst pod, the others in its details.
The pause container and pod-level cgroups (``container="POD"`` or empty) are never judged.
Without cAdvisor metrics in Prometheus the probe ends ``skipped``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING

from pydantic import Field, field_validator, model_validator

from diagnostics import ChecklistItem, Duration, Finding, Probe, ProbeContext, ProbeOptions
from probes.prometheus.backend import SECTION
from probes.resources.promql import check_matchers

if TYPE_CHECKING:
    from probes.resources.containers_judge import ContainerThresholds
    from probes.resources.promql import QuerySet

CONTAINERS = 'container!="",container!="POD",pod!=""'


class ContainerOptions(ProbeOptions):
    """Settings of ``resources.containers`` (ratios are 0..1, counts over the window)."""

    selector: str = ""
    """Extra PromQL label matchers for every container series, e.g. ``namespace!="kube-system"``."""
    rate_interval: Duration = timedelta(minutes=5)
    throttling_warning: float = Field(0.25, gt=0, le=1)
    throttling_critical: float = Field(0.50, gt=0, le=1)
    memory_limit_warning: float = Field(0.90, gt=0)
    memory_limit_critical: float = Field(0.95, gt=0)
    ooms_critical: float = Field(1.0, ge=1)
    restarts_warning: float = Field(1.0, ge=1)
    restarts_critical: float = Field(5.0, ge=1)

    @field_validator("selector")
    @classmethod
    def _matchers(cls, value: str) -> str:
        return check_matchers(value)

    @model_validator(mode="after")
    def _ordered(self) -> ContainerOptions:
        for warning, critical in (
            ("throttling_warning", "throttling_critical"),
            ("memory_limit_warning", "memory_limit_critical"),
            ("restarts_warning", "restarts_critical"),
        ):
            if getattr(self, warning) > getattr(self, critical):
                raise ValueError(f"{warning} must be at most {critical}")
        return self


class ContainerResourcesProbe(Probe):
    id = "resources.containers"
    checklist_item = ChecklistItem.RESOURCES
    description = "Every cAdvisor container by workload: CPU throttling, memory vs limit, OOM kills, restarts"
    options_model = ContainerOptions
    backend_section = SECTION

    def run(self, ctx: ProbeContext) -> Iterable[Finding]:
        from probes.prometheus.client import PrometheusClient
        from probes.resources.containers_collect import collect_containers
        from probes.resources.containers_judge import judge_containers
        from probes.resources.fetch import Fetcher
        from probes.resources.problem import to_findings, with_onsets

        options = ctx.options
        assert isinstance(options, ContainerOptions)
        queries = query_set(options, ctx.window)
        with PrometheusClient.from_context(ctx) as client:
            fetcher = Fetcher(client, at=ctx.at)
            snapshot = collect_containers(fetcher, queries)
            problems = judge_containers(snapshot, queries, thresholds(options), ctx.window)
            problems = with_onsets(problems, fetcher, ctx.start)
        ctx.logger.debug(
            "%s: %d containers judged with %d queries",
            self.id,
            len(snapshot["working_set"]),
            len(fetcher.records),
        )
        return to_findings(problems, ctx.finding)


def query_set(options: ContainerOptions, window: timedelta) -> QuerySet:
    """The matchers and ranges of one run."""
    from probes.prometheus.client import nice_step
    from probes.resources.problem import ONSET_POINTS
    from probes.resources.promql import QuerySet, Ranges, join_matchers

    step = nice_step(window.total_seconds(), ONSET_POINTS, minimum=15.0)
    return QuerySet(
        matchers={"c": join_matchers(CONTAINERS, options.selector), "pod": 'pod!=""'},
        ranges=Ranges(
            rate=options.rate_interval.total_seconds(),
            window=window.total_seconds(),
            lookback=max(2 * step, 120.0),
        ),
        scope=options.selector,
    )


def thresholds(options: ContainerOptions) -> ContainerThresholds:
    from probes.resources.containers_judge import ContainerThresholds

    names = [item.name for item in dataclasses.fields(ContainerThresholds)]
    return ContainerThresholds(**{name: getattr(options, name) for name in names})
