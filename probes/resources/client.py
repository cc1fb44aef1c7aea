"""The resource probes' one door to Prometheus: instant vectors keyed by labels, counted queries.

Every query goes through :class:`Fetcher`, which keeps a :class:`QueryRecord` per query (what,
how long, how many series) so that the number of queries is visible and bounded: it depends on
the signals configured, never on the size of the fleet.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

from diagnostics import ProbeSkipped
from probes.prometheus.client import RangeResult, Sample
from probes.resources import promql

Key = tuple[str, ...]


class QueryClient(Protocol):
    """What the probes need of :class:`probes.prometheus.client.PrometheusClient`."""

    def query(self, promql: str, at: datetime) -> tuple[Sample, ...]:
        """An instant query evaluated at ``at``."""

    def query_range(self, promql: str, start: datetime, end: datetime, step: float) -> RangeResult:
        """A range query from ``start`` to ``end``, one point every ``step`` seconds."""


@dataclass(frozen=True, slots=True, kw_only=True)
class QueryRecord:
    """One query a probe made: its PromQL, kind, duration (seconds) and how many series came back."""

    promql: str
    kind: Literal["instant", "range"]
    seconds: float
    series: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Vector:
    """An instant vector keyed by the values of its identity labels (NaN samples dropped)."""

    query: str
    key_labels: tuple[str, ...]
    values: Mapping[Key, float] = field(default_factory=dict)
    labels: Mapping[Key, Mapping[str, str]] = field(default_factory=dict)

    def get(self, key: Key) -> float | None:
        """The value of ``key``; None when that entity has no sample."""
        return self.values.get(key)

    def __len__(self) -> int:
        return len(self.values)


def empty(key_labels: tuple[str, ...]) -> Vector:
    """The vector of a signal whose metrics Prometheus does not have."""
    return Vector(query="", key_labels=key_labels)


def to_vector(query: str, samples: Iterable[Sample], key_labels: tuple[str, ...]) -> Vector:
    """Key samples by ``key_labels``; on duplicate keys the largest value wins."""
    values: dict[Key, float] = {}
    labels: dict[Key, Mapping[str, str]] = {}
    for sample in samples:
        if math.isnan(sample.value):
            continue
        key = tuple(sample.labels.get(name, "") for name in key_labels)
        if key not in values or sample.value > values[key]:
            values[key] = sample.value
            labels[key] = sample.labels
    return Vector(query=query, key_labels=key_labels, values=values, labels=labels)


class Fetcher:
    """Runs the probes' queries as of ``at`` and records each one."""

    def __init__(self, client: QueryClient, *, at: datetime) -> None:
        self.client = client
        self.at = at
        self.records: list[QueryRecord] = []

    def vector(self, query: str, key_labels: tuple[str, ...]) -> Vector:
        """An instant query at ``at``, keyed by ``key_labels``."""
        began = time.perf_counter()
        samples = self.client.query(query, self.at)
        self._record(query, "instant", began, len(samples))
        return to_vector(query, samples, key_labels)

    def range(self, query: str, start: datetime, end: datetime, step: float) -> RangeResult:
        """A range query from ``start`` to ``end``."""
        began = time.perf_counter()
        result = self.client.query_range(query, start, end, step)
        self._record(query, "range", began, len(result.series))
        return result

    def metrics_present(self, names_by_scope: Mapping[str, Iterable[str]]) -> frozenset[str]:
        """Which metrics have a series at ``at`` among those their scope (label matchers) selects.

        ``names_by_scope`` maps each scope to the metric names looked for in it: one query in all.
        """
        vector = self.vector(promql.discovery(names_by_scope), ("__name__",))
        return frozenset(key[0] for key in vector.values)

    def _record(self, query: str, kind: Literal["instant", "range"], began: float, series: int) -> None:
        elapsed = time.perf_counter() - began
        self.records.append(QueryRecord(promql=query, kind=kind, seconds=elapsed, series=series))


def require_exporter(present: frozenset[str], markers: Sequence[str], exporter: str, hint: str) -> None:
    """Skip the probe (not an error) when none of an exporter's ``markers`` metrics exist."""
    if not present.intersection(markers):
        raise ProbeSkipped(f"no {exporter} metrics ({', '.join(markers)}, ...) in Prometheus", hint=hint)
