"""Timestamps in the formats logs are written in, to unix seconds.

- RFC 3339 / ISO 8601: ``2026-12-07T01:02:03.456Z``, ``2026-12-07 01:02:03+01:00``;
- log4j / Python logging: ``2026-12-07 01:02:03,456`` (no zone: the source's offset, default UTC);
- syslog: ``Dec  7 01:02:03`` (no year: the latest such time not after the diagnosed moment);
- nginx / Apache: ``[07/Dec/2026:01:02:03 +0000]``;
- field values of JSON and logfmt lines: any of the above, or epoch seconds, milliseconds,
  microseconds or nanoseconds.

Parsing a prefix is cached per second of text, so a million lines cost a million dict look-ups,
not a million datetime constructions. Times at the start of a line are kept to the second (they
are counted per minute); field values keep their fraction.
"""

from __future__ import annotations

import calendar
import re

MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}  # fmt: skip
ISO = re.compile(
    r"(?P<second>\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d)"
    r"(?:[.,](?P<frac>\d{1,9}))?\s?(?P<zone>Z|z|[+-]\d\d:?\d\d|UTC)?"
)
SYSLOG = re.compile(r"(?P<mon>[A-Z][a-z]{2}) {1,2}(?P<d>\d{1,2}) (?P<h>\d\d):(?P<mi>\d\d):(?P<s>\d\d)")
COMMON_LOG = re.compile(
    r"\[(?P<d>\d\d)/(?P<mon>[A-Z][a-z]{2})/(?P<y>\d{4}):(?P<h>\d\d):(?P<mi>\d\d):(?P<s>\d\d)"
    r" (?P<zone>[+-]\d{4})\]"
)
_CACHE_LIMIT = 200_000


def _zone_seconds(zone: str | None, default: float) -> float:
    if not zone:
        return default
    if zone in ("Z", "z", "UTC"):
        return 0.0
    sign = -1.0 if zone[0] == "-" else 1.0
    digits = zone[1:].replace(":", "")
    return sign * (int(digits[:2]) * 3600 + int(digits[2:4]) * 60)


class TimestampParser:
    """Parses timestamps at the start of a line (or in a field); ``offset_s`` for zone-less times."""

    def __init__(self, *, offset_s: float = 0.0, reference: float) -> None:
        self.offset_s = offset_s
        self.reference = reference
        """The diagnosed moment: syslog times without a year are placed at or before it."""
        self._seconds: dict[str, float] = {}

    def _remember(self, key: str, value: float) -> float:
        if len(self._seconds) >= _CACHE_LIMIT:
            self._seconds.clear()
        self._seconds[key] = value
        return value

    def line_start(self, line: str) -> float | None:
        """The timestamp a line starts with (after an optional ``[``), or None."""
        match = ISO.match(line)
        if match is not None:  # the common case first, with as little work as possible
            second, zone = match.group("second", "zone")
            base = self._seconds.get(second if zone is None else second + zone)
            return self._iso(match, fraction=False) if base is None else base
        head = line[1:40] if line[:1] == "[" else line[:40]
        if head[:1].isdigit():
            match = ISO.match(head)
            return self._iso(match, fraction=False) if match else None
        if head[:1].isalpha():
            match = SYSLOG.match(head)
            return self._syslog(match) if match else None
        return None

    def anywhere(self, line: str) -> float | None:
        """An nginx/Apache ``[07/Dec/2026:01:02:03 +0000]`` timestamp anywhere in the line."""
        match = COMMON_LOG.search(line)
        return self._common(match) if match else None

    def value(self, value: object) -> float | None:
        """A JSON/logfmt field value: a timestamp string or an epoch number (s, ms, us, ns)."""
        if isinstance(value, bool):
            return None
        if isinstance(value, int | float):
            return _epoch(float(value))
        if not isinstance(value, str) or not value:
            return None
        if value[0].isdigit():
            match = ISO.match(value)
            if match:
                return self._iso(match)
            try:
                return _epoch(float(value))
            except ValueError:
                return None
        return self.line_start(value) or self.anywhere(value)

    def _iso(self, match: re.Match[str], *, fraction: bool = True) -> float:
        second, frac, zone = match.group("second", "frac", "zone")
        key = second if zone is None else second + zone
        base = self._seconds.get(key)
        if base is None:
            y, mo, d = int(second[0:4]), int(second[5:7]), int(second[8:10])
            h, mi, s = int(second[11:13]), int(second[14:16]), int(second[17:19])
            base = self._remember(
                key, calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0)) - _zone_seconds(zone, self.offset_s)
            )
        return base + int(frac) / 10 ** len(frac) if frac and fraction else base

    def _syslog(self, match: re.Match[str]) -> float | None:
        key = match.group(0)
        cached = self._seconds.get(key)
        if cached is not None:
            return cached
        month = MONTHS.get(match.group("mon"))
        if month is None:
            return None
        parts = (int(match.group("d")), int(match.group("h")), int(match.group("mi")), int(match.group("s")))
        year = _year_of(self.reference)
        when = calendar.timegm((year, month, *parts, 0, 0, 0)) - self.offset_s
        if when > self.reference + 86_400:  # December's lines read in January
            when = calendar.timegm((year - 1, month, *parts, 0, 0, 0)) - self.offset_s
        return self._remember(key, when)

    def _common(self, match: re.Match[str]) -> float | None:
        key = match.group(0)
        cached = self._seconds.get(key)
        if cached is not None:
            return cached
        month = MONTHS.get(match.group("mon"))
        if month is None:
            return None
        fields = (int(match.group("y")), month, int(match.group("d")))
        clock = (int(match.group("h")), int(match.group("mi")), int(match.group("s")))
        when = calendar.timegm((*fields, *clock, 0, 0, 0)) - _zone_seconds(match.group("zone"), 0.0)
        return self._remember(key, when)


def _year_of(unix: float) -> int:
    import time

    return time.gmtime(unix).tm_year


def _epoch(number: float) -> float | None:
    """Epoch seconds from seconds, milliseconds, microseconds or nanoseconds (by magnitude)."""
    for scale in (1.0, 1e3, 1e6, 1e9):
        seconds = number / scale
        if seconds < 1e10:
            return seconds if seconds > 1e8 else None
    return None
