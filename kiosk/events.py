"""Immutable inputs that sources (camera, thermometer, door inputs, guard) send to a lane.

Times ``t`` are monotonic seconds from the injected clock. Sources build these; the lane
thread alone consumes them. Nothing here is mutable, so they can cross threads freely.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LaneInput:
    """What every input names: its *lane*, and when it happened (*t*, monotonic seconds)."""

    lane: str
    t: float


@dataclass(frozen=True)
class PassPresented(LaneInput):
    """The camera read *text* from a QR code. The scanner never interprets it."""

    text: str


@dataclass(frozen=True)
class CodeUnread(LaneInput):
    """The camera keeps finding a code it cannot read (for ``HINT_AFTER_S`` or more): a pass
    held too far away, or shown too small. Sent again about once a second while it lasts."""


@dataclass(frozen=True)
class PersonPresent(LaneInput):
    """The thermometer sees someone step in front of it."""


@dataclass(frozen=True)
class PersonLeft(LaneInput):
    """The thermometer no longer sees anyone in front of it."""


@dataclass(frozen=True)
class TemperatureRead(LaneInput):
    """A screening reading, or the reason there is none.

    :param status: ``"ok"`` (a stable, plausible reading), ``"unstable"`` (samples never
        agreed: ask the person to hold still), ``"implausible"`` (outside the plausible range:
        re-measure), or ``"manual"`` (typed in by the guard from a clinical thermometer).
    :param body_c: estimated body temperature in °C (calibrated forehead + skin-to-core
        offset); ``None`` unless status is ``"ok"`` or ``"manual"``.
    :param forehead_c: calibrated forehead (object) temperature in °C, or ``None``.
    :param raw_object_c: uncalibrated object temperature from the sensor in °C, or ``None``.
    :param ambient_c: sensor ambient (die) temperature in °C, or ``None``.
    :param samples: how many samples the reading is the median of.
    """

    status: str
    body_c: float | None
    forehead_c: float | None = None
    raw_object_c: float | None = None
    ambient_c: float | None = None
    samples: int = 0
    by: str | None = None


@dataclass(frozen=True)
class SensorStatus(LaneInput):
    """A source changed health: *ok* False raises a fault, True clears it.

    :param source: ``"thermometer"``, ``"camera"``, ``"relay"`` or ``"door"``.
    """

    source: str
    ok: bool
    message: str = ""


@dataclass(frozen=True)
class ManualOpen(LaneInput):
    """The guard opens the gate by hand, with a reason; *guard* is the account name."""

    reason: str
    guard: str


@dataclass(frozen=True)
class DoorOpened(LaneInput):
    """The door contact opened (door open, or its wire cut)."""


@dataclass(frozen=True)
class DoorClosed(LaneInput):
    """The door contact closed again (door shut)."""


@dataclass(frozen=True)
class ExitRequested(LaneInput):
    """Someone pressed the exit button (request to exit) on the inside."""
