"""Reading Elasticsearch or OpenSearch over the ``_search`` API (the same on both).

- counts, server-side: one ``_search`` with ``size: 0`` and a ``date_histogram`` of
  ``fixed_interval: 1m`` whose buckets hold a ``filter`` sub-aggregation counting errors
  (the baseline through the window, and the window a day earlier);
- raw lines of errors and warnings only, capped: ``_search`` with ``size`` and a sort on
  the time field, once for the baseline and once for the window.

Errors: the level field (default ``log.level``, ECS) holds an error word, or, in documents
without one, the message field matches a plain-text marker.
"""

from __future__ import annotations

from typing import Any

from probes.logs.config import ElasticsearchSource
from probes.logs.http_client import LogHttp
from probes.logs.levels import level_of_text, level_of_value
from probes.logs.model import Collected, Level, LogEvent, ReadPlan
from probes.logs.remote import histogram, keep_sorted, ranges
from probes.logs.timestamps import TimestampParser

ERROR_WORDS = ("error", "err", "fatal", "critical", "crit", "panic", "emerg", "alert", "severe")
WARNING_WORDS = ("warn", "warning")
PLAIN_ERRORS = "ERROR OR FATAL OR CRITICAL OR PANIC OR SEVERE OR Traceback OR Exception"


def _variants(words: tuple[str, ...]) -> list[str]:
    return sorted({form for w in words for form in (w, w.upper(), w.capitalize())})


def level_filter(source: ElasticsearchSource, words: tuple[str, ...], plain: str) -> dict[str, Any]:
    """Documents whose level is one of ``words``, or without a level whose message shows ``plain``."""
    return {
        "bool": {
            "should": [
                {"terms": {source.level_field: _variants(words)}},
                {
                    "bool": {
                        "must_not": [{"exists": {"field": source.level_field}}],
                        "filter": [{"query_string": {"query": plain, "default_field": source.message_field}}],
                    }
                },
            ],
            "minimum_should_match": 1,
        }
    }


def _scope(source: ElasticsearchSource, start: float, end: float) -> list[dict[str, Any]]:
    return [
        {
            "range": {
                source.time_field: {"gte": int(start * 1000), "lt": int(end * 1000), "format": "epoch_millis"}
            }
        },
        {"query_string": {"query": source.query}},
    ]


def read_elasticsearch(
    source: ElasticsearchSource, plan: ReadPlan, deadline: float, *, name: str
) -> Collected:
    """Per-minute counts and capped error lines of ``source`` over ``plan``."""
    errors = level_filter(source, ERROR_WORDS, PLAIN_ERRORS)
    problems = level_filter(source, ERROR_WORDS + WARNING_WORDS, PLAIN_ERRORS + " OR WARN OR WARNING")
    with LogHttp(source, name=name, deadline=deadline) as http:
        totals, error_counts = _histograms(http, source, errors, plan.start, plan.at)
        day_totals = day_errors = None
        if plan.day_earlier:
            day_totals, day_errors = _histograms(http, source, errors, *plan.day_ago)
            if day_totals.sum() == 0:
                day_totals = day_errors = None
        samples: list[LogEvent] = []
        complete = True
        timestamps = TimestampParser(reference=plan.at)
        for low, high in ranges(plan):
            hits = _documents(http, source, problems, low, high, plan.max_samples)
            complete = complete and len(hits) < plan.max_samples
            samples += [e for e in (_event(h, source, timestamps) for h in hits) if e is not None]
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


def _histograms(
    http: LogHttp, source: ElasticsearchSource, errors: dict[str, Any], start: float, end: float
) -> tuple[Any, Any]:
    body = {
        "size": 0,
        "track_total_hits": False,
        "query": {"bool": {"filter": _scope(source, start, end)}},
        "aggs": {
            "per_minute": {
                "date_histogram": {"field": source.time_field, "fixed_interval": "1m", "min_doc_count": 1},
                "aggs": {"errors": {"filter": errors}},
            }
        },
    }
    answer = http.post(f"/{source.index}/_search", body=body, what="date_histogram search")
    buckets = ((answer.get("aggregations") or {}).get("per_minute") or {}).get("buckets") or []
    minutes = round((end - start) / 60)
    totals = histogram(((b["key"] / 1000, b["doc_count"]) for b in buckets), start, minutes)
    errors_found = histogram(((b["key"] / 1000, b["errors"]["doc_count"]) for b in buckets), start, minutes)
    return totals, errors_found


def _documents(
    http: LogHttp, source: ElasticsearchSource, problems: dict[str, Any], start: float, end: float, size: int
) -> list[Any]:
    body = {
        "size": size,
        "track_total_hits": False,
        "sort": [{source.time_field: "asc"}],
        "_source": [source.time_field, source.level_field, source.message_field],
        "query": {"bool": {"filter": [*_scope(source, start, end), problems]}},
    }
    answer = http.post(f"/{source.index}/_search", body=body, what="error lines search")
    return list((answer.get("hits") or {}).get("hits") or [])


def _dotted(document: Any, path: str) -> Any:
    if isinstance(document, dict) and path in document:
        return document[path]
    current = document
    for part in path.split("."):
        current = current.get(part) if isinstance(current, dict) else None
    return current


def _event(hit: Any, source: ElasticsearchSource, timestamps: TimestampParser) -> LogEvent | None:
    document = hit.get("_source") if isinstance(hit, dict) else None
    time = timestamps.value(_dotted(document, source.time_field))
    message = _dotted(document, source.message_field)
    if time is None or not isinstance(message, str):
        return None
    level_value = _dotted(document, source.level_field)
    level = level_of_value(level_value) if level_value is not None else level_of_text(message)
    return LogEvent(time=time, level=max(level, Level.WARNING), message=message)
