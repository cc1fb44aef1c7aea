"""``workloads.batch``: Jobs that failed, CronJobs whose runs fail or that do not run when due.

Signals (two list calls: Jobs, CronJobs with the label selector): a Job's ``Failed`` condition
(backoff limit, deadline) turned True in the window (warning); a CronJob whose most recent runs
(its Jobs, matched by owner uid) failed (a warning; critical from ``critical_streak``, 3, in a
row); a CronJob not scheduled although its schedule (evaluated with cronsim, in its
``timeZone``) was due more than ``grace`` (5 min) ago (warning); a suspended CronJob (info).
See :mod:`probes.kubernetes.judge_batch`.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from diagnostics import ChecklistItem, Duration, Finding, ProbeContext, ProbeOptions
from probes.kubernetes.config import KubernetesSettings
from probes.kubernetes.contexts import KubernetesProbe


class BatchOptions(ProbeOptions):
    """Settings of ``workloads.batch``."""

    grace: Duration = timedelta(minutes=5)
    """A due time passed this long ago without the CronJob being scheduled is a missed run."""
    critical_streak: int = Field(3, ge=1, le=100)
    """This many failed CronJob runs in a row are critical."""


class BatchProbe(KubernetesProbe):
    """Failed Jobs, failing CronJobs, CronJobs that missed their schedule."""

    id = "workloads.batch"
    checklist_item = ChecklistItem.RESOURCES
    description = "Kubernetes Jobs that failed, CronJobs failing or not scheduled when due"
    options_model = BatchOptions

    def check(self, ctx: ProbeContext[BatchOptions], settings: KubernetesSettings) -> list[Finding]:
        """List Jobs and CronJobs once; judge their runs and schedules."""
        from probes.kubernetes.client import KubeApi
        from probes.kubernetes.client_cluster import collect_batch
        from probes.kubernetes.findings import kubectl_suffix, list_call_findings
        from probes.kubernetes.judge_batch import BatchLimits, judge_batch

        options = ctx.options
        with KubeApi(settings, ctx) as api:
            data = collect_batch(api, settings)
            cluster = api.host
        suffix = kubectl_suffix(settings.context)
        limits = BatchLimits(
            grace_s=options.grace.total_seconds(),
            critical_streak=options.critical_streak,
            kubectl_suffix=suffix,
        )
        return [
            *judge_batch(
                data.jobs,
                data.cron_jobs,
                start=ctx.start,
                at=ctx.at,
                server_time=data.observed.server_time,
                limits=limits,
                queries=data.observed.queries,
                make=ctx.finding,
            ),
            *list_call_findings(ctx, data.observed, cluster=cluster, kubectl_suffix=suffix),
        ]
