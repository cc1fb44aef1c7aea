"""toggles.changes with flagd flag definition files: real files, real mtimes, a real state dir."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from diagnostics import ErrorKind, Severity, Status
from diagnostics.testing import ProbeRun, run_probe
from probes.toggles.changes import ChangesProbe

NOW = datetime.now(UTC).replace(microsecond=0)


def flags_document(**flags: dict[str, Any]) -> dict[str, Any]:
    return {"$schema": "https://flagd.dev/schema/v0/flags.json", "flags": flags}


def boolean_flag(
    default: str, *, state: str = "ENABLED", targeting: Any = None, **metadata: Any
) -> dict[str, Any]:
    flag: dict[str, Any] = {"state": state, "variants": {"on": True, "off": False}, "defaultVariant": default}
    if targeting is not None:
        flag["targeting"] = targeting
    if metadata:
        flag["metadata"] = metadata
    return flag


def write(path: Path, document: dict[str, Any], *, modified: datetime) -> None:
    text = yaml.safe_dump(document) if path.suffix == ".yaml" else json.dumps(document, indent=2)
    path.write_text(text)
    os.utime(path, (modified.timestamp(), modified.timestamp()))


def sweep(files: list[Path], state: Path, *, at: datetime = NOW, environment: str = "production") -> ProbeRun:
    return run_probe(
        ChangesProbe,
        config={
            "feature_flags": [
                {"name": "flagd", "flagd": {"files": [str(f) for f in files], "environment": environment}}
            ]
        },
        options={"state_dir": str(state)},
        at=at,
        window="30m",
    )


def rollout(percent: int) -> dict[str, Any]:
    return {"fractional": [["on", percent], ["off", 100 - percent]]}


def test_a_flag_switched_on_in_the_file_is_found_dated_by_the_file(tmp_path: Path) -> None:
    flags, state = tmp_path / "flags.json", tmp_path / "state"
    write(
        flags,
        flags_document(
            **{
                "new-checkout": boolean_flag("off", description="One-page checkout", service="checkout"),
                "recs-model": boolean_flag("on", targeting=rollout(10)),
                "quiet-banner": boolean_flag("on"),
            }
        ),
        modified=NOW - timedelta(days=2),
    )
    first = sweep([flags], state)
    assert first.outcome.status is Status.OK and not first.findings  # the first sweep only records

    edited_at = NOW - timedelta(minutes=7)
    write(
        flags,
        flags_document(
            **{
                "new-checkout": boolean_flag("on", description="One-page checkout", service="checkout"),
                "recs-model": boolean_flag("on", targeting=rollout(50)),
                "quiet-banner": boolean_flag("on"),
            }
        ),
        modified=edited_at,
    )
    run = sweep([flags], state)

    by_flag = {f.entity.name: f for f in run.findings}
    assert set(by_flag) == {"new-checkout", "recs-model"}  # quiet-banner untouched: silent
    checkout = by_flag["new-checkout"]
    assert checkout.severity is Severity.WARNING
    assert checkout.onset == edited_at
    assert checkout.title == "Flag new-checkout switched on in production 7m ago by unknown author"
    assert checkout.evidence.details["services"] == ["checkout"]
    assert checkout.evidence.details["changes"][0]["before"] == "off"
    quoted = str(flags)
    assert checkout.next_steps == (
        f"""jq '.flags["new-checkout"].defaultVariant = "off" | del(.flags["new-checkout"].targeting)' """
        f"{quoted} > {quoted}.new && mv {quoted}.new {quoted}",
    )
    recs = by_flag["recs-model"]
    assert "rollout changed: on 10% / off 90% → on 50% / off 50%" in recs.title

    # a later sweep over the same window still reports the change (kept in the state file)
    again = sweep([flags], state)
    assert {f.entity.name for f in again.findings} == {"new-checkout", "recs-model"}
    # and one long after does not
    later = sweep([flags], state, at=NOW + timedelta(hours=3))
    assert later.findings == ()


def test_a_staging_file_change_is_not_a_production_change(tmp_path: Path) -> None:
    flags, state = tmp_path / "staging.yaml", tmp_path / "state"
    write(flags, flags_document(search=boolean_flag("off")), modified=NOW - timedelta(days=1))
    sweep([flags], state, environment="staging")
    write(
        flags,
        flags_document(search=boolean_flag("off", state="DISABLED"), fresh=boolean_flag("on")),
        modified=NOW - timedelta(minutes=2),
    )

    run = sweep([flags], state, environment="staging")

    assert {(f.entity.name, f.severity) for f in run.findings} == {
        ("search", Severity.INFO),
        ("fresh", Severity.INFO),
    }
    assert all(f.evidence.details["production"] is False for f in run.findings)


def test_an_unreadable_file_is_an_error_naming_it(tmp_path: Path) -> None:
    broken = tmp_path / "flags.json"
    broken.write_text('{"flags": {"a": ')
    run = sweep([broken], tmp_path / "state")
    assert run.outcome.status is Status.ERROR
    assert run.outcome.error_kind is ErrorKind.PROTOCOL
    assert str(broken) in (run.outcome.error or "")


def test_one_unreadable_provider_keeps_the_others_findings(tmp_path: Path) -> None:
    missing = "absent.json"
    good, state = tmp_path / "flags.json", tmp_path / "state"
    write(good, flags_document(a=boolean_flag("off")), modified=NOW - timedelta(days=1))
    entries = [
        {"name": "main", "flagd": {"files": [str(good)]}},
        {"name": "other", "flagd": {"files": [str(tmp_path / missing)]}},
    ]
    run_probe(ChangesProbe, config={"feature_flags": entries}, options={"state_dir": str(state)}, at=NOW)
    write(good, flags_document(a=boolean_flag("on")), modified=NOW - timedelta(minutes=1))
    run = run_probe(
        ChangesProbe, config={"feature_flags": entries}, options={"state_dir": str(state)}, at=NOW
    )
    assert {f.kind for f in run.findings} == {"flag_change", "flag_source_unreadable"}
    (unreadable,) = run.of_kind("flag_source_unreadable")
    assert unreadable.entity.name == "other" and missing in unreadable.summary
