"""Timestamps, levels, line formats, multi-line events, masking and redaction: plain values."""

from __future__ import annotations

import calendar

import pytest

from probes.logs.levels import level_of_pattern, level_of_text, level_of_value
from probes.logs.lines import LineParser, detect_format, events
from probes.logs.model import Level
from probes.logs.scrub import scrub
from probes.logs.templates import first_line, mine
from probes.logs.timestamps import TimestampParser

AT = calendar.timegm((2026, 12, 7, 4, 0, 0, 0, 0, 0))
T = calendar.timegm((2026, 12, 7, 1, 2, 3, 0, 0, 0))


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("2026-12-07T01:02:03.456Z msg", T),
        ("2026-12-07T03:02:03+02:00 msg", T),
        ("2026-12-07 01:02:03,456 ERROR x", T),
        ("2026-12-07 01:02:03.123456789 INFO x", T),
        ("[2026-12-07 01:02:03] x", T),
        ("Dec  7 01:02:03 host app[1]: x", T),
    ],
)
def test_line_start_timestamps(line: str, expected: float) -> None:
    assert TimestampParser(reference=AT).line_start(line) == pytest.approx(expected)


def test_syslog_without_year_is_placed_before_the_reference() -> None:
    january = calendar.timegm((2027, 1, 1, 0, 30, 0, 0, 0, 0))
    parsed = TimestampParser(reference=january).line_start("Dec 31 23:59:00 host x")
    assert parsed == calendar.timegm((2026, 12, 31, 23, 59, 0, 0, 0, 0))


def test_zone_less_times_use_the_configured_offset() -> None:
    parser = TimestampParser(offset_s=3600, reference=AT)
    assert parser.line_start("2026-12-07 02:02:03,000 INFO x") == T


@pytest.mark.parametrize(
    ("value", "expected"),
    [(T, T), ("2026-12-07T01:02:03.250Z", T + 0.25), (T * 1000, T), (T * 1_000_000, T), (T * 10**9, T), (str(T), T), ("2026-12-07T01:02:03Z", T),
     ("07/Dec/2026:01:02:03 +0000", None), (True, None), ("later", None)],
)  # fmt: skip
def test_field_values(value: object, expected: float | None) -> None:
    parsed = TimestampParser(reference=AT).value(value)
    assert parsed == (pytest.approx(expected) if expected is not None else None)


def test_access_log_timestamp_anywhere() -> None:
    line = '10.0.0.1 - - [07/Dec/2026:03:02:03 +0200] "GET / HTTP/1.1" 200 1'
    assert TimestampParser(reference=AT).anywhere(line) == T


@pytest.mark.parametrize(
    ("value", "level"),
    [("error", Level.ERROR), ("ERR", Level.ERROR), ("Fatal", Level.ERROR), ("warn", Level.WARNING),
     ("info", Level.OTHER), (3, Level.ERROR), ("4", Level.WARNING), (6, Level.OTHER), (50, Level.ERROR),
     (40, Level.WARNING), (30, Level.OTHER)],
)  # fmt: skip
def test_structured_levels(value: object, level: Level) -> None:
    assert level_of_value(value) is level


@pytest.mark.parametrize(
    ("text", "level"),
    [("2026-12-07 01:02:03 ERROR [db] down", Level.ERROR),
     ("2026-12-07 01:02:03 WARN slow", Level.WARNING),
     ("2026-12-07 01:02:03 INFO processed 0 errors", Level.OTHER),
     ("Traceback (most recent call last):", Level.ERROR),
     ("panic: runtime error: index out of range", Level.ERROR),
     ("java.lang.NullPointerException: null", Level.ERROR),
     ("INFO error_rate=0.1", Level.OTHER)],
)  # fmt: skip
def test_plain_text_levels(text: str, level: Level) -> None:
    assert level_of_text(text) is level


def test_pattern_levels() -> None:
    assert level_of_pattern("level=error msg=<_> refused") is Level.ERROR
    assert level_of_pattern('{"level":"warn","msg":"<_>"}') is Level.WARNING
    assert level_of_pattern("<_> INFO started") is Level.OTHER


def test_format_detection() -> None:
    assert detect_format(['{"a":1}', '{"b":2}', "  at x"]) == "json"
    assert (
        detect_format(['1.2.3.4 - - [07/Dec/2026:01:02:03 +0000] "GET / HTTP/1.1" 200 5 "-" "x"']) == "access"
    )
    assert detect_format(["ts=2026-12-07T01:02:03Z level=info msg=hi a=1"]) == "logfmt"
    assert detect_format(["2026-12-07 01:02:03 INFO hi"]) == "plain"


def test_multi_line_traceback_stays_with_its_first_line() -> None:
    parser = LineParser("plain", TimestampParser(reference=AT))
    text = [
        "2026-12-07 01:02:03,000 ERROR [web] render failed",
        "Traceback (most recent call last):",
        '  File "/srv/web.py", line 8, in render',
        "KeyError: 'price'",
        "2026-12-07 01:02:04,000 INFO [web] next",
    ]
    found = list(events(text, parser))
    assert len(found) == 2
    assert found[0][1] is Level.ERROR and found[0][2].endswith("KeyError: 'price'")
    assert found[0][2].count("\n") == 3
    assert found[1][1] is Level.OTHER


def test_traceback_under_an_info_line_makes_an_error() -> None:
    parser = LineParser("plain", TimestampParser(reference=AT))
    found = list(
        events(["2026-12-07 01:02:03 INFO [x] handled", "Traceback (most recent call last):"], parser)
    )
    assert found[0][1] is Level.ERROR


def test_json_and_logfmt_records() -> None:
    timestamps = TimestampParser(reference=AT)
    json_event = LineParser("json", timestamps).parse(
        '{"@timestamp":"2026-12-07T01:02:03Z","log.level":"error","message":"boom","error":"EOF"}'
    )
    assert json_event == (T, Level.ERROR, "boom error=EOF", None)
    nested = LineParser("json", timestamps).parse('{"time":1796605323,"log":{"level":"warn"},"msg":"slow"}')
    assert nested is not None and nested[1] is Level.WARNING
    logfmt = LineParser("logfmt", timestamps).parse(
        'ts=2026-12-07T01:02:03Z level=error msg="db down" host=a'
    )
    assert logfmt == (T, Level.ERROR, "db down", None)


def test_access_lines_count_5xx_as_errors() -> None:
    parser = LineParser("access", TimestampParser(reference=AT))
    line = '10.0.0.1 - - [07/Dec/2026:01:02:03 +0000] "POST /api/pay?id=3 HTTP/1.1" 502 12 "-" "curl"'
    assert parser.parse(line) == (T, Level.ERROR, "POST /api/pay 502", 502)
    ok = parser.parse(line.replace(" 502 ", " 404 "))
    assert ok is not None and ok[1] is Level.OTHER


def test_templates_mask_variable_parts() -> None:
    ids, texts = mine(
        [
            "2026-12-07 01:02:03,000 ERROR timeout after 3000 ms to 10.0.0.7:5432 request 0f1e2d3c4b5a6978",
            "2026-12-07 01:02:04,000 ERROR timeout after 250 ms to 10.0.0.9:5432 request 9a8b7c6d5e4f3a2b",
            "2026-12-07 01:02:05,000 ERROR user 5f0c8a8e-3a55-4a0c-9d7e-1d2c3b4a5f6e not found in /var/lib/users/db",
        ]
    )
    assert ids[0] == ids[1] != ids[2]
    assert texts[ids[0]] == "ERROR timeout after <NUM> ms to <IP> request <HEX>"
    assert texts[ids[2]] == "ERROR user <UUID> not found in <PATH>"


def test_first_line_drops_timestamp_and_stack() -> None:
    assert first_line("Dec  7 01:02:03 host: boom\n  at x") == "host: boom"


def test_examples_are_redacted() -> None:
    text = scrub(
        "login failed for alice@example.com password=hunter22 card 4111 1111 1111 1111 "
        "token=abcd1234efgh Authorization: Bearer eyJhbGciOi.eyJzdWIiOiIx.c2lnbmF0dXJl key AKIAABCDEFGHIJKLMNOP"
    )
    for secret in (
        "alice@example.com",
        "hunter22",
        "4111 1111 1111 1111",
        "abcd1234efgh",
        "eyJhbGciOi",
        "AKIAABCDEFGHIJKLMNOP",
    ):
        assert secret not in text
    assert "order 1234567890123" in scrub("order 1234567890123")  # not a Luhn-valid card number
