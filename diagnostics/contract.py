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

What a run opens (database connections, HTTP sessions, API clients) a probe asks its context
for: ``ctx.resources.get(key, open, close)`` gives every probe of the run the same one, and the
runner closes them all when the run ends, so no socket or blocked thread outlives the run.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainSerializer
from typing_extensions import TypeVar as DefaultedTypeVar

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


OptionsT = DefaultedTypeVar("OptionsT", bound=ProbeOptions, covariant=True, default=ProbeOptions)
"""The options model of a probe, as ``ProbeContext[LocksOptions]`` types ``ctx.options``.

Covariant (the context is frozen, its options only read) so that a ``ProbeContext[LocksOptions]``
goes wherever a plain ``ProbeContext`` is expected; the default keeps a bare ``ProbeContext``
(third-party probes, helpers that read no options) meaning ``ProbeContext[ProbeOptions]``."""


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
    client_modules: tuple[str, ...] = ()
    """The client libraries the section's probes import lazily (``psycopg``, ``requests``...).
    The runner imports them once, before those probes' threads start: one module imported by
    two threads at once can be seen half-initialised by one of them."""


_Resource = TypeVar("_Resource")


@dataclass(slots=True)
class _Slot:
    lock: threading.Lock = field(default_factory=threading.Lock)
    value: Any = None
    close: Callable[[Any], None] | None = None
    error: Exception | None = None


class RunResources:
    """Connections, sessions and clients the probes of one run share; the runner closes them.

    The first probe asking for a ``key`` opens it, the others of the run get the same object,
    or the same error: one attempt per run, so a backend that refuses is asked once. When the
    run ends (at its deadline at the latest) the runner calls every ``close`` whatever the
    probes are doing, so ``close`` must work from another thread while the resource is in use
    (cancel the statement, shut the socket down): a thread blocked on a hung backend then gets
    an error and ends, and a long-lived process does not grow.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._slots: dict[Hashable, _Slot] = {}
        self._closed = False

    def get(
        self, key: Hashable, open: Callable[[], _Resource], close: Callable[[_Resource], None]
    ) -> _Resource:
        """The run's resource for ``key``, opened with ``open()`` by the first caller."""
        with self._lock:
            if self._closed:
                raise ProbeTimeout("the run has ended: its connections are closed")
            slot = self._slots.setdefault(key, _Slot())
        with slot.lock:  # one opening per key: the others wait for its result
            if slot.close is None and slot.error is None:
                try:
                    value = open()
                except Exception as exc:  # kept: the others get the same answer, no retry
                    slot.error = exc
                else:
                    self._keep(slot, value, close)
            if slot.error is not None:
                raise slot.error
            resource: _Resource = slot.value
            return resource

    def _keep(self, slot: _Slot, value: Any, close: Callable[[Any], None]) -> None:
        with self._lock:
            if not self._closed:
                slot.value, slot.close = value, close
                return
        close(value)  # the run ended while it was opening
        raise ProbeTimeout("the run has ended: its connections are closed")

    def close(self) -> None:
        """Close every resource opened so far; later ``get`` calls raise ProbeTimeout."""
        with self._lock:
            self._closed = True
            opened = [(s.value, s.close) for s in self._slots.values() if s.close is not None]
        for value, close in opened:
            try:
                close(value)
            except Exception:  # one failing close must not keep the others open
                logging.getLogger("diag.runner").debug("closing %r failed", value, exc_info=True)


# no slots: ``ProbeContext[LocksOptions](...)`` sets ``__orig_class__`` on the new instance, which
# a frozen dataclass refuses with FrozenInstanceError (ignored by typing) but a slotted one, on
# Python 3.11, with a TypeError
@dataclass(frozen=True, kw_only=True)
class ProbeContext(Generic[OptionsT]):
    """Everything a probe's run receives: the diagnosed time range, its settings, a deadline.

    ``options`` is the probe's ``options_model`` instance: the runner validates the
    ``probes.<id>`` section into that model, so ``ProbeContext[LocksOptions]`` is true at run time.
    """

    probe_id: str
    at: datetime
    window: timedelta
    options: OptionsT
    backend: Any = None
    deadline: float = field(default_factory=lambda: time.monotonic() + 10.0)
    """``time.monotonic()`` value by which the probe must have returned."""
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("diag.probe"))
    resources: RunResources = field(default_factory=RunResources)
    """The run's shared connections and clients (see :class:`RunResources`)."""

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
    def run(self, ctx: ProbeContext[Any]) -> Iterable[Finding]:
        """Check the backend as of ``ctx.at`` over ``ctx.window`` and return the findings.

        A probe narrows the context to its own options model: ``run(self, ctx:
        ProbeContext[LocksOptions])`` (``Any`` here lets every subclass do so).
        """

    @classmethod
    def targets(cls, backend: Any) -> str:
        """One line naming what this probe will check (``diag config check``)."""
        from diagnostics.targets import describe_targets

        return describe_targets(backend)

    @classmethod
    def describe(cls) -> str:
        return f"{cls.id} ({cls.checklist_item.value}): {cls.description}"
