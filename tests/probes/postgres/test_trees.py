"""blocking_trees() with plain sessions: fan-out, chains, shared waiters, cycles, prepared xacts."""

from __future__ import annotations

from probes.postgres.trees import blocking_trees
from tests.probes.postgres.factories import session


def shape(tree_waiters: object) -> dict[int, int]:
    return {w.session.pid: w.depth for w in tree_waiters}  # type: ignore[attr-defined]


def test_root_with_two_direct_waiters() -> None:
    [tree] = blocking_trees(
        [
            session(10, state="idle in transaction"),
            session(11, blocked_by=(10,), wait_s=5),
            session(12, blocked_by=(10,), wait_s=7),
        ]
    )

    assert tree.root_pid == 10 and tree.root is not None and tree.root.state == "idle in transaction"
    assert shape(tree.waiters) == {11: 1, 12: 1}
    assert tree.max_wait_s == 7 and tree.depth == 1 and not tree.cycle


def test_chain_counts_depth() -> None:
    [tree] = blocking_trees(
        [session(1), session(2, blocked_by=(1,), wait_s=3), session(3, blocked_by=(2,), wait_s=1)]
    )

    assert tree.root_pid == 1
    assert shape(tree.waiters) == {2: 1, 3: 2}
    assert tree.first_wait == session(2, wait_s=3).wait_started


def test_waiter_behind_two_roots_appears_once_in_each_tree() -> None:
    sessions = [
        session(1),
        session(2),
        session(3, blocked_by=(1, 2), wait_s=4),  # a hard blocker and a queue-order (soft) one
        session(4, blocked_by=(3, 1, 1), wait_s=2),
    ]

    trees = {t.root_pid: t for t in blocking_trees(sessions)}

    assert set(trees) == {1, 2}
    assert shape(trees[1].waiters) == {3: 1, 4: 1}
    assert shape(trees[2].waiters) == {3: 1, 4: 2}


def test_prepared_transaction_is_root_zero() -> None:
    [tree] = blocking_trees([session(5, blocked_by=(0,), wait_s=9)])

    assert tree.prepared and tree.root is None and shape(tree.waiters) == {5: 1}


def test_cycle_without_root_is_reported_once() -> None:
    [tree] = blocking_trees([session(7, blocked_by=(8,), wait_s=1), session(8, blocked_by=(7,), wait_s=1)])

    assert tree.cycle and tree.root_pid == 7 and shape(tree.waiters) == {8: 1}


def test_waiter_behind_a_cycle_with_a_lower_pid_is_a_waiter_not_a_root() -> None:
    trees = blocking_trees(
        [
            session(10, blocked_by=(11,), wait_s=3),
            session(11, blocked_by=(10,), wait_s=3),
            session(5, blocked_by=(10,), wait_s=1),
        ]
    )

    [tree] = trees
    assert tree.cycle and tree.root_pid == 10
    assert shape(tree.waiters) == {11: 1, 5: 1}


def test_two_cycles_each_with_a_tail_make_two_trees() -> None:
    trees = blocking_trees(
        [
            session(10, blocked_by=(11,), wait_s=3),
            session(11, blocked_by=(10,), wait_s=3),
            session(2, blocked_by=(10,), wait_s=1),
            session(1, blocked_by=(2,), wait_s=1),
            session(30, blocked_by=(31,), wait_s=2),
            session(31, blocked_by=(30,), wait_s=2),
            session(3, blocked_by=(31,), wait_s=1),
        ]
    )

    assert {t.root_pid: shape(t.waiters) for t in trees} == {10: {11: 1, 2: 1, 1: 2}, 30: {31: 1, 3: 2}}
    assert all(t.cycle for t in trees)


def test_widest_tree_first_and_no_waits_no_trees() -> None:
    sessions = [
        session(1),
        session(2, blocked_by=(1,), wait_s=1),
        session(3),
        session(4, blocked_by=(3,), wait_s=1),
        session(5, blocked_by=(3,), wait_s=1),
    ]

    assert [t.root_pid for t in blocking_trees(sessions)] == [3, 1]
    assert blocking_trees([session(1), session(2)]) == []
