"""What every staged Kubernetes object carries: metadata, timestamps as the API writes them, uids.

The leaf of the builders in ``tests/support/kube_*.py`` (import them all through
:mod:`tests.support.kube_objects`).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

Obj = dict[str, Any]
_VERSIONS = itertools.count(48_213_907)
_HASH_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
SERVICE_ACCOUNT = "system:serviceaccount:diag:diag-reader"


def ts(moment: datetime | None) -> str | None:
    """RFC 3339 as the API writes it: ``2026-01-02T03:04:05Z``."""
    if moment is None:
        return None
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def micro_ts(moment: datetime) -> str:
    """MicroTime (events' ``eventTime``): ``2026-01-02T03:04:05.123456Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def uid_of(*parts: str) -> str:
    """A stable uid for an object named by ``parts`` (the same object, the same uid)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "k8s://" + "/".join(parts)))


def short_hash(value: Any, length: int = 10) -> str:
    """A stable hash in the alphabet the controllers use for pod-template-hash and pod suffixes."""
    digest = hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).digest()
    return "".join(_HASH_ALPHABET[b % len(_HASH_ALPHABET)] for b in digest[:length])


def metadata(
    name: str,
    namespace: str | None,
    kind: str,
    created: datetime,
    *,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    owner: Obj | None = None,
    generation: int | None = None,
    manager: str = "kubectl-client-side-apply",
) -> Obj:
    """Object metadata as the API server stores it; ``owner`` becomes the controlling owner reference."""
    meta: Obj = {
        "name": name,
        "uid": uid_of(kind, namespace or "", name),
        "resourceVersion": str(next(_VERSIONS)),
        "creationTimestamp": ts(created),
        "labels": dict(labels or {}),
        "annotations": dict(annotations or {}),
        "managedFields": [
            {
                "manager": manager,
                "operation": "Update",
                "apiVersion": "v1",
                "time": ts(created),
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:metadata": {"f:labels": {f"f:{k}": {} for k in labels or {}}}, "f:spec": {}},
            }
        ],
    }
    if namespace is not None:
        meta["namespace"] = namespace
    if generation is not None:
        meta["generation"] = generation
    if owner is not None:
        meta["ownerReferences"] = [
            {
                "apiVersion": owner["apiVersion"],
                "kind": owner["kind"],
                "name": owner["metadata"]["name"],
                "uid": owner["metadata"]["uid"],
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
    if not meta["annotations"]:
        del meta["annotations"]
    return meta


def condition(
    kind: str,
    status: str,
    reason: str,
    message: str,
    *,
    since: datetime,
    updated: datetime | None = None,
) -> Obj:
    """A workload status condition (``Progressing``, ``Available``)."""
    return {
        "type": kind,
        "status": status,
        "reason": reason,
        "message": message,
        "lastUpdateTime": ts(updated or since),
        "lastTransitionTime": ts(since),
    }
