"""The objects around the workloads, as frozen values holding only the fields read.

Services and their EndpointSlices, Ingresses and IngressClasses, PersistentVolumeClaims,
PersistentVolumes and StorageClasses, Jobs and CronJobs, HorizontalPodAutoscalers,
PodDisruptionBudgets and admission webhooks. Built from the API's JSON by
:mod:`probes.kubernetes.parse_cluster`; workloads, pods and nodes are in
:mod:`probes.kubernetes.objects`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from probes.kubernetes.objects import Condition, Meta, WorkloadRef


def _condition(conditions: tuple[Condition, ...], kind: str) -> Condition | None:
    return next((c for c in conditions if c.type == kind), None)


@dataclass(frozen=True, slots=True, kw_only=True)
class PodLabels:
    """A pod as a Service selector sees it: its labels and the workload owning it."""

    meta: Meta
    workload: WorkloadRef


@dataclass(frozen=True, slots=True, kw_only=True)
class PodReadiness:
    """A pod as its workload's replica count sees it: ready or not, and since when."""

    workload: WorkloadRef
    name: str
    phase: str
    created: datetime | None
    ready: bool
    ready_since: datetime | None
    """The last transition of its ``Ready`` condition."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplicaSetState:
    """A ReplicaSet's replica counts and conditions (``ReplicaFailure``)."""

    meta: Meta
    desired: int
    ready: int
    conditions: tuple[Condition, ...] = ()

    def condition(self, kind: str) -> Condition | None:
        """The condition of type ``kind``, if the status has it."""
        return _condition(self.conditions, kind)


@dataclass(frozen=True, slots=True, kw_only=True)
class Service:
    """A Service; ``selector`` None for one without (its endpoints are managed by hand)."""

    meta: Meta
    type: str
    selector: Mapping[str, str] | None
    ports: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """``namespace/name``."""
        return f"{self.meta.namespace}/{self.meta.name}"


@dataclass(frozen=True, slots=True, kw_only=True)
class EndpointSlice:
    """An EndpointSlice of one Service: how many of its addresses are ready."""

    namespace: str
    service: str
    ready: int
    not_ready: int
    not_ready_pods: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class IngressBackend:
    """A Service an Ingress routes to, and from which host and path."""

    service: str
    port: str
    host: str
    path: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Ingress:
    """An Ingress: its class, backends and TLS secrets."""

    meta: Meta
    class_name: str | None
    backends: tuple[IngressBackend, ...]
    tls_secrets: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ClaimTemplate:
    """A StatefulSet's volume claim template."""

    name: str
    storage_class: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class StatefulSetStorage:
    """What a StatefulSet needs besides its pods: its governing Service and its claims' classes."""

    meta: Meta
    service_name: str | None
    claims: tuple[ClaimTemplate, ...]
    desired: int
    ready: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Claim:
    """A PersistentVolumeClaim."""

    meta: Meta
    phase: str
    storage_class: str | None
    """None: the cluster's default class (or none, when ``""`` was given: pre-bound only)."""
    volume: str | None
    requested: str | None = None
    conditions: tuple[Condition, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Volume:
    """A PersistentVolume."""

    name: str
    created: datetime | None
    phase: str
    reason: str | None
    message: str | None
    storage_class: str | None
    claim: str | None
    """``namespace/name`` of the claim bound to it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StorageClass:
    """A StorageClass: its provisioner, binding mode and whether it is the default."""

    name: str
    provisioner: str
    binding_mode: str
    default: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Job:
    """A Job with its outcome."""

    meta: Meta
    conditions: tuple[Condition, ...]
    active: int
    succeeded: int
    failed: int
    backoff_limit: int
    started: datetime | None
    completed: datetime | None
    suspended: bool = False

    def condition(self, kind: str) -> Condition | None:
        """The condition of type ``kind``, if the status has it."""
        return _condition(self.conditions, kind)

    @property
    def failure(self) -> Condition | None:
        """The ``Failed`` condition when it is True."""
        failed = self.condition("Failed")
        return failed if failed is not None and failed.status == "True" else None

    @property
    def finished(self) -> datetime | None:
        """When it completed or failed; None while it runs."""
        failure = self.failure
        if failure is not None:
            return failure.last_transition
        complete = self.condition("Complete")
        if complete is not None and complete.status == "True":
            return complete.last_transition or self.completed
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class CronJob:
    """A CronJob: its schedule and when it last ran."""

    meta: Meta
    schedule: str
    time_zone: str | None
    suspended: bool
    concurrency_policy: str
    starting_deadline_s: int | None
    last_schedule: datetime | None
    last_successful: datetime | None
    active: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricTarget:
    """One metric of an HPA: its target and, when the controller could read it, its current value."""

    name: str
    """``cpu``, ``memory`` or the metric's name."""
    kind: str
    """``Utilization`` (percent of requests), ``AverageValue`` or ``Value``."""
    target: float | None
    current: float | None
    unit: str
    """``%`` for utilisation, the quantity's own unit otherwise (``""``)."""

    @property
    def above_target(self) -> bool:
        """Whether the current value exceeds the target (not knowing either: False)."""
        return self.target is not None and self.current is not None and self.current > self.target


@dataclass(frozen=True, slots=True, kw_only=True)
class Autoscaler:
    """A HorizontalPodAutoscaler (autoscaling/v2)."""

    meta: Meta
    target_kind: str
    target_name: str
    min_replicas: int
    max_replicas: int
    current_replicas: int
    desired_replicas: int
    metrics: tuple[MetricTarget, ...]
    conditions: tuple[Condition, ...]

    def condition(self, kind: str) -> Condition | None:
        """The condition of type ``kind``, if the status has it."""
        return _condition(self.conditions, kind)


@dataclass(frozen=True, slots=True, kw_only=True)
class DisruptionBudget:
    """A PodDisruptionBudget and how many disruptions it allows now."""

    meta: Meta
    min_available: str | None
    max_unavailable: str | None
    disruptions_allowed: int
    current_healthy: int
    desired_healthy: int
    expected_pods: int
    selector: Mapping[str, str] = field(default_factory=dict)
    conditions: tuple[Condition, ...] = ()

    def condition(self, kind: str) -> Condition | None:
        """The condition of type ``kind``, if the status has it."""
        return _condition(self.conditions, kind)


@dataclass(frozen=True, slots=True, kw_only=True)
class Webhook:
    """One webhook of a Mutating- or ValidatingWebhookConfiguration."""

    configuration: str
    kind: str
    """``MutatingWebhookConfiguration`` or ``ValidatingWebhookConfiguration``."""
    name: str
    failure_policy: str
    service_namespace: str | None
    service_name: str | None
    """None when the webhook is called by URL (outside the cluster: not checked)."""
    operations: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    namespace_selector: Mapping[str, object] = field(default_factory=dict)

    @property
    def service_key(self) -> str | None:
        """``namespace/name`` of the Service it calls, if it calls one."""
        if self.service_name is None:
            return None
        return f"{self.service_namespace or 'default'}/{self.service_name}"
