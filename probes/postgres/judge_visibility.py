"""Saying so when the probe's role cannot see other roles' sessions (no pg_monitor)."""

from __future__ import annotations

from collections.abc import Callable

from diagnostics import Entity, Finding, Measurement, Severity
from probes.postgres.quoting import quote_identifier
from probes.postgres.snapshot import ServerInfo

MakeFinding = Callable[..., Finding]


def grant_hint(server: ServerInfo) -> str:
    """The GRANT that lets the probe's role see every session."""
    return f"GRANT pg_monitor TO {quote_identifier(server.user)};"


def judge_visibility(server: ServerInfo, hidden: int, make: MakeFinding, entity: Entity) -> list[Finding]:
    """An info finding when other roles' sessions read ``<insufficient privilege>``."""
    if server.can_read_all_stats or hidden == 0:
        return []
    return [
        make(
            kind="limited_visibility",
            severity=Severity.INFO,
            title=f"{hidden} sessions of other roles are hidden from role {server.user}",
            entity=entity,
            summary=(
                f"Role {server.user} lacks pg_monitor: other roles' queries read <insufficient privilege> "
                "and their state and lock waits are not visible, so problems they cause can go unreported."
            ),
            values=[Measurement(name="hidden sessions", value=hidden, unit="count")],
            queries=["probes/postgres/sql/hidden_sessions.sql"],
            next_steps=[grant_hint(server)],
        )
    ]
