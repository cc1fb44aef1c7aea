"""Collecting the samples both trace probes judge: per entry service, the window's traces, the
baseline's, and (for errors) the window's failing ones, shaped once and bounded.

Bounds: at most ``max_services`` entry services, ``sample`` traces per query, three queries per
service (two for latency), ``max_spans_per_trace`` spans per trace, ``max_spans`` spans in all
(further services are then left out, and named); every request within the probe's deadline. The counts (traces fetched, spans walked, requests, seconds) travel with the
sample so findings can show them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from diagnostics import ErrorKind, ProbeContext, ProbeError, ProbeSkipped
from probes.traces.client import Search, TraceStore, micros, open_store
from probes.traces.config import TracesConfig
from probes.traces.paths import TraceShape, shape_of
from probes.traces.spans import Trace


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceSample:
    """The shaped traces of one entry service (raw window traces kept to draw paths)."""

    service: str
    window: tuple[TraceShape, ...]
    baseline: tuple[TraceShape, ...]
    failing: tuple[TraceShape, ...] = ()
    window_traces: tuple[Trace, ...] = ()


@dataclass(slots=True, kw_only=True)
class Bounds:
    """What a run fetched and walked (mutable while collecting)."""

    requests: int = 0
    traces: int = 0
    spans: int = 0
    truncated: int = 0
    services_not_fetched: list[str] = field(default_factory=list)
    """Entry services left out because ``max_spans`` was reached."""
    started: float = field(default_factory=time.monotonic)

    def as_details(self) -> dict[str, int | float | list[str]]:
        return {
            "services_not_fetched": list(self.services_not_fetched),
            "requests": self.requests,
            "traces_fetched": self.traces,
            "spans_walked": self.spans,
            "traces_truncated": self.truncated,
            "seconds": round(time.monotonic() - self.started, 3),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Collected:
    """Every entry service's sample, what it took, and how to link to a trace."""

    samples: tuple[ServiceSample, ...]
    bounds: Bounds
    link: Callable[[str], str]
    where: str


def _in_range(traces: list[Trace], start: datetime, end: datetime, bounds: Bounds) -> tuple[TraceShape, ...]:
    low, high = micros(start), micros(end)
    shapes = []
    for trace in traces:
        bounds.traces += 1
        bounds.spans += len(trace.spans)
        bounds.truncated += trace.truncated
        shape = shape_of(trace)
        if low <= shape.start_us < high:  # stores match traces overlapping the range
            shapes.append(shape)
    return tuple(shapes)


def entry_services(store: TraceStore, config: TracesConfig) -> list[str]:
    """The configured services, else the store's (at most ``max_services``)."""
    if config.services:
        return list(config.services)
    found = store.services()
    if not found:
        raise ProbeSkipped(f"{store.name} at {store.where} has no services yet")
    return found[: config.max_services]


def baseline_range(ctx: ProbeContext, baseline: timedelta) -> tuple[datetime, datetime]:
    """The baseline window: ``baseline`` long, ending where the diagnosed window starts."""
    return ctx.start - baseline, ctx.start


def collect(
    ctx: ProbeContext,
    *,
    baseline: timedelta,
    with_failing: bool,
    with_baseline: bool = True,
    services: list[str] | None = None,
) -> Collected:
    """The samples of every entry service that started traces in the window."""
    config = ctx.backend
    if not isinstance(config, TracesConfig):
        raise ProbeError("no traces section in the configuration", kind=ErrorKind.CONFIG)
    store = open_store(config, deadline=ctx.deadline)
    bounds = Bounds()
    samples: list[ServiceSample] = []
    try:
        base_start, base_end = baseline_range(ctx, baseline)
        for service in services if services is not None else entry_services(store, config):
            if bounds.spans >= config.max_spans:
                bounds.services_not_fetched.append(service)
                continue
            window_raw = store.traces(
                Search(service=service, start=ctx.start, end=ctx.at, limit=config.sample)
            )
            failing_raw = (
                store.traces(
                    Search(
                        service=service, start=ctx.start, end=ctx.at, limit=config.sample, errors_only=True
                    )
                )
                if with_failing
                else []
            )
            if not window_raw and not failing_raw:
                continue
            baseline_raw = (
                store.traces(Search(service=service, start=base_start, end=base_end, limit=config.sample))
                if with_baseline
                else []
            )
            samples.append(
                ServiceSample(
                    service=service,
                    window=_in_range(window_raw, ctx.start, ctx.at, bounds),
                    baseline=_in_range(baseline_raw, base_start, base_end, bounds),
                    failing=_in_range(failing_raw, ctx.start, ctx.at, bounds),
                    window_traces=tuple(window_raw),
                )
            )
        bounds.requests = store.requests_made
    finally:
        store.close()
    return Collected(
        samples=tuple(samples), bounds=bounds, link=store.link, where=f"{store.name} at {store.where}"
    )
