"""The bodies of Slack and generic webhook notifications (pure functions)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from diagnostics.watch.changes import Change, change_line

MAX_SLACK_LINES = 20
CHANGES_SCHEMA = "diag.changes/v1"


def slack_message(changes: Sequence[Change], *, headline: str) -> dict[str, Any]:
    """A Slack incoming-webhook message: the headline, then one line per change."""
    lines = [f"*diag*: {headline}"]
    lines += [f"`{change_line(change)}`" for change in changes[:MAX_SLACK_LINES]]
    if len(changes) > MAX_SLACK_LINES:
        lines.append(f"… and {len(changes) - MAX_SLACK_LINES} more changes")
    return {"text": "\n".join(lines)}


def webhook_payload(changes: Sequence[Change], *, headline: str, at: datetime) -> dict[str, Any]:
    """The generic webhook's JSON: the changes with each finding's state before and after."""
    return {
        "schema": CHANGES_SCHEMA,
        "at": at.isoformat(),
        "headline": headline,
        "changes": [
            {
                "change": change.kind.value,
                "fingerprint": change.finding.fingerprint,
                "probe": change.finding.probe,
                "kind": change.finding.kind,
                "severity": change.finding.severity.label,
                "previous_severity": change.previous.severity.label if change.previous else None,
                "entity": change.finding.entity,
                "title": change.finding.title,
                "summary": change.finding.summary,
                "first_seen": change.finding.first_seen.isoformat(),
                "onset": change.finding.onset.isoformat() if change.finding.onset else None,
                "next_step": change.finding.next_step,
            }
            for change in changes
        ],
    }
