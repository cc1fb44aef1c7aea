"""Replication judging with plain values."""

from __future__ import annotations

from diagnostics import Severity
from probes.postgres.judge_replication import ReplicationThresholds, judge_replication
from probes.postgres.snapshot import Replica, ReplicationSnapshot, Slot, StandbyStatus
from tests.probes.postgres.factories import ENTITY, make_finding, server

GIB = 1024**3
LIMITS = ReplicationThresholds(
    lag_warning_s=30, lag_critical_s=300, lag_bytes_warning=GIB, lag_bytes_critical=10 * GIB,
    slot_retained_warning=GIB, slot_retained_critical=10 * GIB,
)  # fmt: skip


def judge(
    replicas: tuple[Replica, ...] = (),
    slots: tuple[Slot, ...] = (),
    standby: StandbyStatus | None = None,
    *,
    can_read_all_stats: bool = True,
) -> list:  # type: ignore[type-arg]
    snap = ReplicationSnapshot(
        server=server(in_recovery=standby is not None, can_read_all_stats=can_read_all_stats),
        replicas=replicas,
        slots=slots,
        standby=standby,
    )
    return judge_replication(snap, LIMITS, make_finding, ENTITY)


def replica(lag_bytes: int | None, lag_s: float | None) -> Replica:
    return Replica(
        name="replica-1",
        client="10.0.0.9",
        state="streaming",
        sync_state="async",
        replay_lag_bytes=lag_bytes,
        replay_lag_s=lag_s,
    )


def slot(retained: int, *, active: bool = False, wal_status: str | None = "reserved") -> Slot:
    return Slot(
        name="debezium",
        slot_type="logical",
        active=active,
        database="orders",
        wal_status=wal_status,
        retained_bytes=retained,
        xmin_age=10,
    )


def test_no_replication_is_silent() -> None:
    assert judge() == []
    assert judge(replicas=(replica(0, None),), slots=(slot(10 * GIB, active=True),)) == []


def test_replica_lag_by_seconds_or_bytes() -> None:
    [by_time] = judge(replicas=(replica(1024, 45.0),))
    [by_size] = judge(replicas=(replica(11 * GIB, None),))

    assert by_time.severity is Severity.WARNING
    assert by_time.title == "Standby replica-1 (10.0.0.9) replays 1.0 KiB / 45s behind"
    assert by_size.severity is Severity.CRITICAL


def test_inactive_slot_thresholds_and_wal_status() -> None:
    [warning] = judge(slots=(slot(2 * GIB),))
    [lost] = judge(slots=(slot(0, wal_status="lost"),))

    assert warning.severity is Severity.WARNING
    assert (
        warning.title
        == "Inactive logical replication slot debezium retains 2.0 GiB of WAL, wal_status reserved"
    )
    assert lost.severity is Severity.CRITICAL
    assert judge(slots=(slot(1024),)) == []


def test_standby_receiver_down_and_replay_lag() -> None:
    [down] = judge(
        standby=StandbyStatus(
            receiver_status=None,
            sender=None,
            replay_backlog_bytes=0,
            replay_delay_s=0,
            receiver_silence_s=None,
        )
    )
    [lag] = judge(
        standby=StandbyStatus(
            receiver_status="streaming",
            sender="primary",
            replay_backlog_bytes=1024,
            replay_delay_s=400,
            receiver_silence_s=0.1,
        )
    )
    healthy = judge(
        standby=StandbyStatus(
            receiver_status="streaming",
            sender="primary",
            replay_backlog_bytes=0,
            replay_delay_s=0,
            receiver_silence_s=0.1,
        )
    )

    assert down.severity is Severity.CRITICAL and down.title.endswith("(WAL receiver not running)")
    assert (
        lag.severity is Severity.CRITICAL
        and lag.title == "This standby replays 6m40s behind its primary (1.0 KiB received, not replayed)"
    )
    assert healthy == []


def hidden_standby(backlog: int = 0, delay_s: float = 0) -> StandbyStatus:
    # what pg_stat_wal_receiver gives a role without pg_read_all_stats: the status reads NULL
    return StandbyStatus(
        receiver_status=None,
        sender=None,
        replay_backlog_bytes=backlog,
        replay_delay_s=delay_s,
        receiver_silence_s=None,
    )


def test_standby_read_without_pg_monitor_is_limited_visibility_not_receiver_down() -> None:
    [finding] = judge(standby=hidden_standby(), can_read_all_stats=False)

    assert finding.kind == "limited_visibility" and finding.severity is Severity.INFO
    assert finding.title == "Replication status is hidden from role diag"
    assert "pg_stat_wal_receiver" in finding.summary
    assert finding.next_steps == ('GRANT pg_monitor TO "diag";',)


def test_standby_lag_is_still_judged_without_pg_monitor() -> None:
    findings = judge(standby=hidden_standby(2 * GIB, 40), can_read_all_stats=False)

    assert [(f.kind, f.severity) for f in findings] == [
        ("standby_replay_lag", Severity.WARNING),
        ("limited_visibility", Severity.INFO),
    ]


def test_primary_without_pg_monitor_says_standby_lag_is_hidden() -> None:
    [finding] = judge(replicas=(replica(None, None),), can_read_all_stats=False)

    assert finding.kind == "limited_visibility" and "pg_stat_replication" in finding.summary


def test_slot_name_in_the_drop_statement_is_a_literal() -> None:
    [finding] = judge(slots=(slot(2 * GIB),))

    assert finding.next_steps[1].startswith("SELECT pg_drop_replication_slot('debezium');")
