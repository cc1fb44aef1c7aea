"""Checking many dependencies at once, never more than ``concurrency`` at a time.

A sweep of 500 endpoints must not open 500 sockets: a fixed number of daemon worker threads
take the entries one by one. Daemon threads (not ``concurrent.futures``, whose workers are
joined at interpreter exit) so that a check hung in a blocking call can never keep ``diag``
alive past its deadline; entries no worker started before the deadline come back as None.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from diagnostics import ProbeContext

Item = TypeVar("Item")
Result = TypeVar("Result")
Target = TypeVar("Target")

DEADLINE_RESERVE_S = 0.5
"""Kept back from the probe's deadline: half for checks finishing their last call, half to judge."""


def checks_deadline(ctx: ProbeContext) -> tuple[float, float]:
    """Monotonic times: no call may start or outlast the first; results are awaited until the second."""
    reserve = min(DEADLINE_RESERVE_S, ctx.remaining() / 5)
    return ctx.deadline - reserve, ctx.deadline - reserve / 2


def run_bounded(
    items: Sequence[Item],
    work: Callable[[Item], Result],
    *,
    concurrency: int,
    deadline: float,
    wait_until: float | None = None,
    name: str = "diag-deps",
) -> list[Result | None]:
    """``work(item)`` for every item on at most ``concurrency`` threads, in the items' order.

    ``deadline`` and ``wait_until`` are ``time.monotonic()`` values: no item is started after
    the deadline, and results are awaited until ``wait_until`` (default: the deadline), which
    leaves a started ``work`` the time to notice its own timeout. An exception raised by
    ``work`` is a bug, not a finding: it is re-raised here.
    """
    results: list[Result | None] = [None] * len(items)
    failures: list[BaseException] = []
    lock = threading.Lock()
    position = iter(range(len(items)))

    def worker() -> None:
        while time.monotonic() < deadline and not failures:
            with lock:
                index = next(position, None)
            if index is None:
                return
            try:
                results[index] = work(items[index])
            except BaseException as exc:  # handed to the caller below
                failures.append(exc)
                return

    threads = [
        threading.Thread(target=worker, name=f"{name}-{n}", daemon=True)
        for n in range(max(1, min(concurrency, len(items))))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=max(0.0, (wait_until or deadline) - time.monotonic()))
    if failures:
        raise failures[0]
    return list(results)  # a snapshot: an abandoned worker may still write into ``results``


def sweep_attempts(
    targets: Sequence[Target],
    attempt: Callable[[Target, int], Result | None],
    *,
    attempts: Callable[[Target], int],
    concurrency: int,
    deadline: float,
    wait_until: float,
    name: str,
) -> list[list[Result]]:
    """Every target's attempts, round by round: all first attempts, then all second ones...

    Round by round rather than target by target: a target's attempts are spread over the
    sweep instead of taken back to back, and a slow target's last attempt does not start at
    the very end of the sweep (its three in a row would set the wall time). ``attempt`` gets
    the target and the attempt's number and returns None for an attempt that was not made.
    """
    rounds = max((attempts(t) for t in targets), default=0)
    items = [
        (index, number) for number in range(rounds) for index, t in enumerate(targets) if number < attempts(t)
    ]
    results = run_bounded(
        items,
        lambda item: attempt(targets[item[0]], item[1]),
        concurrency=concurrency,
        deadline=deadline,
        wait_until=wait_until,
        name=name,
    )
    made: list[list[Result]] = [[] for _ in targets]
    for (index, _), result in zip(items, results, strict=True):
        if result is not None:
            made[index].append(result)
    return made
