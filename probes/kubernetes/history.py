"""Rebuilding what changed: workloads' revisions, when each was rolled out, and what it changed.

A Deployment's revisions are its ReplicaSets (annotation ``deployment.kubernetes.io/revision``);
a StatefulSet's or DaemonSet's are its ControllerRevisions. A revision is dated by its creation,
except a ReplicaSet re-used by a rollback (it carries ``deployment.kubernetes.io/revision-history``
and an old creation time): then the Deployment's ``Progressing`` condition dates it, which is
approximate (the condition is also refreshed when replicas become available).

Environment changes never show a literal value (any may be a secret, whatever its name): only
that a variable was added, removed or changed, with a short keyed hash of each literal so equal
values can be told apart from different ones within one report (the key is drawn per process:
the hashes cannot be matched against guesses). Where a value comes from (``secretKeyRef
db/password``, ``configMapKeyRef``, ``fieldRef``) is shown.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from probes.kubernetes.objects import ContainerSpec, EnvVar, PodTemplate, Revision, Workload
from probes.kubernetes.parse import parse_template

ROLLOUT_REASONS = frozenset(
    {
        "NewReplicaSetCreated",
        "FoundNewReplicaSet",
        "ReplicaSetUpdated",
        "NewReplicaSetAvailable",
        "ProgressDeadlineExceeded",
    }
)
RESTART_ANNOTATION = "kubectl.kubernetes.io/restartedAt"
_VALUE_KEY = os.urandom(16)
"""Keys the hashes of literal environment values: fresh per process, so a hash cannot be
checked against a guessed value elsewhere."""


@dataclass(frozen=True, slots=True, kw_only=True)
class History:
    """A workload with its revisions (oldest first) and the one its pods should run."""

    workload: Workload
    revisions: tuple[Revision, ...]
    current: Revision | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ImageChange:
    """A container's image before and after a rollout."""

    container: str
    old: str
    new: str

    def short(self) -> str:
        """``checkout v1.4.2 → v1.5.0`` when only the tag changed, full references otherwise."""
        old_repo, old_ref = split_image(self.old)
        new_repo, new_ref = split_image(self.new)
        if old_repo == new_repo:
            return f"{self.container} {old_ref} → {new_ref}"
        return f"{self.container} {self.old} → {self.new}"


@dataclass(frozen=True, slots=True, kw_only=True)
class EnvChange:
    """An environment variable added, removed or changed: never its literal value."""

    container: str
    name: str
    change: str
    """``added``, ``removed`` or ``changed``."""
    old: str | None
    new: str | None
    """``literal #1a2b3c4d`` (a keyed hash of the value) or the reference
    (``secretKeyRef db/password``); None when absent."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TemplateChange:
    """What a rollout changed in the pod template."""

    images: tuple[ImageChange, ...] = ()
    env: tuple[EnvChange, ...] = ()
    containers_added: tuple[str, ...] = ()
    containers_removed: tuple[str, ...] = ()
    other: tuple[str, ...] = ()
    """Other parts that differ: ``container checkout`` (command, resources...), ``volumes``."""
    restart_only: bool = False
    """Only ``kubectl rollout restart``'s annotation changed."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Rollout:
    """One change of a workload's pod template."""

    history: History
    to: Revision
    previous: Revision | None
    at: datetime
    dated_by: str
    template: PodTemplate
    """The pod template rolled out."""
    changes: TemplateChange

    @property
    def current(self) -> bool:
        """Whether the workload still runs this revision."""
        return self.history.current is not None and self.history.current.name == self.to.name


def split_image(image: str) -> tuple[str, str]:
    """``registry:5000/shop/app:v1`` -> (``registry:5000/shop/app``, ``v1``); digests kept whole."""
    if "@" in image:
        repo, digest = image.split("@", 1)
        return repo, digest[:19]
    slash = image.rfind("/")
    colon = image.rfind(":")
    if colon > slash:
        return image[:colon], image[colon + 1 :]
    return image, "latest"


def histories(workloads: Iterable[Workload], revisions: Iterable[Revision]) -> list[History]:
    """Each workload with the revisions it owns (matched by owner uid)."""
    owned: dict[str, list[Revision]] = {}
    for revision in revisions:
        if revision.owner_uid:
            owned.setdefault(revision.owner_uid, []).append(revision)
    result = []
    for workload in workloads:
        mine = tuple(sorted(owned.get(workload.meta.uid, ()), key=lambda r: r.number))
        result.append(History(workload=workload, revisions=mine, current=_current(workload, mine)))
    return result


def _current(workload: Workload, revisions: tuple[Revision, ...]) -> Revision | None:
    if not revisions:
        return None
    if workload.kind == "Deployment" and workload.revision is not None:
        match = [r for r in revisions if r.number == workload.revision]
        if match:
            return match[-1]
    if workload.kind == "StatefulSet" and workload.update_revision_name:
        match = [r for r in revisions if r.name == workload.update_revision_name]
        if match:
            return match[-1]
    return revisions[-1]


def rolled_out_at(history: History, revision: Revision) -> tuple[datetime | None, str]:
    """When ``revision`` was rolled out, and what says so."""
    if not revision.reused:
        source = (
            "ReplicaSet created" if history.workload.kind == "Deployment" else "ControllerRevision created"
        )
        return revision.created, source
    if history.current is not None and revision.name == history.current.name:
        progressing = history.workload.condition("Progressing")
        if progressing is not None and progressing.reason in ROLLOUT_REASONS and progressing.last_update:
            return progressing.last_update, f"Progressing condition ({progressing.reason}), approximate"
    return None, "unknown (re-used ReplicaSet)"


def rollouts_between(history: History, start: datetime, end: datetime) -> list[Rollout]:
    """The rollouts of ``history`` dated within ``[start, end]``, oldest first."""
    found = []
    for revision in history.revisions:
        moment, source = rolled_out_at(history, revision)
        if moment is None or not start <= moment <= end:
            continue
        previous = max(
            (r for r in history.revisions if r.number < revision.number), default=None, key=_number
        )
        template = parse_template(revision.template_source)
        before = parse_template(previous.template_source) if previous else None
        found.append(
            Rollout(
                history=history,
                to=revision,
                previous=previous,
                at=moment,
                dated_by=source,
                template=template,
                changes=template_changes(before, template),
            )
        )
    return sorted(found, key=lambda r: (r.at, r.to.number))


def _number(revision: Revision) -> int:
    return revision.number


def value_hash(value: str) -> str:
    """A short hash of a literal value, keyed per process: equal values, equal hashes."""
    return hashlib.blake2b(value.encode(), key=_VALUE_KEY, digest_size=4).hexdigest()


def _env_display(variable: EnvVar | None) -> str | None:
    if variable is None:
        return None
    if variable.reference is not None:
        return variable.reference[:120]
    return f"literal #{value_hash(variable.value)}"


def _container_changes(old: ContainerSpec, new: ContainerSpec) -> tuple[ImageChange | None, list[EnvChange]]:
    image = ImageChange(container=new.name, old=old.image, new=new.image) if old.image != new.image else None
    before = {e.name: e for e in old.env}
    after = {e.name: e for e in new.env}
    env = []
    for name in sorted(before.keys() | after.keys()):
        was, now = before.get(name), after.get(name)
        if was == now:
            continue
        change = "added" if was is None else "removed" if now is None else "changed"
        env.append(
            EnvChange(
                container=new.name, name=name, change=change, old=_env_display(was), new=_env_display(now)
            )
        )
    return image, env


def template_changes(old: PodTemplate | None, new: PodTemplate) -> TemplateChange:
    """What differs between two pod templates (``old`` None: the workload is new)."""
    if old is None:
        return TemplateChange()
    images: list[ImageChange] = []
    env: list[EnvChange] = []
    other: list[str] = []
    old_containers = {c.name: c for c in (*old.init_containers, *old.containers)}
    new_containers = {c.name: c for c in (*new.init_containers, *new.containers)}
    for name, container in new_containers.items():
        before = old_containers.get(name)
        if before is None:
            continue
        image, env_changes = _container_changes(before, container)
        if image:
            images.append(image)
        env += env_changes
        if before.digest != container.digest:
            other.append(f"container {name}")
    for key in sorted(old.spec_digests.keys() | new.spec_digests.keys()):
        if old.spec_digests.get(key) != new.spec_digests.get(key):
            other.append(key)
    changed_annotations = sorted(
        k
        for k in old.annotations.keys() | new.annotations.keys()
        if old.annotations.get(k) != new.annotations.get(k)
    )
    other += [f"annotation {k}" for k in changed_annotations if k != RESTART_ANNOTATION]
    added = tuple(n for n in new_containers if n not in old_containers)
    removed = tuple(n for n in old_containers if n not in new_containers)
    restarted = RESTART_ANNOTATION in changed_annotations
    return TemplateChange(
        images=tuple(images),
        env=tuple(env),
        containers_added=added,
        containers_removed=removed,
        other=tuple(other),
        restart_only=restarted and not (images or env or other or added or removed),
    )
