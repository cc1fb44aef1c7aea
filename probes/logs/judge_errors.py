"""Judging error rates: errors per minute (access logs: the 5xx ratio) against the baseline.

The per-minute series is judged with the robust method of ``metrics.anomalies``
(:mod:`probes.prometheus.judge_series`): median and MAD of the baseline minutes, robust z >= the
threshold, confirmed against the baseline's level, for ``persistence`` minutes, upwards only,
at least ``min_rise`` errors per minute (``min_ratio_rise`` of the requests) above normal; the
onset is where the run began (hysteresis at half the threshold). Where the source keeps the
same window a day earlier, a rise that was there a day earlier too (as high, within the same
band) is a daily habit, not news, and is not reported.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from probes.logs.model import STEP, Collected, Level, LogEvent
from probes.logs.onset import change_point
from probes.logs.scrub import scrub
from probes.logs.templates import mine
from probes.prometheus.judge_series import DetectorSettings, Observations, judge


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorRise:
    """A persistent rise of errors per minute (or of the 5xx ratio) in the window."""

    signal: str
    """``errors_per_minute`` or ``5xx_ratio``."""
    onset: float
    onset_censored: bool
    peak_time: float
    peak: float
    expected: float
    normal_high: float
    current: float
    ongoing: bool
    score: float
    window_errors: int
    window_events: int
    baseline_rate: float
    """Errors per minute (or the 5xx ratio) over the baseline."""
    day_ago: float | None
    """The same minutes a day earlier (mean), where the source keeps them."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TemplateCount:
    """An error template of the window: its text, count, and one redacted example."""

    template: str
    count: int
    example: str
    first_seen: float


def error_series(collected: Collected) -> tuple[str, np.ndarray]:
    """The judged series: errors per minute, or the share of requests answered 5xx; NaN in
    minutes without any line."""
    if collected.requests:
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.where(collected.totals > 0, collected.errors / collected.totals, np.nan)
        return "5xx_ratio", ratio
    # a minute without any line is a minute without data (the service was down, or not yet
    # deployed), not a minute without errors
    return "errors_per_minute", np.where(collected.totals > 0, collected.errors, np.nan)


def judge_error_rate(
    collected: Collected,
    *,
    threshold: float,
    persistence_minutes: int,
    min_rise: float,
    min_ratio_rise: float,
) -> ErrorRise | None:
    """The latest persistent rise of the error series reaching into the window, or None."""
    plan = collected.plan
    signal, series = error_series(collected)
    window = round((plan.at - plan.window_start) / STEP)
    recent_from = max(len(series) - 2 * window, persistence_minutes)
    if recent_from < 30:  # fewer than 30 baseline minutes: no normal to compare against
        return None
    observations = Observations(
        baseline=series[None, :recent_from].astype(np.float64),
        baseline_present=np.isfinite(series[None, :recent_from]),
        baseline_start=plan.start,
        baseline_step=STEP,
        recent=series[None, recent_from:].astype(np.float64),
        recent_present=np.isfinite(series[None, recent_from:]),
        recent_start=plan.start + recent_from * STEP,
        recent_step=STEP,
        judged_from=plan.window_start,
    )
    settings = DetectorSettings(
        threshold=threshold,
        min_deviation=min_ratio_rise if signal == "5xx_ratio" else min_rise,
        direction="up",
        weekly_check=False,
        min_seasonal_days=10**9,
        level_shift_seconds=float("inf"),
    )
    verdicts = judge(observations, settings)
    if not verdicts.anomalous[0]:
        return None
    onset, end = float(verdicts.onset[0]), float(verdicts.run_end[0])
    onset = _refined_onset(collected, recent_from, onset, end)
    first = int((onset - plan.start) // STEP)
    last = int((end - plan.start) // STEP) + 1
    run_level = float(np.nanmean(series[first:last]))
    expected = float(verdicts.peak_expected[0])
    band = max(threshold * float(verdicts.spread[0]), settings.min_deviation)
    day_ago = _day_ago_level(collected, signal, first, last)
    if day_ago is not None and run_level - day_ago < band:
        return None  # as high a day earlier: a daily habit
    start = round((plan.window_start - plan.start) / STEP)
    baseline = series[:recent_from]
    return ErrorRise(
        signal=signal,
        onset=onset,
        onset_censored=bool(verdicts.onset_censored[0]),
        peak_time=float(verdicts.peak_time[0]),
        peak=float(verdicts.peak_value[0]),
        expected=expected,
        normal_high=float(verdicts.normal_high[0]),
        current=float(verdicts.current_value[0]),
        # a quiet last minute does not end a rise of counts: the last 3 minutes' mean decides too
        ongoing=bool(verdicts.ongoing[0]) or float(np.nanmean(series[-3:])) - expected >= band / 2,
        score=float(verdicts.score[0]),
        window_errors=int(collected.errors[start:].sum()),
        window_events=int(collected.totals[start:].sum()),
        baseline_rate=float(np.nanmean(baseline)) if np.isfinite(baseline).any() else 0.0,
        day_ago=day_ago,
    )


def _refined_onset(collected: Collected, recent_from: int, onset: float, end: float) -> float:
    """The change point of the error counts before the run's end, when it is earlier than the
    run's own onset (a quiet minute inside the rise cut the run short)."""
    plan = collected.plan
    last = int((end - plan.start) // STEP) + 1
    base = max(float(np.mean(collected.errors[:recent_from])), 1.0 / recent_from)
    counts = collected.errors[recent_from:last]
    if not len(counts):
        return onset
    changed = plan.start + (recent_from + change_point(counts, base)) * STEP
    return changed if changed < onset else onset


def _day_ago_level(collected: Collected, signal: str, first: int, last: int) -> float | None:
    """The series' mean over the same minutes a day earlier (only minutes inside the window)."""
    errors, totals = collected.day_ago_errors, collected.day_ago_totals
    if errors is None or totals is None:
        return None
    offset = round((collected.plan.window_start - collected.plan.start) / STEP)
    low, high = max(first - offset, 0), max(last - offset, 0)
    if high <= low or totals[low:high].sum() == 0:
        return None
    if signal == "5xx_ratio":
        return float(errors[low:high].sum() / totals[low:high].sum())
    return float(errors[low:high].mean())


def top_templates(samples: tuple[LogEvent, ...], since: float, limit: int) -> list[TemplateCount]:
    """The most frequent error templates among the samples from ``since`` on, with an example."""
    errors = [e for e in samples if e.level is Level.ERROR and e.time >= since]
    if not errors:
        return []
    ids, texts = mine([e.message for e in errors])
    counts = Counter(ids)
    first: dict[int, LogEvent] = {}
    for template, event in zip(ids, errors, strict=True):
        first.setdefault(template, event)
    return [
        TemplateCount(
            template=texts[template],
            count=count,
            example=example_text(first[template].message),
            first_seen=first[template].time,
        )
        for template, count in counts.most_common(limit)
    ]


def example_text(message: str, lines: int = 6) -> str:
    """A redacted example: the first lines of the event, each cut at 300 characters."""
    kept = [line[:300] for line in message.split("\n")[:lines]]
    return scrub("\n".join(kept))
