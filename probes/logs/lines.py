"""Lines to events: JSON, logfmt, nginx/Apache access logs and plain text, multi-line aware.

A line that carries no timestamp of its source's format (a stack frame, ``Caused by:``, the rest
of a Python traceback) continues the event before it: it is kept with that event's first line
(at most :data:`MAX_CONTINUATION` lines) and never counted as an event of its own.

``auto`` looks at the first lines of each file or stream and picks the format most of them
have; a line the picked format cannot read is tried as plain text before being taken as a
continuation.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from probes.logs.levels import LEVEL_FIELDS, MARKERS, level_of_text, level_of_value
from probes.logs.model import Level
from probes.logs.timestamps import TimestampParser

RawEvent = tuple[float, Level, str, int | None]
"""(unix time, level, message, HTTP status of an access log line)."""

TIME_FIELDS = ("time", "ts", "@timestamp", "timestamp", "t", "datetime", "date", "_time")
MESSAGE_FIELDS = ("msg", "message", "MESSAGE", "_msg", "log", "event")
ERROR_FIELDS = ("error", "err", "exception", "exc_info", "stack_trace", "stacktrace", "stack")
MAX_CONTINUATION = 30
MAX_MESSAGE = 4000
ACCESS = re.compile(
    r'^\S+ \S+ \S+ (?P<time>\[[^\]]+\]) "(?P<method>[A-Z]+) (?P<path>[^ ?"]*)[^"]*" (?P<status>\d{3}) '
)
LOGFMT_PAIR = re.compile(r'([\w.@-]+)=("(?:[^"\\]|\\.)*"|\S*)')
DETECT_LINES = 50
OTHER = Level.OTHER


def detect_format(sample: Iterable[str]) -> str:
    """The format most of ``sample``'s non-empty lines have: json, access, logfmt or plain."""
    votes = {"json": 0, "access": 0, "logfmt": 0, "plain": 0}
    for line in sample:
        if not line.strip():
            continue
        if line.lstrip().startswith("{"):
            votes["json"] += 1
        elif ACCESS.match(line):
            votes["access"] += 1
        elif len(LOGFMT_PAIR.findall(line)) >= 3 and re.search(r"\b(?:level|lvl|msg)=", line):
            votes["logfmt"] += 1
        else:
            votes["plain"] += 1
    return max(votes, key=lambda k: (votes[k], k == "plain"))


def _field(record: Mapping[str, Any], names: Iterable[str]) -> Any:
    for name in names:
        value = record.get(name)
        if value is None and "." in name:
            head, _, tail = name.partition(".")
            nested = record.get(head)
            value = nested.get(tail) if isinstance(nested, dict) else None
        if value is not None:
            return value
    return None


class LineParser:
    """Reads single lines of one format; ``None`` means "no timestamp: a continuation"."""

    def __init__(self, line_format: str, timestamps: TimestampParser) -> None:
        self.format = line_format
        self.timestamps = timestamps
        self._read = {
            "json": self._json,
            "logfmt": self._logfmt,
            "access": self._access,
            "plain": self._plain,
        }[line_format]
        # an attribute, not a method: a million lines are a million calls, one level saved each
        self.parse: Callable[[str], RawEvent | None] = (
            self._plain if line_format == "plain" else self._with_fallback
        )

    def _with_fallback(self, line: str) -> RawEvent | None:
        event = self._read(line)
        return self._plain(line) if event is None else event

    def _plain(self, line: str) -> RawEvent | None:
        time = self.timestamps.line_start(line)
        if time is None:
            return None
        return time, OTHER if MARKERS.search(line) is None else level_of_text(line), line, None

    def _access(self, line: str) -> RawEvent | None:
        match = ACCESS.match(line)
        if match is None:
            return None
        time = self.timestamps.anywhere(match.group("time"))
        if time is None:
            return None
        status = int(match.group("status"))
        message = f"{match.group('method')} {match.group('path')} {status}"
        return time, Level.ERROR if status >= 500 else Level.OTHER, message, status

    def _json(self, line: str) -> RawEvent | None:
        if not line.startswith("{"):
            return None
        try:
            record = json.loads(line)
        except ValueError:
            return None
        return self.record(record, line) if isinstance(record, dict) else None

    def _logfmt(self, line: str) -> RawEvent | None:
        pairs = LOGFMT_PAIR.findall(line)
        if len(pairs) < 2:
            return None
        record = {k: v[1:-1].replace('\\"', '"') if v.startswith('"') else v for k, v in pairs}
        return self.record(record, line)

    def record(self, record: Mapping[str, Any], line: str) -> RawEvent | None:
        """An event from a structured record (a JSON object, logfmt pairs, a journal entry)."""
        time = self.timestamps.value(_field(record, TIME_FIELDS))
        if time is None:
            return None
        message = _field(record, MESSAGE_FIELDS)
        text = message if isinstance(message, str) else line
        level_value = _field(record, LEVEL_FIELDS)
        level = level_of_value(level_value) if level_value is not None else level_of_text(text)
        problem = _field(record, ERROR_FIELDS)
        if isinstance(problem, str) and problem and problem not in text:
            text = f"{text} error={problem}"
        status = record.get("status")
        return time, level, text, status if isinstance(status, int) else None


def events(lines: Iterable[str], parser: LineParser) -> Iterator[RawEvent]:
    """Events of ``lines`` (without line ends) in order, continuation lines joined to their event."""
    pending: RawEvent | None = None
    extra: list[str] = []
    parse = parser.parse
    for line in lines:
        event = parse(line) if line else None
        if event is None:
            if pending is not None and line.strip() and len(extra) < MAX_CONTINUATION:
                extra.append(line)
            continue
        if pending is not None:
            yield _joined(pending, extra) if extra else pending
            extra = []
        pending = event
    if pending is not None:
        yield _joined(pending, extra) if extra else pending


def _joined(event: RawEvent, extra: list[str]) -> RawEvent:
    """The event with its continuation lines; a traceback below an info line makes it an error."""
    time, level, message, status = event
    if level < Level.ERROR and any(level_of_text(line) is Level.ERROR for line in extra):
        level = Level.ERROR
    if level < Level.WARNING:
        return time, level, message, status  # only problems keep their text
    text = "\n".join([message, *extra])
    return time, level, text[:MAX_MESSAGE], status
