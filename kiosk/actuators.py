"""Gate outputs on gpiozero: the relay that opens the gate, and optional lamps and buzzer.

The gate fails shut: every output is created off (``initial_value=False`` spelled out), a
pulse is clamped to ``max_open_s``, and :class:`Relay` closes itself from its own timer thread,
so a lane thread that hangs or dies cannot leave the gate open. Closing twice is safe and
leaves the relay off. gpiozero's own cleanup runs at interpreter exit, not on SIGTERM or
SIGKILL: the daemon turns the relay off on SIGTERM; after SIGKILL the pin is released and the
pull-down resistor on the relay input (see README, wiring) keeps the relay off.
"""

from __future__ import annotations

import threading

from gpiozero import OutputDevice

from kiosk.threads import Worker


class Relay:
    """The gate relay.

    :param pin: BCM GPIO number.
    :param active_high: True when the relay closes on a high level.
    :param max_open_s: hard ceiling on how long the relay may stay energised, in seconds.
    :param clock: a clock with ``monotonic()``.
    :param pin_factory: gpiozero pin factory (``MockFactory`` in tests and the demo).
    """

    def __init__(self, pin: int, *, active_high: bool, max_open_s: float, clock, pin_factory=None):
        self.max_open_s = max_open_s
        self.clock = clock
        # Re-entrant: a signal handler may turn the relay off while the main thread holds it.
        self._lock = threading.RLock()
        self._close_at: float | None = None
        self._opened_at: float | None = None
        self._closed_at: float | None = None  # when the last pulse ended (monotonic)
        self._device = OutputDevice(
            pin, active_high=active_high, initial_value=False, pin_factory=pin_factory
        )
        self._pin = self._device.pin
        #: The timer thread that ends pulses and enforces ``max_open_s`` (see :meth:`start`).
        self.timer = Worker("relay-timer", 0.01, step=self.tick)

    @property
    def pin(self):
        """The gpiozero pin object (a ``MockPin`` in tests); kept after :meth:`close`."""
        return self._pin

    @property
    def is_open(self) -> bool:
        """True while the relay is energised."""
        with self._lock:
            return not self._device.closed and bool(self._device.value)

    def opened_within(self, seconds: float) -> bool:
        """True when the relay is open now or closed less than *seconds* ago."""
        with self._lock:
            if self.is_open:
                return True
            closed = self._closed_at
        return closed is not None and self.clock.monotonic() - closed <= seconds

    @property
    def alive(self) -> bool:
        """True while the timer thread that enforces ``max_open_s`` runs."""
        return self.timer.alive

    def pulse(self, seconds: float) -> float:
        """Energise the relay for *seconds* (clamped to ``max_open_s``); returns the duration.

        A pulse while already open extends the open time, never beyond ``max_open_s`` from
        the moment it first opened.
        """
        now = self.clock.monotonic()
        with self._lock:
            if self._device.closed:
                return 0.0
            if self._opened_at is None:
                self._opened_at = now
            ceiling = self._opened_at + self.max_open_s
            self._close_at = min(now + max(0.0, seconds), ceiling)
            self._device.on()
            return self._close_at - now

    def tick(self) -> None:
        """Turn the relay off when its pulse or ``max_open_s`` is over. Cheap; call often."""
        now = self.clock.monotonic()
        with self._lock:
            if self._close_at is None:
                return
            overdue = self._opened_at is not None and now - self._opened_at >= self.max_open_s
            if now >= self._close_at or overdue:
                self._off_locked()

    def off(self) -> None:
        """Turn the relay off now."""
        with self._lock:
            self._off_locked()

    def _off_locked(self) -> None:
        if self._opened_at is not None:
            self._closed_at = self.clock.monotonic()
        self._close_at = None
        self._opened_at = None
        if not self._device.closed:
            self._device.off()

    # -- the timer thread (outside the lane thread) ----------------------------------------

    def start(self, interval: float = 0.01) -> None:
        """Start the thread that ends pulses and enforces ``max_open_s``, every *interval*
        seconds."""
        self.timer.interval = interval
        self.timer.start()

    def close(self) -> None:
        """Turn the relay off, stop the timer and release the pin. Safe to call twice.

        :raises StopTimeout: the timer did not stop within a second (the relay is off
            and its pin released all the same).
        """
        self.timer.stopping.set()
        with self._lock:
            self._off_locked()
            self._device.close()
        self.timer.stop(1.0)


class Indicator:
    """An optional lamp or buzzer on a pin; does nothing when *pin* is None."""

    def __init__(self, pin: int | None, *, pin_factory=None) -> None:
        self._device = (
            None
            if pin is None
            else OutputDevice(pin, active_high=True, initial_value=False, pin_factory=pin_factory)
        )

    @property
    def is_on(self) -> bool:
        """True while the lamp or buzzer is on (never without a pin)."""
        return self._device is not None and not self._device.closed and bool(self._device.value)

    def set(self, on: bool) -> None:
        if self._device is not None and not self._device.closed:
            self._device.value = bool(on)

    def close(self) -> None:
        if self._device is not None:
            self._device.close()
