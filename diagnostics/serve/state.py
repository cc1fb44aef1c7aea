"""The latest result of every probe, kept in memory by ``diag serve`` and read by its endpoints.

Only the newest outcome and findings of each probe are kept, so memory stays flat however many
runs there have been. Runs of different probes finish at different times (each probe may have
its own interval); :meth:`LatestResults.report` joins the newest of each into one report.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from diagnostics.model import Finding, ProbeOutcome, Report


@dataclass(frozen=True, slots=True, kw_only=True)
class ProbeResult:
    """One probe's newest outcome and findings, and the run they came from."""

    outcome: ProbeOutcome
    findings: tuple[Finding, ...]
    at: datetime
    window: timedelta
    started_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class RunRecord:
    """When the newest run ended and how long it took."""

    finished_at: datetime
    duration_s: float


class LatestResults:
    """Thread-safe store of each probe's newest result."""

    def __init__(self, summarize: Callable[[Report], Report] | None = None) -> None:
        self._lock = threading.Lock()
        self._results: dict[str, ProbeResult] = {}
        self._last_run: RunRecord | None = None
        self._summarize = summarize

    def record(self, report: Report, *, finished_at: datetime) -> None:
        """Keep the outcomes and findings of a finished run (skipped probes are not kept)."""
        fresh = {
            outcome.probe: ProbeResult(
                outcome=outcome,
                findings=report.findings_of(outcome.probe),
                at=report.at,
                window=report.window,
                started_at=report.started_at,
            )
            for outcome in report.probes
            if outcome.status.value != "skipped"
        }
        with self._lock:
            self._results.update(fresh)
            self._last_run = RunRecord(finished_at=finished_at, duration_s=report.duration_s)

    def results(self) -> dict[str, ProbeResult]:
        with self._lock:
            return dict(self._results)

    @property
    def last_run(self) -> RunRecord | None:
        with self._lock:
            return self._last_run

    def report(self) -> Report | None:
        """The newest result of every probe as one report (None before the first run ends)."""
        results = self.results()
        if not results:
            return None
        newest = max(results.values(), key=lambda r: r.started_at)
        last = self.last_run
        report = Report(
            at=newest.at,
            window=newest.window,
            started_at=min(r.started_at for r in results.values()),
            duration_s=last.duration_s if last else 0.0,
            probes=tuple(results[probe].outcome for probe in sorted(results)),
            findings=tuple(f for probe in sorted(results) for f in results[probe].findings),
        )
        return self._summarize(report) if self._summarize else replace(report)
