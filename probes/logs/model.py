"""What a log source yields once read: per-minute counts and the error lines, as plain values.

Every client (files, journald, pod logs, Loki, Elasticsearch, VictoriaLogs) returns one
:class:`Collected`; the judges read nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    FloatArray = npt.NDArray[np.float64]

STEP = 60.0
"""Counts are per minute."""


class Level(IntEnum):
    """The level of a log event, ordered so that ``>=`` compares badness."""

    OTHER = 0
    WARNING = 1
    ERROR = 2


@dataclass(frozen=True, slots=True, kw_only=True)
class LogEvent:
    """One event: its time (unix seconds), level, message (with continuation lines) and HTTP status."""

    time: float
    level: Level
    message: str
    status: int | None = None
    """The response status of an access log line."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadPlan:
    """The time ranges to read, minute-aligned: baseline, lead-in and window end at ``at``."""

    start: float
    """First minute of the baseline."""
    window_start: float
    at: float
    day_earlier: bool
    max_bytes: int
    max_lines: int
    max_samples: int

    @property
    def minutes(self) -> int:
        return round((self.at - self.start) / STEP)

    @property
    def day_ago(self) -> tuple[float, float]:
        """The window a day earlier."""
        return self.window_start - 86_400.0, self.at - 86_400.0

    def minute_of(self, time: float) -> int:
        return int((time - self.start) // STEP)


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerPattern:
    """A pattern the backend mined itself (Loki): its text and per-minute counts over the plan."""

    pattern: str
    counts: FloatArray


@dataclass(frozen=True, slots=True, kw_only=True)
class Collected:
    """One source read over one plan."""

    plan: ReadPlan
    totals: FloatArray
    """Events (access logs: requests) per minute from ``plan.start`` to ``plan.at``."""
    errors: FloatArray
    """Error-level events per minute (access logs: 5xx answers)."""
    requests: bool = False
    """The source is an access log: ``totals`` count requests and ``errors`` their 5xx answers."""
    day_ago_errors: FloatArray | None = None
    """Errors per minute over the window a day earlier; None when the source does not keep it."""
    day_ago_totals: FloatArray | None = None
    samples: tuple[LogEvent, ...] = ()
    """Error and warning events, oldest first, at most ``plan.max_samples`` per range."""
    samples_complete: bool = True
    """False when some error or warning events were not kept (the cap was reached)."""
    server_patterns: tuple[ServerPattern, ...] | None = None
    queries: tuple[str, ...] = ()
    stopped: str | None = None
    """Why reading stopped before the end (a byte, line or time bound), when it did."""
    details: dict[str, Any] | None = None
