"""Plain traces for the pure tests: the frontend -> checkout -> payments chain, in the span model."""

from __future__ import annotations

from probes.traces.spans import Span, SpanKind, Trace


def chain_trace(
    trace_id: str,
    start_us: int,
    *,
    payments_us: int = 5_000,
    fail: str = "",
) -> Trace:
    """One ``GET /buy`` trace; ``fail`` is ``payments`` (500 from payments), ``unreachable``
    (checkout's call refused: no payments span) or empty."""
    payments_fails = fail == "payments"
    unreachable = fail == "unreachable"
    failing = payments_fails or unreachable
    t = start_us
    spans = [
        Span(span_id=f"{trace_id}-1", parent_id="", service="frontend", operation="GET /buy",
             start_us=t, duration_us=payments_us + 9_000, kind=SpanKind.SERVER, error=failing,
             status="500" if failing else "200"),
        Span(span_id=f"{trace_id}-2", parent_id=f"{trace_id}-1", service="frontend", operation="POST",
             start_us=t + 1_000, duration_us=payments_us + 7_000, kind=SpanKind.CLIENT, error=failing,
             peer="checkout"),
        Span(span_id=f"{trace_id}-3", parent_id=f"{trace_id}-2", service="checkout", operation="POST /checkout",
             start_us=t + 1_500, duration_us=payments_us + 6_000, kind=SpanKind.SERVER, error=failing,
             status="502" if failing else "200"),
        Span(span_id=f"{trace_id}-4", parent_id=f"{trace_id}-3", service="checkout", operation="POST",
             start_us=t + 3_000, duration_us=payments_us + 1_000, kind=SpanKind.CLIENT, error=failing,
             peer="payments", message="connect: [Errno 111] Connection refused" if unreachable else "HTTP 500"),
    ]  # fmt: skip
    if not unreachable:
        spans.append(
            Span(span_id=f"{trace_id}-5", parent_id=f"{trace_id}-4", service="payments", operation="POST /charge",
                 start_us=t + 3_500, duration_us=payments_us, kind=SpanKind.SERVER, error=payments_fails,
                 status="500" if payments_fails else "200",
                 message="card processor declined" if payments_fails else "")
        )  # fmt: skip
    return Trace(trace_id=trace_id, spans=tuple(spans))
