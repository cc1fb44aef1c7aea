"""Judging templates: error and warning templates new in the window, or risen tenfold.

Templates come from the backend where it mines them itself over the whole baseline (Loki's
patterns), else from Drain3 over the error and warning lines read (:mod:`probes.logs.templates`).

- **new**: no occurrence in the baseline (the hours before the window, lead-in included), at
  least ``min_count`` in the window; onset = first seen.
- **risen**: the window's rate is ``rise_factor`` times the baseline's (a template seen once in
  6 hours counts as that rate), at least ``min_count`` occurrences, and beyond Poisson noise
  (3 standard deviations above the expected count); onset = the minute from which the rate
  changed most likely (a Poisson change point over the lead-in and the window).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from probes.logs.judge_errors import example_text
from probes.logs.levels import level_of_pattern
from probes.logs.model import STEP, Collected, Level, ServerPattern
from probes.logs.onset import change_point
from probes.logs.templates import mine

if TYPE_CHECKING:
    from probes.logs.model import FloatArray


MIN_COVERAGE = 0.3
"""As ``metrics.anomalies``' ``min_coverage``: less baseline than this is no baseline."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TemplateSeries:
    """One template's per-minute counts over the plan, with its level and an example."""

    template: str
    level: Level
    counts: FloatArray
    example: str = ""
    first_seen: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PatternChange:
    """A template new in the window, or whose rate rose ``factor`` times."""

    change: str
    """``new`` or ``risen``."""
    template: str
    level: Level
    onset: float
    window_count: int
    baseline_count: int
    window_rate: float
    """Per minute."""
    baseline_rate: float
    factor: float | None
    example: str
    ongoing: bool


def template_series(collected: Collected) -> list[TemplateSeries]:
    """Per-template counts: the backend's own patterns where it mined them, else Drain3's."""
    if collected.server_patterns is not None:
        return [
            _with_example(p, collected)
            for p in collected.server_patterns
            if level_of_pattern(p.pattern) >= Level.WARNING
        ]
    plan = collected.plan
    samples = [e for e in collected.samples if e.level >= Level.WARNING]
    if not samples:
        return []
    ids, texts = mine([e.message for e in samples])
    minutes = plan.minutes
    grouped: dict[int, list[int]] = {}
    first: dict[int, int] = {}
    worst: dict[int, Level] = {}
    for index, (template, event) in enumerate(zip(ids, samples, strict=True)):
        grouped.setdefault(template, []).append(plan.minute_of(event.time))
        first.setdefault(template, index)
        worst[template] = max(worst.get(template, Level.OTHER), event.level)
    series = []
    for template, indexes in grouped.items():
        inside = np.clip(np.array(indexes), 0, minutes - 1)
        event = samples[first[template]]
        series.append(
            TemplateSeries(
                template=texts[template],
                level=worst[template],
                counts=np.bincount(inside, minlength=minutes).astype(np.float64),
                example=example_text(event.message),
                first_seen=event.time,
            )
        )
    return series


def _with_example(pattern: ServerPattern, collected: Collected) -> TemplateSeries:
    """A backend-mined pattern with the first sampled line it matches (``<_>`` is any text)."""
    parts = [re.escape(part) for part in pattern.pattern.split("<_>")]
    matcher = re.compile(".*?".join(parts))
    example = next((e for e in collected.samples if matcher.search(e.message)), None)
    return TemplateSeries(
        template=pattern.pattern,
        level=level_of_pattern(pattern.pattern),
        counts=pattern.counts,
        example=example_text(example.message) if example else "",
        first_seen=example.time if example else None,
    )


def baseline_coverage(collected: Collected) -> float:
    """The share of the baseline's minutes (lead-in included) holding at least one line."""
    split = round((collected.plan.window_start - collected.plan.start) / STEP)
    return float((collected.totals[:split] > 0).mean()) if split else 0.0


def judge_templates(
    collected: Collected, series: list[TemplateSeries], *, min_count: int, rise_factor: float
) -> list[PatternChange]:
    """The new and risen templates, worst (most occurrences in the window) first.

    Nothing is new against a baseline that holds lines in less than :data:`MIN_COVERAGE` of
    its minutes (pods deployed in the window, a source kept for less than the baseline).
    """
    plan = collected.plan
    if baseline_coverage(collected) < MIN_COVERAGE:
        return []
    split = round((plan.window_start - plan.start) / STEP)
    window_minutes = max(1, len(collected.totals) - split)
    lead_in = max(0, split - window_minutes)
    changes = []
    for item in series:
        base, window = item.counts[:split], item.counts[split:]
        base_count, window_count = int(base.sum()), int(window.sum())
        if window_count < min_count:
            continue
        window_rate = window_count / window_minutes
        seen = np.flatnonzero(window)
        ongoing = bool(len(seen)) and seen[-1] >= window_minutes - max(5, window_minutes // 4)
        if base_count == 0:
            onset = item.first_seen if item.first_seen is not None else plan.window_start + seen[0] * STEP
            changes.append(_change(item, "new", onset, window_count, 0, window_rate, 0.0, None, ongoing))
            continue
        baseline_rate = max(base_count, 1) / max(split, 1)
        expected = baseline_rate * window_minutes
        factor = window_rate / baseline_rate
        if factor >= rise_factor and window_count >= expected + 3 * math.sqrt(expected) + 1:
            onset = plan.start + (lead_in + change_point(item.counts[lead_in:], baseline_rate)) * STEP
            changes.append(
                _change(
                    item,
                    "risen",
                    onset,
                    window_count,
                    base_count,
                    window_rate,
                    baseline_rate,
                    factor,
                    ongoing,
                )
            )
    return sorted(changes, key=lambda c: (-int(c.level), -c.window_count, c.template))


def _change(
    item: TemplateSeries,
    change: str,
    onset: float,
    window_count: int,
    base_count: int,
    window_rate: float,
    baseline_rate: float,
    factor: float | None,
    ongoing: bool,
) -> PatternChange:
    return PatternChange(
        change=change,
        template=item.template,
        level=item.level,
        onset=float(onset),
        window_count=window_count,
        baseline_count=base_count,
        window_rate=window_rate,
        baseline_rate=baseline_rate,
        factor=factor,
        example=item.example,
        ongoing=ongoing,
    )
