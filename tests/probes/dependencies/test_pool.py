"""The bounded pool: never more than ``concurrency`` at once, order kept, deadline honoured."""

from __future__ import annotations

import threading
import time

import pytest

from probes.dependencies.pool import run_bounded


def test_never_more_than_concurrency_at_once_and_order_is_kept() -> None:
    lock = threading.Lock()
    running = peak = 0

    def work(item: int) -> int:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.005)
        with lock:
            running -= 1
        return item * 2

    results = run_bounded(list(range(100)), work, concurrency=8, deadline=time.monotonic() + 10)
    assert results == [n * 2 for n in range(100)]
    assert 2 <= peak <= 8


def test_items_not_started_by_the_deadline_come_back_as_none() -> None:
    began = time.monotonic()
    results = run_bounded(
        [0.5, 0.5, 0.5, 0.5],
        lambda s: time.sleep(s) or s,
        concurrency=1,
        deadline=began + 0.75,  # the second item starts at 0.5 s, the third would at 1.0 s
        wait_until=began + 1.25,  # ... and the second ends at 1.0 s
    )  # a quarter of a second either side of each moment: a loaded machine keeps the order
    assert results == [0.5, 0.5, None, None]
    assert time.monotonic() - began < 1.5


def test_a_started_item_still_running_at_wait_until_comes_back_as_none() -> None:
    began = time.monotonic()
    results = run_bounded([0.1, 3.0], lambda s: time.sleep(s) or s, concurrency=2, deadline=began + 0.4)
    assert results == [0.1, None]
    assert time.monotonic() - began < 1.5


def test_a_bug_in_the_work_is_raised_not_swallowed() -> None:
    def work(item: int) -> int:
        raise ZeroDivisionError(item)

    with pytest.raises(ZeroDivisionError):
        run_bounded([1, 2, 3], work, concurrency=2, deadline=time.monotonic() + 5)


def test_no_items_start_no_threads() -> None:
    before = threading.active_count()
    assert run_bounded([], lambda x: x, concurrency=32, deadline=time.monotonic() + 1) == []
    assert threading.active_count() == before
