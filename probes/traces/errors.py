"""``traces.errors``: which service on the request path do the errors come from?

Signals, per entry service (``traces.services``, else every service that starts traces):

- the share of its traces whose entry span fails, in the window and in the baseline window
  (``baseline``, default 1h, ending where the window starts), from a sample of ``sample``
  traces each, or, when ``traces.prometheus`` holds span metrics, from their counts over the
  whole window (:mod:`probes.traces.spanmetrics`);
- for each failing trace, where its error originates (:mod:`probes.traces.paths`).

Thresholds (:mod:`probes.traces.judge_errors`): at least ``min_failing`` (5) failing traces, a
ratio ``min_ratio_increase`` (1.5) times the baseline's and ``min_z`` (3) standard errors above
it; ``critical_ratio`` (0.2) and above is critical. One ``trace_errors`` finding per entry
service, on the service where the errors originate, with the path, share, message, status,
an example trace and the onset.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from diagnostics import ChecklistItem, Finding, Probe, ProbeContext
from probes.traces.config import SECTION, ErrorsOptions, TracesConfig

if TYPE_CHECKING:
    from probes.traces.spanmetrics import SpanMetricRates


class ErrorsProbe(Probe):
    id = "traces.errors"
    checklist_item = ChecklistItem.TRACES
    description = "Error traces vs the baseline per entry service: where the errors originate, on which path"
    options_model = ErrorsOptions
    backend_section = SECTION

    @classmethod
    def targets(cls, backend: Any) -> str:
        return describe(backend)

    def run(self, ctx: ProbeContext[ErrorsOptions]) -> Iterable[Finding]:
        from probes.traces.fetch import collect
        from probes.traces.judge_errors import ErrorLimits, error_finding, judge_errors

        options = ctx.options
        config = ctx.backend
        assert isinstance(config, TracesConfig)
        limits = ErrorLimits(
            min_failing=options.min_failing,
            min_ratio_increase=options.min_ratio_increase,
            min_z=options.min_z,
            critical_ratio=options.critical_ratio,
            min_traces=options.min_traces,
        )
        metric_rates = _span_metric_rates(ctx, config, options.baseline)
        if metric_rates is not None:
            elevated = [
                s
                for s, (window, baseline) in metric_rates.rates.items()
                if (not config.services or s in config.services)
                and window.failing >= limits.min_failing
                and window.ratio > baseline.ratio
            ]
            collected = collect(
                ctx,
                baseline=options.baseline,
                with_failing=True,
                with_baseline=False,
                services=sorted(elevated),
            )
        else:
            collected = collect(ctx, baseline=options.baseline, with_failing=True)
        ctx.logger.debug("traces.errors: %s from %s", collected.bounds.as_details(), collected.where)
        findings = []
        for sample in collected.samples:
            rates = metric_rates.rates.get(sample.service) if metric_rates is not None else None
            verdict = judge_errors(
                sample.service,
                window=sample.window,
                baseline=sample.baseline,
                failing=sample.failing,
                limits=limits,
                rates=rates,
            )
            if verdict is not None:
                finding = error_finding(
                    verdict,
                    make=ctx.finding,
                    link=collected.link,
                    limits=limits,
                    bounds=collected.bounds.as_details(),
                )
                if metric_rates is not None:
                    finding = _with_span_metrics(finding, metric_rates)
                findings.append(finding)
        return findings


def _span_metric_rates(
    ctx: ProbeContext, config: TracesConfig, baseline: timedelta
) -> SpanMetricRates | None:
    if config.prometheus is None:
        return None
    from probes.traces.spanmetrics import error_rates

    return error_rates(ctx, config.prometheus, baseline)


def _with_span_metrics(finding: Finding, metrics: SpanMetricRates) -> Finding:
    """The finding with the PromQL behind its rates and the service graph's failing edges."""
    from dataclasses import replace

    details = dict(finding.evidence.details)
    if metrics.failed_edges:
        details["failed_edges"] = [
            {"client": client, "server": server, "failed": failed}
            for client, server, failed in metrics.failed_edges
        ]
    return replace(finding, evidence=replace(finding.evidence, queries=metrics.queries, details=details))


def describe(backend: Any) -> str:
    """``Jaeger at http://...: services frontend, checkout`` (for ``diag config check``)."""
    if not isinstance(backend, TracesConfig):
        return "nothing (no traces section)"
    from probes.prometheus.config import display_url

    services = (
        ", ".join(backend.services)
        if backend.services
        else f"every entry service (at most {backend.max_services})"
    )
    extra = " + span metrics from Prometheus" if backend.prometheus is not None else ""
    return f"{backend.kind} at {display_url(backend.endpoint.url)}: {services}{extra}"
