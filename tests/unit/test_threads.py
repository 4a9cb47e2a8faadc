"""The one thread shape: a step per turn, failures logged and survived, settle() to wait on
the thread itself, and a stop that complains when the thread outlives its join."""

from __future__ import annotations

import threading

import pytest

from kiosk.errors import KioskError, StopTimeout
from kiosk.threads import PollThread, Worker


def test_worker_runs_a_step_each_turn_and_settles_after_a_whole_turn():
    calls: list[int] = []
    worker = Worker("counting", 0.001, step=lambda: calls.append(1))
    worker.start()
    try:
        assert worker.settle()
        seen = len(calls)
        assert seen >= 1
        assert worker.settle()
        assert len(calls) > seen
    finally:
        worker.stop()
    assert not worker.alive
    assert worker.settle(5.0) is False  # no turn will come


def test_worker_goes_on_after_a_failed_step():
    turns: list[int] = []

    def step():
        turns.append(1)
        if len(turns) == 1:
            raise ValueError("one bad sample")

    worker = Worker("flaky", 0.001, step=step)
    worker.start()
    try:
        assert worker.settle() and worker.settle()
        assert len(turns) >= 2 and worker.alive
    finally:
        worker.stop()


def test_worker_that_outlives_its_join_raises_a_zombie_thread_error():
    entered, release = threading.Event(), threading.Event()

    def stuck():
        entered.set()
        release.wait(30.0)

    worker = Worker("stuck", 0.001, step=stuck)
    worker.start()
    assert entered.wait(5.0)
    with pytest.raises(StopTimeout, match=r"stuck thread did not stop within 0\.1 s") as err:
        worker.stop(0.1)
    assert isinstance(err.value, KioskError) and isinstance(err.value, RuntimeError)
    release.set()
    worker.stop()
    assert not worker.alive


def test_poll_thread_hands_items_to_the_sink_and_counts_failures():
    got: list[int] = []
    polls = iter([[1, 2], ValueError("unreadable frame"), [3]])

    def poll():
        item = next(polls, [])
        if isinstance(item, Exception):
            raise item
        return item

    thread = PollThread("poller", poll, got.append, 0.001)
    thread.start()
    try:
        for _ in range(4):
            assert thread.settle()
    finally:
        thread.stop()
    assert got == [1, 2, 3]
    assert thread.errors == 1
