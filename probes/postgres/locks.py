"""``db.locks``: sessions waiting on locks, as blocking trees with their root blockers.

Signals: pg_stat_activity of sessions waiting on a heavyweight lock (wait_event_type 'Lock'),
pg_blocking_pids() for each of them (hard and queue-order blockers; pid 0 is a prepared
transaction), pg_locks for the awaited lock and, from 14, its waitstart (before 14 the wait is
measured from query_start), pg_prepared_xacts, pg_stat_database.deadlocks.

Default thresholds, per blocking tree (a root blocker and everyone waiting behind it):

- a wait >= 10 s: warning; >= 60 s, or >= 10 sessions in the tree: critical;
- deadlocks: warning when measurable: their growth over ``sample_interval`` (default 0: off,
  one snapshot only) or every counted deadlock when the statistics were reset inside the window.
  A session's counters reach pg_stat_database when it goes idle, up to 10 s later on 15+ (at
  once when it disconnects): a short sample can miss the latest deadlock.

The findings name the root blocker's pid, user, application, client, state, transaction age
and query, and give ``pg_cancel_backend`` / ``pg_terminate_backend`` for it.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from diagnostics import Duration, Finding, ProbeContext, ProbeOptions
from probes.postgres.base import PostgresProbe
from probes.postgres.config import PostgresTarget, database_entity


class LocksOptions(ProbeOptions):
    """Thresholds of ``db.locks``."""

    wait_warning: Duration = timedelta(seconds=10)
    """Sessions waiting this long behind one root blocker make a warning."""
    wait_critical: Duration = timedelta(seconds=60)
    """Sessions waiting this long behind one root blocker make a critical finding."""
    wide_tree: int = Field(10, ge=1)
    """Sessions waiting behind one root that make the tree critical whatever the wait."""
    max_trees: int = Field(5, ge=1, le=50)
    """Blocking trees reported, the most severe first (every tree is judged)."""
    sample_interval: Duration = timedelta(0)
    """Sample pg_stat_database.deadlocks twice this far apart (0: a single snapshot)."""


class LocksProbe(PostgresProbe):
    """``db.locks``: blocking trees and their root blockers, recent deadlocks."""

    id = "db.locks"
    description = "PostgreSQL lock contention: blocking trees, their root blockers, deadlocks"
    options_model = LocksOptions

    def check(self, ctx: ProbeContext[LocksOptions], target: PostgresTarget, label: str) -> list[Finding]:
        from probes.postgres.client import (
            deadlock_counter,
            read_database_counters,
            read_hidden_sessions,
            read_lock_waits,
            read_prepared,
            read_server,
        )
        from probes.postgres.client_session import open_session, sample_pause
        from probes.postgres.judge_locks import LockThresholds, judge_locks
        from probes.postgres.snapshot import LocksSnapshot

        options = ctx.options
        with open_session(target.dsn, label, ctx) as conn:
            server = read_server(conn, label)
            first = read_database_counters(conn)
            sessions = read_lock_waits(conn, server)
            prepared = read_prepared(conn) if any(0 in s.blocked_by for s in sessions) else ()
            hidden = 0 if server.can_read_all_stats else read_hidden_sessions(conn)
            second, slept = None, 0.0
            if options.sample_interval.total_seconds() > 0:
                slept = sample_pause(conn, options.sample_interval.total_seconds(), ctx)
                second = read_database_counters(conn)
        snapshot = LocksSnapshot(
            server=server,
            sessions=sessions,
            prepared=prepared,
            deadlocks=deadlock_counter(first, second, slept),
            hidden_sessions=hidden,
        )
        limits = LockThresholds(
            wait_warning_s=options.wait_warning.total_seconds(),
            wait_critical_s=options.wait_critical.total_seconds(),
            wide_tree=options.wide_tree,
            max_trees=options.max_trees,
        )
        return judge_locks(
            snapshot, limits, ctx.finding, database_entity(target, label), window_start=ctx.start
        )
