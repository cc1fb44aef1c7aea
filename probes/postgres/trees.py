"""Blocking trees: who waits behind whom, built from ``pg_blocking_pids()`` (pure)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from probes.postgres.snapshot import Session

PREPARED_TRANSACTION_PID = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Waiter:
    """A session waiting (directly or further down) behind a tree's root."""

    session: Session
    depth: int
    """1: blocked by the root itself; 2: behind a session that is blocked by it; ..."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockingTree:
    """A root blocker and every session waiting behind it, each counted once."""

    root_pid: int
    root: Session | None
    """None for a prepared transaction (pid 0) or a blocker that ended meanwhile."""
    waiters: tuple[Waiter, ...]
    cycle: bool = False
    """The root waits too: a deadlock the detector has not broken yet."""

    @property
    def max_wait_s(self) -> float:
        """The longest wait in the tree (0 when unknown)."""
        return max((w.session.wait_s or 0.0 for w in self.waiters), default=0.0)

    @property
    def depth(self) -> int:
        """How many sessions deep the longest chain of waiters goes."""
        return max((w.depth for w in self.waiters), default=0)

    @property
    def first_wait(self) -> datetime | None:
        """When the earliest wait began."""
        starts = [w.session.wait_started for w in self.waiters if w.session.wait_started is not None]
        return min(starts, default=None)

    @property
    def prepared(self) -> bool:
        """The root is a prepared transaction (pid 0)."""
        return self.root_pid == PREPARED_TRANSACTION_PID


def blocking_trees(sessions: Iterable[Session]) -> list[BlockingTree]:
    """One tree per root blocker, widest and longest-waiting first.

    A root is a blocker that does not wait on a lock itself. A session blocked by several
    sessions (hard and queue-order blockers) appears in the tree of each root it waits behind,
    once per tree. Sessions that only wait on each other (a lock cycle) form a tree rooted at
    the lowest pid of the cycle; sessions waiting behind the cycle are that tree's waiters.
    """
    by_pid = {s.pid: s for s in sessions}
    waiting = {pid: s for pid, s in by_pid.items() if s.blocked_by}
    blocks: dict[int, list[int]] = defaultdict(list)
    for pid, session in sorted(waiting.items()):
        for blocker in dict.fromkeys(session.blocked_by):
            if blocker != pid:
                blocks[blocker].append(pid)

    def walk(root: int) -> list[Waiter]:
        seen = {root}
        found: list[Waiter] = []
        level, depth = [root], 1
        while level:
            following = []
            for blocker in level:
                for pid in blocks.get(blocker, ()):
                    if pid not in seen:
                        seen.add(pid)
                        found.append(Waiter(session=waiting[pid], depth=depth))
                        following.append(pid)
            level, depth = following, depth + 1
        return found

    trees = []
    reached: set[int] = set()
    for root in sorted(pid for pid in blocks if pid not in waiting):
        waiters = walk(root)
        reached.update(w.session.pid for w in waiters)
        trees.append(BlockingTree(root_pid=root, root=by_pid.get(root), waiters=tuple(waiters)))
    leftover = {pid for pid in waiting if pid not in reached}
    # only a pid on a cycle can root one: those merely waiting behind a cycle are its waiters
    candidates = sorted(on_cycle(leftover, waiting)) + sorted(leftover)
    for root in candidates:
        if root not in leftover:
            continue
        waiters = walk(root)
        leftover -= {root, *(w.session.pid for w in waiters)}
        trees.append(BlockingTree(root_pid=root, root=by_pid[root], waiters=tuple(waiters), cycle=True))
    return sorted(trees, key=lambda t: (len(t.waiters), t.max_wait_s), reverse=True)


def on_cycle(pids: set[int], waiting: dict[int, Session]) -> set[int]:
    """The pids among ``pids`` that wait, through their blockers, on themselves."""

    def reaches_itself(start: int) -> bool:
        seen: set[int] = set()
        stack = [b for b in waiting[start].blocked_by if b != start]
        while stack:
            pid = stack.pop()
            if pid == start:
                return True
            if pid in seen or pid not in waiting:
                continue
            seen.add(pid)
            stack.extend(waiting[pid].blocked_by)
        return False

    return {pid for pid in pids if reaches_itself(pid)}


def root_blockers(sessions: Iterable[Session]) -> dict[int, int]:
    """Each waiting session's pid -> the root pid of the widest tree it waits in."""
    roots: dict[int, int] = {}
    for tree in blocking_trees(sessions):
        for waiter in tree.waiters:
            roots.setdefault(waiter.session.pid, tree.root_pid)
    return roots
