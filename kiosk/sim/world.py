"""The simulated world around the kiosk: per lane an emulated MLX90614 on a fake I2C bus and
a camera that renders what is held up to it. Only the lowest layer is replaced; the drivers,
scanner, lanes and everything above run as in production.

A person in front of a lane is two facts: the forehead temperature the IR sensor sees, and the
text held up to the camera (a pass, or anything else). The pickup shelf has a camera of its own
(:class:`SimShelf`), for a gate configured with a shelf camera.
"""

from __future__ import annotations

import threading
from functools import cached_property

from kiosk.errors import ConfigError
from kiosk.sim.audio import SimAudio
from kiosk.sim.camera import SimCamera, held_at
from kiosk.sim.mlx90614 import EmulatedMLX90614
from kiosk.sim.smbus import FakeSMBus

#: What the sensor sees when nobody stands there: the street or wall at about ambient.
DEFAULT_AMBIENT_C = 22.0


class SimLane:
    """One lane's simulated surroundings.

    :param door: the lane's :class:`kiosk.config.DoorSettings` (pins to drive).
    :param pin_factory: the gpiozero ``MockFactory`` the kiosk's inputs use.
    """

    def __init__(
        self,
        name: str,
        sensor: EmulatedMLX90614,
        camera: SimCamera,
        *,
        door=None,
        pin_factory=None,
    ) -> None:
        self.name = name
        self.sensor = sensor
        self.camera = camera
        self._lock = threading.Lock()
        self.person_c: float | None = None
        self.text: str | None = None
        self._door = door
        self._pins = pin_factory
        self.door_is_open = False

    # -- door contact and exit button (gpiozero mock pins; switches to GND, pulled up) ---

    def _pin(self, name: str):
        number = getattr(self._door, name, None) if self._door is not None else None
        if number is None or self._pins is None:
            return None
        return self._pins.pin(number)

    def _fitted(self, name: str, what: str):
        """The mock pin of the door's *name* switch; refused when it is not fitted."""
        pin = self._pin(name)
        if pin is None:
            raise ConfigError(f"lanes.{self.name}.door.{name}: no {what} fitted")
        return pin

    def wire_inputs(self) -> None:
        """Put the switches in their physical state once the kiosk has claimed the pins
        (claiming a pin with its pull-up reads high): the door shut, the button released."""
        pin = self._pin("contact_pin")
        if pin is not None and not self.door_is_open:
            pin.drive_low()

    def open_door(self) -> None:
        """The door opens (or its contact wire is cut): the contact pin goes high."""
        pin = self._fitted("contact_pin", "door contact")
        self.door_is_open = True
        pin.drive_high()

    def close_door(self) -> None:
        """The door shuts: the contact closes to GND."""
        pin = self._fitted("contact_pin", "door contact")
        self.door_is_open = False
        pin.drive_low()

    def press_exit(self) -> None:
        """Someone presses and releases the exit button."""
        pin = self._fitted("exit_pin", "exit button")
        pin.drive_low()
        pin.drive_high()

    def step_in(
        self, object_c: float, text: str | None = None, *, held_cm: float | None = None
    ) -> None:
        """A person steps in front of the sensor (forehead *object_c* °C), showing *text*
        (held *held_cm* from the camera; ``None``: where the resident screen asks)."""
        with self._lock:
            self.person_c = float(object_c)
            self.sensor.object_c = float(object_c)
            self.text = text
            self._show(text, held_cm)

    def present(self, text: str | None, *, held_cm: float | None = None) -> None:
        """Hold *text* up to the camera, *held_cm* from it (None: take it away)."""
        with self._lock:
            self.text = text
            self._show(text, held_cm)

    def _show(self, text: str | None, held_cm: float | None) -> None:
        style = None if held_cm is None else held_at(self.camera.style, held_cm)
        self.camera.present(text, style=style)

    def set_forehead(self, object_c: float | None) -> None:
        """Set what the IR sensor sees; None means nobody is there."""
        with self._lock:
            self.person_c = None if object_c is None else float(object_c)
            self.sensor.object_c = self.sensor.ambient_c if object_c is None else float(object_c)

    def leave(self) -> None:
        """The person walks away: the sensor sees the background, the camera nothing."""
        with self._lock:
            self.person_c = None
            self.text = None
            self.sensor.object_c = self.sensor.ambient_c
            self.camera.present(None)

    def state(self) -> dict:
        with self._lock:
            return {
                "person_c": self.person_c,
                "text": self.text,
                "ambient_c": self.sensor.ambient_c,
                "door_open": self.door_is_open,
                "thermometer_plugged": not self.sensor.unplugged,
                "camera_plugged": not self.camera.unplugged,
            }


class SimShelf:
    """The pickup shelf's simulated surroundings: a camera a resident holds a pass up to.

    :param camera: the shelf's :class:`~kiosk.sim.camera.SimCamera`.
    """

    def __init__(self, camera: SimCamera) -> None:
        self.camera = camera

    def show(self, text: str | None) -> None:
        """Hold *text* (a pass) up to the shelf camera; ``None`` takes it away."""
        self.camera.present(text)

    def state(self) -> dict:
        return {"text": self.camera.text}


class SimWorld:
    """Every lane's surroundings, built from the lanes' settings.

    :param clock: the kiosk's clock (the emulated sensor settles on it).
    :param lanes: ``{name: LaneSettings}``, no two on one thermometer bus and address (the
        configuration refuses that).
    :param pin_factory: the gpiozero ``MockFactory`` whose pins the door and exit inputs read.
    """

    def __init__(self, clock, lanes: dict, *, seed: int = 0, pin_factory=None) -> None:
        self.clock = clock
        #: The loudspeaker: records every prompt played (one for the whole kiosk).
        self.audio = SimAudio(clock)
        self.buses: dict[int, FakeSMBus] = {}
        self.lanes: dict[str, SimLane] = {}
        for i, (name, settings) in enumerate(lanes.items()):
            t = settings.thermometer
            bus = self.buses.setdefault(t.bus, FakeSMBus())
            sensor = EmulatedMLX90614(t.address, clock=clock, seed=seed + i)
            sensor.ambient_c = DEFAULT_AMBIENT_C
            sensor.object_c = DEFAULT_AMBIENT_C
            bus.attach(sensor)
            camera = SimCamera(settings.camera.width, settings.camera.height, seed=seed + i)
            self.lanes[name] = SimLane(
                name, sensor, camera, door=getattr(settings, "door", None), pin_factory=pin_factory
            )
        self._seed = seed

    @cached_property
    def shelf(self) -> SimShelf:
        """The pickup shelf, for ``[parcels] shelf_camera = "sim"`` (its camera is rendered
        when first asked for)."""
        return SimShelf(SimCamera(seed=self._seed + len(self.lanes)))

    def bus(self, number: int) -> FakeSMBus:
        return self.buses[number]

    def lane(self, name: str) -> SimLane:
        return self.lanes[name]
