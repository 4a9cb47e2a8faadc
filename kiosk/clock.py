"""Clocks: the only place kiosk reads time from.

Every component takes a clock, so a test or a simulation can run a day of a lane in
milliseconds with :class:`FakeClock`, while the daemon uses :class:`SystemClock`.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta, timezone


class SystemClock:
    """Wall clock with the machine's local offset, and the monotonic clock."""

    def monotonic(self) -> float:
        """Seconds from an arbitrary origin; never goes backwards."""
        return time.monotonic()

    def now(self) -> datetime:
        """Wall-clock time, timezone-aware, in the machine's local offset."""
        return datetime.now(UTC).astimezone()


class FakeClock:
    """A clock that moves only when told to.

    :param start: wall-clock time at monotonic 0; must be timezone-aware.
    """

    def __init__(self, start: datetime | None = None) -> None:
        if start is None:
            start = datetime(2020, 2, 4, 7, 30, tzinfo=timezone(timedelta(hours=8)))
        if start.tzinfo is None:
            raise ValueError("FakeClock needs a timezone-aware start time")
        self._start = start
        self._t = 0.0
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        with self._lock:
            return self._t

    def now(self) -> datetime:
        with self._lock:
            return self._start + timedelta(seconds=self._t)

    def advance(self, seconds: float) -> None:
        """Move both clocks forward by *seconds* (>= 0)."""
        if seconds < 0:
            raise ValueError("time does not go backwards")
        with self._lock:
            self._t += seconds

    def set(self, t: float) -> None:
        """Move to monotonic time *t* (not before the current time)."""
        self.advance(t - self.monotonic())


def aware_time(value: str | datetime | None) -> datetime | None:
    """*value* (ISO 8601 text such as an event's ``ts``, or a datetime) as a timezone-aware
    datetime; ``None`` when it is not one (no offset, not a time). Never raises."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, datetime) or value.tzinfo is None:
        return None
    return value
