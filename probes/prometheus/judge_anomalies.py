"""Turning anomaly verdicts into ranked findings: pure functions over plain values."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from diagnostics import Entity, Finding, Measurement, Severity
from diagnostics.units import format_duration, format_value
from probes.prometheus.keys import series_key

if TYPE_CHECKING:
    from probes.prometheus.discovery import MetricQuery
    from probes.prometheus.judge_series import Verdicts

MakeFinding = Callable[..., Finding]
SERVICE_LABELS = ("job", "service", "app")
CRITICAL_FACTOR = 3.0
"""An ongoing departure this many normal half-widths out is critical, otherwise a warning."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Candidate:
    """One anomalous or vanished series, before ranking."""

    severity: Severity
    score: float
    finding: Finding


def entity_for(labels: Mapping[str, str], query_name: str) -> Entity:
    """A service when a job/service/app label names one, else the query as a metric."""
    for key in SERVICE_LABELS:
        if labels.get(key):
            return Entity(kind="service", name=labels[key], attributes=dict(labels))
    return Entity(kind="metric", name=query_name, attributes=dict(labels))


def graph_url(base: str, promql: str, at: datetime, span_seconds: float) -> str:
    """A Prometheus graph page plotting ``promql`` over ``span_seconds`` up to ``at``."""
    params = {
        "g0.expr": promql,
        "g0.tab": "0",
        "g0.range_input": format_duration(span_seconds).replace("h00m", "h"),
        "g0.end_input": at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
    }
    return f"{base}/graph?{urlencode(params)}"


def how_far(value: float, expected: float, score: float) -> str:
    """``12x normal``, ``95 % below normal`` or, without a usable ratio, robust deviations."""
    if expected > 0 and value >= 0:
        ratio = value / expected
        if ratio >= 2:
            return f"{ratio:.3g}x normal"
        if ratio <= 0.5:
            return f"{(1 - ratio) * 100:.0f} % below normal"
        return f"{(ratio - 1) * 100:+.0f} % vs normal"
    return f"{min(score, 9999):.1f} robust deviations out"


def _when(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%H:%M")


def _subject(query: MetricQuery, entity: Entity, labels: Mapping[str, str]) -> str:
    """``error ratio of checkout``, plus the labels that tell this series from its siblings."""
    named = {"__name__", *SERVICE_LABELS} if entity.kind == "service" else {"__name__"}
    shown = ", ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k not in named)
    extra = f" {{{shown}}}" if shown else ""
    return f"{query.name} of {entity.name}{extra}" if entity.kind == "service" else f"{query.name}{extra}"


def anomaly_candidates(
    *,
    query: MetricQuery,
    labels: Sequence[Mapping[str, str]],
    verdicts: Verdicts,
    make: MakeFinding,
    base_url: str,
    at: datetime,
    span_seconds: float,
    context: Mapping[str, Any],
) -> list[Candidate]:
    """Findings for every anomalous or vanished row of one query."""
    url = graph_url(base_url, query.promql, at, span_seconds)
    steps = [f"Plot it: {url}", f"PromQL: {query.promql}"]
    candidates = []
    for row in map(int, (verdicts.vanished | verdicts.anomalous).nonzero()[0]):
        entity = entity_for(labels[row], query.name)
        subject = _subject(query, entity, labels[row])
        if verdicts.vanished[row]:
            last = float(verdicts.last_seen[row])
            candidates.append(
                Candidate(
                    severity=Severity.WARNING,
                    score=0.0,
                    finding=make(
                        kind="series_vanished",
                        severity=Severity.WARNING,
                        title=f"{subject} stopped reporting (last seen {_when(last)}Z)",
                        entity=entity,
                        summary="The series was present through its baseline and has had no sample since: the service or its exporter stopped reporting.",
                        values=[
                            Measurement(
                                name="last value", value=_num(verdicts.current_value[row]), unit=query.unit
                            )
                        ],
                        queries=[query.promql],
                        details={**context, "labels": dict(labels[row]), "last_seen": _iso(last)},
                        onset=datetime.fromtimestamp(last, UTC),
                        next_steps=steps,
                        key=series_key(query.name, labels[row]),
                    ),
                )
            )
        elif verdicts.anomalous[row]:
            candidates.append(
                _anomaly(query, labels[row], entity, subject, verdicts, row, make, steps, context)
            )
    return candidates


def _anomaly(
    query: MetricQuery,
    labels: Mapping[str, str],
    entity: Entity,
    subject: str,
    v: Verdicts,
    row: int,
    make: MakeFinding,
    steps: list[str],
    context: Mapping[str, Any],
) -> Candidate:
    up = int(v.sign[row]) > 0
    peak, expected = float(v.peak_value[row]), float(v.peak_expected[row])
    low, high = float(v.normal_low[row]), float(v.normal_high[row])
    if v.level[row] >= 0 and low < 0:
        low = 0.0
    score = float(v.score[row])
    shift = bool(v.level_shift[row])
    direction = "level_shift" if shift else ("spike" if up else "drop")
    far = how_far(peak, expected, score)
    normal = f"normal {format_value(low, query.unit)} to {format_value(high, query.unit)}"
    value_text = format_value(peak, query.unit)
    onset = float(v.onset[row])
    since = ("before " if v.onset_censored[row] else "since ") + f"{_when(onset)}Z"
    if v.ongoing[row]:
        verb = (
            ("shifted up to " if up else "shifted down to ")
            if shift
            else ("rose to " if up else "dropped to ")
        )
        title = f"{subject} {verb}{value_text}, {far} ({normal}) {since}"
    else:
        verb = "spiked to " if up else "dipped to "
        now = format_value(float(v.current_value[row]), query.unit)
        title = (
            f"{subject} {verb}{value_text} at {_when(float(v.peak_time[row]))}Z, {far} ({normal}); now {now}"
        )
    if v.short_history[row]:
        title += f" (short history: {format_duration(float(v.history_days[row]) * 86_400)})"
    half = max(high - expected, expected - float(v.normal_low[row]), 1e-300)
    severity = (
        Severity.CRITICAL
        if v.ongoing[row] and abs(peak - expected) >= CRITICAL_FACTOR * half
        else Severity.WARNING
    )
    values = [
        Measurement(name="current", value=_num(v.current_value[row]), unit=query.unit),
        Measurement(name="peak", value=_num(peak), unit=query.unit),
        Measurement(name="expected", value=_num(expected), unit=query.unit),
        Measurement(name="normal low", value=_num(low), unit=query.unit),
        Measurement(name="normal high", value=_num(high), unit=query.unit),
        Measurement(name="robust z", value=round(min(score, 1e6), 1)),
        Measurement(name="a day earlier", value=_num(v.day_ago[row]), unit=query.unit),
        Measurement(name="a week earlier", value=_num(v.week_ago[row]), unit=query.unit),
    ]
    details = {
        **context,
        "signal": query.signal,
        "labels": dict(labels),
        "direction": direction,
        "change": "up" if up else "down",
        "how_far": far,
        "ongoing": bool(v.ongoing[row]),
        "seasonal": bool(v.seasonal[row]),
        "onset_before_range": bool(v.onset_censored[row]),
        "peak_at": _iso(float(v.peak_time[row])),
        "ended_at": None if v.ongoing[row] else _iso(float(v.run_end[row])),
        "short_history": bool(v.short_history[row]),
        "history_days": round(float(v.history_days[row]), 2),
        "sampling_interval_s": float(v.interval[row]),
        "between_grid_points": bool(v.between_points[row]),
    }
    if query.judged_as:
        details["judged_as"] = query.judged_as
    finding = make(
        kind="metric_anomaly",
        severity=severity,
        title=title,
        entity=entity,
        summary=f"{subject} departs from its {'daily pattern' if v.seasonal[row] else 'usual level'} of the baseline: {far}."
        + (" Its history is short, so it was judged with a wider margin." if v.short_history[row] else "")
        + (
            f" Seen only between the {format_duration(float(context.get('baseline_step_s', 0)))} points"
            " the baseline is judged on (shorter than a step), beyond the extremes of the baseline's steps."
            if v.between_points[row]
            else ""
        ),
        values=values,
        queries=[query.promql],
        details=details,
        onset=datetime.fromtimestamp(onset, UTC),
        next_steps=steps,
        key=series_key(query.name, labels),
    )
    return Candidate(severity=severity, score=score, finding=finding)


def rank(candidates: Sequence[Candidate], limit: int) -> tuple[list[Finding], list[Candidate]]:
    """The ``limit`` worst findings (severity, then distance out) and the rest."""
    ordered = sorted(candidates, key=lambda c: (-int(c.severity), -c.score))
    return [c.finding for c in ordered[:limit]], list(ordered[limit:])


def _num(value: Any) -> float | None:
    number = float(value)
    return None if number != number else float(f"{number:.6g}")  # NaN -> unknown


def _iso(moment: float) -> str | None:
    if moment != moment:
        return None
    return datetime.fromtimestamp(moment, UTC).isoformat().replace("+00:00", "Z")
