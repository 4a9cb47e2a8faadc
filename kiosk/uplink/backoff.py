"""Back-off after a failed request: a small pure class on the injected clock.

Kept here rather than taken from a retry library, because those sleep; the uplink's rooms
never sleep, they return how long to wait, so that a test crosses an hour of outages by
advancing a fake clock.
"""

from __future__ import annotations

import math
import random

BACKOFF_MIN_S = 1.0
BACKOFF_MAX_S = 300.0


class Backoff:
    """Exponential back-off with full jitter between *min_s* and *max_s* (the contract's
    1 s up to 5 min), or at least a server's ``Retry-After``.

    :param clock: anything with ``monotonic()``, in seconds.
    :param rng: the jitter's random source (seed it in tests).
    """

    def __init__(
        self,
        clock,
        rng: random.Random | None = None,
        *,
        min_s: float = BACKOFF_MIN_S,
        max_s: float = BACKOFF_MAX_S,
    ) -> None:
        self.clock = clock
        self.rng = rng or random.Random()
        self.min_s = min_s
        self.max_s = max_s
        self.failures = 0
        """Failures in a row."""
        self.retry_at = 0.0
        """Monotonic time before which nothing is sent."""
        self.asked_until = 0.0
        """Monotonic time before which the server asked not to be called (Retry-After)."""
        self.down_since: float | None = None
        """When the current run of failures began (None while it answers)."""

    def failed(self, retry_after: float | None = None) -> float:
        """Record a failure; return the seconds to wait before the next try."""
        now = self.clock.monotonic()
        self.failures += 1
        if retry_after is not None:
            delay = max(retry_after, self.min_s)
            self.asked_until = now + delay
        else:
            cap = min(self.max_s, self.min_s * 2 ** min(self.failures - 1, 30))
            delay = max(self.min_s, self.rng.uniform(0.0, cap))
        self.retry_at = now + delay
        if self.down_since is None:
            self.down_since = now
        return delay

    def succeeded(self) -> bool:
        """Record a success; True when it ends a run of failures."""
        was_down = self.failures > 0 or self.down_since is not None
        self.failures = 0
        self.retry_at = 0.0
        self.down_since = None
        return was_down

    def skip_wait(self) -> None:
        """Try at once (a person said the link is mended), but never before the server's own
        Retry-After; the failures still count towards the next delay."""
        self.retry_at = min(self.retry_at, self.asked_until)

    def wait(self) -> float:
        """Seconds left before the next try may go (0 when it may go now)."""
        return max(0.0, self.retry_at - self.clock.monotonic())

    def down_for(self) -> float:
        """Seconds since the failures began (0 while it answers)."""
        if self.down_since is None:
            return 0.0
        return self.clock.monotonic() - self.down_since


def retry_after(value: str | None) -> float | None:
    """Seconds of a ``Retry-After`` header (the contract uses seconds); None when absent or
    unreadable, so that the normal back-off applies."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None
