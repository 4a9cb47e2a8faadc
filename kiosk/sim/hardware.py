"""The simulated hardware provider: the same handles as :class:`kiosk.hardware.PiHardware`,
from the simulated world.

Pins come from gpiozero's own ``MockFactory``, each I2C bus is a fake bus with emulated
MLX90614s on it, and each lane's camera renders what is held up to it. The command line hands
this provider in for ``[gate] hardware = "sim"`` (as do tests and benchmarks); everything the
kiosk builds on top of it is the production code.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

from kiosk.camera.capture import FrameSource, open_source
from kiosk.errors import ConfigError
from kiosk.sim.mlx90614 import EmulatedMLX90614
from kiosk.sim.world import SimWorld


class SimHardware:
    """The simulated world as a hardware provider.

    :param clock: the kiosk's clock; the emulated sensors settle on it, and on a fake clock
        the driver's waits move it (so waiting takes no real time).
    :param lanes: ``{name: LaneSettings}`` of the configuration.
    :param pin_factory: a gpiozero ``MockFactory`` (a private one by default).
    :param seed: seeds the emulated sensors' noise and the rendered frames.
    """

    simulated = True
    clock_trusted = True  # a simulated gate's clock is the (fake or system) clock it was given

    def __init__(self, clock, lanes: dict, *, pin_factory=None, seed: int = 0) -> None:
        if pin_factory is None:
            from gpiozero.pins.mock import MockFactory

            pin_factory = MockFactory()
        self.clock = clock
        self.pin_factory = pin_factory
        self.world = SimWorld(clock, lanes, seed=seed, pin_factory=pin_factory)
        self._locks = {number: threading.Lock() for number in self.world.buses}

    def i2c(self, number: int):
        """``(fake bus, lock)`` for bus *number*, shared by every lane on it."""
        return self.world.bus(number), self._locks[number]

    def camera(self, lane: str, settings) -> FrameSource:
        """The lane's rendering camera for ``source = "sim"``; any other source (a video, a
        folder of images) is opened as on a Pi."""
        if settings.source.strip() == "sim":
            return self.world.lane(lane).camera
        return open_source(settings, lane=lane)

    def shelf_camera(self, settings) -> FrameSource:
        """The pickup shelf's rendering camera for ``source = "sim"``; any other source is
        opened as on a Pi."""
        if settings.source.strip() == "sim":
            return self.world.shelf.camera
        return open_source(settings)

    def camera_interval(self, settings) -> float:
        """The rendering camera never blocks, so it is read at the configured frame rate."""
        return 1.0 / settings.fps

    def sleep(self, seconds: float) -> None:
        """A fake clock's ``advance`` (the emulated sensor lives on it), else a real sleep."""
        advance = getattr(self.clock, "advance", None)
        if advance is not None:
            advance(seconds)
        else:
            time.sleep(seconds)

    def audio(self, settings, cache):
        """The simulated world's loudspeaker, which records every prompt (``None`` with
        ``output = "off"``); with ``output = "alsa"`` it also plays through the machine's ALSA
        output, so a demo speaks."""
        if settings.output == "off":
            return None
        if settings.output == "alsa":
            from kiosk.voice.speaker import AlsaOutput

            self.world.audio.forward = AlsaOutput(settings.device, cache)
        return self.world.audio

    def inputs_claimed(self, lane: str) -> None:
        """Put the lane's switches in their physical state (door shut, button released)."""
        self.world.lane(lane).wire_inputs()

    def switch_faults(self, specs: Iterable[str]) -> None:
        """Switch on emulated MLX90614 faults, each ``"LANE:FAULT"`` (e.g. ``"main:bad_pec"``;
        ``oserror_rate`` fails half the transfers).

        :raises ConfigError: a spec names no lane or no fault the emulated sensor has.
        """
        known = list(self.world.lanes)
        faults = EmulatedMLX90614.FAULTS
        for spec in specs:
            lane, _, fault = spec.partition(":")
            if lane not in known or fault not in faults:
                raise ConfigError(
                    f"--sim-fault {spec!r}: use LANE:FAULT with LANE one of {', '.join(known)} "
                    f"and FAULT one of {', '.join(faults)}"
                )
            sensor = self.world.lane(lane).sensor
            setattr(sensor, fault, 0.5 if fault == "oserror_rate" else True)

    def close(self) -> None:
        """Nothing to release: the fake buses hold no file."""


def simulated_kiosk(cfg, clock=None, *, pin_factory=None, seed: int = 0):
    """A :class:`kiosk.daemon.Kiosk` for *cfg* (``hardware = "sim"``) on the simulated world.

    :param clock: the kiosk's clock (a ``FakeClock`` to run it faster than real time); the
        system clock by default.
    :param pin_factory: a gpiozero ``MockFactory`` to share with the caller.
    """
    from kiosk.clock import SystemClock
    from kiosk.daemon import Kiosk

    clock = clock or SystemClock()
    hardware = SimHardware(clock, cfg.lanes, pin_factory=pin_factory, seed=seed)
    return Kiosk(cfg, hardware, clock=clock)
