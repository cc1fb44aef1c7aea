"""``logs.errors``: did errors rise, in which service, since when, and which errors?

Signals, per source of the ``logs`` section: error-level events per minute (level from the
structured field, journald ``PRIORITY`` <= 3, or the plain-text markers), or for access logs
the share of requests answered 5xx, over the window and its lead-in, against the ``baseline``
hours before (and the same window a day earlier where the source keeps it).

Thresholds (:mod:`probes.logs.judge_errors`): robust z >= 5 for 3 minutes, at least 3 errors
per minute (2 % of requests) above normal, upwards only; the onset is where the rise began.
Ongoing rises more than 3 normal half-widths out are critical, others warnings. Each finding
lists the window's top error templates with counts and one redacted example each.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from diagnostics import ChecklistItem, Finding, Measurement, Probe, ProbeContext, Severity
from probes.logs.config import SECTION, ErrorsOptions, LogSource, describe_sources, sources_to_read
from probes.logs.model import Collected


class ErrorsProbe(Probe):
    id = "logs.errors"
    checklist_item = ChecklistItem.LOGS
    description = "Error events per minute (5xx ratio of access logs) rising above their baseline"
    options_model = ErrorsOptions
    backend_section = SECTION

    @classmethod
    def targets(cls, backend: Any) -> str:
        return describe_sources(backend)

    def run(self, ctx: ProbeContext[ErrorsOptions]) -> Iterable[Finding]:
        from probes.logs.collect import read_all, read_plan
        from probes.logs.findings import bookkeeping

        options = ctx.options
        sources = sources_to_read(ctx.backend)
        plan = read_plan(ctx, options)
        read, findings = bookkeeping(read_all(sources, plan, ctx, options.concurrency), ctx.finding)
        for source, collected in read:
            finding = _judged(ctx, options, source, collected)
            if finding is not None:
                findings.insert(0, finding)
        return findings


def _judged(
    ctx: ProbeContext, options: ErrorsOptions, source: LogSource, collected: Collected
) -> Finding | None:
    from probes.logs.findings import hhmm, utc
    from probes.logs.judge_errors import judge_error_rate, top_templates

    rise = judge_error_rate(
        collected,
        threshold=options.threshold,
        persistence_minutes=max(2, math.ceil(options.persistence.total_seconds() / 60)),
        min_rise=options.min_rise,
        min_ratio_rise=options.min_ratio_rise,
    )
    if rise is None:
        return None
    templates = top_templates(collected.samples, rise.onset, options.top_templates)
    critical = rise.ongoing and rise.peak - rise.expected >= 3 * (rise.normal_high - rise.expected)
    if rise.signal == "5xx_ratio":
        title = (
            f"{source.name}: {rise.peak:.1%} of requests answered 5xx at {hhmm(rise.peak_time)}, "
            f"normally {rise.baseline_rate:.1%}"
        )
        unit = "ratio"
    else:
        title = (
            f"{source.name}: {rise.peak:.0f} errors/min at {hhmm(rise.peak_time)}, "
            f"normally {rise.baseline_rate:.1f}/min"
        )
        unit = "1/min"
    since = "before " if rise.onset_censored else ""
    summary = f"{title}; rising since {since}{hhmm(rise.onset)}" + (
        f"; top error: {templates[0].template!r} x{templates[0].count}" if templates else ""
    )
    return ctx.finding(
        kind="log_5xx_ratio" if rise.signal == "5xx_ratio" else "log_error_rate",
        severity=Severity.CRITICAL if critical else Severity.WARNING,
        title=title,
        summary=summary,
        entity=source.entity(),
        onset=utc(rise.onset),
        values=[
            Measurement(name="peak", value=round(rise.peak, 4), unit=unit),
            Measurement(name="expected", value=round(rise.expected, 4), unit=unit),
            Measurement(name="baseline_mean", value=round(rise.baseline_rate, 4), unit=unit),
            Measurement(name="current", value=round(rise.current, 4), unit=unit),
            Measurement(name="window_errors", value=rise.window_errors, unit="count"),
            Measurement(name="window_events", value=rise.window_events, unit="count"),
        ],
        queries=collected.queries,
        details={
            "signal": rise.signal,
            "source_kind": source.kind,
            "ongoing": rise.ongoing,
            "onset_censored": rise.onset_censored,
            "peak_time": utc(rise.peak_time).isoformat(),
            "normal_high": round(rise.normal_high, 4),
            "robust_z": round(rise.score, 1),
            "day_ago": None if rise.day_ago is None else round(rise.day_ago, 4),
            "top_templates": [
                {
                    "template": t.template,
                    "count": t.count,
                    "example": t.example,
                    "first_seen": utc(t.first_seen).isoformat(),
                }
                for t in templates
            ],
            "templates_from_sample": not collected.samples_complete,
        },
        next_steps=[f"Read {source.name}'s error lines from {hhmm(rise.onset)} on"],
        key=rise.signal,
    )
