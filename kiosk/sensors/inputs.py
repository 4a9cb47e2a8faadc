"""Door contact and exit button on gpiozero ``Button``: edges in, immutable lane events out.

Wiring (see docs/operations.md): both are switches to GND on a pin with the Pi's internal
pull-up. The door contact (a reed switch) is *closed while the door is shut*; a door that
opens, or a cut wire, lets the pin float high and reads as "door open", so tampering with the
wire raises the same alarm as forcing the door. The exit button (request to exit) closes to
GND while pressed.

The callbacks run in gpiozero's pin thread; they only hand an event to *sink* (the lane
queue), which never blocks. The lane decides what an opening means (forced or not).
"""

from __future__ import annotations

from collections.abc import Callable

from gpiozero import Button

from kiosk.config import DoorSettings
from kiosk.events import DoorClosed, DoorOpened, ExitRequested


class DoorInputs:
    """The door contact and exit button of one lane.

    :param lane: lane name, put in every event.
    :param settings: :class:`DoorSettings`.
    :param clock: gives ``monotonic()`` for event times.
    :param sink: called with each event (``LaneThread.put``); must not block.
    :param pin_factory: gpiozero pin factory (``MockFactory`` in tests and the simulation).
    """

    def __init__(
        self,
        lane: str,
        settings: DoorSettings,
        *,
        clock,
        sink: Callable[[object], None],
        pin_factory=None,
    ) -> None:
        self.lane = lane
        self.settings = settings
        self.clock = clock
        self.sink = sink
        self.contact: Button | None = None
        self.exit_button: Button | None = None

        def switch(pin: int | None) -> Button | None:  # to GND, on the Pi's pull-up
            if pin is None:
                return None
            bounce = settings.bounce_s or None
            return Button(pin, pull_up=True, bounce_time=bounce, pin_factory=pin_factory)

        try:
            self.contact = switch(settings.contact_pin)
            if self.contact is not None:
                self.contact.when_released = self._opened
                self.contact.when_pressed = self._closed
            self.exit_button = switch(settings.exit_pin)
            if self.exit_button is not None:
                self.exit_button.when_pressed = self._exit
        except BaseException:
            self.close()
            raise

    @property
    def fitted(self) -> bool:
        return self.contact is not None or self.exit_button is not None

    def door_open(self) -> bool | None:
        """True when the door is open (or its wire cut); None when no contact is fitted."""
        if self.contact is None or self.contact.closed:
            return None
        return not self.contact.is_pressed

    def initial(self) -> list:
        """Events describing the inputs now (a door already open at start is reported)."""
        return [DoorOpened(self.lane, self.clock.monotonic())] if self.door_open() else []

    def _opened(self) -> None:
        self.sink(DoorOpened(self.lane, self.clock.monotonic()))

    def _closed(self) -> None:
        self.sink(DoorClosed(self.lane, self.clock.monotonic()))

    def _exit(self) -> None:
        self.sink(ExitRequested(self.lane, self.clock.monotonic()))

    def close(self) -> None:
        """Release both pins; safe to call twice."""
        for device in (self.contact, self.exit_button):
            if device is not None:
                device.close()
