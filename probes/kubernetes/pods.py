"""``workloads.pods``: pods failing now, grouped by the workload that owns them.

Signals (two list calls: pods with the label selector, events with ``type=Warning``; plus the
previous log of at most ``max_log_reads`` crashing containers, ``log_tail_lines`` lines each):

- ``crash_loop``: containers waiting in CrashLoopBackOff, with the last exit code and reason and
  the tail of the previous instance's log (critical);
- ``oom_killed``: crash-looping with the last termination OOMKilled (critical), or last
  terminated OOMKilled within the window (a warning), with the memory limit;
- ``restarts``: a non-zero exit within the window (warning);
- ``image_pull`` (ImagePullBackOff, ErrImagePull, InvalidImageName, ImageInspectError...) and
  ``container_error`` (CreateContainerConfigError, RunContainerError, PreStartHookError... any
  waiting reason but ContainerCreating and PodInitializing): critical;
- ``pull_secret_missing``: the kubelet's ``FailedToRetrieveImagePullSecret`` events, per
  workload, with the secret names (critical when the image pull fails too, else a warning);
- ``pending``: unschedulable with the scheduler's reason, a warning after ``pending_warning``
  (2 min), critical after ``pending_critical`` (10 min);
- ``evicted``: evicted within the window (warning; see :mod:`probes.kubernetes.pod_problems`
  for how an eviction is dated);
- ``failed``: pods that ended ``Failed`` (not evicted) in the window, with their containers'
  non-zero exits or the pod's reason (warning);
- ``warning_events``: Warning events overlapping the window, grouped by reason and object, that
  no finding above explains (warning; the ``max_event_groups`` biggest).

Pod state is live: pods created after ``--at`` are left out, and with ``--at`` in the past the
findings say their state is as of now. Events are kept about an hour by the API server. The
onset of crashing containers is their first failure as the pod's status can place it, or
unknown: never their last crash (:mod:`probes.kubernetes.pod_problems`). Every kubectl command
carries ``--context`` when one is configured.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from diagnostics import ChecklistItem, Duration, Finding, ProbeContext, ProbeOptions
from probes.kubernetes.config import KubernetesSettings
from probes.kubernetes.contexts import KubernetesProbe


class PodsOptions(ProbeOptions):
    """Settings of ``workloads.pods``."""

    pending_warning: Duration = timedelta(minutes=2)
    """A pod Pending this long is a warning."""
    pending_critical: Duration = timedelta(minutes=10)
    """A pod Pending this long is critical."""
    log_tail_lines: int = Field(20, ge=1, le=200)
    """Lines of a crashed container's previous log shown."""
    max_log_reads: int = Field(5, ge=0, le=20)
    """Crashing workloads whose previous container log is read (one container each)."""
    max_event_groups: int = Field(15, ge=0, le=100)
    """Warning-event groups (by reason and object) reported at most."""


class PodsProbe(KubernetesProbe):
    """Failing pods grouped by owning workload, and unexplained Warning events."""

    id = "workloads.pods"
    checklist_item = ChecklistItem.RESOURCES
    description = (
        "Kubernetes pods: crash loops, OOM kills, image pulls, blocked containers, Pending, evictions, "
        "failed pods, missing pull secrets, Warning events"
    )
    options_model = PodsOptions

    def check(self, ctx: ProbeContext[PodsOptions], settings: KubernetesSettings) -> list[Finding]:
        """List pods and Warning events once, read a few crashed containers' logs, judge."""
        from probes.kubernetes.client import KubeApi
        from probes.kubernetes.client_workloads import collect_pods, read_logs
        from probes.kubernetes.findings import kubectl_suffix, list_call_findings
        from probes.kubernetes.judge_events import EXPLAINED_BY, by_subject, group_events, judge_events
        from probes.kubernetes.judge_pods import PodLimits, judge_pod_groups, log_targets
        from probes.kubernetes.judge_pull_secrets import PULL_SECRET_REASON, judge_pull_secrets
        from probes.kubernetes.pod_problems import group_problems, pod_problems

        options = ctx.options
        with KubeApi(settings, ctx) as api:
            data = collect_pods(api, settings)
            groups = group_problems(p for pod in data.pods for p in pod_problems(pod, ctx.start, ctx.at))
            logs = read_logs(
                api, log_targets(groups, options.max_log_reads), tail_lines=options.log_tail_lines
            )
            cluster = api.host
        event_groups = group_events(
            data.events, data.pods, ctx.start, ctx.at, selected_only=settings.label_selector is not None
        )
        explained = {
            (group.workload.key, reason) for group in groups for reason in EXPLAINED_BY.get(group.kind, ())
        } | {(g.entity.name, g.reason) for g in event_groups if g.reason == PULL_SECRET_REASON}
        suffix = kubectl_suffix(settings.context)
        return [
            *judge_pod_groups(
                groups,
                logs=logs,
                events=by_subject(event_groups),
                at=ctx.at,
                server_time=data.observed.server_time,
                limits=PodLimits(
                    pending_warning_s=options.pending_warning.total_seconds(),
                    pending_critical_s=options.pending_critical.total_seconds(),
                    kubectl_suffix=suffix,
                ),
                queries=data.observed.queries,
                make=ctx.finding,
            ),
            *judge_pull_secrets(
                event_groups, groups, queries=data.observed.queries, kubectl_suffix=suffix, make=ctx.finding
            ),
            *judge_events(
                event_groups,
                explained=explained,
                limit=options.max_event_groups,
                queries=data.observed.queries,
                kubectl_suffix=suffix,
                make=ctx.finding,
            ),
            *list_call_findings(ctx, data.observed, cluster=cluster, kubectl_suffix=suffix),
        ]
