"""Is the system clock synchronised? The rules record it in every decision and warn the guard.

A Pi has no real-time clock: after a power cut it starts from the last saved time until NTP
answers, and pass validity windows are judged on that clock. Linux keeps the answer in the
kernel: ``adjtimex()`` returns ``TIME_ERROR`` while the clock is unsynchronised (this is what
``timedatectl show -p NTPSynchronized`` reports). :class:`TimeSync` asks at most every
``interval_s`` seconds on the injected clock; the probe is injectable for tests and the
simulator.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import subprocess
from collections.abc import Callable

log = logging.getLogger(__name__)

#: ``adjtimex`` return value of an unsynchronised clock (``<sys/timex.h>``).
TIME_ERROR = 5
#: Bytes enough for ``struct timex`` on every Linux ABI (it is 208 on 64-bit).
_TIMEX_BYTES = 512


def adjtimex_probe() -> bool | None:
    """True/False from the kernel's clock state; None when it cannot be asked (not Linux)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        buffer = ctypes.create_string_buffer(_TIMEX_BYTES)  # modes = 0: read only
        state = libc.adjtimex(buffer)
    except (OSError, AttributeError):
        return None
    if state < 0:
        return None
    return state != TIME_ERROR


def timedatectl_probe(timeout_s: float = 2.0) -> bool | None:
    """``timedatectl show -p NTPSynchronized --value``: True/False, None when unavailable."""
    try:
        result = subprocess.run(
            ["timedatectl", "show", "-p", "NTPSynchronized", "--value"],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    answer = result.stdout.strip()
    if result.returncode != 0 or answer not in ("yes", "no"):
        return None
    return answer == "yes"


PROBES: dict[str, Callable[[], bool | None]] = {
    "adjtimex": adjtimex_probe,
    "timedatectl": timedatectl_probe,
    "off": lambda: True,
}


class TimeSync:
    """The clock's synchronisation, asked of *probe* at most every *interval_s* seconds.

    :param probe: ``() -> bool | None`` (None: unknown); never expected to raise, but an
        exception counts as unknown.
    :param clock: the injected clock (only ``monotonic()`` is used).
    """

    def __init__(self, probe: Callable[[], bool | None], clock, interval_s: float = 60.0):
        self.probe = probe
        self.clock = clock
        self.interval_s = interval_s
        self._checked: float | None = None
        self._value: bool | None = None

    @classmethod
    def from_settings(cls, rules, clock) -> TimeSync:
        """The check ``[rules] clock_check`` names."""
        return cls(PROBES[rules.clock_check], clock, rules.clock_check_s)

    def synchronised(self) -> bool | None:
        """True, False, or None when unknown (cached for ``interval_s``)."""
        now = self.clock.monotonic()
        if self._checked is None or now - self._checked >= self.interval_s:
            try:
                self._value = self.probe()
            except Exception:
                log.exception("clock check failed")
                self._value = None
            self._checked = now
        return self._value

    def set(self, value: bool | None) -> None:
        """Force the answer (the simulator's "clock not synchronised" switch)."""
        self.probe = lambda: value
        self._checked = None
