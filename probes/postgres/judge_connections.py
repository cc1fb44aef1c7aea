"""Judging connection use: saturation, idle-in-transaction sessions, PgBouncer queues (pure)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from diagnostics import Entity, Finding, Measurement, Severity
from diagnostics.units import format_duration
from probes.postgres.judge_visibility import MakeFinding
from probes.postgres.quoting import quote_identifier, quote_literal
from probes.postgres.snapshot import ConnectionsSnapshot, PoolStats, Session

IDLE_IN_TRANSACTION = ("idle in transaction", "idle in transaction (aborted)")
SESSIONS_QUERY = "probes/postgres/sql/sessions.sql: pg_stat_activity (client backends)"
MAX_LISTED_SESSIONS = 20


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionThresholds:
    """db.connections' thresholds in plain numbers."""

    used_warning: float
    used_critical: float
    idle_in_transaction_warning_s: float
    idle_in_transaction_critical_s: float
    pool_wait_warning_s: float
    pool_wait_critical_s: float
    top: int


def breakdown(
    sessions: Iterable[Session], key: Callable[[Session], str | None], top: int
) -> list[dict[str, object]]:
    """Sessions counted by ``key`` (most first), each with its states."""
    groups: dict[str, Counter[str]] = {}
    for session in sessions:
        label = key(session) or "(none)"
        groups.setdefault(label, Counter())[session.state or "hidden"] += 1
    ranked = sorted(groups.items(), key=lambda item: sum(item[1].values()), reverse=True)[:top]
    return [
        {"name": name, "sessions": sum(states.values()), "states": dict(states)} for name, states in ranked
    ]


def judge_connections(
    snapshot: ConnectionsSnapshot, limits: ConnectionThresholds, make: MakeFinding, entity: Entity
) -> list[Finding]:
    """Saturation, idle transactions and PgBouncer queues."""
    return [
        *judge_saturation(snapshot, limits, make, entity),
        *judge_idle_in_transaction(snapshot, limits, make, entity),
        *judge_pools(snapshot, limits, make, entity),
    ]


def judge_saturation(
    snapshot: ConnectionsSnapshot, limits: ConnectionThresholds, make: MakeFinding, entity: Entity
) -> list[Finding]:
    """Used connections as a share of the usable ones, with who holds them."""
    server, sessions = snapshot.server, snapshot.sessions
    used, usable = len(sessions), server.usable_connections
    share = used / usable
    if share >= limits.used_critical:
        severity = Severity.CRITICAL
    elif share >= limits.used_warning:
        severity = Severity.WARNING
    else:
        return []
    by_application = breakdown(sessions, lambda s: s.application, limits.top)
    idle_in_transaction = sum(1 for s in sessions if s.state in IDLE_IN_TRANSACTION)
    leader = by_application[0] if by_application else None
    summary = f"{usable - used} connection slots left for ordinary roles."
    if leader is not None:
        states = leader["states"]
        assert isinstance(states, dict)
        held = ", ".join(f"{count} {state}" for state, count in states.items())
        summary += f" Application {leader['name']} holds {leader['sessions']} ({held})."
    return [
        make(
            kind="connection_saturation",
            severity=severity,
            title=f"{used} of {usable} usable connections in use ({share * 100:.0f} %)",
            entity=entity,
            summary=summary,
            values=[
                Measurement(name="connections used", value=used, unit="count"),
                Measurement(name="usable connections", value=usable, unit="count"),
                Measurement(name="used", value=round(share * 100, 1), unit="%"),
                Measurement(name="max_connections", value=server.max_connections, unit="count"),
                Measurement(name="reserved", value=server.superuser_reserved + server.reserved, unit="count"),
                Measurement(name="idle in transaction", value=idle_in_transaction, unit="count"),
            ],
            queries=[SESSIONS_QUERY],
            details={
                "by_state": dict(Counter(s.state or "hidden" for s in sessions).most_common()),
                "by_application": by_application,
                "by_user": breakdown(sessions, lambda s: s.user, limits.top),
                "by_client": breakdown(sessions, lambda s: s.client or "local", limits.top),
            },
            next_steps=[
                "SELECT application_name, usename, client_addr, state, count(*) FROM pg_stat_activity "
                "GROUP BY 1, 2, 3, 4 ORDER BY 5 DESC LIMIT 20;",
                "Check the pool sizes of the leading applications (and put PgBouncer in front if none).",
            ],
        )
    ]


def judge_idle_in_transaction(
    snapshot: ConnectionsSnapshot, limits: ConnectionThresholds, make: MakeFinding, entity: Entity
) -> list[Finding]:
    """Sessions idle in transaction over the threshold, and the application most of them are from."""
    idle = sorted(
        (
            s
            for s in snapshot.sessions
            if s.state in IDLE_IN_TRANSACTION
            and (s.state_age_s or 0.0) >= limits.idle_in_transaction_warning_s
        ),
        key=lambda s: s.state_age_s or 0.0,
        reverse=True,
    )
    if not idle:
        return []
    usable = snapshot.server.usable_connections
    longest = idle[0].state_age_s or 0.0
    pool_share = len(idle) / usable
    critical = longest >= limits.idle_in_transaction_critical_s or pool_share >= limits.used_warning
    by_application = breakdown(idle, lambda s: s.application, limits.top)
    leader = by_application[0]
    title = f"{len(idle)} sessions idle in transaction for up to {format_duration(longest)}"
    if len(idle) == 1:
        title = f"1 session idle in transaction for {format_duration(longest)}"
    title += f", {leader['sessions']} from application {leader['name']}"
    starts = [s.state_since for s in idle if s.state_since is not None]
    # the breakdown shows an empty name as "(none)": the statement needs the name itself
    application = Counter(s.application for s in idle).most_common(1)[0][0]
    users = Counter(s.user for s in idle if s.user)
    role = quote_identifier(users.most_common(1)[0][0]) if users else "<role>"
    return [
        make(
            kind="idle_in_transaction",
            severity=Severity.CRITICAL if critical else Severity.WARNING,
            title=title,
            entity=entity,
            summary=(
                f"Open transactions doing nothing hold their locks and snapshots (vacuum cannot clean "
                f"behind them) and take {pool_share * 100:.0f} % of the {usable} usable connections."
            ),
            values=[
                Measurement(name="idle in transaction", value=len(idle), unit="count"),
                Measurement(name="longest idle", value=round(longest, 3), unit="s"),
                Measurement(name="share of usable connections", value=round(pool_share * 100, 1), unit="%"),
            ],
            queries=[SESSIONS_QUERY],
            details={
                "by_application": by_application,
                "sessions": [
                    {**s.describe(), "idle_s": round(s.state_age_s or 0.0, 3)}
                    for s in idle[:MAX_LISTED_SESSIONS]
                ],
            },
            onset=min(starts, default=None),
            next_steps=[
                terminate_idle_statement(application, limits.idle_in_transaction_warning_s),
                "Find the code path that opens a transaction and neither commits nor rolls back "
                "(the sessions' last query shows where).",
                f"ALTER ROLE {role} SET idle_in_transaction_session_timeout = '60s';",
            ],
        )
    ]


def terminate_idle_statement(application: str, idle_s: float) -> str:
    """The statement that ends ``application``'s sessions idle in transaction longer than
    ``idle_s``, the client-chosen name quoted as a SQL literal."""
    return (
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE state IN ('idle in transaction', 'idle in transaction (aborted)') "
        f"AND application_name = {quote_literal(application)} "
        f"AND state_change < clock_timestamp() - interval '{idle_s:g} seconds';"
    )


def judge_pools(
    snapshot: ConnectionsSnapshot, limits: ConnectionThresholds, make: MakeFinding, entity: Entity
) -> list[Finding]:
    """PgBouncer pools with clients waiting, or an unreadable admin console."""
    findings = []
    if snapshot.pgbouncer_error is not None:
        findings.append(
            make(
                kind="pgbouncer_unreachable",
                severity=Severity.WARNING,
                title=f"PgBouncer admin console not readable: {snapshot.pgbouncer_error}",
                entity=entity,
                queries=["SHOW POOLS"],
                next_steps=["Check the pgbouncer_dsn user is in PgBouncer's stats_users or admin_users."],
            )
        )
    for pool in snapshot.pools or ():
        finding = judge_pool(pool, limits, make, entity)
        if finding is not None:
            findings.append(finding)
    return findings


def judge_pool(
    pool: PoolStats, limits: ConnectionThresholds, make: MakeFinding, entity: Entity
) -> Finding | None:
    """One pool whose clients wait longer than the threshold (the admin database excluded)."""
    if pool.clients_waiting <= 0 or pool.database == "pgbouncer":
        return None
    if pool.max_wait_s >= limits.pool_wait_critical_s:
        severity = Severity.CRITICAL
    elif pool.max_wait_s >= limits.pool_wait_warning_s:
        severity = Severity.WARNING
    else:
        return None
    return make(
        kind="pgbouncer_clients_waiting",
        severity=severity,
        title=(
            f"{pool.clients_waiting} clients waiting in PgBouncer pool {pool.database}/{pool.user} "
            f"for up to {format_duration(pool.max_wait_s)}"
        ),
        entity=entity,
        summary=(
            f"All {pool.servers_active} server connections of the pool are busy "
            f"({pool.servers_idle} idle); clients queue in PgBouncer before reaching PostgreSQL."
        ),
        values=[
            Measurement(name="clients waiting", value=pool.clients_waiting, unit="count"),
            Measurement(name="longest client wait", value=round(pool.max_wait_s, 3), unit="s"),
            Measurement(name="clients active", value=pool.clients_active, unit="count"),
            Measurement(name="server connections active", value=pool.servers_active, unit="count"),
        ],
        queries=["SHOW POOLS"],
        details={"pool_mode": pool.pool_mode},
        next_steps=[
            "SHOW POOLS; SHOW CLIENTS;  -- on the PgBouncer admin console",
            "Look for slow queries or lock waits holding the server connections (db.locks, db.queries).",
        ],
    )


def judge_exhausted(reason: str, make: MakeFinding, entity: Entity, label: str) -> Finding:
    """The server refused the probe's connection: the slots are all taken."""
    return make(
        kind="connections_exhausted",
        severity=Severity.CRITICAL,
        title=f"Connections refused: {reason}",
        entity=entity,
        summary=(
            f"{label} refuses new connections: every slot an ordinary role may take is in use, so "
            "applications get the same error. Only superusers (reserved slots) can still look inside."
        ),
        values=[Measurement(name="connection refused", value=True)],
        queries=["connect"],
        details={"server_message": reason},
        next_steps=[
            'psql -U postgres -c "SELECT application_name, usename, client_addr, state, count(*) '
            'FROM pg_stat_activity GROUP BY 1, 2, 3, 4 ORDER BY 5 DESC LIMIT 20"  # a superuser slot',
            "Terminate idle-in-transaction sessions of the leading application, or restart it.",
        ],
    )
