"""Reading VictoriaLogs over its HTTP API (LogsQL).

- counts, server-side: ``/select/logsql/hits`` with ``step=1m`` for all events and for errors
  (one request each for the baseline-through-window range and the window a day earlier);
- raw lines of errors and warnings only, capped: ``/select/logsql/query`` with ``| limit N``,
  once for the baseline and once for the window.

Errors: the level field (default ``level``) is an error word, or, for lines without one, the
message carries a plain-text error marker.
"""

from __future__ import annotations

from typing import Any

from probes.logs.config import VictoriaLogsSource
from probes.logs.http_client import LogHttp
from probes.logs.levels import level_of_text, level_of_value
from probes.logs.model import STEP, Collected, Level, LogEvent, ReadPlan
from probes.logs.remote import histogram, keep_sorted, ranges
from probes.logs.timestamps import TimestampParser

ERROR_WORDS = "err|error|fatal|crit|critical|panic|emerg|alert|severe"
WARNING_WORDS = "warn|warning"
PLAIN_ERRORS = r"\b(ERROR|FATAL|CRITICAL|PANIC|SEVERE)\b|Traceback|Exception|^panic: "


def _level_filter(field: str, words: str, plain: str) -> str:
    return f'({field}:~"(?i)^({words})$" or ({field}:"" and _msg:~{_quote(plain)}))'


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _range(start: float, end: float) -> str:
    return f"_time:[{_rfc3339(start)}, {_rfc3339(end)})"


def _rfc3339(unix: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def read_victorialogs(source: VictoriaLogsSource, plan: ReadPlan, deadline: float, *, name: str) -> Collected:
    """Per-minute counts and capped error lines of ``source.query`` over ``plan``."""
    errors = _level_filter(source.level_field, ERROR_WORDS, PLAIN_ERRORS)
    problems = _level_filter(
        source.level_field, f"{ERROR_WORDS}|{WARNING_WORDS}", PLAIN_ERRORS + r"|\bWARN(ING)?\b"
    )
    with LogHttp(source, name=name, deadline=deadline) as http:
        totals = _hits(http, f"({source.query})", plan.start, plan.at)
        error_counts = _hits(http, f"({source.query}) {errors}", plan.start, plan.at)
        day_errors = day_totals = None
        if plan.day_earlier:
            low, high = plan.day_ago
            day_totals = _hits(http, f"({source.query})", low, high)
            if day_totals.sum() > 0:
                day_errors = _hits(http, f"({source.query}) {errors}", low, high)
            else:
                day_totals = None
        samples: list[LogEvent] = []
        complete = True
        timestamps = TimestampParser(reference=plan.at)
        for low, high in ranges(plan):
            query = f"({source.query}) {problems} {_range(low, high)} | limit {plan.max_samples}"
            rows = list(http.post_lines("/select/logsql/query", {"query": query}, what="LogsQL query"))
            complete = complete and len(rows) < plan.max_samples
            samples += [e for e in (_event(r, source.level_field, timestamps) for r in rows) if e is not None]
        queries = tuple(http.queries)
    return Collected(
        plan=plan,
        totals=totals,
        errors=error_counts,
        day_ago_errors=day_errors,
        day_ago_totals=day_totals,
        samples=keep_sorted(samples),
        samples_complete=complete,
        queries=queries,
    )


def _hits(http: LogHttp, query: str, start: float, end: float) -> Any:
    minutes = round((end - start) / STEP)
    answer = http.post(
        "/select/logsql/hits",
        form={"query": query, "start": _rfc3339(start), "end": _rfc3339(end - 1), "step": "1m"},
        what="LogsQL hits",
    )
    timestamps = TimestampParser(reference=end)
    points = []
    for group in answer.get("hits") or []:
        for time, value in zip(group.get("timestamps") or [], group.get("values") or [], strict=False):
            parsed = timestamps.value(time)
            if parsed is not None:
                points.append((parsed, float(value)))
    return histogram(points, start, minutes)


def _event(row: Any, level_field: str, timestamps: TimestampParser) -> LogEvent | None:
    if not isinstance(row, dict):
        return None
    time = timestamps.value(row.get("_time"))
    message = row.get("_msg")
    if time is None or not isinstance(message, str):
        return None
    level = level_of_value(row[level_field]) if row.get(level_field) else level_of_text(message)
    if level is Level.OTHER:
        level = level_of_text(message)
    return LogEvent(time=time, level=level, message=message)
