"""One trace's shape: its entry span, where its error originates, the self time of each operation.

- *entry*: the root span (no parent, or a parent the store does not have; the earliest wins).
- *origin* of a failing trace (entry span in error): follow the failing children down from the
  entry, always into the failing child that ended last, until a failing span has no failing
  child. That span is where the error originates. When it is a client span with no child at all,
  the called service never answered: an *unreachable dependency* (its peer is named).
- *self time* of a span: its duration minus the part its children cover (children's intervals
  merged and clipped to the span), summed per (service, operation).
- *path*: the services from the entry down to a span, consecutive repeats folded.

Every function walks each span a bounded number of times: O(spans log spans) per trace.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from probes.traces.spans import Span, SpanKind, Trace

Operation = tuple[str, str]
"""(service, operation)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Origin:
    """Where one trace's error originates."""

    service: str
    operation: str
    path: tuple[str, ...]
    message: str = ""
    status: str = ""
    unreachable: str = ""
    """For a failing client span whose server side is missing: the service it called."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TraceShape:
    """What the judges need of one trace."""

    trace_id: str
    entry: Operation
    start_us: int
    duration_us: int
    failed: bool
    origin: Origin | None
    self_time_us: Mapping[Operation, int]
    span_count: int


def _children(trace: Trace) -> tuple[Span, dict[str, list[Span]]]:
    ids = {span.span_id for span in trace.spans}
    children: dict[str, list[Span]] = defaultdict(list)
    roots: list[Span] = []
    for span in trace.spans:
        if span.parent_id and span.parent_id in ids and span.parent_id != span.span_id:
            children[span.parent_id].append(span)
        else:
            roots.append(span)
    # a span without a parent beats an orphan whose parent the store lost; then the earliest
    root = min(roots, key=lambda s: (s.parent_id != "", s.start_us, -s.duration_us))
    return root, children


def entry_span(trace: Trace) -> Span:
    """The root span of a (non-empty) trace."""
    return _children(trace)[0]


def rooted_in(traces: list[Trace], service: str, limit: int) -> list[Trace]:
    """The traces whose entry span belongs to ``service`` (at most ``limit``; empty ones dropped)."""
    return [t for t in traces if t.spans and entry_span(t).service == service][:limit]


def fold(services: list[str]) -> tuple[str, ...]:
    """``[a, a, b, b, c]`` -> ``(a, b, c)``: consecutive spans of one service are one hop."""
    folded: list[str] = []
    for service in services:
        if not folded or folded[-1] != service:
            folded.append(service)
    return tuple(folded)


def error_origin(root: Span, children: Mapping[str, list[Span]]) -> Origin:
    """The originating span of a failing trace (``root.error`` must be true)."""
    current = root
    services = [root.service]
    seen = {root.span_id}
    while True:
        failing = [c for c in children.get(current.span_id, ()) if c.error and c.span_id not in seen]
        if not failing:
            break
        current = max(failing, key=lambda s: (s.end_us, s.start_us))
        seen.add(current.span_id)
        services.append(current.service)
    unreachable = ""
    if current.kind is SpanKind.CLIENT and not children.get(current.span_id):
        unreachable = current.peer or current.operation
    return Origin(
        service=current.service,
        operation=current.operation,
        path=fold(services + ([unreachable] if unreachable else [])),
        message=current.message,
        status=current.status,
        unreachable=unreachable,
    )


def self_times(trace: Trace, children: Mapping[str, list[Span]]) -> dict[Operation, int]:
    """Microseconds of self time per (service, operation), summed over the trace's spans."""
    totals: dict[Operation, int] = defaultdict(int)
    for span in trace.spans:
        own = children.get(span.span_id)
        covered = 0
        if own:
            begin, end = span.start_us, span.end_us
            cursor = begin
            for child in sorted(own, key=lambda c: c.start_us):
                low, high = max(child.start_us, cursor), min(child.end_us, end)
                if high > low:
                    covered += high - low
                    cursor = high
        totals[(span.service, span.operation)] += max(0, span.duration_us - covered)
    return totals


def shape_of(trace: Trace) -> TraceShape:
    """Entry, failure origin and self times of one (non-empty) trace."""
    root, children = _children(trace)
    return TraceShape(
        trace_id=trace.trace_id,
        entry=(root.service, root.operation),
        start_us=root.start_us,
        duration_us=root.duration_us,
        failed=root.error,
        origin=error_origin(root, children) if root.error else None,
        self_time_us=self_times(trace, children),
        span_count=len(trace.spans),
    )


def path_to(trace: Trace, operation: Operation) -> tuple[str, ...]:
    """The services from the entry down to the first span of ``operation`` (empty when absent)."""
    by_id = {span.span_id: span for span in trace.spans}
    for span in trace.spans:
        if (span.service, span.operation) != operation:
            continue
        services = [span.service]
        seen = {span.span_id}
        parent = by_id.get(span.parent_id)
        while parent is not None and parent.span_id not in seen:
            seen.add(parent.span_id)
            services.append(parent.service)
            parent = by_id.get(parent.parent_id)
        return fold(services[::-1])
    return ()
