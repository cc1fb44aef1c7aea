"""``deploys.rollouts``: what changed in the cluster before the incident, and how it went.

Signals (one list call each, cluster-wide or per configured namespace):

- Deployments with their ReplicaSets (``deployment.kubernetes.io/revision``, creation time; a
  rollback's re-used ReplicaSet dated by the ``Progressing`` condition), StatefulSets and
  DaemonSets with their ControllerRevisions: every pod template change dated in the window,
  with the old and new revision, the image and environment changes, the rollout state
  (complete, progressing, ``ProgressDeadlineExceeded``, unavailable replicas) and the rollback
  command (``kubectl rollout undo deployment/NAME -n NS --to-revision=N``).
- Helm 3 release secrets (``owner=helm``, metadata only): releases upgraded in the window with
  revision and status from the labels; the chart version from decoding that revision's secret
  and the previous one (at most ``max_chart_reads`` releases; never the values).

Default thresholds: a rollout in the window is a warning; stuck (``ProgressDeadlineExceeded``,
also when it began before the window) or with unavailable replicas ``unhealthy_after`` (5 min)
after it began is critical; a Helm revision ``failed`` or still ``pending-*`` after 5 min is
critical. Rollout state is the API's live state: with ``--at`` in the past it is as of now.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from diagnostics import ChecklistItem, Duration, Finding, ProbeContext, ProbeOptions
from probes.kubernetes.config import KubernetesSettings
from probes.kubernetes.contexts import KubernetesProbe


class RolloutsOptions(ProbeOptions):
    """Settings of ``deploys.rollouts``."""

    unhealthy_after: Duration = timedelta(minutes=5)
    """A rollout still with unavailable replicas this long after it began is critical."""
    helm: bool = True
    """Read Helm release history (needs list on secrets; only their metadata is fetched)."""
    max_chart_reads: int = Field(10, ge=0, le=50)
    """Releases upgraded in the window whose chart version is decoded (two secrets each)."""


class RolloutsProbe(KubernetesProbe):
    """Rollouts and Helm upgrades in the window, their state and the rollback command."""

    id = "deploys.rollouts"
    checklist_item = ChecklistItem.DEPLOYMENTS
    description = "Kubernetes rollouts and Helm upgrades in the window: images, revisions, state, rollback"
    options_model = RolloutsOptions

    def check(self, ctx: ProbeContext[RolloutsOptions], settings: KubernetesSettings) -> list[Finding]:
        """List workloads, their revisions and Helm releases once; judge what changed in the window."""
        from probes.kubernetes.client import KubeApi
        from probes.kubernetes.client_workloads import collect_rollouts
        from probes.kubernetes.findings import kubectl_suffix, list_call_findings
        from probes.kubernetes.judge_helm import judge_helm
        from probes.kubernetes.judge_rollouts import RolloutLimits, judge_rollouts

        options = ctx.options
        with KubeApi(settings, ctx) as api:
            data = collect_rollouts(
                api,
                settings,
                start=ctx.start,
                end=ctx.at,
                helm=options.helm,
                max_chart_reads=options.max_chart_reads,
            )
            cluster = api.host
        unhealthy_after = options.unhealthy_after.total_seconds()
        suffix = kubectl_suffix(settings.context)
        limits = RolloutLimits(unhealthy_after_s=unhealthy_after, kubectl_suffix=suffix)
        return [
            *judge_rollouts(data, start=ctx.start, at=ctx.at, limits=limits, make=ctx.finding),
            *judge_helm(
                data,
                start=ctx.start,
                at=ctx.at,
                unhealthy_after_s=unhealthy_after,
                kube_context=settings.context,
                make=ctx.finding,
            ),
            *list_call_findings(ctx, data.observed, cluster=cluster, kubectl_suffix=suffix),
        ]
