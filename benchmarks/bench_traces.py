"""How long do the trace probes' own processing take for 2,000 traces of 50 spans (100,000 spans)?

Generates ``--traces`` traces (default 2,000: half in the baseline, half in the window) of
``--spans`` spans each (default 50) across 10 services: trees with fan-out, nested times,
2 % failing from a random leaf in the baseline, and in the window 30 % failing from
``payments POST /charge`` and ``payments`` 40 ms slower. Then measures, median of ``--repeat``:

1. **decoding**: the traces as Jaeger's ``/api/traces`` JSON body -> the span model
   (``json.loads`` + :func:`probes.traces.jaeger.parse_trace`), what the client does;
2. **judging**: every trace shaped (entry, error origin, self time per operation:
   :func:`probes.traces.paths.shape_of`), then :func:`judge_errors` and :func:`judge_latency`;
3. **references**: ``json.loads`` of the body alone (the part of decoding that is not ours),
   and one plain loop over the same spans summing duration per (service, operation)
   into a dict, the least any walk of them costs; judging is reported as a multiple of the latter.

The issue's budget is 2 s for judging 100,000 spans; the exit status is 1 when judging is over
it. Decoding is reported beside it (most of it is ``json.loads`` of the ~39 MB body).

    .venv/bin/python benchmarks/bench_traces.py [--traces 2000] [--spans 50] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from probes.traces.jaeger import parse_trace
from probes.traces.judge_errors import ErrorLimits, judge_errors
from probes.traces.judge_latency import LatencyLimits, judge_latency
from probes.traces.paths import shape_of
from probes.traces.spans import Trace

SERVICES = [
    "frontend",
    "checkout",
    "cart",
    "catalog",
    "pricing",
    "inventory",
    "users",
    "auth",
    "shipping",
    "payments",
]
BUDGET_S = 2.0


def jaeger_trace(index: int, spans: int, rng: random.Random, *, window: bool) -> dict[str, Any]:
    """One trace in Jaeger's JSON: a tree of ``spans`` spans with nested times."""
    trace_id = f"{index:032x}"
    start = 1_700_000_000_000_000 + index * 50_000
    nodes: list[dict[str, Any]] = []
    children: dict[int, list[int]] = defaultdict(list)
    for i in range(spans):
        parent = -1 if i == 0 else rng.randrange(max(0, i - 8), i)
        service = "frontend" if i == 0 else ("payments" if i == spans - 1 else rng.choice(SERVICES[1:]))
        nodes.append(
            {"parent": parent, "service": service, "op": f"{service} op{i % 2}" if i else "GET /buy"}
        )
        if parent >= 0:
            children[parent].append(i)
    failing_from = -1
    roll = rng.random()
    if (window and roll < 0.3) or roll < 0.02:
        failing_from = spans - 1 if window else rng.randrange(1, spans)
    failing: set[int] = set()
    at = failing_from
    while at >= 0:
        failing.add(at)
        at = nodes[at]["parent"]
    slow = 40_000 if window else 0

    def place(i: int, begin: int) -> int:
        cursor = begin + rng.randrange(50, 300)
        for child in children[i]:
            cursor = place(child, cursor) + rng.randrange(10, 100)
        own = rng.randrange(200, 2_000) + (slow if nodes[i]["service"] == "payments" else 0)
        end = cursor + own
        nodes[i]["start"], nodes[i]["duration"] = begin, end - begin
        return end

    place(0, start)
    processes = {f"p{k}": {"serviceName": s, "tags": []} for k, s in enumerate(SERVICES)}
    pid = {s: f"p{k}" for k, s in enumerate(SERVICES)}
    return {
        "traceID": trace_id,
        "processes": processes,
        "spans": [
            {
                "traceID": trace_id,
                "spanID": f"{index:08x}{i:08x}",
                "operationName": node["op"],
                "references": (
                    [
                        {
                            "refType": "CHILD_OF",
                            "traceID": trace_id,
                            "spanID": f"{index:08x}{node['parent']:08x}",
                        }
                    ]
                    if node["parent"] >= 0
                    else []
                ),
                "startTime": node["start"],
                "duration": node["duration"],
                "processID": pid[node["service"]],
                "tags": [{"key": "span.kind", "type": "string", "value": "server"}]
                + ([{"key": "error", "type": "bool", "value": True}] if i in failing else []),
                "logs": [],
            }
            for i, node in enumerate(nodes)
        ],
    }


def timed(repeat: int, work: Callable[[], object]) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        began = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - began)
    return statistics.median(times), result


def judge(traces: list[Trace], half: int) -> tuple[object, object]:
    shapes = [shape_of(t) for t in traces]
    baseline, window = shapes[:half], shapes[half:]
    errors = judge_errors(
        "frontend",
        window=window,
        baseline=baseline,
        failing=(),
        limits=ErrorLimits(min_failing=5, min_ratio_increase=1.5, min_z=3, critical_ratio=0.2, min_traces=20),
    )
    latency = judge_latency(
        ("frontend", "GET /buy"),
        window=window,
        baseline=baseline,
        limits=LatencyLimits(min_ratio=1.25, min_increase_us=5_000, critical_ratio=2.0, min_traces=20),
    )
    return errors, latency


def reference(traces: list[Trace]) -> dict[tuple[str, str], int]:
    totals: dict[tuple[str, str], int] = defaultdict(int)
    for trace in traces:
        for span in trace.spans:
            totals[(span.service, span.operation)] += span.duration_us
    return totals


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=2000)
    parser.add_argument("--spans", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rng = random.Random(17)
    half = args.traces // 2
    raw = [jaeger_trace(i, args.spans, rng, window=i >= half) for i in range(args.traces)]
    body = json.dumps({"data": raw})
    total_spans = args.traces * args.spans

    decode_s, decoded = timed(
        args.repeat, lambda: [parse_trace(t, max_spans=5000) for t in json.loads(body)["data"]]
    )
    traces: list[Trace] = decoded  # type: ignore[assignment]
    loads_s, _ = timed(args.repeat, lambda: json.loads(body))
    judge_s, verdicts = timed(args.repeat, lambda: judge(traces, half))
    reference_s, _ = timed(args.repeat, lambda: reference(traces))
    errors, latency = verdicts  # type: ignore[misc]

    print(f"{args.traces} traces x {args.spans} spans = {total_spans:,} spans (median of {args.repeat})")
    print(
        f"  decoding (Jaeger JSON -> spans): {decode_s:6.3f} s  ({decode_s / total_spans * 1e6:.1f} µs/span)"
    )
    print(f"    of which json.loads ({len(body) / 1e6:.0f} MB):  {loads_s:6.3f} s")
    print(f"  judging (shape + both judges):   {judge_s:6.3f} s  ({judge_s / total_spans * 1e6:.1f} µs/span)")
    print(
        f"  reference (one dict pass):       {reference_s:6.3f} s  -> judging = {judge_s / reference_s:.1f}x reference"
    )
    print(f"  budget for judging: {BUDGET_S:.0f} s -> {'within' if judge_s <= BUDGET_S else 'OVER'}")
    origin = errors.origins[0].origin if errors else None  # type: ignore[attr-defined]
    culprit = latency.culprit.operation if latency else None  # type: ignore[attr-defined]
    print(
        f"  errors originate in: {origin.service + ' ' + origin.operation if origin else '-'}; slower: {culprit}"
    )
    return 0 if judge_s <= BUDGET_S else 1


if __name__ == "__main__":
    raise SystemExit(main())
