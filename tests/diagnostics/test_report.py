"""Renderers, the headline, checklist coverage, exit status and the JSON contract."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from importlib.resources import files

import jsonschema
import pytest

from diagnostics.model import (
    ChecklistItem,
    Entity,
    ErrorKind,
    Evidence,
    Finding,
    Measurement,
    ProbeOutcome,
    Report,
    Severity,
    Status,
)
from diagnostics.report import render
from diagnostics.report.overview import (
    Coverage,
    ExitStatus,
    coverage,
    exit_status,
    headline,
    ordered_findings,
)
from diagnostics.report.serialize import report_from_dict, report_to_dict

AT = datetime(2026, 11, 27, 10, 30, tzinfo=UTC)
SCHEMA = json.loads(files("diagnostics").joinpath("schemas/report-v1.schema.json").read_text())


def finding(severity: Severity, title: str, minutes_ago: int | None, probe: str = "db.locks") -> Finding:
    return Finding(
        probe=probe,
        kind="lock_wait",
        severity=severity,
        title=title,
        summary=f"{title}, longer",
        entity=Entity(kind="database", name="orders", attributes={"host": "orders-db"}),
        evidence=Evidence(
            values=(Measurement(name="longest wait", value=41.0, unit="s"),),
            queries=("SELECT ... FROM pg_locks",),
            details={"root_pid": 8123},
        ),
        onset=AT - timedelta(minutes=minutes_ago) if minutes_ago is not None else None,
        next_steps=("SELECT pg_cancel_backend(8123);",),
        key=title,  # one fingerprint per finding, as the runner requires
    )


def outcome(probe: str, item: ChecklistItem, status: Status, **extra: object) -> ProbeOutcome:
    return ProbeOutcome(probe=probe, checklist_item=item, status=status, duration_s=0.12, **extra)  # type: ignore[arg-type]


REPORT = Report(
    at=AT,
    window=timedelta(hours=1),
    started_at=AT,
    duration_s=1.23,
    probes=(
        outcome("db.locks", ChecklistItem.DATABASE, Status.CRITICAL, finding_count=2),
        outcome("resources.host", ChecklistItem.RESOURCES, Status.OK),
        outcome(
            "metrics.anomalies",
            ChecklistItem.METRICS,
            Status.SKIPPED,
            error="not configured",
            hint="prometheus: {url: http://prometheus:9090}",
        ),
        outcome(
            "deps.http",
            ChecklistItem.DEPENDENCIES,
            Status.ERROR,
            error="connection refused",
            error_kind=ErrorKind.CONNECT,
        ),
    ),
    findings=(
        finding(Severity.WARNING, "pool 85 % used", 20),
        finding(Severity.CRITICAL, "3 sessions blocked for 41 s behind pid 8123", 28),
        finding(Severity.CRITICAL, "wraparound in 10M xids", None),
    ),
)


def test_findings_are_ordered_by_severity_then_onset() -> None:
    titles = [f.title for f in ordered_findings(REPORT.findings)]
    assert titles == [
        "3 sessions blocked for 41 s behind pid 8123",
        "wraparound in 10M xids",
        "pool 85 % used",
    ]


def test_headline_names_the_counts_and_the_worst_finding() -> None:
    assert headline(REPORT) == (
        "2 critical, 1 warning: 3 sessions blocked for 41 s behind pid 8123 [database orders] since 10:02Z"
        " (+2 more); 1 probe could not check: deps.http."
    )


def test_coverage_covers_every_diagnosis_item() -> None:
    rows = {row.item: row for row in coverage(REPORT)}
    assert rows[ChecklistItem.DATABASE].state is Coverage.PROBLEM
    assert rows[ChecklistItem.RESOURCES].state is Coverage.CLEAN
    assert rows[ChecklistItem.METRICS].state is Coverage.NOT_CONFIGURED
    assert rows[ChecklistItem.METRICS].detail == "prometheus: {url: http://prometheus:9090}"
    assert rows[ChecklistItem.DEPENDENCIES].state is Coverage.FAILED
    assert rows[ChecklistItem.DEPENDENCIES].detail == "deps.http: connection refused"
    assert rows[ChecklistItem.LOGS].state is Coverage.NO_PROBE


@pytest.mark.parametrize(
    ("severities", "statuses", "expected"),
    [
        ((Severity.CRITICAL, Severity.WARNING), (Status.CRITICAL,), ExitStatus.CRITICAL),
        ((Severity.WARNING, Severity.INFO), (Status.WARNING,), ExitStatus.WARNING),
        ((Severity.INFO,), (Status.OK,), ExitStatus.OK),
        # a probe that could not check outranks ok, never a warning or critical finding
        ((), (Status.OK, Status.ERROR), ExitStatus.UNKNOWN),
        ((), (Status.OK, Status.TIMEOUT, Status.SKIPPED), ExitStatus.UNKNOWN),
        ((Severity.WARNING,), (Status.WARNING, Status.TIMEOUT), ExitStatus.WARNING),
        ((Severity.CRITICAL,), (Status.CRITICAL, Status.ERROR), ExitStatus.CRITICAL),
        ((), (Status.OK, Status.SKIPPED), ExitStatus.OK),
        ((), (Status.ERROR, Status.SKIPPED, Status.TIMEOUT), ExitStatus.UNKNOWN),
        ((), (), ExitStatus.UNKNOWN),
    ],
)
def test_exit_status_follows_the_nagios_convention(
    severities: tuple[Severity, ...], statuses: tuple[Status, ...], expected: ExitStatus
) -> None:
    report = Report(
        at=AT,
        window=timedelta(hours=1),
        started_at=AT,
        duration_s=0.1,
        probes=tuple(outcome(f"x.p{i}", ChecklistItem.DATABASE, s) for i, s in enumerate(statuses)),
        findings=tuple(finding(s, "x", 1) for s in severities),
    )
    assert exit_status(report) is expected


def test_json_validates_against_the_schema_and_round_trips() -> None:
    document = json.loads(render(REPORT, "json"))
    jsonschema.validate(document, SCHEMA, format_checker=jsonschema.FormatChecker())
    assert document["schema"] == "diag.report/v1"
    assert document["at"] == "2026-11-27T10:30:00Z"
    assert document["exit_status"] == 2
    assert document["findings"][0]["onset"] == "2026-11-27T10:02:00Z"
    assert document["findings"][1]["onset"] is None
    assert document["findings"][0]["evidence"]["values"][0] == {
        "name": "longest wait",
        "value": 41.0,
        "unit": "s",
    }
    rebuilt = report_from_dict(document)
    assert report_to_dict(rebuilt) == document


def test_text_is_plain_when_not_a_terminal_and_colored_when_forced() -> None:
    plain = render(REPORT, "text", color=False)
    assert "\x1b[" not in plain
    assert plain.splitlines()[0] == headline(REPORT)
    assert (
        "CRITICAL 3 sessions blocked for 41 s behind pid 8123  [database orders]  since 2026-11-27 10:02:00Z"
        in plain
    )
    assert "evidence: longest wait 41s" in plain
    assert "next: SELECT pg_cancel_backend(8123);" in plain
    assert " ✗ Check database: problem — 3 sessions blocked" in plain
    assert (
        " - Check dashboards and metrics: not configured — prometheus: {url: http://prometheus:9090}" in plain
    )
    assert "\x1b[" in render(REPORT, "text", color=True)


def test_no_color_environment_variable_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert "\x1b[" not in render(REPORT, "text")


def test_markdown_has_the_headline_a_findings_table_and_the_checklist() -> None:
    markdown = render(REPORT, "markdown")
    assert markdown.startswith(f"## diag: {headline(REPORT)}\n")
    assert (
        "| **critical** | 3 sessions blocked for 41 s behind pid 8123 | database orders | 2026-11-27T10:02:00Z |"
        in markdown
    )
    assert "| ! | Check external dependencies | failed | deps.http: connection refused |" in markdown
    assert "1. `SELECT pg_cancel_backend(8123);`" in markdown


def test_a_finding_seen_now_says_so_instead_of_an_onset() -> None:
    from dataclasses import replace

    seen = replace(finding(Severity.CRITICAL, "payments-api: HTTP 503 on 3/3 attempts", None), seen_at=AT)
    report = replace(REPORT, findings=(seen,))
    document = json.loads(render(report, "json"))
    jsonschema.validate(document, SCHEMA, format_checker=jsonschema.FormatChecker())
    assert (document["findings"][0]["onset"], document["findings"][0]["seen_at"]) == (
        None,
        "2026-11-27T10:30:00Z",
    )
    assert report_to_dict(report_from_dict(document)) == document
    assert "payments-api: HTTP 503 on 3/3 attempts  [database orders]  seen now, onset unknown" in render(
        report, "text"
    )
    assert "| seen now |" in render(report, "markdown")


def test_the_ranking_and_not_selected_items_validate_round_trip_and_render() -> None:
    from dataclasses import replace

    from diagnostics.summary.build import summarize

    ranked = replace(REPORT, not_selected=(("deploys.rollouts", ChecklistItem.DEPLOYMENTS),))
    ranked = replace(ranked, summary=summarize(ranked))
    document = json.loads(render(ranked, "json"))
    jsonschema.validate(document, SCHEMA, format_checker=jsonschema.FormatChecker())
    first = document["summary"]["ranking"][0]
    assert (first["impact"], first["severity"]) == ("blocked", "critical")
    assert document["findings"][0]["fingerprint"] == first["lead"]
    assert document["not_selected"] == [{"id": "deploys.rollouts", "checklist_item": "deployments"}]
    assert report_to_dict(report_from_dict(document)) == document
    rows = {row["item"]: row["state"] for row in document["checklist"]}
    assert rows["deployments"] == "not_selected"
    assert (
        "**Ranking:** '3 sessions blocked for 41 s behind pid 8123' [database orders] leads: critical"
        in render(ranked, "markdown")
    )
    assert "Ranking: '3 sessions blocked for 41 s behind pid 8123'" in render(ranked, "text", color=False)


def test_headline_names_the_probes_that_could_not_check() -> None:
    # Prometheus silent, PostgreSQL stopped: no finding, yet the run must not read as healthy
    report = Report(
        at=AT,
        window=timedelta(hours=1),
        started_at=AT,
        duration_s=10.0,
        probes=(
            outcome("resources.host", ChecklistItem.RESOURCES, Status.OK),
            outcome("metrics.scrape", ChecklistItem.METRICS, Status.TIMEOUT, error_kind=ErrorKind.TIMEOUT),
            outcome("db.locks", ChecklistItem.DATABASE, Status.ERROR, error_kind=ErrorKind.CONNECT),
        ),
        findings=(),
    )

    assert headline(report) == (
        "No problem found by 1 probe; 2 probes could not check: metrics.scrape, db.locks."
    )
    assert exit_status(report) is ExitStatus.UNKNOWN
