"""Is rolling back a rollout safe? Pure judgement over the two revisions' templates and dates.

A rollback to the previous revision is called safe when that revision ran at least
``PROVEN_FOR`` (1 h) before it was replaced, i.e. it served traffic for a while, and when only
images changed. Anything else the change touched is named, because an image rollback also
reverts it: environment variables (names only), volumes (config maps, secrets), other pod spec
keys and annotations. A changed annotation or environment variable whose name mentions a
migration (``migrat``, ``schema``, ``flyway``, ``liquibase``) or an init container added with
the change marks a schema migration: rolling the image back does not revert the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from diagnostics.units import format_duration
from probes.kubernetes.history import Rollout, rolled_out_at

PROVEN_FOR = timedelta(hours=1)
MIGRATION_WORDS = ("migrat", "schema", "flyway", "liquibase", "alembic")


@dataclass(frozen=True, slots=True, kw_only=True)
class RollbackSafety:
    """What the rollback to the previous revision would return to and also revert."""

    safe: bool
    previous_ran_for: timedelta | None
    other_changes: tuple[str, ...]
    """Besides images: ``env LOG_LEVEL``, ``volumes``, ``annotation x``..."""
    migrations: tuple[str, ...]
    """Changes that mark a schema migration."""
    summary: str

    def details(self) -> dict[str, Any]:
        return {
            "safe": self.safe,
            "previous_ran_for_s": round(self.previous_ran_for.total_seconds())
            if self.previous_ran_for
            else None,
            "other_changes": list(self.other_changes),
            "migrations": list(self.migrations),
            "summary": self.summary,
        }


def _mentions_migration(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in MIGRATION_WORDS)


def rollback_safety(rollout: Rollout) -> RollbackSafety | None:
    """The safety of undoing ``rollout`` (None without a previous revision to return to)."""
    previous = rollout.previous
    if previous is None:
        return None
    began, _ = rolled_out_at(rollout.history, previous)
    ran_for = rollout.at - began if began is not None and began <= rollout.at else None
    changes = rollout.changes
    other = [f"env {name}" for name in dict.fromkeys(e.name for e in changes.env)]
    other += [f"container +{n}" for n in changes.containers_added]
    other += [f"container -{n}" for n in changes.containers_removed]
    other += [item if item != "volumes" else "volumes (config maps, secrets)" for item in changes.other]
    init_names = {c.name for c in rollout.template.init_containers}
    migrations = [o for o in other if _mentions_migration(o)]
    migrations += [f"init container {n} added" for n in changes.containers_added if n in init_names]
    proven = ran_for is not None and ran_for >= PROVEN_FOR
    safe = proven and not other
    if ran_for is None:
        history = f"revision {previous.number}'s run time is unknown (its rollout time was not kept)"
    else:
        verdict = "ran" if proven else "ran only"
        history = f"revision {previous.number} {verdict} {format_duration(ran_for)} before the change"
    if migrations:
        verdict = (
            f"Rollback needs care: {history}; the change also carries a schema migration "
            f"({', '.join(migrations[:3])}), which rolling back the image does not revert."
        )
    elif other:
        verdict = f"Rollback needs care: {history}; it also reverts {', '.join(other[:5])}."
    elif not proven:
        verdict = f"Rollback is not proven safe: {history}."
    else:
        verdict = f"Rollback looks safe: {history}; only the image changed."
    return RollbackSafety(
        safe=safe,
        previous_ran_for=ran_for,
        other_changes=tuple(other),
        migrations=tuple(dict.fromkeys(migrations)),
        summary=verdict,
    )
