"""``example.heartbeat``: batch jobs touch a heartbeat file; a stale one means the job stopped.

Configuration::

    heartbeats:
      - name: nightly-export
        path: /var/run/export/heartbeat
        max_age: 26h

Signals: the file's modification time. Critical when it is older than ``max_age`` as of
``--at``, or missing.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, ConfigDict

from diagnostics import (
    BackendSection,
    ChecklistItem,
    Duration,
    Entity,
    Finding,
    Measurement,
    Probe,
    ProbeContext,
    Severity,
)


class Heartbeat(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    path: str
    max_age: Duration = timedelta(hours=1)


HEARTBEATS = BackendSection(
    key="heartbeats",
    model=list[Heartbeat],
    setup_hint="heartbeats: [{name: nightly-export, path: /var/run/export/heartbeat, max_age: 26h}]",
    description="Heartbeat files touched by batch jobs.",
)


@dataclass(frozen=True, slots=True)
class Beat:
    heartbeat: Heartbeat
    modified: datetime | None


def read_beats(heartbeats: Iterable[Heartbeat]) -> list[Beat]:
    """The only I/O: each file's modification time (None when missing)."""
    beats = []
    for heartbeat in heartbeats:
        try:
            modified = datetime.fromtimestamp(os.stat(heartbeat.path).st_mtime, tz=UTC)
        except FileNotFoundError:
            modified = None
        beats.append(Beat(heartbeat, modified))
    return beats


def judge(beat: Beat, ctx: ProbeContext) -> Finding | None:
    """Pure: a finding when the beat is missing or older than its max_age at ``ctx.at``."""
    entity = Entity(kind="service", name=beat.heartbeat.name, attributes={"path": beat.heartbeat.path})
    if beat.modified is None:
        return ctx.finding(
            kind="heartbeat_missing",
            severity=Severity.CRITICAL,
            title=f"Heartbeat file of {beat.heartbeat.name} is missing",
            entity=entity,
            queries=[f"stat {beat.heartbeat.path}"],
            next_steps=[f"ls -l {os.path.dirname(beat.heartbeat.path)}"],
        )
    age = ctx.at - beat.modified
    if age <= beat.heartbeat.max_age:
        return None
    return ctx.finding(
        kind="heartbeat_stale",
        severity=Severity.CRITICAL,
        title=f"{beat.heartbeat.name} last beat {age.total_seconds() / 3600:.1f} h ago",
        entity=entity,
        values=[
            Measurement(name="age", value=age.total_seconds(), unit="s"),
            Measurement(name="max age", value=beat.heartbeat.max_age.total_seconds(), unit="s"),
        ],
        queries=[f"stat {beat.heartbeat.path}"],
        onset=beat.modified + beat.heartbeat.max_age,
        next_steps=[f"journalctl -u {beat.heartbeat.name} --since '{beat.modified:%Y-%m-%d %H:%M}'"],
    )


class HeartbeatProbe(Probe):
    id = "example.heartbeat"
    checklist_item = ChecklistItem.LOGS
    description = "Batch-job heartbeat files: missing or older than their max_age"
    backend_section = HEARTBEATS

    def run(self, ctx: ProbeContext) -> Iterable[Finding]:
        for beat in read_beats(ctx.backend):
            finding = judge(beat, ctx)
            if finding is not None:
                yield finding
