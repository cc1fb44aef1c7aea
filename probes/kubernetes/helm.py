"""Helm 3 release secrets (type ``helm.sh/release.v1``): history from labels, chart from the data.

Each revision of a release is a secret ``sh.helm.release.v1.NAME.vN`` labelled ``owner=helm``,
``name``, ``status`` and ``version``: the history needs no decoding. The chart version needs
``data.release`` decoded (base64 by the API, base64 by Helm, gzip, JSON); of that JSON only
``chart.metadata`` and ``info`` are read. ``config`` holds the release's values, often secrets:
it is never read, kept or printed.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import io
import json
import zlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from probes.kubernetes.objects import HelmChart, HelmRevision
from probes.kubernetes.parse import parse_meta, parse_time

HELM_SELECTOR = "owner=helm"
ROLLBACK_STATUSES = frozenset({"deployed", "superseded"})
"""Statuses of revisions that were installed successfully: what a rollback may return to
(not ``failed``, ``pending-*``, ``uninstalled``...)."""
_GZIP_MAGIC = b"\x1f\x8b\x08"
MAX_RELEASE_BYTES = 8 * 1024 * 1024
"""Decompressed size beyond which a release is not decoded (a bound, not a Helm limit)."""


def helm_revision(obj: Mapping[str, Any]) -> HelmRevision | None:
    """The revision a release secret (full or metadata-only) stands for; None if not Helm's."""
    meta = parse_meta(obj)
    labels = meta.labels
    if labels.get("owner") != "helm" or not labels.get("name") or not labels.get("version"):
        return None
    try:
        number = int(labels["version"])
    except ValueError:
        return None
    return HelmRevision(
        namespace=meta.namespace,
        release=labels["name"],
        number=number,
        status=labels.get("status") or "unknown",
        created=meta.created,
        secret_name=meta.name,
    )


def releases(revisions: Iterable[HelmRevision]) -> dict[tuple[str, str], list[HelmRevision]]:
    """Revisions grouped by (namespace, release), oldest first."""
    grouped: dict[tuple[str, str], list[HelmRevision]] = {}
    for revision in revisions:
        grouped.setdefault((revision.namespace, revision.release), []).append(revision)
    for history in grouped.values():
        history.sort(key=lambda r: r.number)
    return grouped


def rollback_target(history: Sequence[HelmRevision], before: int) -> HelmRevision | None:
    """The last revision numbered below ``before`` that was deployed successfully, if any."""
    good = (r for r in history if r.number < before and r.status in ROLLBACK_STATUSES)
    return max(good, key=lambda r: r.number, default=None)


def decode_chart(secret: Mapping[str, Any]) -> HelmChart | None:
    """The chart a release secret records, or None when its data cannot be decoded."""
    encoded = (secret.get("data") or {}).get("release")
    if not isinstance(encoded, str):
        return None
    try:
        helm_encoded = base64.b64decode(encoded, validate=True)
        raw = base64.b64decode(helm_encoded, validate=True)
        if raw[:3] == _GZIP_MAGIC:
            raw = _gunzip_bounded(raw)
        release = json.loads(raw)
    except (binascii.Error, ValueError, OSError, EOFError, zlib.error):
        return None
    if not isinstance(release, Mapping):
        return None
    # only these two keys are read; release["config"] (the values) is deliberately untouched
    chart = (release.get("chart") or {}).get("metadata") or {}
    info = release.get("info") or {}
    return HelmChart(
        chart=chart.get("name"),
        version=chart.get("version"),
        app_version=chart.get("appVersion"),
        description=info.get("description"),
        last_deployed=parse_time(info.get("last_deployed")),
    )


def _gunzip_bounded(data: bytes) -> bytes:
    with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
        out = stream.read(MAX_RELEASE_BYTES + 1)
    if len(out) > MAX_RELEASE_BYTES:
        raise ValueError("release larger than the decoding bound")
    return out
