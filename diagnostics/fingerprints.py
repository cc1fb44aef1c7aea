"""One fingerprint per finding in a report: the runner's check on what a probe returned.

A fingerprint (probe, kind, entity, key) is how ``diag diff`` and ``--baseline`` match
findings across runs; two findings of one probe sharing it would merge in a comparison. When a
probe returns such duplicates the runner either fails the probe (``strict``, what the test
suite runs with: the probe must give each finding a distinct ``key``) or disambiguates them
deterministically: each duplicate's key gets ``#2``, ``#3``... in the order of their titles,
so the same findings get the same fingerprints run after run.
"""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import replace

from diagnostics.errors import DuplicateFingerprints
from diagnostics.model import ErrorKind, Finding

STRICT_VARIABLE = "DIAG_STRICT_FINGERPRINTS"
"""Set to ``1`` to fail a probe that returns two findings with one fingerprint (tests do)."""

logger = logging.getLogger("diag.runner")


def strict_from(env: Mapping[str, str]) -> bool:
    """Whether duplicate fingerprints fail the probe (``DIAG_STRICT_FINGERPRINTS=1``)."""
    return env.get(STRICT_VARIABLE, "") not in ("", "0")


def strict_by_default() -> bool:
    """The process environment's choice (see :data:`STRICT_VARIABLE`)."""
    return strict_from(os.environ)


def distinct_fingerprints(probe_id: str, findings: Sequence[Finding], *, strict: bool) -> list[Finding]:
    """``findings`` with pairwise distinct fingerprints, in their order.

    Raises :class:`DuplicateFingerprints` when ``strict``; otherwise renames the duplicates.
    """
    groups: dict[str, list[int]] = defaultdict(list)
    for position, finding in enumerate(findings):
        groups[finding.fingerprint].append(position)
    clashes = {fp: positions for fp, positions in groups.items() if len(positions) > 1}
    if not clashes:
        return list(findings)
    fingerprint, positions = next(iter(clashes.items()))
    first = findings[positions[0]]
    message = (
        f"{probe_id} returned {len(positions)} findings with fingerprint {fingerprint} "
        f"(kind {first.kind}, {first.entity.display()}, key {first.key!r}): give each a distinct key"
    )
    if strict:
        raise DuplicateFingerprints(message, kind=ErrorKind.INTERNAL)
    logger.warning("%s; disambiguated by numbering", message)
    renamed = list(findings)
    for positions in clashes.values():
        ordered = sorted(positions, key=lambda p: (findings[p].title, findings[p].summary, p))
        for number, position in enumerate(ordered[1:], 2):
            finding = findings[position]
            renamed[position] = replace(finding, key=f"{finding.key}#{number}")
    return renamed
