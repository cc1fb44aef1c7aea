"""Which workload a pod belongs to: from kube-state-metrics' ``kube_pod_owner`` or its name.

Kubernetes names a Deployment's pods ``<deployment>-<pod-template-hash>-<suffix>``, a
DaemonSet's or Job's ``<name>-<suffix>``, a StatefulSet's ``<name>-<ordinal>``, and a CronJob's
jobs ``<cronjob>-<scheduled minute>``; hashes and suffixes use the alphabet below (no vowels,
no 0, 1 or 3, so that they never spell words).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SAFE = "[bcdfghjklmnpqrstvwxz2456789]"
_DEPLOYMENT_POD = re.compile(rf"^(?P<name>.+)-{_SAFE}{{6,10}}-{_SAFE}{{5}}$")
_CRONJOB_POD = re.compile(rf"^(?P<name>.+)-\d{{8,}}-{_SAFE}{{5}}$")
_STATEFULSET_POD = re.compile(r"^(?P<name>.+)-\d+$")
_SUFFIXED_POD = re.compile(rf"^(?P<name>.+)-{_SAFE}{{5}}$")
_REPLICASET = re.compile(rf"^(?P<name>.+)-{_SAFE}{{6,10}}$")
_CRONJOB_JOB = re.compile(r"^(?P<name>.+)-\d{8,}$")


@dataclass(frozen=True, slots=True, kw_only=True)
class Workload:
    """The controller a pod belongs to, as the summary names it (``namespace/name``)."""

    name: str
    kind: str
    """Deployment, StatefulSet, DaemonSet, Job, CronJob, ReplicaSet, or ``?`` when guessed
    from a name that several kinds share."""


def from_owner(owner_kind: str, owner_name: str) -> Workload:
    """The workload of a pod whose controller is ``owner_kind/owner_name``."""
    if owner_kind == "ReplicaSet" and (match := _REPLICASET.match(owner_name)):
        return Workload(name=match["name"], kind="Deployment")
    if owner_kind == "Job" and (match := _CRONJOB_JOB.match(owner_name)):
        return Workload(name=match["name"], kind="CronJob")
    return Workload(name=owner_name, kind=owner_kind)


def from_pod_name(pod: str) -> Workload | None:
    """The workload a pod name implies; None for a pod that looks unmanaged."""
    if match := _CRONJOB_POD.match(pod):
        return Workload(name=match["name"], kind="CronJob")
    if match := _DEPLOYMENT_POD.match(pod):
        return Workload(name=match["name"], kind="Deployment")
    if match := _STATEFULSET_POD.match(pod):
        return Workload(name=match["name"], kind="StatefulSet")
    if match := _SUFFIXED_POD.match(pod):
        return Workload(name=match["name"], kind="?")
    return None
