"""What the probes of the objects around workloads read, each resource listed once per run.

A fixed number of list calls per probe whatever the cluster's size (one per resource type,
or one per configured namespace), never one per object. A resource RBAC refuses is recorded
(and reported by the probe) while the others are still judged; whatever needs the refused
resource to be judged ("this Service does not exist") is then left unjudged, not guessed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from diagnostics import ErrorKind, ProbeError
from probes.kubernetes.client import (
    CRON_JOBS,
    DAEMON_SETS,
    DEPLOYMENTS,
    ENDPOINT_SLICES,
    EVENTS,
    HORIZONTAL_POD_AUTOSCALERS,
    INGRESS_CLASSES,
    INGRESSES,
    JOBS,
    MUTATING_WEBHOOKS,
    PERSISTENT_VOLUME_CLAIMS,
    PERSISTENT_VOLUMES,
    POD_DISRUPTION_BUDGETS,
    PODS,
    REPLICA_SETS,
    SECRETS,
    SERVICES,
    STATEFUL_SETS,
    STORAGE_CLASSES,
    VALIDATING_WEBHOOKS,
    KubeApi,
    Listing,
    Resource,
)
from probes.kubernetes.client_workloads import Observed, _observed
from probes.kubernetes.cluster_objects import (
    Autoscaler,
    Claim,
    CronJob,
    DisruptionBudget,
    EndpointSlice,
    Ingress,
    Job,
    PodLabels,
    PodReadiness,
    ReplicaSetState,
    Service,
    StatefulSetStorage,
    StorageClass,
    Volume,
    Webhook,
)
from probes.kubernetes.config import KubernetesSettings
from probes.kubernetes.objects import Event, Workload
from probes.kubernetes.parse import parse_event, parse_workload
from probes.kubernetes.parse_cluster import (
    parse_autoscaler,
    parse_claim,
    parse_cron_job,
    parse_disruption_budget,
    parse_endpoint_slice,
    parse_ingress,
    parse_ingress_class,
    parse_job,
    parse_pod_labels,
    parse_pod_readiness,
    parse_replica_set_state,
    parse_service,
    parse_stateful_set_storage,
    parse_storage_class,
    parse_volume,
    parse_webhooks,
)


@dataclass(frozen=True, slots=True)
class Catalog:
    """Which objects of one kind exist, and where their absence can be told."""

    names: frozenset[tuple[str, str]]
    """(namespace, name); the namespace is ``""`` for cluster-scoped objects."""
    listing: Listing | None = None
    """None: not listed at all (nothing needed it): nothing can be said to be missing."""

    def missing(self, namespace: str, name: str) -> bool:
        """Whether ``namespace/name`` was looked for where it could be seen, and is not there."""
        if self.listing is None or not self.listing.covers(namespace or None):
            return False
        return (namespace, name) not in self.names

    @classmethod
    def of(cls, listing: Listing) -> Catalog:
        """The names in ``listing``."""
        names = set()
        for item in listing.items:
            meta = item.get("metadata") or {}
            names.add((meta.get("namespace") or "", meta.get("name") or ""))
        return cls(frozenset(names), listing)


NOT_LISTED = Catalog(frozenset())


def _require_any(listings: Iterable[Listing]) -> None:
    """Every list call refused: an error of the probe, not a finding."""
    listed = list(listings)
    if listed and all(listing.readable_scopes == 0 for listing in listed):
        reason = next((f.message for listing in listed for f in listing.forbidden), "forbidden")
        plurals = ", ".join(listing.resource.plural for listing in listed)
        raise ProbeError(f"not allowed to list {plurals}: {reason}", kind=ErrorKind.PERMISSION)


def _metadata(api: KubeApi, resource: Resource, *, label_selector: str | None = None) -> Listing:
    return api.list_objects(resource, label_selector=label_selector, metadata_only=True)


# -- workloads.replicas -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplicaData:
    """Workloads with their ReplicaSets' conditions and their pods' readiness."""

    workloads: tuple[Workload, ...]
    replica_sets: tuple[ReplicaSetState, ...]
    pods: tuple[PodReadiness, ...]
    observed: Observed


def collect_replicas(api: KubeApi, settings: KubernetesSettings) -> ReplicaData:
    """Deployments, StatefulSets, DaemonSets and ReplicaSets; pods when a workload is short."""
    selector = settings.label_selector
    kinds = ((DEPLOYMENTS, "Deployment"), (STATEFUL_SETS, "StatefulSet"), (DAEMON_SETS, "DaemonSet"))
    listings = [(api.list_objects(resource, label_selector=selector), kind) for resource, kind in kinds]
    _require_any(listing for listing, _ in listings)
    workloads = [parse_workload(o, kind) for listing, kind in listings for o in listing.items]
    replica_sets = api.list_objects(REPLICA_SETS, label_selector=selector)
    read = [*(listing for listing, _ in listings), replica_sets]
    pods: tuple[PodReadiness, ...] = ()
    # the pods date a shortfall: on a cluster where every workload has its replicas (the usual
    # case) the biggest list call is not needed
    if any(w.available < w.desired for w in workloads):
        pod_listing = api.list_objects(PODS, label_selector=selector)
        read.append(pod_listing)
        pods = tuple(parse_pod_readiness(o) for o in pod_listing.items)
    return ReplicaData(
        workloads=tuple(workloads),
        replica_sets=tuple(parse_replica_set_state(o) for o in replica_sets.items),
        pods=pods,
        observed=_observed(api, read),
    )


# -- workloads.services -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceData:
    """Services with their EndpointSlices and the pods their selectors match; Ingresses."""

    services: tuple[Service, ...]
    slices: tuple[EndpointSlice, ...]
    pods: tuple[PodLabels, ...]
    pods_listing: Listing
    slices_listing: Listing
    ingresses: tuple[Ingress, ...]
    service_names: Catalog
    ingress_classes: Catalog
    default_ingress_class: bool
    secrets: Catalog = field(default=NOT_LISTED)
    observed: Observed


def collect_services(api: KubeApi, settings: KubernetesSettings) -> ServiceData:
    """Services, EndpointSlices, pods (metadata only) and Ingresses; IngressClasses and TLS
    secrets (metadata only) when an Ingress names them."""
    services = api.list_objects(SERVICES)
    slices = api.list_objects(ENDPOINT_SLICES)
    pods = _metadata(api, PODS)
    ingresses = api.list_objects(INGRESSES)
    listings = [services, slices, pods, ingresses]
    _require_any(listings)
    parsed_ingresses = tuple(parse_ingress(o) for o in ingresses.items)
    classes = NOT_LISTED
    default_class = False
    if parsed_ingresses:
        class_listing = api.list_objects(INGRESS_CLASSES)
        listings.append(class_listing)
        classes = Catalog.of(class_listing)
        default_class = any(parse_ingress_class(o)[1] for o in class_listing.items)
    secrets = NOT_LISTED
    if any(i.tls_secrets for i in parsed_ingresses):
        secret_listing = _metadata(api, SECRETS)
        listings.append(secret_listing)
        secrets = Catalog.of(secret_listing)
    return ServiceData(
        services=tuple(parse_service(o) for o in services.items),
        slices=tuple(s for o in slices.items if (s := parse_endpoint_slice(o))),
        pods=tuple(parse_pod_labels(o) for o in pods.items),
        pods_listing=pods,
        slices_listing=slices,
        ingresses=parsed_ingresses,
        service_names=Catalog.of(services),
        ingress_classes=classes,
        default_ingress_class=default_class,
        secrets=secrets,
        observed=_observed(api, listings),
    )


# -- workloads.storage ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class StorageData:
    """Claims, volumes, classes, StatefulSets and the events about claims."""

    claims: tuple[Claim, ...]
    volumes: tuple[Volume, ...]
    classes: tuple[StorageClass, ...]
    class_names: Catalog
    stateful_sets: tuple[StatefulSetStorage, ...]
    service_names: Catalog
    events: tuple[Event, ...]
    observed: Observed


def collect_storage(api: KubeApi, settings: KubernetesSettings) -> StorageData:
    """PVCs, PVs, StorageClasses, StatefulSets, Services (metadata) and PVC events."""
    claims = api.list_objects(PERSISTENT_VOLUME_CLAIMS)
    volumes = api.list_objects(PERSISTENT_VOLUMES)
    classes = api.list_objects(STORAGE_CLASSES)
    stateful_sets = api.list_objects(STATEFUL_SETS, label_selector=settings.label_selector)
    listings = [claims, volumes, classes, stateful_sets]
    _require_any(listings)
    services = NOT_LISTED
    if stateful_sets.items:
        service_listing = _metadata(api, SERVICES)
        listings.append(service_listing)
        services = Catalog.of(service_listing)
    events: tuple[Event, ...] = ()
    if any((o.get("status") or {}).get("phase", "Pending") == "Pending" for o in claims.items):
        event_listing = api.list_objects(EVENTS, field_selector="involvedObject.kind=PersistentVolumeClaim")
        listings.append(event_listing)
        events = tuple(parse_event(o) for o in event_listing.items)
    return StorageData(
        claims=tuple(parse_claim(o) for o in claims.items),
        volumes=tuple(parse_volume(o) for o in volumes.items),
        classes=tuple(parse_storage_class(o) for o in classes.items),
        class_names=Catalog.of(classes),
        stateful_sets=tuple(parse_stateful_set_storage(o) for o in stateful_sets.items),
        service_names=services,
        events=events,
        observed=_observed(api, listings),
    )


# -- workloads.batch --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchData:
    """Jobs and CronJobs."""

    jobs: tuple[Job, ...]
    cron_jobs: tuple[CronJob, ...]
    observed: Observed


def collect_batch(api: KubeApi, settings: KubernetesSettings) -> BatchData:
    """Jobs and CronJobs: two list calls."""
    jobs = api.list_objects(JOBS)
    cron_jobs = api.list_objects(CRON_JOBS, label_selector=settings.label_selector)
    _require_any([jobs, cron_jobs])
    return BatchData(
        jobs=tuple(parse_job(o) for o in jobs.items),
        cron_jobs=tuple(parse_cron_job(o) for o in cron_jobs.items),
        observed=_observed(api, [jobs, cron_jobs]),
    )


# -- workloads.autoscaling --------------------------------------------------------------------

SCALE_TARGETS = {"Deployment": DEPLOYMENTS, "StatefulSet": STATEFUL_SETS, "ReplicaSet": REPLICA_SETS}


@dataclass(frozen=True, slots=True, kw_only=True)
class AutoscalingData:
    """HPAs with the workloads they scale, and PDBs."""

    autoscalers: tuple[Autoscaler, ...]
    targets: dict[str, Catalog]
    """Kind -> the objects of that kind (metadata only), for the kinds HPAs target."""
    budgets: tuple[DisruptionBudget, ...]
    observed: Observed


def collect_autoscaling(api: KubeApi, settings: KubernetesSettings) -> AutoscalingData:
    """HPAs, PDBs, and the metadata of each kind of workload an HPA targets."""
    autoscalers = api.list_objects(HORIZONTAL_POD_AUTOSCALERS)
    budgets = api.list_objects(POD_DISRUPTION_BUDGETS)
    listings = [autoscalers, budgets]
    _require_any(listings)
    parsed = tuple(parse_autoscaler(o) for o in autoscalers.items)
    targets: dict[str, Catalog] = {}
    for kind in sorted({a.target_kind for a in parsed} & SCALE_TARGETS.keys()):
        listing = _metadata(api, SCALE_TARGETS[kind])
        listings.append(listing)
        targets[kind] = Catalog.of(listing)
    return AutoscalingData(
        autoscalers=parsed,
        targets=targets,
        budgets=tuple(parse_disruption_budget(o) for o in budgets.items),
        observed=_observed(api, listings),
    )


# -- workloads.admission ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class AdmissionData:
    """Webhooks with the Services they call and those Services' EndpointSlices."""

    webhooks: tuple[Webhook, ...]
    service_names: Catalog
    slices: tuple[EndpointSlice, ...]
    slices_listing: Listing | None
    observed: Observed


def collect_admission(api: KubeApi) -> AdmissionData:
    """Webhook configurations (cluster-scoped); Services and EndpointSlices when a webhook calls one.

    Webhook Services live in any namespace (often a controller's own): they are listed
    cluster-wide, or in the configured namespaces.
    """
    mutating = api.list_objects(MUTATING_WEBHOOKS)
    validating = api.list_objects(VALIDATING_WEBHOOKS)
    listings = [mutating, validating]
    _require_any(listings)
    webhooks = [
        *(w for o in mutating.items for w in parse_webhooks(o, "MutatingWebhookConfiguration")),
        *(w for o in validating.items for w in parse_webhooks(o, "ValidatingWebhookConfiguration")),
    ]
    services = NOT_LISTED
    slices: tuple[EndpointSlice, ...] = ()
    slices_listing = None
    if any(w.service_name for w in webhooks):
        service_listing = _metadata(api, SERVICES)
        slices_listing = api.list_objects(ENDPOINT_SLICES)
        listings += [service_listing, slices_listing]
        services = Catalog.of(service_listing)
        slices = tuple(s for o in slices_listing.items if (s := parse_endpoint_slice(o)))
    return AdmissionData(
        webhooks=tuple(webhooks),
        service_names=services,
        slices=slices,
        slices_listing=slices_listing,
        observed=_observed(api, listings),
    )
