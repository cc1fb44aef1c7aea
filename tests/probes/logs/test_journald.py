"""logs.* on real journal files (written by systemd-journal-remote, read by journalctl)."""

from __future__ import annotations

from pathlib import Path

import pytest

from diagnostics import Severity, Status
from diagnostics.testing import run_probe
from probes.logs.errors import ErrorsProbe
from probes.logs.patterns import PatternsProbe
from tests.probes.logs.staging import AT, NEW_PATTERN_AFTER, SPAN, WINDOW, close_to, one, silent
from tests.support.journal import write_journal
from tests.support.log_scenarios import app_lines

pytestmark = pytest.mark.integration


def journal_config(directory: Path, unit: str = "shop.service") -> dict[str, object]:
    return {"logs": [{"name": "shop", "journald": {"directory": str(directory), "units": [unit]}}]}


def stage(directory: Path, seed: int, **incident: object) -> None:
    lines = app_lines(at=AT, span=SPAN, seed=seed, info_per_minute=20.0, **incident)  # type: ignore[arg-type]
    write_journal(
        directory,
        ((line.time, line.level, line.message) for line in lines),
        unit="shop.service",
        identifier="shop",
    )


def test_new_error_in_the_journal(tmp_path: Path) -> None:
    onset = AT - NEW_PATTERN_AFTER
    stage(tmp_path, 21, new_pattern_at=onset)
    patterns = run_probe(PatternsProbe, config=journal_config(tmp_path), at=AT, window=WINDOW)
    new = one(patterns, "log_new_pattern", "orders-db")
    assert close_to(new.onset, onset), new.onset
    assert new.severity is Severity.WARNING
    assert any("journalctl" not in q and "--directory=" in q for q in new.evidence.queries)
    errors = run_probe(ErrorsProbe, config=journal_config(tmp_path), at=AT, window=WINDOW)
    assert close_to(one(errors, "log_error_rate").onset, onset)


def test_healthy_journal_is_silent(tmp_path: Path) -> None:
    stage(tmp_path, 22)
    for probe in (ErrorsProbe, PatternsProbe):
        run = run_probe(probe, config=journal_config(tmp_path), at=AT, window=WINDOW)
        assert silent(run), [f.title for f in run.findings]


def test_other_units_are_not_read(tmp_path: Path) -> None:
    stage(tmp_path, 23, new_pattern_at=AT - NEW_PATTERN_AFTER)
    run = run_probe(PatternsProbe, config=journal_config(tmp_path, "other.service"), at=AT, window=WINDOW)
    assert run.outcome.status is Status.OK
    assert [f.kind for f in run.findings] == ["log_source_empty"]
