"""Counting events read locally (files, journald, pod logs) into per-minute histograms."""

from __future__ import annotations

from typing import Any

import numpy as np

from probes.logs.lines import RawEvent
from probes.logs.model import STEP, Collected, Level, LogEvent, ReadPlan


class Tally:
    """Per-minute totals and errors over a plan, and the error and warning events (capped)."""

    def __init__(self, plan: ReadPlan) -> None:
        self.plan = plan
        minutes = plan.minutes
        self.totals = [0] * minutes
        self.errors = [0] * minutes
        self.day_totals = [0] * round((plan.at - plan.window_start) / STEP)
        self.day_errors = [0] * len(self.day_totals)
        self.saw_day_ago = False
        self.requests = 0
        self.baseline_samples: list[LogEvent] = []
        self.recent_samples: list[LogEvent] = []
        self.complete = True
        self.lines = 0
        self._recent_from = plan.window_start - (plan.at - plan.window_start)
        self._start = plan.start
        self._minutes = minutes

    def add(self, event: RawEvent) -> bool:
        """Count one event; False once it is past the plan's end (reading may stop)."""
        time, level, message, status = event
        minute = int((time - self._start) // STEP)
        if minute < 0:
            return True
        if minute >= self._minutes:
            return time < self.plan.at + 300  # a little disorder between writers is normal
        self.totals[minute] += 1
        if status is not None:
            self.requests += 1
        if level:  # warnings and errors (Level.OTHER is 0)
            if level is Level.ERROR:
                self.errors[minute] += 1
            self._sample(LogEvent(time=time, level=level, message=message, status=status))
        return True

    def add_day_ago(self, event: RawEvent) -> None:
        """Count one event of the window a day earlier."""
        time, level, _message, _status = event
        minute = int((time - self.plan.day_ago[0]) // STEP)
        if 0 <= minute < len(self.day_totals):
            self.saw_day_ago = True
            self.day_totals[minute] += 1
            if level is Level.ERROR:
                self.day_errors[minute] += 1

    def _sample(self, event: LogEvent) -> None:
        kept = self.recent_samples if event.time >= self._recent_from else self.baseline_samples
        if len(kept) < self.plan.max_samples:
            kept.append(event)
        else:
            self.complete = False

    def collected(self, **extra: Any) -> Collected:
        """The counts as a :class:`Collected`; ``extra`` fills queries, stopped, details."""
        counted = sum(self.totals)
        return Collected(
            plan=self.plan,
            totals=np.array(self.totals, dtype=np.float64),
            errors=np.array(self.errors, dtype=np.float64),
            requests=counted > 0 and self.requests >= 0.9 * counted,
            day_ago_errors=np.array(self.day_errors, dtype=np.float64) if self.saw_day_ago else None,
            day_ago_totals=np.array(self.day_totals, dtype=np.float64) if self.saw_day_ago else None,
            samples=tuple(sorted(self.baseline_samples + self.recent_samples, key=lambda e: e.time)),
            samples_complete=self.complete,
            **extra,
        )
