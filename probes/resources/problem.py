"""A judged problem before its onset is known, and how onsets are added with bounded queries.

Judges return :class:`Problem` values (pure). Each threshold problem names the fleet-wide
breach filter whose range over the window shows when it began; :func:`with_onsets` runs each
distinct filter once, so the number of onset queries depends on the kinds of problems found,
never on how many entities have them. A breach that already held when the window began gets no
onset (it would otherwise be dated at the window's start and look new): the finding says it
began before the window instead.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from diagnostics import Entity, Finding, Measurement, Severity
from probes.prometheus.client import nice_step
from probes.resources.client import Fetcher, Key
from probes.resources.onset import Onset, breach_onsets, earliest, first_events, last_events

ONSET_POINTS = 240

BEFORE_WINDOW = "This was already so when the diagnosed window began: it started earlier."
"""Appended to the summary of a finding whose breach began before the window."""

Dating = Literal["breach", "first_event", "last_event"]
"""How an onset query's series date a problem: the start of the latest run of breaching points,
the first event in the window, or the last one."""

_DATERS = {"breach": breach_onsets, "first_event": first_events, "last_event": last_events}


@dataclass(frozen=True, slots=True, kw_only=True)
class OnsetQuery:
    """A fleet-wide filter whose series exist only while (or right after) an entity is in breach."""

    promql: str
    key_labels: tuple[str, ...]
    dating: Dating = "breach"
    """``breach`` for threshold filters; ``first_event`` or ``last_event`` for event queries
    (OOM kills, restarts), whose points follow each event."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Problem:
    """Everything a finding says, except an onset still to be looked up."""

    kind: str
    severity: Severity
    title: str
    summary: str
    entity: Entity
    values: tuple[Measurement, ...] = ()
    queries: tuple[str, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)
    next_steps: tuple[str, ...] = ()
    onset: datetime | None = None
    onset_query: OnsetQuery | None = None
    onset_keys: tuple[Key, ...] = ()
    began_before_window: bool = False
    """The breach already held when the window began: no onset, and the finding says so."""

    @property
    def needs_onset(self) -> bool:
        """Its onset is still to be looked up with its onset query."""
        return self.onset_query is not None and self.onset is None and not self.began_before_window


def event_lookback(window: timedelta) -> float:
    """The range (seconds) of event queries: two onset steps, so each event shows in the range."""
    return max(2 * nice_step(window.total_seconds(), ONSET_POINTS, minimum=15.0), 120.0)


def with_onsets(problems: Sequence[Problem], fetcher: Fetcher, start: datetime) -> list[Problem]:
    """Fill in the onset of every problem that has an onset query: one range query per filter."""
    wanted = {p.onset_query for p in problems if p.needs_onset and p.onset_query is not None}
    if not wanted:
        return list(problems)
    step = nice_step((fetcher.at - start).total_seconds(), ONSET_POINTS, minimum=15.0)
    results = {
        (promql, key_labels): fetcher.range(promql, start, fetcher.at, step)
        for promql, key_labels in sorted({(q.promql, q.key_labels) for q in wanted})
    }
    found = {q: _DATERS[q.dating](results[q.promql, q.key_labels], q.key_labels) for q in wanted}
    return [
        _dated(p, earliest(found[p.onset_query], p.onset_keys))
        if p.needs_onset and p.onset_query is not None
        else p
        for p in problems
    ]


def _dated(problem: Problem, onset: Onset | None) -> Problem:
    if onset is None:
        return problem
    if onset.before_range:
        return dataclasses.replace(problem, began_before_window=True)
    return dataclasses.replace(problem, onset=datetime.fromtimestamp(onset.at, UTC))


def to_findings(problems: Iterable[Problem], make: Callable[..., Finding]) -> list[Finding]:
    """Findings through the probe context's ``finding`` (which stamps the probe id)."""
    return [
        make(
            kind=p.kind,
            severity=p.severity,
            title=p.title,
            summary=f"{p.summary} {BEFORE_WINDOW}" if p.began_before_window else p.summary,
            entity=p.entity,
            values=p.values,
            queries=p.queries,
            details={**p.details, "began_before_window": True} if p.began_before_window else p.details,
            onset=None if p.began_before_window else p.onset,
            next_steps=p.next_steps,
        )
        for p in sorted(problems, key=lambda p: (-p.severity, p.kind, p.entity.name))
    ]
