"""Findings as Alertmanager alerts (``POST /api/v2/alerts``).

One alert per finding, labelled ``alertname="DiagFinding"`` plus probe, kind, severity, entity
and fingerprint, so Alertmanager's grouping, silences, inhibition and routing apply. Every
cycle re-sends the current findings with ``endsAt`` a few watch intervals ahead (Alertmanager
forgets an alert that is not repeated); a resolved finding, or a severity that changed, is sent
once more with ``endsAt`` = now, which resolves it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from diagnostics.watch.changes import Change, ChangeKind, TrackedFinding

ALERT_NAME = "DiagFinding"


def alert_labels(finding: TrackedFinding) -> dict[str, str]:
    return {
        "alertname": ALERT_NAME,
        "probe": finding.probe,
        "kind": finding.kind,
        "severity": finding.severity.label,
        "entity": finding.entity,
        "fingerprint": finding.fingerprint,
    }


def _alert(finding: TrackedFinding, *, ends_at: datetime) -> dict[str, Any]:
    annotations = {"summary": finding.title, "description": finding.summary}
    if finding.next_step:
        annotations["next_step"] = finding.next_step
    return {
        "labels": alert_labels(finding),
        "annotations": annotations,
        "startsAt": (finding.onset or finding.first_seen).isoformat(),
        "endsAt": ends_at.isoformat(),
    }


def alerts_for(
    current: Mapping[str, TrackedFinding], changes: Iterable[Change], *, now: datetime, hold: timedelta
) -> list[dict[str, Any]]:
    """The alerts to post this cycle: every current finding, and the ones that ended."""
    alerts = [_alert(finding, ends_at=now + hold) for finding in current.values()]
    for change in changes:
        if change.kind is ChangeKind.RESOLVED:
            alerts.append(_alert(change.finding, ends_at=now))
        elif change.previous is not None and change.previous.severity != change.finding.severity:
            alerts.append(_alert(change.previous, ends_at=now))  # the old severity's alert ends
    return alerts
