"""Judging replication: standbys' lag, slots retaining WAL, this server as a standby (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from diagnostics import Entity, Finding, Measurement, Severity
from diagnostics.units import format_bytes, format_duration
from probes.postgres.judge_visibility import MakeFinding, grant_hint
from probes.postgres.quoting import quote_literal
from probes.postgres.snapshot import Replica, ReplicationSnapshot, ServerInfo, Slot, StandbyStatus

UNSAFE_WAL_STATUS = ("unreserved", "lost")


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplicationThresholds:
    """db.replication's thresholds in plain numbers (sizes in bytes)."""

    lag_warning_s: float
    lag_critical_s: float
    lag_bytes_warning: int
    lag_bytes_critical: int
    slot_retained_warning: int
    slot_retained_critical: int


def judge_replication(
    snapshot: ReplicationSnapshot, limits: ReplicationThresholds, make: MakeFinding, entity: Entity
) -> list[Finding]:
    """Standbys' lag, inactive slots, this server as a standby, and what the role cannot see."""
    findings = [judge_replica(r, limits, make, entity) for r in snapshot.replicas]
    findings += [judge_slot(s, limits, make, entity) for s in snapshot.slots]
    if snapshot.standby is not None:
        findings += judge_standby(snapshot.standby, snapshot.server, limits, make, entity)
    findings.append(judge_replication_visibility(snapshot, make, entity))
    return [f for f in findings if f is not None]


def judge_replication_visibility(
    snapshot: ReplicationSnapshot, make: MakeFinding, entity: Entity
) -> Finding | None:
    """Without pg_read_all_stats pg_stat_replication and pg_stat_wal_receiver show only pids:
    lag and the WAL receiver's status read NULL, which must not pass for "no lag" or "down"."""
    server = snapshot.server
    if server.can_read_all_stats or (not snapshot.replicas and snapshot.standby is None):
        return None
    views = [
        view
        for view, present in (
            ("pg_stat_replication", bool(snapshot.replicas)),
            ("pg_stat_wal_receiver", snapshot.standby is not None),
        )
        if present
    ]
    return make(
        kind="limited_visibility",
        severity=Severity.INFO,
        title=f"Replication status is hidden from role {server.user}",
        entity=entity,
        summary=(
            f"Role {server.user} lacks pg_monitor: {' and '.join(views)} show it only process ids, so "
            "what they say (standbys' lag, the WAL receiver's status) cannot be judged."
        ),
        values=[Measurement(name="standbys seen", value=len(snapshot.replicas), unit="count")],
        queries=[f"probes/postgres/sql/{'standby' if snapshot.standby else 'replicas'}.sql"],
        next_steps=[grant_hint(server)],
        key="replication",
    )


def _lag_severity(seconds: float, size: int, limits: ReplicationThresholds) -> Severity | None:
    if seconds >= limits.lag_critical_s or size >= limits.lag_bytes_critical:
        return Severity.CRITICAL
    if seconds >= limits.lag_warning_s or size >= limits.lag_bytes_warning:
        return Severity.WARNING
    return None


def judge_replica(
    replica: Replica, limits: ReplicationThresholds, make: MakeFinding, entity: Entity
) -> Finding | None:
    """A standby replaying behind this server by more than the thresholds."""
    size = replica.replay_lag_bytes or 0
    # replay_lag is NULL once a standby has caught up and the primary is idle
    seconds = replica.replay_lag_s if replica.replay_lag_s is not None else 0.0
    severity = _lag_severity(seconds, size, limits)
    if severity is None:
        return None
    where = f" ({replica.client})" if replica.client else ""
    return make(
        kind="replication_lag",
        severity=severity,
        title=f"Standby {replica.name}{where} replays {format_bytes(size)} / {format_duration(seconds)} behind",
        entity=entity,
        summary=f"State {replica.state}, {replica.sync_state}: reads from it are stale by that much.",
        values=[
            Measurement(name="replay lag", value=round(seconds, 3), unit="s"),
            Measurement(name="replay lag size", value=size, unit="bytes"),
        ],
        queries=["probes/postgres/sql/replicas.sql: pg_stat_replication"],
        details={
            "standby": replica.name,
            "client": replica.client,
            "state": replica.state,
            "sync_state": replica.sync_state,
        },
        next_steps=[
            "On the standby: check its I/O and CPU, and long queries holding back replay (max_standby_streaming_delay)."
        ],
    )


def judge_slot(
    slot: Slot, limits: ReplicationThresholds, make: MakeFinding, entity: Entity
) -> Finding | None:
    """An inactive slot retaining WAL over the thresholds (or with an unsafe wal_status)."""
    if slot.active:
        return None
    retained = slot.retained_bytes or 0
    if slot.wal_status == "lost" or retained >= limits.slot_retained_critical:
        severity = Severity.CRITICAL
    elif slot.wal_status in UNSAFE_WAL_STATUS or retained >= limits.slot_retained_warning:
        severity = Severity.WARNING
    else:
        return None
    status = f", wal_status {slot.wal_status}" if slot.wal_status else ""
    return make(
        kind="inactive_replication_slot",
        severity=severity,
        title=f"Inactive {slot.slot_type} replication slot {slot.name} retains {format_bytes(retained)} of WAL{status}",
        entity=entity,
        summary=(
            "Nothing consumes the slot, so the server keeps every WAL segment since its restart_lsn "
            "(the disk fills) and its xmin holds back vacuum."
        ),
        values=[
            Measurement(name="retained WAL", value=retained, unit="bytes"),
            Measurement(name="slot xmin age", value=slot.xmin_age, unit="count"),
        ],
        queries=["probes/postgres/sql/slots.sql: pg_replication_slots"],
        details={
            "slot": slot.name,
            "slot_type": slot.slot_type,
            "database": slot.database,
            "wal_status": slot.wal_status,
        },
        next_steps=[
            "Find the consumer of the slot (a standby, Debezium, a logical subscriber) and restart it.",
            f"SELECT pg_drop_replication_slot({quote_literal(slot.name)});  -- only once its consumer is gone for good",
        ],
    )


def judge_standby(
    standby: StandbyStatus,
    server: ServerInfo,
    limits: ReplicationThresholds,
    make: MakeFinding,
    entity: Entity,
) -> list[Finding]:
    """This server as a standby: its WAL receiver down (when visible), or replay behind."""
    # without pg_read_all_stats the receiver's status reads NULL even while it streams
    if standby.receiver_status != "streaming" and server.can_read_all_stats:
        status = standby.receiver_status or "not running"
        return [
            make(
                kind="wal_receiver_down",
                severity=Severity.CRITICAL,
                title=f"Standby is not receiving WAL from its primary (WAL receiver {status})",
                entity=entity,
                summary="The standby falls further behind until its WAL receiver reconnects.",
                values=[Measurement(name="replay backlog", value=standby.replay_backlog_bytes, unit="bytes")],
                queries=["probes/postgres/sql/standby.sql: pg_stat_wal_receiver"],
                details={"sender": standby.sender, "receiver_status": standby.receiver_status},
                next_steps=[
                    "Check primary_conninfo, the primary's pg_hba.conf and the network; read the standby's log."
                ],
            )
        ]
    seconds = standby.replay_delay_s or 0.0
    size = standby.replay_backlog_bytes or 0
    severity = _lag_severity(seconds, size, limits)
    if severity is None:
        return []
    return [
        make(
            kind="standby_replay_lag",
            severity=severity,
            title=f"This standby replays {format_duration(seconds)} behind its primary ({format_bytes(size)} received, not replayed)",
            entity=entity,
            values=[
                Measurement(name="replay delay", value=round(seconds, 3), unit="s"),
                Measurement(name="replay backlog", value=size, unit="bytes"),
            ],
            queries=[
                "probes/postgres/sql/standby.sql: pg_last_wal_receive_lsn(), pg_last_xact_replay_timestamp()"
            ],
            details={"sender": standby.sender},
            next_steps=["Look for long queries on the standby conflicting with replay, and its I/O."],
        )
    ]
