"""Where every hardware handle comes from: a provider, chosen once at the top and handed in.

A provider gives the kiosk, lane by lane, what its drivers need and nothing else:

``i2c(bus)``
    ``(bus, lock)``: one bus object per I2C bus (smbus2's ``SMBus`` on a Pi) and the one lock
    every device on that bus shares (:class:`~kiosk.sensors.mlx90614.MLX90614` takes it).
``pin_factory``
    The gpiozero pin factory for relays, buzzers and door inputs (``None``: gpiozero's own
    default, the Pi's GPIO).
``camera(lane, settings)``
    The lane's :class:`~kiosk.camera.capture.FrameSource`; nothing is opened yet.
``shelf_camera(settings)``
    The pickup shelf's :class:`~kiosk.camera.capture.FrameSource` (``[parcels]
    shelf_camera``, as :class:`~kiosk.config.CameraSettings`); nothing is opened yet.
``camera_interval(settings)``
    Seconds between two camera reads. A real camera's ``read()`` blocks until its next frame
    (0 s); a source that does not block is paced at the configured frame rate.
``sleep(seconds)``
    How drivers wait (retry pauses, EEPROM writes).
``audio(settings, cache)``
    Where the spoken prompts play (``[voice]``): the kiosk's ALSA output, the simulated world's
    loudspeaker, or ``None`` for no voice.
``inputs_claimed(lane)``
    Called once the lane's input pins are claimed.
``clock_trusted``
    True when the clock needs no synchronisation check (a simulation's clock is its own).
``simulated`` and ``world``
    Whether this is the simulated world, and that world (``None`` on a Pi).
``close()``
    Release what the provider opened (the I2C buses); safe to call twice.

:class:`PiHardware` is the real Raspberry Pi. The simulated provider is
:class:`kiosk.sim.hardware.SimHardware`; only the command line (and tests, benchmarks) hand it
in, so no production module imports the simulation.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable

from kiosk.camera.capture import FrameSource, open_source
from kiosk.errors import SensorError

#: Present when systemd-timesyncd has synchronised the clock since boot.
TIMESYNC_FLAG = "/run/systemd/timesync/synchronized"


def _smbus(number: int):
    from smbus2 import SMBus

    return SMBus(number)


class PiHardware:
    """The Raspberry Pi's GPIO, I2C buses and cameras.

    :param pin_factory: gpiozero pin factory; ``None`` is gpiozero's default (the Pi's pins).
    :param bus_factory: ``(number) -> bus`` opening one I2C bus (``smbus2.SMBus``).
    """

    simulated = False
    world = None
    clock_trusted = False

    def __init__(self, *, pin_factory=None, bus_factory: Callable[[int], object] = _smbus):
        self.pin_factory = pin_factory
        self._open_bus = bus_factory
        self._buses: dict[int, tuple[object, threading.Lock]] = {}
        self._guard = threading.Lock()

    def i2c(self, number: int):
        """``(bus, lock)`` for I2C bus *number*: opened once, shared by every lane on it.

        :raises SensorError: the bus cannot be opened (I2C not enabled, no such bus).
        """
        with self._guard:
            if number not in self._buses:
                try:
                    bus = self._open_bus(number)
                except OSError as exc:
                    raise SensorError(
                        f"cannot open I2C bus {number}: {exc.strerror or exc}"
                    ) from None
                self._buses[number] = (bus, threading.Lock())
            return self._buses[number]

    def camera(self, lane: str, settings) -> FrameSource:
        """The frame source ``[lanes.<lane>.camera] source`` names (never ``"sim"`` here).

        :raises CameraError: the source names neither a camera nor an existing file.
        :raises ConfigError: ``source = "sim"``, which only the simulated world has.
        """
        return open_source(settings, lane=lane)

    def shelf_camera(self, settings) -> FrameSource:
        """The frame source ``[parcels] shelf_camera`` names (never ``"sim"`` here).

        :raises CameraError: the source names neither a camera nor an existing file.
        """
        return open_source(settings)

    def camera_interval(self, settings) -> float:
        """0 s: a camera's ``read()`` waits for its next frame by itself."""
        return 0.0

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def audio(self, settings, cache):
        """The ALSA output ``[voice] device`` names (``None`` with ``output = "off"``, or
        ``"sim"``, which only the simulated world has); *cache* holds volume-scaled copies."""
        if settings.output not in ("auto", "alsa"):
            return None
        from kiosk.voice.speaker import AlsaOutput

        return AlsaOutput(settings.device, cache)

    def inputs_claimed(self, lane: str) -> None:
        """Nothing to do: real switches are where they are."""

    def close(self) -> None:
        """Close every I2C bus opened; safe to call twice."""
        with self._guard:
            buses, self._buses = list(self._buses.values()), {}
        for bus, _ in buses:
            with contextlib.suppress(OSError):
                bus.close()
