"""``traces.latency``: did an entry operation get slower, and in which service is the time spent?

Signals, per entry operation (root span's service and operation) of every entry service: the
durations of ``sample`` traces in the window and in the baseline window (``baseline``, default
1h, ending where the window starts), and each trace's self time per (service, operation)
(:mod:`probes.traces.paths`).

Thresholds (:mod:`probes.traces.judge_latency`): p50 or p95 at least ``min_ratio`` (1.25) times
the baseline's, or more when the baseline's own time-ordered chunks vary more (1 + 2 x their
relative spread), and ``min_increase`` (5ms) longer; p95 at ``critical_ratio`` (2) times the
baseline's or more is critical. One ``trace_latency`` finding per slower entry operation, on
the service whose self time grew most, with before/after figures, the path and the onset.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from diagnostics import ChecklistItem, Finding, Probe, ProbeContext
from probes.traces.config import SECTION, LatencyOptions, TracesConfig

if TYPE_CHECKING:
    from probes.traces.spanmetrics import ServerLatencies


class LatencyProbe(Probe):
    id = "traces.latency"
    checklist_item = ChecklistItem.TRACES
    description = "Entry operations' p50/p95 vs the baseline: the service whose self time grew"
    options_model = LatencyOptions
    backend_section = SECTION

    @classmethod
    def targets(cls, backend: Any) -> str:
        from probes.traces.errors import describe

        return describe(backend)

    def run(self, ctx: ProbeContext[LatencyOptions]) -> Iterable[Finding]:
        from probes.traces.fetch import collect
        from probes.traces.judge_latency import LatencyLimits, judge_latency, latency_finding
        from probes.traces.paths import Operation, TraceShape, path_to

        options = ctx.options
        limits = LatencyLimits(
            min_ratio=options.min_ratio,
            min_increase_us=round(options.min_increase.total_seconds() * 1e6),
            critical_ratio=options.critical_ratio,
            min_traces=options.min_traces,
        )
        config = ctx.backend
        assert isinstance(config, TracesConfig)
        graph = _server_latencies(ctx, config, options)
        if graph is not None and not graph.slower(
            min_ratio=options.min_ratio, min_increase_s=options.min_increase.total_seconds()
        ):
            ctx.logger.debug("traces.latency: no server slower in the service graph, no trace fetched")
            return []
        collected = collect(ctx, baseline=options.baseline, with_failing=False)
        ctx.logger.debug("traces.latency: %s from %s", collected.bounds.as_details(), collected.where)
        findings = []
        for sample in collected.samples:
            by_entry: dict[Operation, tuple[list[TraceShape], list[TraceShape]]] = defaultdict(
                lambda: ([], [])
            )
            for shape in sample.window:
                by_entry[shape.entry][0].append(shape)
            for shape in sample.baseline:
                by_entry[shape.entry][1].append(shape)
            for entry, (window, baseline) in sorted(by_entry.items()):
                verdict = judge_latency(entry, window=window, baseline=baseline, limits=limits)
                if verdict is None:
                    continue
                example = next(t for t in sample.window_traces if t.trace_id == verdict.example_trace_id)
                finding = latency_finding(
                    verdict,
                    path=path_to(example, verdict.culprit.operation),
                    make=ctx.finding,
                    link=collected.link,
                    limits=limits,
                    bounds=collected.bounds.as_details(),
                )
                findings.append(finding if graph is None else _with_service_graph(finding, graph))
        return findings


def _server_latencies(
    ctx: ProbeContext, config: TracesConfig, options: LatencyOptions
) -> ServerLatencies | None:
    if config.prometheus is None:
        return None
    from probes.traces.spanmetrics import server_latencies

    return server_latencies(ctx, config.prometheus, options.baseline)


def _with_service_graph(finding: Finding, graph: ServerLatencies) -> Finding:
    """The finding with each server's p95 (ms, baseline and window) from the service graph."""
    from dataclasses import replace

    details = dict(finding.evidence.details)
    details["server_p95_ms"] = {
        server: {"before": round(before * 1000, 2), "after": round(after * 1000, 2)}
        for server, (before, after) in sorted(graph.p95.items())
    }
    return replace(finding, evidence=replace(finding.evidence, queries=graph.queries, details=details))
