"""Live updates for the guard screen: a publish/subscribe hub that never blocks a publisher.

Publishers (the lane thread, the journal) call :meth:`Hub.publish`; each subscriber (one per
open guard screen) has a bounded queue. A slow subscriber loses its oldest messages, never
slows the gate (Mopidy's listeners ``tell()``, never ``ask()``). A listener
(:meth:`Hub.listen`) is called in the publisher's thread and must only hand the message on
(the guard screen's server schedules it on its event loop).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


class Subscription:
    def __init__(self, hub: Hub, maxsize: int) -> None:
        self._hub = hub
        self.queue: queue.Queue = queue.Queue(maxsize)
        self.dropped = 0

    def get(self, timeout: float) -> tuple[str, Any] | None:
        """The next ``(kind, payload)``, or None after *timeout* seconds."""
        try:
            return self.queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> None:
        self._hub._remove(self)


class Hub:
    def __init__(self) -> None:
        self._subs: list[Subscription] = []
        self._listeners: list[Callable[[str, Any], None]] = []
        self._lock = threading.Lock()
        self.closed = threading.Event()

    def subscribe(self, maxsize: int = 256) -> Subscription:
        sub = Subscription(self, maxsize)
        with self._lock:
            self._subs.append(sub)
        return sub

    def listen(self, callback: Callable[[str, Any], None]) -> Callable[[], None]:
        """Call ``callback(kind, payload)`` at every publish, in the publisher's thread; it
        must not block. Returns the function that stops it."""
        with self._lock:
            self._listeners.append(callback)

        def stop() -> None:
            with self._lock:
                if callback in self._listeners:
                    self._listeners.remove(callback)

        return stop

    def _remove(self, sub: Subscription) -> None:
        with self._lock:
            if sub in self._subs:
                self._subs.remove(sub)

    @property
    def listeners(self) -> int:
        with self._lock:
            return len(self._listeners)

    @property
    def subscribers(self) -> int:
        with self._lock:
            return len(self._subs)

    def publish(self, kind: str, payload: Any) -> None:
        """Send ``(kind, payload)`` to every subscriber without blocking."""
        with self._lock:
            subs = list(self._subs)
            listeners = list(self._listeners)
        for callback in listeners:
            try:
                callback(kind, payload)
            except Exception:  # a listener's fault never reaches the gate
                log.exception("live-update listener failed")
        for sub in subs:
            while True:
                try:
                    sub.queue.put_nowait((kind, payload))
                    break
                except queue.Full:
                    try:
                        sub.queue.get_nowait()
                        sub.dropped += 1
                    except queue.Empty:  # pragma: no cover - raced with the reader
                        pass

    def close(self) -> None:
        """Tell every subscriber stream to end."""
        self.closed.set()
        self.publish("bye", None)
