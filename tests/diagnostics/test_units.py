from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from diagnostics.units import format_duration, format_value, isoformat, parse_duration, parse_time

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("30m", 1800),
        ("2h", 7200),
        ("1d", 86400),
        ("1h30m", 5400),
        ("500ms", 0.5),
        ("15", 15),
        (2.5, 2.5),
    ],
)
def test_parse_duration_accepts_the_documented_units(text: str | float, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "10x", "h", "-5m", "1.5.3s", "ten minutes"])
def test_parse_duration_rejects_anything_else(text: str) -> None:
    with pytest.raises(ValueError, match="expected a duration"):
        parse_duration(text)


def test_parse_time_understands_iso_unix_and_relative() -> None:
    assert parse_time("2026-11-27T09:00:00Z", now=NOW) == datetime(2026, 11, 27, 9, tzinfo=UTC)
    assert parse_time("2026-11-27T10:00:00+01:00", now=NOW) == datetime(2026, 11, 27, 9, tzinfo=UTC)
    assert parse_time("1700000000", now=NOW) == datetime.fromtimestamp(1700000000, tz=UTC)
    assert parse_time("-2h", now=NOW) == NOW - timedelta(hours=2)
    assert parse_time("now", now=NOW) == NOW
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_time("yesterday-ish", now=NOW)


def test_display_helpers() -> None:
    assert format_duration(timedelta(seconds=41)) == "41s"
    assert format_duration(3 * 3600 + 300) == "3h05m"
    assert format_duration(0.25) == "250ms"
    assert format_value(0.12, "ratio") == "12 %"
    assert format_value(3 * 1024**3, "bytes") == "3.0 GiB"
    assert isoformat(NOW) == "2026-11-27T10:00:00Z"
