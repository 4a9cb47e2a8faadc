"""The one shape every kiosk thread has (after gpiozero's ``GPIOThread``).

A daemon thread with a ``stopping`` event, a loop of ``while not stopping.wait(interval)``,
and a ``stop(timeout)`` that complains when the thread outlives it. :class:`PollThread` waits
a fixed interval; :class:`StepThread` waits as long as its step asks, and can be woken.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable

from kiosk.errors import StopTimeout

log = logging.getLogger(__name__)


class PollThread:
    """Calls *poll* every *interval* seconds and hands each item it returns to *sink*.

    An exception from *poll* is logged and the loop goes on: a source must not die of one bad
    frame or sample.
    """

    def __init__(
        self,
        name: str,
        poll: Callable[[], Iterable],
        sink: Callable[[object], None],
        interval: float,
    ) -> None:
        self.name = name
        self.poll = poll
        self.sink = sink
        self.interval = interval
        self.stopping = threading.Event()
        self.errors = 0
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self.stopping.wait(self.interval):
            try:
                for item in self.poll():
                    self.sink(item)
            except Exception:
                self.errors += 1
                log.exception("%s: poll failed", self.name)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float = 2.0) -> None:
        self.stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.error("%s thread did not stop within %.1f s", self.name, timeout)


class StepThread:
    """Calls *step* until stopped; *step* returns the seconds to wait before the next call.

    :meth:`wake` (thread-safe, never blocks) cuts the current wait short; :meth:`stop`
    wakes the thread too. An exception from *step* is logged and the loop goes on after
    *error_wait* seconds.
    """

    def __init__(self, name: str, step: Callable[[], float], *, error_wait: float = 10.0) -> None:
        self.name = name
        self.step = step
        self.error_wait = error_wait
        self.stopping = threading.Event()
        self.errors = 0
        self._woken = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.alive:
            raise RuntimeError(f"{self.name} thread is already running")
        self.stopping.clear()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._woken.set()

    def _wait(self, seconds: float) -> bool:
        """Wait up to *seconds*, cut short by :meth:`wake` or :meth:`stop`; True when
        stopping."""
        self._woken.wait(seconds)
        self._woken.clear()
        return self.stopping.is_set()

    def _run(self) -> None:
        wait = 0.0
        while not self._wait(wait):
            try:
                wait = self.step()
            except Exception:
                self.errors += 1
                log.exception("%s: step failed", self.name)
                wait = self.error_wait

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop and join the thread.

        :raises StopTimeout: it is still running after *timeout* seconds.
        """
        self.stopping.set()
        self._woken.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                raise StopTimeout(f"{self.name} thread did not stop within {timeout:g} s")
            self._thread = None
