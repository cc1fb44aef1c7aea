"""Judging lock contention: blocking trees and deadlocks into findings (pure)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from diagnostics import Entity, Finding, Measurement, Severity
from diagnostics.model import fingerprint_of
from diagnostics.units import format_duration
from probes.postgres.client_session import APPLICATION_NAME
from probes.postgres.judge_visibility import MakeFinding, grant_hint, judge_visibility
from probes.postgres.quoting import quote_literal
from probes.postgres.snapshot import LocksSnapshot, PreparedTransaction, Session
from probes.postgres.trees import PREPARED_TRANSACTION_PID, BlockingTree, blocking_trees

LOCK_QUERY = "probes/postgres/sql/lock_waits.sql: pg_stat_activity, pg_blocking_pids(), pg_locks"
MAX_LISTED_WAITERS = 20
LOCKS_PROBE_ID = "db.locks"
LOCK_TREE_KIND = "lock_blocking"


def lock_tree_key(root_pid: int) -> str:
    """The key of the finding about the tree rooted at ``root_pid``."""
    return f"pid {root_pid}"


def lock_tree_fingerprint(entity: Entity, root_pid: int) -> str:
    """The fingerprint db.locks gives the tree rooted at ``root_pid`` on ``entity`` (other
    probes link their symptoms of that tree to it)."""
    return fingerprint_of(LOCKS_PROBE_ID, LOCK_TREE_KIND, entity.kind, entity.name, lock_tree_key(root_pid))


@dataclass(frozen=True, slots=True, kw_only=True)
class LockThresholds:
    """db.locks' thresholds in plain numbers."""

    wait_warning_s: float
    wait_critical_s: float
    wide_tree: int
    max_trees: int


def judge_locks(
    snapshot: LocksSnapshot,
    limits: LockThresholds,
    make: MakeFinding,
    entity: Entity,
    *,
    window_start: datetime,
) -> list[Finding]:
    """Every blocking tree judged, the most severe ``max_trees`` reported; deadlocks; visibility.

    Trees are cut only after judging, so a narrow tree with a critical wait is never dropped
    for wider ones that wait briefly.
    """
    trees = without_diag_waiters(blocking_trees(snapshot.sessions))
    judged = [(severity, tree) for tree in trees if (severity := tree_severity(tree, limits)) is not None]
    judged.sort(key=lambda pair: (pair[0], pair[1].max_wait_s, len(pair[1].waiters)), reverse=True)
    kept, left_out = judged[: limits.max_trees], len(judged) - limits.max_trees
    findings = [
        judge_tree(
            tree,
            snapshot,
            make,
            entity,
            severity=severity,
            trees_total=len(trees),
            not_reported=max(0, left_out),
            say_so=index == len(kept) - 1,  # the last (least severe) finding names the rest
        )
        for index, (severity, tree) in enumerate(kept)
    ]
    findings += judge_deadlocks(snapshot, make, entity, window_start=window_start)
    findings += judge_visibility(snapshot.server, snapshot.hidden_sessions, make, entity)
    return findings


def without_diag_waiters(trees: list[BlockingTree]) -> list[BlockingTree]:
    """The trees without diag's own sessions among the waiters (diag never reports itself; a
    diag session queued in a chain still links the sessions behind it to the root)."""
    kept = []
    for tree in trees:
        waiters = tuple(w for w in tree.waiters if w.session.application != APPLICATION_NAME)
        if waiters:
            kept.append(replace(tree, waiters=waiters))
    return kept


def tree_severity(tree: BlockingTree, limits: LockThresholds) -> Severity | None:
    """Critical for a long wait or a wide tree, warning for a wait over the warning, else None."""
    if tree.max_wait_s >= limits.wait_critical_s or len(tree.waiters) >= limits.wide_tree:
        return Severity.CRITICAL
    if tree.max_wait_s >= limits.wait_warning_s:
        return Severity.WARNING
    return None


def _root_phrase(tree: BlockingTree) -> str:
    root = tree.root
    if tree.prepared:
        return "a prepared transaction"
    if root is None:
        return f"pid {tree.root_pid} (ended since)"
    parts = []
    if root.state is not None:
        age = root.state_age_s if root.state.startswith("idle") else root.xact_age_s
        parts.append(f"{root.state} {format_duration(age)}" if age is not None else root.state)
    if root.application:
        parts.append(f"application {root.application}")
    suffix = f" ({', '.join(parts)})" if parts else ""
    return f"pid {tree.root_pid}{suffix}"


def awaited_prepared(
    tree: BlockingTree, prepared: tuple[PreparedTransaction, ...]
) -> list[PreparedTransaction]:
    """The prepared transactions the tree's waiters queue behind: their awaited transactionid
    (pg_locks) is the prepared transaction's xid. Empty when none matches (a waiter on a
    relation lock, say): then no gid is named."""
    awaited = {
        w.session.lock.transaction_id
        for w in tree.waiters
        if PREPARED_TRANSACTION_PID in w.session.blocked_by and w.session.lock is not None
    }
    return [p for p in prepared if p.xid in awaited]


def _root_summary(tree: BlockingTree, snapshot: LocksSnapshot) -> str:
    root = tree.root
    if tree.prepared:
        matched = awaited_prepared(tree, snapshot.prepared)
        if matched:
            names = ", ".join(p.gid for p in matched)
            return f"The root blocker is a prepared transaction (pg_prepared_xacts gid {names}); no session holds it."
        return (
            f"The root blocker is one of the {len(snapshot.prepared)} prepared transactions "
            "(pg_prepared_xacts); no session holds it."
        )
    if root is None:
        return f"The root blocker pid {tree.root_pid} was no longer in pg_stat_activity."
    who = ", ".join(
        f"{label} {value}"
        for label, value in (("user", root.user), ("application", root.application), ("client", root.client))
        if value
    )
    text = f"Root blocker pid {root.pid}" + (f" ({who})" if who else "")
    if root.state is not None:
        text += f" is {root.state}"
    if root.xact_age_s is not None:
        text += f", its transaction open for {format_duration(root.xact_age_s)}"
    if not root.visible:
        text += (
            f". Its query is hidden (<insufficient privilege>): the probe's role lacks pg_monitor "
            f"({grant_hint(snapshot.server)})."
        )
    elif root.query:
        verb = "last ran" if (root.state or "").startswith("idle") else "runs"
        text += f"; it {verb}: {root.query}"
    if tree.cycle:
        text += " It waits itself, in a cycle: a deadlock the detector has not broken yet."
    return text


def _next_steps(tree: BlockingTree, prepared: tuple[PreparedTransaction, ...]) -> list[str]:
    if tree.prepared:
        steps = ["SELECT gid, prepared, owner, database FROM pg_prepared_xacts ORDER BY prepared;"]
        steps += [
            f"ROLLBACK PREPARED {quote_literal(p.gid)};  -- or COMMIT PREPARED, once its owner agrees"
            for p in awaited_prepared(tree, prepared)
        ]
        return steps
    pid = tree.root_pid
    idle = tree.root is not None and (tree.root.state or "").startswith("idle")
    inspect = f"SELECT pid, usename, application_name, state, xact_start, query FROM pg_stat_activity WHERE pid = {pid};"
    cancel = f"SELECT pg_cancel_backend({pid});  -- cancels its running query, the session stays"
    terminate = f"SELECT pg_terminate_backend({pid});  -- ends the session and rolls back its transaction"
    if idle:
        return [inspect, terminate + " (an idle transaction has no query to cancel)"]
    return [inspect, cancel, terminate]


def _waiter_detail(session: Session, depth: int) -> dict[str, object]:
    detail = session.describe()
    detail.update(
        waiting_s=round(session.wait_s, 3) if session.wait_s is not None else None,
        depth=depth,
        blocked_by=list(session.blocked_by),
        lock=(
            {
                "locktype": session.lock.locktype,
                "mode": session.lock.mode,
                "relation": session.lock.relation,
                "transaction_id": session.lock.transaction_id,
            }
            if session.lock
            else None
        ),
    )
    return detail


def judge_tree(
    tree: BlockingTree,
    snapshot: LocksSnapshot,
    make: MakeFinding,
    entity: Entity,
    *,
    severity: Severity,
    trees_total: int,
    not_reported: int = 0,
    say_so: bool = False,
) -> Finding:
    """One blocking tree as a finding; with ``say_so`` its summary names the ``not_reported``
    trees over the thresholds that ``max_trees`` left out."""
    count = len(tree.waiters)
    noun = "session" if count == 1 else "sessions"
    title = f"{count} {noun} waiting up to {format_duration(tree.max_wait_s)} behind {_root_phrase(tree)}"
    if tree.cycle:
        title = f"Lock cycle: {title}"
    root = tree.root
    values = [
        Measurement(name="waiting sessions", value=count, unit="count"),
        Measurement(name="longest wait", value=round(tree.max_wait_s, 3), unit="s"),
        Measurement(name="tree depth", value=tree.depth, unit="count"),
    ]
    if root is not None and root.xact_age_s is not None:
        values.append(Measurement(name="root transaction age", value=round(root.xact_age_s, 3), unit="s"))
    root_detail: dict[str, object] = root.describe() if root is not None else {"pid": tree.root_pid}
    if tree.prepared:
        root_detail["prepared_transactions"] = [
            {"gid": p.gid, "xid": p.xid, "owner": p.owner, "database": p.database, "age_s": round(p.age_s, 3)}
            for p in awaited_prepared(tree, snapshot.prepared) or snapshot.prepared
        ]
    summary = _root_summary(tree, snapshot)
    if say_so and not_reported:
        summary += (
            f" {not_reported} more blocking tree{'s' if not_reported != 1 else ''} over the thresholds "
            "not reported (max_trees)."
        )
    return make(
        kind=LOCK_TREE_KIND,
        severity=severity,
        title=title,
        entity=entity,
        summary=summary,
        values=values,
        queries=[LOCK_QUERY],
        details={
            "root": root_detail,
            "waiters": [_waiter_detail(w.session, w.depth) for w in tree.waiters[:MAX_LISTED_WAITERS]],
            "cycle": tree.cycle,
            "trees_total": trees_total,
            "trees_not_reported": not_reported,
        },
        onset=tree.first_wait,
        next_steps=_next_steps(tree, snapshot.prepared),
        key=lock_tree_key(tree.root_pid),
    )


def judge_deadlocks(
    snapshot: LocksSnapshot, make: MakeFinding, entity: Entity, *, window_start: datetime
) -> list[Finding]:
    """Deadlocks where their recency is measurable: growth between two samples, or a
    statistics reset inside the window (then every counted deadlock is recent)."""
    counter = snapshot.deadlocks
    if counter.growth is not None and counter.interval_s is not None:
        recent, span = counter.growth, f"in the last {format_duration(counter.interval_s)}"
    elif counter.since is not None and counter.since >= window_start:
        recent, span = counter.total, f"since statistics were reset at {counter.since.isoformat()}"
    else:
        return []
    if recent <= 0:
        return []
    return [
        make(
            kind="deadlocks",
            severity=Severity.WARNING,
            title=f"{recent} deadlock{'s' if recent != 1 else ''} in database {snapshot.server.database} {span}",
            entity=entity,
            summary="PostgreSQL aborted transactions to break lock cycles; the server log has each cycle's queries.",
            values=[
                Measurement(name="deadlocks", value=recent, unit="count"),
                Measurement(name="deadlocks since reset", value=counter.total, unit="count"),
            ],
            queries=[
                "SELECT deadlocks, stats_reset FROM pg_stat_database WHERE datname = current_database()"
            ],
            next_steps=["grep -A5 'deadlock detected' in the PostgreSQL server log"],
        )
    ]
