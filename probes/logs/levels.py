"""The level of an event: from a structured field, or from the usual markers of plain text.

Structured values (``level``, ``severity``, ``lvl``, ``levelname``, ``log.level``, journald
``PRIORITY``): ``error``, ``err``, ``fatal``, ``critical``, ``crit``, ``panic``, ``emerg``,
``alert``, ``severe`` are errors; ``warn``, ``warning`` warnings; numbers are syslog priorities
(<= 3 error, 4 warning) or, from 10 up, pino/bunyan levels (>= 50 error, 40 warning).

Plain text: an upper-case level word near the start (``ERROR``, ``FATAL``, ``CRITICAL``,
``PANIC``, ``SEVERE``; ``WARN``, ``WARNING``), else a Python ``Traceback``, a Go ``panic:`` or
an exception class (``...Exception``, ``...Error:``) makes an error. Lower-case "error" inside
a message is not a level ("0 errors", "error_rate=0.1" are everyday lines).
"""

from __future__ import annotations

import re

from probes.logs.model import Level

LEVEL_FIELDS = ("level", "severity", "lvl", "levelname", "loglevel", "log.level", "log_level", "PRIORITY")
_WORDS = {
    **dict.fromkeys(("error", "err", "eror", "fatal", "critical", "crit", "panic", "emerg", "emergency",
                     "alert", "severe", "dpanic"), Level.ERROR),
    **dict.fromkeys(("warn", "warning"), Level.WARNING),
}  # fmt: skip
_PLAIN_LEVEL = re.compile(r"\b(FATAL|CRITICAL|CRIT|ERROR|ERR|PANIC|SEVERE|EMERG|ALERT|WARN|WARNING)\b")
_PLAIN_ERROR = re.compile(
    r"Traceback \(most recent call last\)|^panic: |[a-z](?:Exception|Error)\b(?::|\s|$)"
)
MARKERS = re.compile("ERR|FATAL|CRIT|PANIC|SEVERE|EMERG|ALERT|WARN|Traceback|panic: |Exception|Error")
"""Substrings one of which every line of a level above OTHER holds: one cheap search first."""


def level_of_value(value: object) -> Level:
    """The level a structured field's value names."""
    if isinstance(value, bool):
        return Level.OTHER
    if isinstance(value, int | float):
        number = int(value)
        if number >= 10:
            return Level.ERROR if number >= 50 else Level.WARNING if number >= 40 else Level.OTHER
        return Level.ERROR if number <= 3 else Level.WARNING if number == 4 else Level.OTHER
    if isinstance(value, str):
        text = value.strip().lower()
        if text.isdigit():
            return level_of_value(int(text))
        return _WORDS.get(text, Level.OTHER)
    return Level.OTHER


def level_of_text(text: str) -> Level:
    """The level plain text shows: a level word in its first 80 characters, else error markers."""
    if MARKERS.search(text) is None:
        return Level.OTHER  # most lines: decided without a regular expression
    match = _PLAIN_LEVEL.search(text, 0, 80)
    if match is not None:
        return Level.WARNING if match.group(1).startswith("WARN") else Level.ERROR
    if _PLAIN_ERROR.search(text) is not None:
        return Level.ERROR
    return Level.OTHER


_STRUCTURED_LEVEL = re.compile(r'(?i)\b(?:level|severity|lvl)"?\s*[=:]\s*"?([a-z]+)')


def level_of_pattern(text: str) -> Level:
    """The level a backend-mined pattern shows (``level=error ...``, or the plain markers)."""
    match = _STRUCTURED_LEVEL.search(text)
    if match is not None:
        return level_of_value(match.group(1))
    return level_of_text(text)
