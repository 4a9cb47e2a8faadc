"""The one shape every kiosk thread has (after gpiozero's ``GPIOThread``).

A :class:`Worker` is a daemon thread with a ``stopping`` event that runs turns: each turn waits
(by default ``stopping.wait(interval)``) and then does one :meth:`Worker.step`. An exception from
a step goes to :meth:`Worker.failed` and the loop goes on: a thread of the gate never dies of
one bad frame, sample or event. :meth:`Worker.stop` sets ``stopping`` and joins; a thread that
outlives the join raises :class:`~kiosk.errors.StopTimeout` (as gpiozero raises
``ZombieThread``).

:meth:`Worker.settle` returns once a whole turn has run after it was called: what the thread
does in a turn is then done, so a caller (a test, say) waits on the thread itself rather than
sleeping and looking.

The threads: :class:`PollThread` (a sensor or camera polled into the lane's queue),
:class:`StepThread` (a step that says how long to wait, and can be woken: the uplink's rooms),
:class:`kiosk.lane.LaneThread` (the lane, woken by its queue), the relay's timer
(:class:`kiosk.actuators.Relay`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable

from kiosk.errors import StopTimeout

log = logging.getLogger(__name__)


class Worker:
    """A daemon thread running :meth:`step` once per turn until :meth:`stop`.

    :param name: the thread's name (logs, ``ps -T``).
    :param interval: seconds each turn waits before its step.
    :param step: what a turn does, when not overridden by a subclass.
    """

    def __init__(self, name: str, interval: float, step: Callable[[], None] | None = None):
        self.name = name
        self.interval = interval
        self.stopping = threading.Event()
        if step is not None:
            self.step = step
        self._thread: threading.Thread | None = None
        self._turns = threading.Condition()
        self._begun = 0  # turns whose wait has begun
        self._done = 0  # the last turn finished
        self._ended = False

    def start(self) -> None:
        """Start the thread (again, after a stop).

        :raises RuntimeError: it is running already.
        """
        if self.alive:
            raise RuntimeError(f"{self.name} thread is already running")
        self.stopping.clear()
        with self._turns:
            self._ended = False
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while True:
                with self._turns:
                    self._begun += 1
                    turn = self._begun
                if self.wait():
                    break
                try:
                    self.step()
                except Exception as exc:
                    self.failed(exc)
                with self._turns:
                    self._done = turn
                    self._turns.notify_all()
        finally:
            with self._turns:
                self._ended = True
                self._turns.notify_all()

    def wait(self) -> bool:
        """Wait for the next turn; True when stopping."""
        return self.stopping.wait(self.interval)

    def step(self) -> None:
        """One turn's work."""
        raise NotImplementedError

    def failed(self, exc: Exception) -> None:
        """A step raised *exc*: log it (the loop goes on)."""
        log.exception("%s: step failed", self.name, exc_info=exc)

    def wake(self) -> None:
        """Cut the current wait short, where the thread's wait allows it."""

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def settle(self, timeout: float = 5.0) -> bool:
        """Wait until a whole turn that began after this call has run (its wait included);
        False when *timeout* seconds pass first or the thread ends."""
        with self._turns:
            target = self._begun + 1
            self._turns.wait_for(lambda: self._done >= target or self._ended, timeout)
            return self._done >= target

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the thread and wait up to *timeout* seconds for it (not from itself).

        :raises StopTimeout: the thread still runs after *timeout* seconds.
        """
        self.stopping.set()
        self.wake()
        thread = self._thread
        if thread is None or thread is threading.current_thread():
            return
        thread.join(timeout)
        if thread.is_alive():
            raise StopTimeout(f"{self.name} thread did not stop within {timeout:g} s")


class PollThread(Worker):
    """Calls *poll* every *interval* seconds and hands each item it returns to *sink*.

    An exception from *poll* is counted in :attr:`errors` and logged, and the loop goes on: a
    source must not die of one bad frame or sample.
    """

    def __init__(
        self,
        name: str,
        poll: Callable[[], Iterable],
        sink: Callable[[object], None],
        interval: float,
    ) -> None:
        super().__init__(name, interval)
        self.poll = poll
        self.sink = sink
        self.errors = 0

    def step(self) -> None:
        for item in self.poll():
            self.sink(item)

    def failed(self, exc: Exception) -> None:
        self.errors += 1
        log.error("%s: poll failed", self.name, exc_info=exc)


class StepThread(Worker):
    """Calls *step* until stopped; *step* returns the seconds to wait before the next call.

    :meth:`wake` (thread-safe, never blocks) cuts the current wait short; :meth:`stop`
    wakes the thread too. An exception from *step* is counted in :attr:`errors`, logged, and
    the loop goes on after *error_wait* seconds.
    """

    def __init__(self, name: str, step: Callable[[], float], *, error_wait: float = 10.0) -> None:
        super().__init__(name, 0.0)
        self.call = step
        self.error_wait = error_wait
        self.errors = 0
        self._woken = threading.Event()

    def wake(self) -> None:
        self._woken.set()

    def wait(self) -> bool:
        """Wait as long as the last step asked, cut short by :meth:`wake` or :meth:`stop`;
        True when stopping."""
        self._woken.wait(self.interval)
        self._woken.clear()
        return self.stopping.is_set()

    def step(self) -> None:
        self.interval = self.call()

    def failed(self, exc: Exception) -> None:
        self.errors += 1
        log.error("%s: step failed", self.name, exc_info=exc)
        self.interval = self.error_wait
