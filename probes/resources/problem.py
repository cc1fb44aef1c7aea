"""A judged problem before its onset is known, and how onsets are added with bounded queries.

Judges return :class:`Problem` values (pure). Each threshold problem names the fleet-wide
breach filter whose range over the window shows when it began; :func:`with_onsets` runs each
distinct filter once, so the number of onset queries depends on the kinds of problems found,
never on how many entities have them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from diagnostics import Entity, Finding, Measurement, Severity
from probes.prometheus.client import nice_step
from probes.resources.fetch import Fetcher, Key
from probes.resources.onset import breach_onsets, earliest, first_events

ONSET_POINTS = 240


@dataclass(frozen=True, slots=True, kw_only=True)
class OnsetQuery:
    """A fleet-wide filter whose series exist only while (or right after) an entity is in breach."""

    promql: str
    key_labels: tuple[str, ...]
    events: bool = False
    """True for event queries (OOM kills, restarts): the onset is the first event."""


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


def with_onsets(problems: Sequence[Problem], fetcher: Fetcher, start: datetime) -> list[Problem]:
    """Fill in the onset of every problem that has an onset query: one range query per filter."""
    wanted = {p.onset_query for p in problems if p.onset_query is not None and p.onset is None}
    if not wanted:
        return list(problems)
    step = nice_step((fetcher.at - start).total_seconds(), ONSET_POINTS, minimum=15.0)
    found: dict[OnsetQuery, dict[Key, float]] = {}
    for query in sorted(wanted, key=lambda q: q.promql):
        result = fetcher.range(query.promql, start, fetcher.at, step)
        found[query] = (first_events if query.events else breach_onsets)(result, query.key_labels)
    return [
        dataclasses.replace(p, onset=earliest(found[p.onset_query], p.onset_keys))
        if p.onset_query is not None and p.onset is None
        else p
        for p in problems
    ]


def to_findings(problems: Iterable[Problem], make: Callable[..., Finding]) -> list[Finding]:
    """Findings through the probe context's ``finding`` (which stamps the probe id)."""
    return [
        make(
            kind=p.kind,
            severity=p.severity,
            title=p.title,
            summary=p.summary,
            entity=p.entity,
            values=p.values,
            queries=p.queries,
            details=p.details,
            onset=p.onset,
            next_steps=p.next_steps,
        )
        for p in sorted(problems, key=lambda p: (-p.severity, p.kind, p.entity.name))
    ]
