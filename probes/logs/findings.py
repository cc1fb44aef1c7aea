"""What both log probes report besides their judgements: unreadable and bounded sources."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from diagnostics import Finding, ProbeError, Severity
from probes.logs.collect import SourceFailure
from probes.logs.config import LogSource
from probes.logs.judge_patterns import MIN_COVERAGE, baseline_coverage
from probes.logs.model import Collected

MakeFinding = Callable[..., Finding]


def utc(unix: float) -> datetime:
    return datetime.fromtimestamp(unix, UTC)


def hhmm(unix: float) -> str:
    return utc(unix).strftime("%H:%M UTC")


def bookkeeping(
    results: list[tuple[LogSource, Collected | SourceFailure]], make: MakeFinding
) -> tuple[list[tuple[LogSource, Collected]], list[Finding]]:
    """The sources read, and info findings for those that failed, were empty or read in part.

    When every source failed the probe could check nothing: the first failure is raised.
    """
    read = [(s, c) for s, c in results if isinstance(c, Collected)]
    failures = [c for _, c in results if isinstance(c, SourceFailure)]
    if failures and not read:
        raise ProbeError(failures[0].error, kind=failures[0].kind)
    notes = [
        make(
            kind="log_source_unreadable",
            severity=Severity.INFO,
            title=f"log source {f.source.name} ({f.source.kind}) could not be read: {f.error}",
            entity=f.source.entity(),
            details={"error_kind": f.kind.value, "error": f.error},
        )
        for f in failures
    ]
    for source, collected in read:
        if not collected.totals.any():
            notes.append(
                make(
                    kind="log_source_empty",
                    severity=Severity.INFO,
                    title=f"log source {source.name}: no event with a readable timestamp in the baseline or window",
                    entity=source.entity(),
                    queries=collected.queries,
                    details=dict(collected.details or {}),
                    next_steps=["Check the source's query or paths, and its timestamp format (docs/logs.md)"],
                )
            )
        elif (coverage := baseline_coverage(collected)) < MIN_COVERAGE:
            notes.append(
                make(
                    kind="log_baseline_short",
                    severity=Severity.INFO,
                    title=f"log source {source.name}: lines in only {coverage:.0%} of the baseline's minutes, "
                    "too little to compare the window with",
                    entity=source.entity(),
                    details={"baseline_coverage": round(coverage, 3)},
                    next_steps=[
                        "Read a source that keeps the hours before the window (pod logs end with the pod)"
                    ],
                )
            )
        if collected.stopped:
            notes.append(
                make(
                    kind="log_reading_bounded",
                    severity=Severity.INFO,
                    title=f"log source {source.name}: reading stopped at the {collected.stopped} bound",
                    entity=source.entity(),
                    details={"bound": collected.stopped, **(collected.details or {})},
                    next_steps=[f"Raise {collected.stopped} of the log probes, or narrow the source"],
                )
            )
    return read, notes
