"""Secrets never appear in output: reports, errors, config check, logs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from diagnostics.cli import cli
from diagnostics.redaction import Redactor, redact

pytestmark = pytest.mark.usefixtures("scripted_probes", "no_config")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("postgresql://diag:hunter2@db:5432/orders", "postgresql://diag:***@db:5432/orders"),
        ("host=db password=hunter2 user=diag", "host=db password=*** user=diag"),
        (
            "postgresql://db/orders?password=hunter2&sslmode=require",
            "postgresql://db/orders?password=***&sslmode=require",
        ),
        ("Authorization: Bearer abcdef123456", "Authorization: Bearer ***"),
        ("token=abcd1234", "token=***"),
        ("no secret here: db:5432", "no secret here: db:5432"),
    ],
)
def test_credential_shapes_are_masked(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_known_secret_values_are_masked_anywhere() -> None:
    assert Redactor(frozenset({"s3cr3t-value"}))("error near s3cr3t-value!") == "error near ***!"


def test_secrets_from_the_environment_stay_out_of_reports_and_config_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WIDGET_TOKEN", "tok-9f8e7d6c")
    monkeypatch.setenv("PW", "pa55word-x")
    Path("diag.yaml").write_text(
        "widgets:\n  - 'https://user:${PW}@widgets.internal/?token=${WIDGET_TOKEN}'\n"
        "probes:\n  test.fail: {secret_in_error: '${PW}'}\n"
    )
    runner = CliRunner()
    checked = runner.invoke(cli, ["config", "check"])
    report = runner.invoke(
        cli, ["run", "--probe", "test.fail", "--probe", "test.needs_backend", "--format", "json"]
    )
    listed = runner.invoke(cli, ["probes", "--format", "json"])
    for result in (checked, report, listed):
        combined = result.stdout + result.stderr
        assert "pa55word-x" not in combined
        assert "tok-9f8e7d6c" not in combined
    assert "https://user:***@widgets.internal/?token=***" in checked.stdout
    document = json.loads(report.stdout)
    failed = next(p for p in document["probes"] if p["id"] == "test.fail")
    assert failed["error"] == "connection refused by db:5432 (dsn postgresql://diag:***@db/x)"
    info = next(f for f in document["findings"] if f["probe"] == "test.needs_backend")
    assert info["title"] == "widgets: https://user:***@widgets.internal/?token=***"
