"""The one shape every kiosk thread has (after gpiozero's ``GPIOThread``).

A daemon thread with a ``stopping`` event, a loop of ``while not stopping.wait(interval)``,
and a ``stop(timeout)`` that complains when the thread outlives it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable

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
