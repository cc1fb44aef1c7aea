"""``logs.patterns``: which error and warning templates are new, which rose tenfold?

Signals, per source of the ``logs`` section: the templates of the error and warning lines
(Drain3 over masked messages, or Loki's own patterns where the Loki keeps them for the whole
baseline), counted per minute over the baseline hours, the lead-in and the window.

Thresholds (:mod:`probes.logs.judge_patterns`): a template absent from the baseline with at
least 3 occurrences in the window is new (onset: first seen); a known one whose rate rose 10
times, beyond Poisson noise, has risen (onset: the change point). New or risen error templates
are warnings, warning templates info. At most ``max_findings``, most frequent first; the rest
are counted in one info finding.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from diagnostics import ChecklistItem, Entity, Finding, Measurement, Probe, ProbeContext, Severity
from probes.logs.config import SECTION, LogSource, PatternsOptions, describe_sources, sources_to_read
from probes.logs.model import Level

if TYPE_CHECKING:
    from probes.logs.judge_patterns import PatternChange


class PatternsProbe(Probe):
    id = "logs.patterns"
    checklist_item = ChecklistItem.LOGS
    description = "Error and warning log templates new in the window, or risen tenfold"
    options_model = PatternsOptions
    backend_section = SECTION

    @classmethod
    def targets(cls, backend: Any) -> str:
        return describe_sources(backend)

    def run(self, ctx: ProbeContext[PatternsOptions]) -> Iterable[Finding]:
        from probes.logs.collect import read_all, read_plan
        from probes.logs.findings import bookkeeping
        from probes.logs.judge_patterns import judge_templates, template_series

        options = ctx.options
        sources = sources_to_read(ctx.backend)
        plan = read_plan(ctx, options)
        read, notes = bookkeeping(read_all(sources, plan, ctx, options.concurrency), ctx.finding)
        found: list[Finding] = []
        for source, collected in read:
            changes = judge_templates(
                collected,
                template_series(collected),
                min_count=options.min_count,
                rise_factor=options.rise_factor,
            )
            found += [_finding(ctx, source, change, collected.queries) for change in changes]
        found.sort(key=lambda f: -int(f.severity))
        shown, rest = found[: options.max_findings], found[options.max_findings :]
        if rest:
            shown.append(
                ctx.finding(
                    kind="log_pattern_more",
                    severity=Severity.INFO,
                    title=f"{len(rest)} more new or risen log templates (not shown, fewer occurrences)",
                    entity=Entity(kind="service", name=", ".join(sorted({f.entity.name for f in rest}))),
                    details={"templates": [f.evidence.details.get("template") for f in rest][:50]},
                )
            )
        return shown + notes


def _finding(
    ctx: ProbeContext, source: LogSource, change: PatternChange, queries: tuple[str, ...]
) -> Finding:
    from probes.logs.findings import hhmm, utc

    level = "error" if change.level is Level.ERROR else "warning"
    if change.change == "new":
        title = f"{source.name}: new {level} {change.template!r}, {change.window_count} times since {hhmm(change.onset)}"
    else:
        title = (
            f"{source.name}: {level} {change.template!r} rose {change.factor:.0f}x to "
            f"{change.window_rate:.1f}/min since {hhmm(change.onset)}"
        )
    return ctx.finding(
        kind="log_new_pattern" if change.change == "new" else "log_pattern_rise",
        severity=Severity.WARNING if change.level is Level.ERROR else Severity.INFO,
        title=title,
        entity=source.entity(),
        onset=utc(change.onset),
        values=[
            Measurement(name="window_count", value=change.window_count, unit="count"),
            Measurement(name="baseline_count", value=change.baseline_count, unit="count"),
            Measurement(name="window_rate", value=round(change.window_rate, 3), unit="1/min"),
            Measurement(name="baseline_rate", value=round(change.baseline_rate, 4), unit="1/min"),
        ],
        queries=queries,
        details={
            "template": change.template,
            "level": level,
            "change": change.change,
            "factor": None if change.factor is None else round(change.factor, 1),
            "example": change.example,
            "ongoing": change.ongoing,
            "source_kind": source.kind,
        },
        next_steps=[f"Read {source.name}'s lines matching {change.template!r}"],
        key=change.template,
    )
