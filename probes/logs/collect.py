"""Reading every configured source over one plan: the dispatch to each kind's client.

Sources are read in parallel (``concurrency`` threads); a source that fails becomes one
:class:`SourceFailure` and the others are judged all the same. The plan is minute-aligned:
the baseline (``baseline`` long) ends where the lead-in begins, the lead-in is as long as the
window, and the window ends at ``--at``.
"""

from __future__ import annotations

import math
import time as clock
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from diagnostics import ErrorKind, ProbeContext, ProbeError
from probes.logs.config import LogSource, ReadingOptions
from probes.logs.elasticsearch_client import read_elasticsearch
from probes.logs.file_client import read_files
from probes.logs.journald_client import read_journal
from probes.logs.kubernetes_client import read_pod_logs
from probes.logs.loki_client import read_loki
from probes.logs.model import STEP, Collected, ReadPlan
from probes.logs.victorialogs_client import read_victorialogs


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceFailure:
    """A source that could not be read, and why."""

    source: LogSource
    error: str
    kind: ErrorKind


def read_plan(ctx: ProbeContext, options: ReadingOptions) -> ReadPlan:
    """The minute-aligned ranges to read for ``ctx``'s window."""
    at = math.floor(ctx.at.timestamp() / STEP) * STEP
    window = max(STEP, math.ceil(ctx.window.total_seconds() / STEP) * STEP)
    baseline = max(30 * STEP, math.ceil(options.baseline.total_seconds() / STEP) * STEP)
    return ReadPlan(
        start=at - 2 * window - baseline,
        window_start=at - window,
        at=at,
        day_earlier=options.day_earlier,
        max_bytes=options.max_bytes,
        max_lines=options.max_lines,
        max_samples=options.max_samples,
    )


def read_source(source: LogSource, plan: ReadPlan, ctx: ProbeContext) -> Collected:
    """One source over ``plan``, through its kind's client."""
    deadline = clock.monotonic() + ctx.remaining()
    if source.file is not None:
        return read_files(source.file, plan, deadline)
    if source.journald is not None:
        return read_journal(source.journald, plan, deadline)
    if source.kubernetes is not None:
        return read_pod_logs(source.kubernetes, plan, ctx)
    if source.loki is not None:
        return read_loki(source.loki, plan, deadline, name=source.name)
    if source.elasticsearch is not None:
        return read_elasticsearch(source.elasticsearch, plan, deadline, name=source.name)
    assert source.victorialogs is not None
    return read_victorialogs(source.victorialogs, plan, deadline, name=source.name)


def read_all(
    sources: list[LogSource], plan: ReadPlan, ctx: ProbeContext, concurrency: int
) -> list[tuple[LogSource, Collected | SourceFailure]]:
    """Every source over ``plan``, in configuration order; failures do not stop the others."""

    def one(source: LogSource) -> Collected | SourceFailure:
        try:
            return read_source(source, plan, ctx)
        except ProbeError as exc:
            return SourceFailure(source=source, error=str(exc), kind=exc.kind)

    run: Callable[[LogSource], Collected | SourceFailure] = one
    if len(sources) == 1:
        return [(sources[0], run(sources[0]))]
    with ThreadPoolExecutor(
        max_workers=min(concurrency, len(sources)), thread_name_prefix="diag-logs"
    ) as pool:
        return list(zip(sources, pool.map(run, sources), strict=True))
