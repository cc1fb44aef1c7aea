"""When ``diag serve`` runs which probe, and the rule that one probe never runs twice at once.

:class:`Schedule` is pure bookkeeping over a monotonic clock: every probe is due at start, then
every ``every`` (or its own interval), start to start. :class:`ProbeRuns` executes runs: a probe
already running (scheduled, or asked for by ``/probe``) is not started again; the caller joins
the run in flight and gets its result.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from diagnostics.model import Report
from diagnostics.serve.state import LatestResults, ProbeResult

logger = logging.getLogger("diag.serve")

RunProbes = Callable[[Sequence[str]], Report]
"""Runs a diagnosis of exactly these probe ids and returns its report."""


class Schedule:
    """Which probes are due, on a monotonic clock (seconds)."""

    def __init__(
        self, probe_ids: Iterable[str], every: timedelta, intervals: Mapping[str, timedelta], start: float
    ) -> None:
        self._interval = {p: intervals.get(p, every).total_seconds() for p in probe_ids}
        self._next = dict.fromkeys(self._interval, start)

    @property
    def probe_ids(self) -> list[str]:
        return sorted(self._interval)

    def due(self, now: float) -> list[str]:
        """The probes whose time has come, sorted."""
        return sorted(p for p, when in self._next.items() if when <= now)

    def started(self, probe_ids: Iterable[str], now: float) -> None:
        """These probes started at ``now``: their next run is one interval later."""
        for probe in probe_ids:
            self._next[probe] = now + self._interval[probe]

    def next_due(self) -> float | None:
        return min(self._next.values(), default=None)


@dataclass(slots=True)
class _Flight:
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


class ProbeRuns:
    """Runs probes through ``run_probes`` and records the results; never overlaps one probe."""

    def __init__(self, run_probes: RunProbes, latest: LatestResults) -> None:
        self._run_probes = run_probes
        self._latest = latest
        self._lock = threading.Lock()
        self._in_flight: dict[str, _Flight] = {}

    def running(self) -> list[str]:
        with self._lock:
            return sorted(self._in_flight)

    def run(self, probe_ids: Sequence[str], *, wait: float | None = None) -> dict[str, ProbeResult | None]:
        """Run these probes now (joining runs already in flight) and return their newest results.

        Raises what ``run_probes`` raised for the probes this call started; a joined run that
        failed, or did not finish within ``wait`` seconds, gives that probe's previous result.
        """
        with self._lock:
            joined = {p: self._in_flight[p] for p in probe_ids if p in self._in_flight}
            started = [p for p in probe_ids if p not in joined]
            flight = _Flight()
            for probe in started:
                self._in_flight[probe] = flight
        if started:
            try:
                report = self._run_probes(started)
                self._latest.record(report, finished_at=datetime.now(UTC))
            except BaseException as exc:
                flight.error = exc
                raise
            finally:
                with self._lock:
                    for probe in started:
                        if self._in_flight.get(probe) is flight:
                            del self._in_flight[probe]
                flight.done.set()
        for other in {id(f): f for f in joined.values()}.values():
            other.done.wait(wait)
        results = self._latest.results()
        return {probe: results.get(probe) for probe in probe_ids}


class Sweeper:
    """The background thread of ``diag serve``: runs whatever is due until stopped."""

    def __init__(self, schedule: Schedule, runs: ProbeRuns, clock: Callable[[], float]) -> None:
        self._schedule = schedule
        self._runs = runs
        self._clock = clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="diag-serve-sweeper", daemon=True)
        self.runs_done = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            now = self._clock()
            due = self._schedule.due(now)
            if due:
                self._schedule.started(due, now)
                try:
                    self._runs.run(due)
                except Exception as exc:  # a bad run must not end the service; the next may work
                    logger.error("scheduled run of %s failed: %s", ", ".join(due), exc)
                self.runs_done += 1
            upcoming = self._schedule.next_due()
            if upcoming is None:
                return
            self._stop.wait(max(0.0, upcoming - self._clock()))
