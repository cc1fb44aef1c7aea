"""What diag watch calls a change, and what it remembers across restarts."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from diagnostics.errors import ConfigError
from diagnostics.model import Severity, Status
from diagnostics.notify.alertmanager import alerts_for
from diagnostics.notify.messages import slack_message, webhook_payload
from diagnostics.watch.changes import ChangeKind, changes_between
from diagnostics.watch.state_file import load_state, save_state
from tests.diagnostics.serve.helpers import AT, finding, report

LATER = AT + timedelta(minutes=5)


def test_new_worsened_improved_resolved_and_unchanged() -> None:
    first = report(
        {"db.locks": Status.CRITICAL},
        (
            finding("db.locks", Severity.WARNING, name="orders"),
            finding("db.locks", Severity.CRITICAL, name="users"),
            finding("db.locks", Severity.WARNING, name="carts"),
        ),
    )
    changes, seen = changes_between({}, first, now=AT)
    assert [c.kind for c in changes] == [ChangeKind.NEW] * 3
    second = report(
        {"db.locks": Status.CRITICAL},
        (
            finding("db.locks", Severity.CRITICAL, name="orders"),  # worsened
            finding("db.locks", Severity.WARNING, name="users"),  # improved
            finding("db.locks", Severity.INFO, name="stock"),  # info: never tracked
        ),
    )
    changes, seen = changes_between(seen, second, now=LATER)
    assert [(c.kind, c.finding.entity) for c in changes] == [
        (ChangeKind.WORSENED, "database orders"),
        (ChangeKind.IMPROVED, "database users"),
        (ChangeKind.RESOLVED, "database carts"),
    ]
    assert seen[changes[0].finding.fingerprint].first_seen == AT  # first seen is kept
    changes, _ = changes_between(seen, second, now=LATER)
    assert changes == []  # nothing changed: nothing to say


def test_a_probe_that_could_not_check_resolves_nothing() -> None:
    _, seen = changes_between(
        {}, report({"db.locks": Status.CRITICAL}, (finding("db.locks", Severity.CRITICAL),)), now=AT
    )
    changes, kept = changes_between(seen, report({"db.locks": Status.TIMEOUT}), now=LATER)
    assert changes == []
    assert kept == seen
    changes, _ = changes_between(seen, report({"db.locks": Status.OK}), now=LATER)
    assert [c.kind for c in changes] == [ChangeKind.RESOLVED]


def test_state_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "state" / "watch.json"
    _, seen = changes_between(
        {}, report({"db.locks": Status.CRITICAL}, (finding("db.locks", Severity.CRITICAL),)), now=AT
    )
    save_state(path, seen, saved_at=AT)
    assert load_state(path) == seen
    assert load_state(tmp_path / "missing.json") == {}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not a watch state file (not JSON)"),
        ('{"schema": "other"}', "expected schema 'diag.watch-state/v1'"),
        ('{"schema": "diag.watch-state/v1", "findings": [{"fingerprint": "x"}]}', "is malformed"),
    ],
)
def test_a_damaged_state_file_is_a_clear_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "watch.json"
    path.write_text(content)
    with pytest.raises(ConfigError) as raised:
        load_state(path)
    assert message in str(raised.value) and str(path) in str(raised.value)


def test_alertmanager_alerts_repeat_current_findings_and_end_resolved_ones() -> None:
    _, seen = changes_between(
        {},
        report(
            {"db.locks": Status.CRITICAL},
            (
                finding("db.locks", Severity.WARNING, name="orders"),
                finding("db.locks", Severity.CRITICAL, name="users"),
            ),
        ),
        now=AT,
    )
    changes, current = changes_between(
        seen,
        report({"db.locks": Status.CRITICAL}, (finding("db.locks", Severity.CRITICAL, name="orders"),)),
        now=LATER,
    )
    alerts = alerts_for(current, changes, now=LATER, hold=timedelta(minutes=15))
    by_state = {(a["labels"]["entity"], a["labels"]["severity"]): a["endsAt"] for a in alerts}
    assert by_state == {
        ("database orders", "critical"): (LATER + timedelta(minutes=15)).isoformat(),  # firing, held
        ("database orders", "warning"): LATER.isoformat(),  # the old severity's alert ends
        ("database users", "critical"): LATER.isoformat(),  # resolved
    }
    firing = next(
        a for a in alerts if a["labels"]["severity"] == "critical" and "orders" in a["labels"]["entity"]
    )
    assert firing["labels"]["alertname"] == "DiagFinding"
    assert firing["startsAt"] == (AT - timedelta(minutes=3)).isoformat()  # the finding's onset
    assert firing["annotations"]["next_step"] == "psql -c 'select 1'"


def test_slack_and_webhook_bodies() -> None:
    changes, _ = changes_between(
        {}, report({"db.locks": Status.CRITICAL}, (finding("db.locks", Severity.CRITICAL),)), now=AT
    )
    text = slack_message(changes, headline="1 critical: critical on orders")["text"]
    assert text.splitlines()[0] == "*diag*: 1 critical: critical on orders"
    assert "NEW      critical db.locks" in text
    payload = webhook_payload(changes, headline="h", at=AT)
    assert payload["schema"] == "diag.changes/v1"
    assert payload["changes"][0]["change"] == "new"
    assert payload["changes"][0]["previous_severity"] is None
