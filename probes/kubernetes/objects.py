"""The cluster objects the probes judge, as frozen values holding only the fields read.

Built from the API's JSON by :mod:`probes.kubernetes.parse`; judged by the ``judge_*`` modules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

APP_LABELS = ("app.kubernetes.io/name", "app", "k8s-app", "app.kubernetes.io/instance")
"""Labels naming the service a workload belongs to, most specific first."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Meta:
    """The metadata every object has."""

    namespace: str
    name: str
    uid: str
    created: datetime | None
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    owner_kind: str | None = None
    owner_name: str | None = None
    owner_uid: str | None = None
    """The controlling owner reference (``controller: true``), if any."""

    @property
    def service(self) -> str | None:
        """The service the object belongs to, from the first of :data:`APP_LABELS` it carries."""
        return next((self.labels[k] for k in APP_LABELS if self.labels.get(k)), None)


@dataclass(frozen=True, slots=True, kw_only=True)
class Condition:
    """A status condition (``Ready``, ``Progressing``, ``MemoryPressure``...)."""

    type: str
    status: str
    reason: str | None = None
    message: str | None = None
    last_transition: datetime | None = None
    last_update: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class EnvVar:
    """An environment variable of a container spec."""

    name: str
    value: str = ""
    """The literal value (never printed: it may be a secret)."""
    reference: str | None = None
    """Where the value comes from instead, if it does (``secretKeyRef db/password``)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ContainerSpec:
    """A container of a pod template."""

    name: str
    image: str
    env: tuple[EnvVar, ...] = ()
    memory_limit: str | None = None
    digest: str = ""
    """A hash of everything else in the container spec (command, resources, probes...)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PodTemplate:
    """A workload's pod template: what a rollout changes."""

    containers: tuple[ContainerSpec, ...]
    init_containers: tuple[ContainerSpec, ...] = ()
    annotations: Mapping[str, str] = field(default_factory=dict)
    spec_digests: Mapping[str, str] = field(default_factory=dict)
    """Pod spec key (volumes, affinity...) -> hash of its value, to name other changes."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Workload:
    """A Deployment, StatefulSet or DaemonSet with its rollout status."""

    kind: str
    meta: Meta
    generation: int
    observed_generation: int
    desired: int
    updated: int
    ready: int
    available: int
    unavailable: int
    conditions: tuple[Condition, ...] = ()
    revision: int | None = None
    """Deployments: the ``deployment.kubernetes.io/revision`` annotation."""
    current_revision_name: str | None = None
    update_revision_name: str | None = None
    """StatefulSets: the ControllerRevisions of old and new pods."""
    strategy: str | None = None
    paused: bool = False

    def condition(self, kind: str) -> Condition | None:
        """The condition of type ``kind``, if the status has it."""
        return next((c for c in self.conditions if c.type == kind), None)


@dataclass(frozen=True, slots=True, kw_only=True)
class Revision:
    """One revision of a workload: a ReplicaSet (Deployments) or a ControllerRevision."""

    number: int
    name: str
    owner_uid: str | None
    created: datetime | None
    template_source: Mapping[str, Any] = field(default_factory=dict)
    """The raw pod template, parsed only for the few revisions compared (it costs)."""
    earlier_numbers: tuple[int, ...] = ()
    """Numbers this ReplicaSet had before a rollback re-numbered it (its revision-history)."""

    @property
    def reused(self) -> bool:
        """Re-used by a rollback: its creation time is not when it was last rolled out."""
        return bool(self.earlier_numbers)


@dataclass(frozen=True, slots=True, kw_only=True)
class Termination:
    """How a container instance ended (``state.terminated`` or ``lastState.terminated``)."""

    reason: str | None
    exit_code: int | None
    started: datetime | None = None
    finished: datetime | None = None
    signal: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ContainerState:
    """A container's status in a pod: waiting, running or terminated, and its restarts."""

    name: str
    image: str
    init: bool = False
    ready: bool = False
    restart_count: int = 0
    waiting_reason: str | None = None
    waiting_message: str | None = None
    terminated: Termination | None = None
    last_terminated: Termination | None = None
    memory_limit: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkloadRef:
    """The workload a pod or an event belongs to: ``Deployment shop/checkout``."""

    namespace: str
    kind: str
    name: str
    service: str | None = None

    @property
    def key(self) -> str:
        """``namespace/name``: the workload entity's name."""
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Pod:
    """A pod with the workload owning it and its containers' states."""

    meta: Meta
    workload: WorkloadRef
    node: str | None
    phase: str
    started: datetime | None = None
    """When the kubelet accepted it (``status.startTime``)."""
    reason: str | None = None
    message: str | None = None
    conditions: tuple[Condition, ...] = ()
    """Read for pods not Running only (scheduling, eviction): the others' are never judged."""
    containers: tuple[ContainerState, ...] = ()

    def condition(self, kind: str) -> Condition | None:
        """The condition of type ``kind``, if read (pods not Running only)."""
        return next((c for c in self.conditions if c.type == kind), None)


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """A core/v1 (or events.k8s.io) event, with the time range of its occurrences."""

    namespace: str
    type: str
    reason: str
    message: str
    object_kind: str
    object_name: str
    object_namespace: str | None
    count: int
    first: datetime | None
    last: datetime | None
    source: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Taint:
    """A node taint."""

    key: str
    effect: str
    value: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Node:
    """A node with its conditions, cordon and taints."""

    name: str
    created: datetime | None
    conditions: tuple[Condition, ...]
    unschedulable: bool = False
    taints: tuple[Taint, ...] = ()
    roles: tuple[str, ...] = ()
    kubelet_version: str | None = None
    internal_ip: str | None = None

    def condition(self, kind: str) -> Condition | None:
        """The condition of type ``kind``, if the status has it."""
        return next((c for c in self.conditions if c.type == kind), None)


@dataclass(frozen=True, slots=True, kw_only=True)
class HelmRevision:
    """One Helm release revision, from its secret's labels (``sh.helm.release.v1.NAME.vN``)."""

    namespace: str
    release: str
    number: int
    status: str
    created: datetime | None
    secret_name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class HelmChart:
    """What a decoded release says about its chart (never its values: ``config`` is skipped)."""

    chart: str | None
    version: str | None
    app_version: str | None = None
    description: str | None = None
    last_deployed: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Forbidden:
    """A list call RBAC refused; the rest was still checked."""

    resource: str
    namespace: str | None
    """None: the cluster-wide call."""
    message: str
    read_instead: str | None = None
    """For a refused cluster-wide call: the namespace read instead (the context's)."""
