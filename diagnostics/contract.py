"""The probe contract: what a probe declares, what it receives, what it returns.

A probe is a class with a few declarations and one method, ``run(ctx)``, returning findings.
It registers under the entry-point group ``diag.probes`` with its id as the entry-point name.
Settings come in two parts:

* ``probes.<id>`` in the configuration, validated by the probe's ``options_model`` (a
  subclass of :class:`ProbeOptions`; it always has ``enabled`` and ``timeout``);
* optionally a shared top-level *backend section* (``postgres``, ``prometheus``, ...)
  described by a :class:`BackendSection`, validated by its ``model`` and handed to the probe
  as ``ctx.backend``. A probe with a backend section that is neither configured nor found in
  the environment ends ``skipped`` with the section's ``setup_hint``.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainSerializer

from diagnostics.errors import ProbeTimeout
from diagnostics.model import (
    ChecklistItem,
    Entity,
    Evidence,
    Finding,
    Measurement,
    Severity,
)
from diagnostics.units import format_duration, parse_duration

Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
]
"""A configuration duration: ``90s``, ``30m``, ``2h``, ``1d`` or a number of seconds."""

DEFAULT_PROBE_TIMEOUT = timedelta(seconds=10)


class ProbeOptions(BaseModel):
    """Base of every probe's ``probes.<id>`` section; subclass it to add thresholds."""

    # defer_build: the validator is built on first use, not at import (keeps `diag probes` fast);
    # attribute docstrings become the options' descriptions (schema, reference, `probes show`)
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True, use_attribute_docstrings=True)

    enabled: bool = True
    """Run this probe (false: it ends skipped)."""
    timeout: Duration = DEFAULT_PROBE_TIMEOUT
    """How long the probe may take before it ends as ``timeout``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BackendSection:
    """A top-level configuration section that one or more probes read (e.g. ``postgres``)."""

    key: str
    model: Any
    """A type pydantic validates the section's value against (a model, ``list[Model]``...)."""
    setup_hint: str
    """The one line of configuration that enables the probes reading this section."""
    from_environment: Callable[[Mapping[str, str]], Any | None] | None = None
    """Builds the section's raw value from environment variables when it is not configured."""
    description: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ProbeContext:
    """Everything a probe's run receives: the diagnosed time range, its settings, a deadline."""

    probe_id: str
    at: datetime
    window: timedelta
    options: ProbeOptions
    backend: Any = None
    deadline: float = field(default_factory=lambda: time.monotonic() + 10.0)
    """``time.monotonic()`` value by which the probe must have returned."""
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("diag.probe"))

    @property
    def start(self) -> datetime:
        """The start of the diagnosed window, ``at - window``."""
        return self.at - self.window

    def remaining(self) -> float:
        """Seconds left before the deadline (never negative)."""
        return max(0.0, self.deadline - time.monotonic())

    def timeout_for_call(self, ceiling: float) -> float:
        """A per-call timeout that never outlives the deadline; raises when none is left."""
        left = self.remaining()
        if left <= 0.05:
            raise ProbeTimeout(f"{self.probe_id}: no time left before the deadline")
        return min(ceiling, left)

    def finding(
        self,
        *,
        kind: str,
        severity: Severity,
        title: str,
        entity: Entity,
        summary: str = "",
        values: Iterable[Measurement] = (),
        queries: Iterable[str] = (),
        details: Mapping[str, Any] | None = None,
        onset: datetime | None = None,
        seen_at: datetime | None = None,
        next_steps: Iterable[str] = (),
        key: str = "",
    ) -> Finding:
        """Build a finding attributed to this probe.

        ``key`` tells apart several findings of one ``kind`` on one entity (e.g. the metric
        name); with kind and entity it makes the fingerprint, so keep it stable across runs.
        ``seen_at``: when a live check observed a problem whose onset no history tells (kept
        only without an ``onset``).
        """
        return Finding(
            probe=self.probe_id,
            kind=kind,
            severity=severity,
            title=title,
            summary=summary or title,
            entity=entity,
            evidence=Evidence(values=tuple(values), queries=tuple(queries), details=dict(details or {})),
            onset=onset,
            seen_at=None if onset is not None else seen_at,
            next_steps=tuple(next_steps),
            key=key,
        )


class Probe(ABC):
    """Base class of every probe, built-in or third-party."""

    id: ClassVar[str]
    checklist_item: ClassVar[ChecklistItem]
    description: ClassVar[str]
    options_model: ClassVar[type[ProbeOptions]] = ProbeOptions
    backend_section: ClassVar[BackendSection | None] = None
    setup_hint: ClassVar[str | None] = None
    """The configuration that enables this probe, when it differs from its section's hint."""

    @abstractmethod
    def run(self, ctx: ProbeContext) -> Iterable[Finding]:
        """Check the backend as of ``ctx.at`` over ``ctx.window`` and return the findings."""

    @classmethod
    def targets(cls, backend: Any) -> str:
        """One line naming what this probe will check (``diag config check``)."""
        from diagnostics.targets import describe_targets

        return describe_targets(backend)

    @classmethod
    def describe(cls) -> str:
        return f"{cls.id} ({cls.checklist_item.value}): {cls.description}"
