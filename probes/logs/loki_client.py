"""Reading Grafana Loki over its HTTP API (LogQL).

- counts, server-side: ``/loki/api/v1/query_range`` of ``sum(count_over_time(<query> [1m]))``
  at a 60 s step, for all lines and for error lines (a line filter on the level markers);
- raw lines of errors and warnings only, capped: ``/loki/api/v1/query_range`` of the log
  query with ``limit``, once for the baseline and once for the window;
- templates: ``/loki/api/v1/patterns`` where the Loki mines patterns (pattern ingester on).
  Its patterns are used only when they reach back over the whole baseline; otherwise (a Loki
  keeping patterns for less time, or none) templates are mined from the error lines.
"""

from __future__ import annotations

from typing import Any

from diagnostics import ErrorKind, ProbeError
from probes.logs.config import LokiSource
from probes.logs.http_client import LogHttp
from probes.logs.levels import level_of_pattern
from probes.logs.model import STEP, Collected, Level, LogEvent, ReadPlan, ServerPattern
from probes.logs.remote import histogram, keep_sorted, ranges

LEVEL_WORDS = "err|error|fatal|crit|critical|panic|emerg|alert|severe"
ERROR_FILTER = (
    r'(?i:(?:level|severity|lvl)"?\s*[=:]\s*"?(?:' + LEVEL_WORDS + r")\b)"
    r"|\b(?:ERROR|FATAL|CRITICAL|PANIC|SEVERE)\b|Traceback \(most recent call last\)|\w+Exception\b"
)
PROBLEM_FILTER = ERROR_FILTER + r'|(?i:(?:level|severity|lvl)"?\s*[=:]\s*"?warn(?:ing)?\b)|\bWARN(?:ING)?\b'


def _logql_string(text: str) -> str:
    return "`" + text + "`"


def read_loki(source: LokiSource, plan: ReadPlan, deadline: float, *, name: str) -> Collected:
    """Per-minute counts, capped error lines and (where kept) Loki's patterns over ``plan``."""
    errors = f"{source.query} |~ {_logql_string(ERROR_FILTER)}"
    problems = f"{source.query} |~ {_logql_string(PROBLEM_FILTER)}"
    with LogHttp(source, name=name, deadline=deadline) as http:
        totals = _counts(http, source.query, plan.start, plan.at)
        error_counts = _counts(http, errors, plan.start, plan.at)
        day_errors = day_totals = None
        if plan.day_earlier:
            low, high = plan.day_ago
            day_totals = _counts(http, source.query, low, high)
            day_errors = _counts(http, errors, low, high) if day_totals.sum() > 0 else None
            day_totals = day_totals if day_errors is not None else None
        samples: list[LogEvent] = []
        complete = True
        for low, high in ranges(plan):
            lines = _lines(http, problems, low, high, plan.max_samples)
            complete = complete and len(lines) < plan.max_samples
            samples += lines
        patterns = _patterns(http, source.query, plan)
        queries = tuple(http.queries)
    return Collected(
        plan=plan,
        totals=totals,
        errors=error_counts,
        day_ago_errors=day_errors,
        day_ago_totals=day_totals,
        samples=keep_sorted(samples),
        samples_complete=complete,
        server_patterns=patterns,
        queries=queries,
    )


def _ns(unix: float) -> str:
    return str(int(unix * 1e9))


def _counts(http: LogHttp, query: str, start: float, end: float) -> Any:
    minutes = round((end - start) / STEP)
    # a sample at t counts the minute before it: evaluate at each minute's end
    answer = http.get(
        "/loki/api/v1/query_range",
        {
            "query": f"sum(count_over_time({query} [1m]))",
            "start": _ns(start + STEP),
            "end": _ns(end),
            "step": "60s",
        },
        what="LogQL count_over_time",
    )
    points = []
    for series in _result(answer, "matrix"):
        for time, value in series.get("values") or []:
            points.append((float(time) - STEP, float(value)))
    return histogram(points, start, minutes)


def _lines(http: LogHttp, query: str, start: float, end: float, limit: int) -> list[LogEvent]:
    answer = http.get(
        "/loki/api/v1/query_range",
        {
            "query": query,
            "start": _ns(start),
            "end": _ns(end - 1e-9),
            "limit": str(limit),
            "direction": "forward",
        },
        what="LogQL line query",
    )
    events = []
    for stream in _result(answer, "streams"):
        for time, line in stream.get("values") or []:
            level = level_of_pattern(line)
            events.append(LogEvent(time=int(time) / 1e9, level=max(level, Level.WARNING), message=line))
    return events


def _patterns(http: LogHttp, query: str, plan: ReadPlan) -> tuple[ServerPattern, ...] | None:
    """Loki's mined patterns over the plan, or None when it keeps none for the whole baseline."""
    try:
        answer = http.get(
            "/loki/api/v1/patterns",
            {"query": query, "start": _ns(plan.start), "end": _ns(plan.at), "step": "60s"},
            what="Loki patterns",
        )
    except ProbeError:
        return None  # an older Loki, or the pattern ingester is off
    data = answer.get("data") if isinstance(answer, dict) else None
    if not isinstance(data, list) or not data:
        return None
    earliest = min(
        (float(s[0]) for item in data for s in item.get("samples") or [] if isinstance(s, list) and s),
        default=plan.at,
    )
    if earliest > plan.start + 30 * STEP:
        return None  # the patterns do not reach back over the baseline: "new" would mean nothing
    patterns = []
    for item in data:
        points = [(float(t), float(v)) for t, v in item.get("samples") or []]
        text = str(item.get("pattern", ""))
        level = str(item.get("level") or "")
        shown = f"level={level} {text}" if level and level != "unknown" and "level" not in text else text
        patterns.append(ServerPattern(pattern=shown, counts=histogram(points, plan.start, plan.minutes)))
    return tuple(patterns)


def _result(answer: Any, kind: str) -> list[Any]:
    data = answer.get("data") if isinstance(answer, dict) else None
    if not isinstance(data, dict) or data.get("resultType") != kind:
        raise ProbeError(f"Loki answered no {kind} result", kind=ErrorKind.PROTOCOL)
    return list(data.get("result") or [])
