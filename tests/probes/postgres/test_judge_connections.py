"""Connection judging with plain values: saturation, idle transactions, PgBouncer pools."""

from __future__ import annotations

from diagnostics import Severity
from probes.postgres.judge_connections import ConnectionThresholds, judge_connections, judge_exhausted
from probes.postgres.snapshot import ConnectionsSnapshot, PoolStats
from tests.probes.postgres.factories import ENTITY, make_finding, server, session

LIMITS = ConnectionThresholds(
    used_warning=0.8,
    used_critical=0.95,
    idle_in_transaction_warning_s=30,
    idle_in_transaction_critical_s=300,
    pool_wait_warning_s=1,
    pool_wait_critical_s=10,
    top=5,
)


def judge(sessions: list, pools: tuple[PoolStats, ...] | None = None, **server_changes: object) -> list:  # type: ignore[type-arg]
    snap = ConnectionsSnapshot(server=server(**server_changes), sessions=tuple(sessions), pools=pools)
    return judge_connections(snap, LIMITS, make_finding, ENTITY)


def test_below_eighty_percent_is_silent() -> None:
    assert judge([session(p, state="idle") for p in range(77)]) == []  # 77 of 97 usable


def test_usable_excludes_reserved_slots() -> None:
    [warning] = judge([session(p, state="idle") for p in range(78)])  # 78 of 97 = 80 %
    [critical] = judge([session(p, state="idle") for p in range(90)], reserved=3)  # 16+: 90 of 94

    assert (
        warning.severity is Severity.WARNING and warning.title == "78 of 97 usable connections in use (80 %)"
    )
    assert (
        critical.severity is Severity.CRITICAL
        and critical.title == "90 of 94 usable connections in use (96 %)"
    )


def test_breakdown_by_application_state_user_client() -> None:
    sessions = [
        session(p, state="idle in transaction", application="billing", state_age_s=1) for p in range(70)
    ]
    sessions += [session(p, state="active", application="web", client=None) for p in range(70, 90)]
    [finding] = judge(sessions)

    details = finding.evidence.details
    assert details["by_application"][0] == {
        "name": "billing",
        "sessions": 70,
        "states": {"idle in transaction": 70},
    }
    assert details["by_client"][1] == {"name": "local", "sessions": 20, "states": {"active": 20}}
    assert details["by_state"] == {"idle in transaction": 70, "active": 20}
    assert (
        finding.summary
        == "7 connection slots left for ordinary roles. Application billing holds 70 (70 idle in transaction)."
    )


def test_idle_in_transaction_over_threshold_warns_and_names_the_application() -> None:
    sessions = [session(1, state="idle in transaction", state_age_s=45, application="billing")]
    sessions += [session(2, state="idle in transaction", state_age_s=5, application="web")]
    [finding] = judge(sessions)

    assert finding.kind == "idle_in_transaction" and finding.severity is Severity.WARNING
    assert finding.title == "1 session idle in transaction for 45s, 1 from application billing"
    assert [s["pid"] for s in finding.evidence.details["sessions"]] == [1]


def test_suggested_sql_quotes_client_chosen_names() -> None:
    hostile = [
        session(p, state="idle in transaction", state_age_s=45, application="x' OR true OR '", user='we"ird')
        for p in range(3)
    ]
    [finding] = judge(hostile)

    terminate, _, alter = finding.next_steps
    assert "AND application_name = 'x'' OR true OR ''' AND" in terminate
    assert alter == 'ALTER ROLE "we""ird" SET idle_in_transaction_session_timeout = \'60s\';'


def test_sessions_without_application_name_are_matched_as_empty() -> None:
    [finding] = judge([session(1, state="idle in transaction", state_age_s=45, application="")])

    assert finding.title.endswith(", 1 from application (none)")
    assert "AND application_name = '' AND" in finding.next_steps[0]


def test_idle_in_transaction_for_five_minutes_is_critical() -> None:
    [finding] = judge([session(1, state="idle in transaction (aborted)", state_age_s=301)])

    assert finding.severity is Severity.CRITICAL


def test_pgbouncer_waiting_clients() -> None:
    def pool(waiting: int, wait_s: float, database: str = "orders") -> PoolStats:
        return PoolStats(
            database=database, user="app", clients_active=20, clients_waiting=waiting,
            servers_active=20, servers_idle=0, max_wait_s=wait_s, pool_mode="transaction",
        )  # fmt: skip

    findings = judge(
        [], pools=(pool(12, 3.2), pool(3, 12), pool(0, 0), pool(4, 0.5), pool(9, 60, "pgbouncer"))
    )

    assert [(f.severity, f.title) for f in findings] == [
        (Severity.WARNING, "12 clients waiting in PgBouncer pool orders/app for up to 3.2s"),
        (Severity.CRITICAL, "3 clients waiting in PgBouncer pool orders/app for up to 12s"),
    ]


def test_unreadable_pgbouncer_is_a_warning() -> None:
    snap = ConnectionsSnapshot(
        server=server(), sessions=(), pgbouncer_error="cannot connect to pgb:6432/pgbouncer: refused"
    )
    [finding] = judge_connections(snap, LIMITS, make_finding, ENTITY)

    assert finding.kind == "pgbouncer_unreachable" and finding.severity is Severity.WARNING


def test_exhausted_is_critical_with_the_server_message() -> None:
    finding = judge_exhausted("sorry, too many clients already", make_finding, ENTITY, "db:5432/orders")

    assert finding.severity is Severity.CRITICAL
    assert finding.title == "Connections refused: sorry, too many clients already"
    assert finding.evidence.details == {"server_message": "sorry, too many clients already"}
