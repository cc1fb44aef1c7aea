"""What each probe reads from the cluster, read once through :class:`~probes.kubernetes.client.KubeApi`.

A handful of list calls per probe whatever the cluster's size (no call per object), plus a
bounded number of single reads: the release secrets of Helm upgrades in the window, the
previous logs of a few crashing containers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from diagnostics import ErrorKind, ProbeError
from probes.kubernetes.client import (
    CONTROLLER_REVISIONS,
    DAEMON_SETS,
    DEPLOYMENTS,
    EVENTS,
    NODES,
    PODS,
    REPLICA_SETS,
    SECRETS,
    STATEFUL_SETS,
    KubeApi,
    Listing,
)
from probes.kubernetes.config import KubernetesSettings
from probes.kubernetes.helm import HELM_SELECTOR, decode_chart, helm_revision, releases, rollback_target
from probes.kubernetes.history import History, histories
from probes.kubernetes.objects import Event, Forbidden, HelmChart, HelmRevision, Node, Pod, Revision
from probes.kubernetes.parse import (
    parse_controller_revision,
    parse_event,
    parse_node,
    parse_pod,
    parse_replica_set,
    parse_workload,
)

OPTIONAL_READ_RESERVE_S = 1.0
"""Logs and Helm charts are read only while this much time is left before the deadline."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Observed:
    """How the reading went: what was refused, which calls were made, the server's clock."""

    forbidden: tuple[Forbidden, ...] = ()
    queries: tuple[str, ...] = ()
    server_time: datetime | None = None
    truncated: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class RolloutData:
    """What ``deploys.rollouts`` read: workload histories, Helm revisions, decoded charts."""

    histories: tuple[History, ...]
    helm: tuple[HelmRevision, ...]
    charts: Mapping[tuple[str, str], HelmChart]
    """(namespace, secret name) -> the chart that release revision installed."""
    observed: Observed


@dataclass(frozen=True, slots=True, kw_only=True)
class PodData:
    """What ``workloads.pods`` read: pods and Warning events."""

    pods: tuple[Pod, ...]
    events: tuple[Event, ...]
    observed: Observed


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeData:
    """What ``workloads.nodes`` read."""

    nodes: tuple[Node, ...]
    observed: Observed


@dataclass(frozen=True, slots=True, kw_only=True)
class LogTarget:
    """A container whose previous instance's log is read."""

    namespace: str
    pod: str
    container: str


def _require(listing: Listing) -> None:
    """Nothing of the probe's main resource could be read: that is an error, not a finding."""
    if listing.readable_scopes == 0:
        reason = listing.forbidden[0].message if listing.forbidden else "forbidden"
        raise ProbeError(
            f"not allowed to list {listing.resource.plural}: {reason}", kind=ErrorKind.PERMISSION
        )


def _observed(api: KubeApi, listings: Iterable[Listing]) -> Observed:
    listed = list(listings)
    return Observed(
        forbidden=tuple(f for listing in listed for f in listing.forbidden),
        queries=tuple(dict.fromkeys(api.queries)),
        server_time=api.server_time,
        truncated=any(listing.truncated for listing in listed),
    )


def collect_rollouts(
    api: KubeApi,
    settings: KubernetesSettings,
    *,
    start: datetime,
    end: datetime,
    helm: bool,
    max_chart_reads: int,
) -> RolloutData:
    """Workloads with their revisions, and Helm release history (metadata only)."""
    selector = settings.label_selector
    deployments = api.list_objects(DEPLOYMENTS, label_selector=selector)
    _require(deployments)
    statefulsets = api.list_objects(STATEFUL_SETS, label_selector=selector)
    daemonsets = api.list_objects(DAEMON_SETS, label_selector=selector)
    listings = [deployments, statefulsets, daemonsets]
    workloads = [
        *(parse_workload(o, "Deployment") for o in deployments.items),
        *(parse_workload(o, "StatefulSet") for o in statefulsets.items),
        *(parse_workload(o, "DaemonSet") for o in daemonsets.items),
    ]
    revisions: list[Revision] = []
    # ReplicaSets and ControllerRevisions are matched to their owners by uid, not by the
    # selector: their labels are the pod template's, which need not carry the workload's
    if deployments.items:
        replica_sets = api.list_objects(REPLICA_SETS)
        listings.append(replica_sets)
        revisions += [r for o in replica_sets.items if (r := parse_replica_set(o))]
    if statefulsets.items or daemonsets.items:
        controller_revisions = api.list_objects(CONTROLLER_REVISIONS)
        listings.append(controller_revisions)
        revisions += [r for o in controller_revisions.items if (r := parse_controller_revision(o))]
    helm_revisions: list[HelmRevision] = []
    charts: dict[tuple[str, str], HelmChart] = {}
    if helm:
        secrets = api.list_objects(SECRETS, label_selector=HELM_SELECTOR, metadata_only=True)
        listings.append(secrets)
        helm_revisions = [h for o in secrets.items if (h := helm_revision(o))]
        charts = _read_charts(api, helm_revisions, start, end, max_chart_reads)
    return RolloutData(
        histories=tuple(histories(workloads, revisions)),
        helm=tuple(helm_revisions),
        charts=charts,
        observed=_observed(api, listings),
    )


def _read_charts(
    api: KubeApi, revisions: list[HelmRevision], start: datetime, end: datetime, limit: int
) -> dict[tuple[str, str], HelmChart]:
    """Decode the revisions upgraded in the window and the ones a rollback would return to (bounded)."""
    wanted: list[HelmRevision] = []
    for history in releases(revisions).values():
        recent = [r for r in history if r.created and start <= r.created <= end]
        if not recent:
            continue
        latest = recent[-1]
        target = rollback_target(history, latest.number)
        wanted += [latest, *([target] if target else [])]
    charts: dict[tuple[str, str], HelmChart] = {}
    for revision in wanted[: 2 * limit]:
        if api.remaining() < OPTIONAL_READ_RESERVE_S:
            break  # the chart versions are a nicety: keep the time for judging what was read
        secret = api.get(SECRETS, revision.namespace, revision.secret_name)
        chart = decode_chart(secret) if secret else None
        if chart is not None:
            charts[(revision.namespace, revision.secret_name)] = chart
    return charts


def collect_pods(api: KubeApi, settings: KubernetesSettings) -> PodData:
    """Every selected pod, and the Warning events the API server still keeps (about an hour)."""
    pods = api.list_objects(PODS, label_selector=settings.label_selector)
    _require(pods)
    events = api.list_objects(EVENTS, field_selector="type=Warning")
    return PodData(
        pods=tuple(parse_pod(o) for o in pods.items),
        events=tuple(parse_event(o) for o in events.items),
        observed=_observed(api, [pods, events]),
    )


def read_logs(api: KubeApi, targets: Iterable[LogTarget], *, tail_lines: int) -> dict[LogTarget, str]:
    """The previous instance's last lines for each target that has one."""
    logs = {}
    for target in targets:
        if api.remaining() < OPTIONAL_READ_RESERVE_S:
            break
        text = api.previous_log(target.namespace, target.pod, target.container, tail_lines=tail_lines)
        if text:
            logs[target] = text
    return logs


def collect_nodes(api: KubeApi) -> NodeData:
    """Every node (cluster-scoped: neither namespaces nor the label selector apply)."""
    nodes = api.list_objects(NODES)
    _require(nodes)
    return NodeData(nodes=tuple(parse_node(o) for o in nodes.items), observed=_observed(api, [nodes]))
