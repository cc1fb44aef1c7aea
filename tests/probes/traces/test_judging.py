"""Pure judging: error origins, self time, paths, error and latency verdicts on plain traces."""

from __future__ import annotations

import random

from probes.traces.judge_errors import ErrorLimits, Rates, is_elevated, judge_errors
from probes.traces.judge_latency import LatencyLimits, judge_latency
from probes.traces.onset import change_point
from probes.traces.paths import path_to, shape_of
from probes.traces.spans import Span, SpanKind, Trace
from tests.probes.traces.builders import chain_trace

ERRORS = ErrorLimits(min_failing=5, min_ratio_increase=1.5, min_z=3.0, critical_ratio=0.2, min_traces=20)
LATENCY = LatencyLimits(min_ratio=1.25, min_increase_us=5_000, critical_ratio=2.0, min_traces=20)


def test_origin_is_the_deepest_failing_span_whose_children_succeed() -> None:
    shape = shape_of(chain_trace("a", 0, fail="payments"))
    assert shape.failed
    assert shape.origin is not None
    assert (shape.origin.service, shape.origin.operation) == ("payments", "POST /charge")
    assert shape.origin.path == ("frontend", "checkout", "payments")
    assert shape.origin.message == "card processor declined"
    assert shape.origin.status == "500"
    assert shape.origin.unreachable == ""


def test_failing_client_span_without_server_side_is_an_unreachable_dependency() -> None:
    shape = shape_of(chain_trace("a", 0, fail="unreachable"))
    assert shape.origin is not None
    assert (shape.origin.service, shape.origin.operation) == ("checkout", "POST")
    assert shape.origin.unreachable == "payments"
    assert shape.origin.path == ("frontend", "checkout", "payments")


def test_handled_error_below_a_successful_entry_is_not_a_failing_trace() -> None:
    trace = chain_trace("a", 0)
    spans = (*trace.spans[:-1], Span(**{**_fields(trace.spans[-1]), "error": True}))
    assert not shape_of(Trace(trace_id="a", spans=spans)).failed


def _fields(span: Span) -> dict[str, object]:
    return {name: getattr(span, name) for name in Span.__slots__}


def test_self_time_subtracts_children_once_even_when_they_overlap() -> None:
    spans = (
        Span(span_id="r", parent_id="", service="a", operation="op", start_us=0, duration_us=100, kind=SpanKind.SERVER),
        Span(span_id="c1", parent_id="r", service="b", operation="x", start_us=10, duration_us=40),
        Span(span_id="c2", parent_id="r", service="b", operation="x", start_us=30, duration_us=40),
        Span(span_id="c3", parent_id="r", service="c", operation="late", start_us=90, duration_us=50),
    )  # fmt: skip
    shape = shape_of(Trace(trace_id="t", spans=spans))
    # children cover 10..70 and 90..100 (the late child clipped at the parent's end)
    assert shape.self_time_us[("a", "op")] == 30
    assert shape.self_time_us[("b", "x")] == 80
    assert path_to(Trace(trace_id="t", spans=spans), ("c", "late")) == ("a", "c")


def test_change_point_finds_where_failures_start_against_the_baseline_rate() -> None:
    times = list(range(100))
    bad = [i in (7, 31) for i in range(60)] + [True, False, True, True] * 10
    assert change_point(times, bad, baseline_rate=0.03) == 60


def _sample(count: int, start: int, rng: random.Random, *, fail_rate: float = 0.02, **kwargs: object) -> list:
    return [
        shape_of(
            chain_trace(
                f"{start}-{i}",
                start + i * 20_000,
                payments_us=int(rng.uniform(2_000, 8_000)) + int(kwargs.get("extra_us", 0)),  # type: ignore[call-overload]
                fail=str(kwargs.get("fail", "payments")) if rng.random() < fail_rate else "",
            )
        )
        for i in range(count)
    ]


def test_noisy_healthy_traffic_is_not_elevated_on_several_seeds() -> None:
    for seed in range(20):
        rng = random.Random(seed)
        window, baseline = _sample(200, 10_000_000, rng), _sample(200, 0, rng)
        assert judge_errors("frontend", window=window, baseline=baseline, failing=(), limits=ERRORS) is None
        assert (
            judge_latency(("frontend", "GET /buy"), window=window, baseline=baseline, limits=LATENCY) is None
        )


def test_failures_from_payments_are_attributed_with_onset() -> None:
    rng = random.Random(3)
    baseline = _sample(200, 0, rng)
    before = _sample(80, 10_000_000, rng)
    after = _sample(120, 10_000_000 + 80 * 20_000, rng, fail_rate=0.6)
    verdict = judge_errors("frontend", window=before + after, baseline=baseline, failing=(), limits=ERRORS)
    assert verdict is not None
    top = verdict.origins[0]
    assert (top.origin.service, top.origin.operation, top.share) == ("payments", "POST /charge", 1.0)
    assert verdict.onset_us is not None
    assert abs(verdict.onset_us - (10_000_000 + 80 * 20_000)) <= 5 * 20_000


def test_slowdown_is_attributed_to_the_service_whose_self_time_grew() -> None:
    rng = random.Random(5)
    baseline = _sample(200, 0, rng)
    window = _sample(200, 10_000_000, rng, extra_us=40_000)
    verdict = judge_latency(("frontend", "GET /buy"), window=window, baseline=baseline, limits=LATENCY)
    assert verdict is not None
    assert verdict.culprit.operation == ("payments", "POST /charge")
    assert verdict.culprit.after_us - verdict.culprit.before_us > 35_000


def test_a_baseline_without_failures_still_needs_several_failing_traces() -> None:
    assert not is_elevated(Rates(failing=2, total=100), Rates(failing=0, total=100), ERRORS)
    assert is_elevated(Rates(failing=12, total=100), Rates(failing=0, total=100), ERRORS)
