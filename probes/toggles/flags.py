"""What every flag provider's client returns: flag changes and the flags' current description.

The clients (``unleash.py``, ``launchdarkly.py``, ``flagd.py``) turn their provider's audit
trail into these values; ``judge_changes.py`` judges them without knowing the provider.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class ChangeKind(StrEnum):
    """What a change did to a flag."""

    SWITCHED_ON = "switched_on"
    SWITCHED_OFF = "switched_off"
    ROLLOUT = "rollout"
    """A rollout percentage or strategy added, changed or removed."""
    VARIANTS = "variants"
    TARGETING = "targeting"
    """Constraints, segments, rules or individual targets."""
    CREATED = "created"
    ARCHIVED = "archived"
    REVIVED = "revived"
    """Brought back from the archive."""

    @property
    def words(self) -> str:
        return CHANGE_WORDS[self]


CHANGE_WORDS: Mapping[ChangeKind, str] = {
    ChangeKind.SWITCHED_ON: "switched on",
    ChangeKind.SWITCHED_OFF: "switched off",
    ChangeKind.ROLLOUT: "rollout changed",
    ChangeKind.VARIANTS: "variants changed",
    ChangeKind.TARGETING: "targeting changed",
    ChangeKind.CREATED: "created",
    ChangeKind.ARCHIVED: "archived",
    ChangeKind.REVIVED: "revived",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class FlagChange:
    """One change to one flag, as the provider recorded it."""

    flag: str
    kind: ChangeKind
    at: datetime
    environment: str | None
    """None: the change applies to every environment (archiving, global variants)."""
    author: str | None
    before: str | None = None
    after: str | None = None
    detail: str = ""
    """What changed, in a few words (``strategy flexibleRollout``)."""
    project: str | None = None
    event_id: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class FlagInfo:
    """A flag as it is now: its description, tags and whether it is on in production."""

    name: str
    project: str | None = None
    description: str = ""
    tags: tuple[str, ...] = ()
    """``type:value`` (Unleash) or plain tags (LaunchDarkly, flagd metadata)."""
    on_in_production: bool | None = None
    archived: bool = False
    location: str = ""
    """Where the flag is defined, when that is a file (flagd)."""
    off_variant: str | None = None
    """flagd: the variant whose value is ``false``, which switching off selects."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderChanges:
    """What one ``feature_flags`` entry's client read: changes since ``since`` and the flags."""

    source: str
    """The entry's name."""
    provider: str
    production: str
    """The production environment's name."""
    changes: tuple[FlagChange, ...]
    flags: Mapping[str, FlagInfo] = field(default_factory=dict)
    queries: tuple[str, ...] = ()
    """The API calls (or files) read, without credentials."""
    truncated: bool = False
    """The provider had more changes than were read (``max_changes``)."""
    note: str = ""
