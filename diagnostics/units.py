"""Durations, points in time and measured values: parsing and display, the same everywhere."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any

_DURATION_UNITS = {
    "ms": 0.001,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
    "w": 604800.0,
}
MAX_DURATION = timedelta(days=400)
"""The longest duration accepted anywhere (a window, a timeout, a threshold): a year and a month."""
MAX_CLOCK_SKEW = timedelta(minutes=1)
"""How far in the future a diagnosed time may be: the clocks of diag and the backends may differ."""
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DURATION_EXPECTED = "expected a duration like 90s, 30m, 2h or 1d"
_MAX_DURATION_CHARS = 64
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_DURATION_WHOLE = re.compile(r"^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+$")


def parse_duration(text: str | float | int | timedelta) -> timedelta:
    """Parse ``90s``, ``30m``, ``2h``, ``1d``, ``1h30m``, ``500ms`` or a number of seconds.

    Anything longer than :data:`MAX_DURATION`, negative or not a duration is a ValueError.
    """
    if isinstance(text, timedelta):
        return _bounded(text.total_seconds(), text)
    if isinstance(text, bool) or not isinstance(text, str | int | float):
        raise ValueError(f"{_DURATION_EXPECTED}, got {type(text).__name__} {str(text)[:40]}")
    if isinstance(text, int | float):
        if text < 0 or not math.isfinite(text):
            raise ValueError(f"expected a positive duration, got {text!r}")
        return _bounded(float(text), text)
    compact = text.strip().replace(" ", "")
    if len(compact) > _MAX_DURATION_CHARS:
        raise ValueError(f"{_DURATION_EXPECTED}, got {len(compact)} characters")
    if compact and compact.replace(".", "", 1).isdigit():
        return _bounded(float(compact), text)
    if not _DURATION_WHOLE.match(compact):
        raise ValueError(f"{_DURATION_EXPECTED}, got {text!r}")
    seconds = sum(float(n) * _DURATION_UNITS[u] for n, u in _DURATION_PART.findall(compact))
    return _bounded(seconds, text)


def _bounded(seconds: float, text: object) -> timedelta:
    if seconds < 0 or not math.isfinite(seconds):
        raise ValueError(f"expected a positive duration, got {text!r}")
    if seconds > MAX_DURATION.total_seconds():
        raise ValueError(f"{text!s:.40} is longer than the {MAX_DURATION.days} days diag accepts")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta | float) -> str:
    """Short human form: ``850ms``, ``41s``, ``12m``, ``3h05m``, ``2d4h``."""
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if seconds < 0:
        return "-" + format_duration(-seconds)
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s" if seconds < 10 else f"{seconds:.0f}s"
    minutes, sec = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{sec:02d}s" if sec and minutes < 10 else f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h{minutes:02d}m" if minutes else f"{hours}h"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours}h" if hours else f"{days}d"


_RELATIVE = re.compile(r"^-\s*(.+)$")


def parse_time(text: str, *, now: datetime | None = None) -> datetime:
    """Parse ISO 8601, unix seconds, ``now`` or a relative time such as ``-2h`` into UTC.

    Times before 1970 or beyond year 9999 are a ValueError.
    """
    reference = now or datetime.now(UTC)
    raw = text.strip()
    if raw.lower() == "now":
        return reference
    relative = _RELATIVE.match(raw)
    if relative and not raw[1:].strip().replace(".", "", 1).isdigit():
        return _after_epoch(reference - parse_duration(relative.group(1)), text)
    try:
        seconds = float(raw)
    except ValueError:
        pass
    else:
        try:
            return _after_epoch(datetime.fromtimestamp(seconds, tz=UTC), text)
        except (OverflowError, OSError, ValueError):
            raise ValueError(
                f"{text!s:.40} is not a time diag can diagnose (unix seconds since 1970)"
            ) from None
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"expected ISO 8601 (2026-11-27T10:00:00Z), unix seconds or relative (-2h), got {text!s:.80}"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return _after_epoch(parsed.astimezone(UTC), text)
    except OverflowError:
        raise ValueError(f"{text!s:.40} is not a time diag can diagnose") from None


def _after_epoch(moment: datetime, text: object) -> datetime:
    if moment < EPOCH:
        raise ValueError(f"{text!s:.40} is before 1970")
    return moment


def check_diagnosed_time(moment: datetime, now: datetime) -> datetime:
    """``moment`` if diag can diagnose it: after 1970, not beyond ``now`` + :data:`MAX_CLOCK_SKEW`."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if moment < EPOCH:
        raise ValueError(f"{isoformat(moment)} is before 1970")
    if moment > now + MAX_CLOCK_SKEW:
        raise ValueError(
            f"{isoformat(moment)} is in the future (now {isoformat(now)}); diag diagnoses the past"
        )
    return moment.astimezone(UTC)


def isoformat(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with a ``Z``, or None."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


_BYTE_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def format_bytes(value: float) -> str:
    """``512 B``, ``3.0 GiB``: binary units."""
    size = float(value)
    for unit in _BYTE_UNITS:
        if abs(size) < 1024 or unit == _BYTE_UNITS[-1]:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def format_value(value: Any, unit: str | None) -> str:
    """Display a measured value with its unit for humans."""
    if value is None:
        return "unknown"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"{value} {unit}" if unit else str(value)
    if unit == "bytes":
        return format_bytes(value)
    if unit == "s":
        return format_duration(float(value))
    if unit == "ratio":
        return f"{value * 100:.3g} %"
    if unit == "%":
        return f"{value:.1f} %"
    number = f"{value:.4g}" if isinstance(value, float) else str(value)
    return f"{number} {unit}" if unit and unit != "count" else number
