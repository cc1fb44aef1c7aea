"""logs.errors and logs.patterns on real files: staged incidents over realistic background logs."""

from __future__ import annotations

from pathlib import Path

import pytest

from diagnostics import Severity, Status
from diagnostics.testing import run_probe
from probes.logs.errors import ErrorsProbe
from probes.logs.patterns import PatternsProbe
from tests.probes.logs.staging import (
    AT,
    NEW_PATTERN_AFTER,
    RISE_AFTER,
    SPAN,
    SPIKE_AFTER,
    WINDOW,
    close_to,
    one,
    silent,
    value,
)
from tests.support.log_scenarios import access_text, app_lines, json_text, python_text

pytestmark = pytest.mark.integration


def file_config(*paths: Path, **extra: object) -> dict[str, object]:
    return {"logs": [{"name": "shop", "file": {"paths": [str(p) for p in paths], **extra}}]}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_healthy_noisy_log_is_silent(tmp_path: Path, seed: int) -> None:
    log = tmp_path / "shop.log"
    log.write_text(python_text(app_lines(at=AT, span=SPAN, seed=seed)))
    for probe in (ErrorsProbe, PatternsProbe):
        run = run_probe(probe, config=file_config(log), at=AT, window=WINDOW)
        assert silent(run), [f.title for f in run.findings]
        assert run.outcome.status is Status.OK


@pytest.mark.parametrize("seed", [4, 5])
def test_new_database_error_found_with_its_onset(tmp_path: Path, seed: int) -> None:
    onset = AT - NEW_PATTERN_AFTER
    log = tmp_path / "shop.log"
    log.write_text(python_text(app_lines(at=AT, span=SPAN, seed=seed, new_pattern_at=onset)))
    patterns = run_probe(PatternsProbe, config=file_config(log), at=AT, window=WINDOW)
    new = one(patterns, "log_new_pattern", "could not connect to database")
    assert new.severity is Severity.WARNING
    assert new.entity.name == "shop" and new.entity.kind == "service"
    assert close_to(new.onset, onset), new.onset
    assert new.evidence.details["template"] == (
        "ERROR [shop.db] could not connect to database orders-db at <IP> connection refused (attempt <NUM>)"
    ) or "orders-db" in str(new.evidence.details["template"])
    assert "could not connect to database orders-db" in str(new.evidence.details["example"])
    assert value(new, "baseline_count") == 0
    assert value(new, "window_count") >= 60  # ~6/min for 20 min
    errors = run_probe(ErrorsProbe, config=file_config(log), at=AT, window=WINDOW)
    rise = one(errors, "log_error_rate")
    assert close_to(rise.onset, onset), rise.onset
    top = rise.evidence.details["top_templates"]
    assert "orders-db" in top[0]["template"] and top[0]["count"] >= 60
    assert "shop: " in rise.title and "errors/min" in rise.title


def test_rise_of_a_known_error_found_with_its_onset(tmp_path: Path) -> None:
    onset = AT - RISE_AFTER
    log = tmp_path / "shop.log"
    log.write_text(python_text(app_lines(at=AT, span=SPAN, seed=6, rise_at=onset)))
    patterns = run_probe(PatternsProbe, config=file_config(log), at=AT, window=WINDOW)
    risen = one(patterns, "log_pattern_rise", "payment gateway timeout")
    assert close_to(risen.onset, onset), risen.onset
    assert float(str(risen.evidence.details["factor"])) >= 10
    assert not patterns.of_kind("log_new_pattern")
    errors = run_probe(ErrorsProbe, config=file_config(log), at=AT, window=WINDOW)
    assert close_to(one(errors, "log_error_rate").onset, onset)


def test_json_lines_with_stack_fields(tmp_path: Path) -> None:
    onset = AT - NEW_PATTERN_AFTER
    log = tmp_path / "shop.json"
    log.write_text(json_text(app_lines(at=AT, span=SPAN, seed=7, new_pattern_at=onset)))
    patterns = run_probe(PatternsProbe, config=file_config(log), at=AT, window=WINDOW)
    assert close_to(one(patterns, "log_new_pattern", "orders-db").onset, onset)


def test_rotated_files_are_read_as_one(tmp_path: Path) -> None:
    onset = AT - NEW_PATTERN_AFTER
    text = python_text(app_lines(at=AT, span=SPAN, seed=8, new_pattern_at=onset)).splitlines(keepends=True)
    half = len(text) // 2
    (tmp_path / "shop.log.1").write_text("".join(text[:half]))
    (tmp_path / "shop.log").write_text("".join(text[half:]))
    import os

    os.utime(tmp_path / "shop.log.1", (AT.timestamp() - 3 * 3600,) * 2)
    run = run_probe(PatternsProbe, config=file_config(tmp_path / "shop.log*"), at=AT, window=WINDOW)
    assert close_to(one(run, "log_new_pattern", "orders-db").onset, onset)


@pytest.mark.parametrize("seed", [9, 10])
def test_5xx_spike_in_an_access_log(tmp_path: Path, seed: int) -> None:
    onset = AT - SPIKE_AFTER
    log = tmp_path / "access.log"
    log.write_text(access_text(at=AT, span=SPAN, seed=seed, spike_at=onset))
    run = run_probe(ErrorsProbe, config=file_config(log), at=AT, window=WINDOW)
    spike = one(run, "log_5xx_ratio")
    assert close_to(spike.onset, onset), spike.onset
    assert spike.severity is Severity.CRITICAL
    assert 0.2 < float(str(value(spike, "peak"))) < 0.5
    assert float(str(value(spike, "baseline_mean"))) < 0.03
    assert "answered 5xx" in spike.title


def test_healthy_access_log_is_silent(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_text(access_text(at=AT, span=SPAN, seed=11, spike_at=None))
    assert silent(run_probe(ErrorsProbe, config=file_config(log), at=AT, window=WINDOW))


def test_daily_habit_seen_a_day_earlier_is_not_news(tmp_path: Path) -> None:
    from datetime import timedelta

    onset = AT - RISE_AFTER
    day = timedelta(days=1)
    earlier = app_lines(
        at=AT - day + timedelta(minutes=5), span=timedelta(hours=1), seed=12, rise_at=onset - day
    )
    today = app_lines(at=AT, span=SPAN, seed=13, rise_at=onset)
    log = tmp_path / "shop.log"
    log.write_text(python_text(earlier) + python_text(today))
    assert silent(run_probe(ErrorsProbe, config=file_config(log), at=AT, window=WINDOW))
    without = run_probe(
        ErrorsProbe, config=file_config(log), options={"day_earlier": False}, at=AT, window=WINDOW
    )
    assert close_to(one(without, "log_error_rate").onset, onset)


def test_reading_is_bounded(tmp_path: Path) -> None:
    log = tmp_path / "shop.log"
    log.write_text(python_text(app_lines(at=AT, span=SPAN, seed=14)))
    run = run_probe(
        ErrorsProbe, config=file_config(log), options={"max_bytes": 100_000}, at=AT, window=WINDOW
    )
    bounded = one(run, "log_reading_bounded")
    assert bounded.evidence.details["bound"] == "max_bytes"
    assert int(str(bounded.evidence.details["bytes"])) <= 101_000


def test_missing_files_fail_clearly(tmp_path: Path) -> None:
    run = run_probe(ErrorsProbe, config=file_config(tmp_path / "nothing-*.log"), at=AT, window=WINDOW)
    assert run.outcome.status is Status.ERROR
    assert "no file matching" in str(run.outcome.error)


def test_no_source_skips_with_a_hint() -> None:
    run = run_probe(ErrorsProbe, config={}, at=AT, window=WINDOW)
    assert run.outcome.status is Status.SKIPPED
    assert run.outcome.hint is not None and "logs:" in run.outcome.hint


def test_a_file_without_timestamps_says_so(tmp_path: Path) -> None:
    log = tmp_path / "shop.log"
    log.write_bytes(b"no timestamp here\n\x00\xff\xfe binary garbage\n" * 1000)
    run = run_probe(ErrorsProbe, config=file_config(log), at=AT, window=WINDOW)
    assert run.outcome.status is Status.OK
    empty = one(run, "log_source_empty")
    assert empty.severity is Severity.INFO
