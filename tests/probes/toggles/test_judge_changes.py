"""Judging flag changes with plain values: window and lead, production or not, services, commands."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from diagnostics import ProbeContext, ProbeOptions, Severity
from probes.toggles.config import FlagProvider
from probes.toggles.flags import ChangeKind, FlagChange, FlagInfo, ProviderChanges
from probes.toggles.judge_changes import FlagWindow, judge_changes

AT = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)
WINDOW = FlagWindow(start=AT - timedelta(minutes=30), at=AT, lead=timedelta(minutes=15))
CTX = ProbeContext(probe_id="toggles.changes", at=AT, window=timedelta(minutes=30), options=ProbeOptions())


def unleash(**extra: Any) -> FlagProvider:
    return FlagProvider.model_validate(
        {"name": "unleash", "unleash": {"url": "https://unleash.internal", "token": "secret-1234"}, **extra}
    )


def change(
    flag: str, kind: ChangeKind, minutes_before: float, environment: str | None = "production", **extra: Any
) -> FlagChange:
    return FlagChange(flag=flag, kind=kind, at=AT - timedelta(minutes=minutes_before), environment=environment,
                      author="alice@example.com", project="default", **extra)  # fmt: skip


def judge(
    *changes: FlagChange, flags: dict[str, FlagInfo] | None = None, entry: FlagProvider | None = None
) -> list[Any]:
    read = ProviderChanges(
        source="unleash", provider="unleash", production="production", changes=changes, flags=flags or {}
    )
    return judge_changes(read, entry or unleash(), window=WINDOW, make=CTX.finding)


def test_changes_in_the_lead_count_and_older_ones_do_not() -> None:
    findings = judge(
        change("in-lead", ChangeKind.SWITCHED_ON, 40),
        change("too-old", ChangeKind.SWITCHED_ON, 46),
        change("in-window", ChangeKind.SWITCHED_ON, 1),
    )
    assert [f.entity.name for f in findings] == ["in-lead", "in-window"]
    assert findings[0].title == "Flag in-lead switched on in production 40m ago by alice@example.com"


def test_changes_of_one_flag_and_environment_make_one_finding_dated_by_the_latest() -> None:
    (finding,) = judge(
        change("pricing", ChangeKind.ROLLOUT, 20, before="flexibleRollout 10%", after="flexibleRollout 50%"),
        change("pricing", ChangeKind.ROLLOUT, 5, before="flexibleRollout 50%", after="flexibleRollout 100%"),
    )
    assert finding.onset == AT - timedelta(minutes=5)
    assert finding.title == (
        "Flag pricing rollout changed: flexibleRollout 50% → flexibleRollout 100% in production 5m ago "
        "by alice@example.com (+1 earlier change)"
    )
    assert [c["after"] for c in finding.evidence.details["changes"]] == [
        "flexibleRollout 50%",
        "flexibleRollout 100%",
    ]


def test_production_other_environments_and_creation() -> None:
    findings = {(f.entity.name, f.key): f for f in judge(
        change("a", ChangeKind.SWITCHED_ON, 3),
        change("a", ChangeKind.SWITCHED_ON, 3, environment="development"),
        change("b", ChangeKind.CREATED, 2, environment=None),
        change("c", ChangeKind.ARCHIVED, 2, environment=None),
    )}  # fmt: skip
    assert findings[("a", "production")].severity is Severity.WARNING
    assert findings[("a", "development")].severity is Severity.INFO
    assert findings[("b", "all environments")].severity is Severity.INFO  # created, not yet on
    assert findings[("c", "all environments")].severity is Severity.WARNING


def test_services_come_from_the_mapping_and_service_tags() -> None:
    entry = unleash(services={"checkout": ["pricing"]})
    flags = {"pricing": FlagInfo(name="pricing", tags=("service:cart", "simple:beta", "team:payments"))}
    (finding,) = judge(change("pricing", ChangeKind.SWITCHED_ON, 3), flags=flags, entry=entry)
    assert finding.evidence.details["services"] == ["checkout", "cart"]
    assert finding.entity.attributes["service"] == "checkout,cart"


def test_a_flag_switched_off_gets_the_call_that_switches_it_back_on() -> None:
    (finding,) = judge(change("pricing", ChangeKind.SWITCHED_OFF, 3))
    assert finding.next_steps[0].endswith(
        "/api/admin/projects/default/features/pricing/environments/production/on"
    )
    assert finding.evidence.details["containment"]["switches"] == "on"


def test_the_token_is_never_in_a_finding() -> None:
    (finding,) = judge(change("pricing", ChangeKind.SWITCHED_ON, 3))
    assert "secret-1234" not in repr(finding)
