"""From forehead samples to one screening reading per person.

:class:`Thermometer` takes one sample per :meth:`~Thermometer.poll` from an MLX90614 (or
anything with its ``read()``), and turns the stream into lane events: a person steps in
(:class:`~kiosk.events.PersonPresent`), a stable, calibrated, plausible reading or the reason
there is none (:class:`~kiosk.events.TemperatureRead`), the person leaves
(:class:`~kiosk.events.PersonLeft`), and sensor health
(:class:`~kiosk.events.SensorStatus`). It runs no thread: the daemon calls ``poll`` at
``sample_hz`` from its own.

The rules themselves (:func:`stable_median`, :func:`presence`) are pure functions.
"""

from __future__ import annotations

import math
import statistics
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from kiosk.config import PRESENCE_HYSTERESIS_C, ThermometerSettings
from kiosk.events import PersonLeft, PersonPresent, SensorStatus, TemperatureRead
from kiosk.sensors.calibration import Calibration

#: ... and stays there for this many consecutive samples (a head turning away briefly is
#: not leaving).
LEAVE_AFTER_SAMPLES = 3
#: Samples kept to compute the achieved sample rate.
_RATE_SAMPLES = 20

AMBIENT_LOW_WARNING = "ambient low: measure the wrist"


# -- pure rules ------------------------------------------------------------------------


def stable_median(samples: Sequence[float], window: int, spread_c: float) -> float | None:
    """The median of the last *window* samples if they agree, else ``None``.

    They agree when their highest and lowest differ by at most *spread_c*. Fewer than
    *window* samples never agree.

    :param samples: temperatures in °C, oldest first.
    :param window: how many of the newest samples must agree (>= 1).
    :param spread_c: the largest allowed max - min in °C.
    """
    if window < 1 or len(samples) < window:
        return None
    last = list(samples)[-window:]
    if max(last) - min(last) > spread_c:
        return None
    return statistics.median(last)


def presence(object_c: float, ambient_c: float, margin_c: float, was_present: bool) -> bool:
    """Whether a sample shows a person in front of the sensor, with hysteresis.

    :param object_c: raw object temperature in °C.
    :param ambient_c: sensor ambient temperature in °C.
    :param margin_c: object above ambient by at least this (°C) starts a presence.
    :param was_present: the previous state; a presence lasts until the difference falls
        below ``margin_c - PRESENCE_HYSTERESIS_C``.
    """
    difference = object_c - ambient_c
    if was_present:
        return difference >= margin_c - PRESENCE_HYSTERESIS_C
    return difference >= margin_c


# -- the sampler -----------------------------------------------------------------------


class Sensor(Protocol):
    """What the thermometer needs from a sensor: :class:`~kiosk.sensors.mlx90614.MLX90614`."""

    def read(self) -> Any:
        """Return an object with ``object_c`` and ``ambient_c`` in °C, or raise."""
        ...


@dataclass(frozen=True)
class ThermometerSnapshot:
    """The thermometer's state for the maintenance page.

    :param lane: the lane name.
    :param t: monotonic time of the last good sample, or ``None``.
    :param raw_object_c: last raw object temperature in °C, or ``None``.
    :param ambient_c: last ambient temperature in °C, or ``None``.
    :param object_c: last object temperature with the calibration applied, in °C, or ``None``.
    :param present: whether a person is in front of the sensor.
    :param measuring: whether a reading for the present person is still to come.
    :param fault: the fault message while a sensor fault is raised, else ``None``.
    :param samples_per_s: good samples per second over the last samples.
    :param ambient_low: ambient is below ``ambient_low_c``: the forehead reads low.
    :param warning: a short text for the screen, or ``None``.
    :param calibration: the calibration in use.
    """

    lane: str
    t: float | None
    raw_object_c: float | None
    ambient_c: float | None
    object_c: float | None
    present: bool
    measuring: bool
    fault: str | None
    samples_per_s: float
    ambient_low: bool
    warning: str | None
    calibration: Calibration


class Thermometer:
    """One lane's forehead thermometer: samples in, lane events out.

    Call :meth:`poll` at ``settings.sample_hz`` from one thread; :meth:`set_calibration`,
    :meth:`remeasure` and :meth:`snapshot` may be called from any thread.

    :param sensor: anything with ``read()`` returning ``object_c`` and ``ambient_c`` in °C
        and raising :class:`~kiosk.errors.SensorError` on a fault.
    :param clock: gives ``monotonic()``; event times come from it.
    :param settings: :class:`ThermometerSettings`.
    :param lane: the lane name put into every event.
    :param calibration: the calibration to apply; the identity if ``None``.
    """

    def __init__(
        self,
        sensor: Sensor,
        clock: Any,
        settings: ThermometerSettings,
        lane: str,
        calibration: Calibration | None = None,
    ) -> None:
        self._sensor = sensor
        self._clock = clock
        self._settings = settings
        self._lane = lane
        self._lock = threading.Lock()
        self._calibration = calibration if calibration is not None else Calibration()
        self._remeasure = False
        # Everything below is touched by poll() only, and read by snapshot() under the lock.
        self._present = False
        self._measuring = False
        self._measure_t0 = 0.0
        self._samples: deque[float] = deque(maxlen=settings.window)
        self._ambients: deque[float] = deque(maxlen=settings.window)
        self._below = 0
        self._failures = 0
        self._fault: str | None = None
        self._last_t: float | None = None
        self._last_raw: float | None = None
        self._last_ambient: float | None = None
        self._good_times: deque[float] = deque(maxlen=_RATE_SAMPLES)

    @property
    def settings(self) -> ThermometerSettings:
        return self._settings

    @property
    def calibration(self) -> Calibration:
        with self._lock:
            return self._calibration

    def set_calibration(self, calibration: Calibration) -> None:
        """Use *calibration* from the next sample on. Thread-safe."""
        with self._lock:
            self._calibration = calibration

    def remeasure(self) -> None:
        """Measure the present person again: the next :meth:`poll` restarts the window and
        the timeout, and a new :class:`~kiosk.events.TemperatureRead` follows. Ignored when
        nobody is present. Thread-safe."""
        with self._lock:
            self._remeasure = True

    def poll(self) -> list[Any]:
        """Take one sample and return the lane events it causes, oldest first.

        Never raises: a failed sample counts towards ``fault_after``.
        """
        t = self._clock.monotonic()
        with self._lock:
            calibration = self._calibration
            remeasure, self._remeasure = self._remeasure, False
        try:
            reading = self._sensor.read()
            raw_c = float(reading.object_c)
            ambient_c = float(reading.ambient_c)
            if not (math.isfinite(raw_c) and math.isfinite(ambient_c)):
                raise ValueError(f"non-finite sample {raw_c!r}, {ambient_c!r}")
        except Exception as exc:  # a sensor must never stop the lane
            return self._failed(t, exc)

        events: list[Any] = []
        with self._lock:
            if self._fault is not None:
                self._fault = None
                events.append(SensorStatus(self._lane, t, "thermometer", True))
                if self._measuring:
                    self._start_measuring(t)  # the timeout starts again after a fault
            self._failures = 0
            self._last_t, self._last_raw, self._last_ambient = t, raw_c, ambient_c
            self._good_times.append(t)
            events.extend(self._step(t, raw_c, ambient_c, calibration, remeasure))
        return events

    def snapshot(self) -> ThermometerSnapshot:
        """The current state, for the maintenance page. Thread-safe."""
        with self._lock:
            times = self._good_times
            span = times[-1] - times[0] if len(times) >= 2 else 0.0
            rate = (len(times) - 1) / span if span > 0 else 0.0
            low = self._last_ambient is not None and self._last_ambient < (
                self._settings.ambient_low_c
            )
            calibrated = (
                self._calibration.apply(self._last_raw) if self._last_raw is not None else None
            )
            return ThermometerSnapshot(
                lane=self._lane,
                t=self._last_t,
                raw_object_c=self._last_raw,
                ambient_c=self._last_ambient,
                object_c=calibrated,
                present=self._present,
                measuring=self._measuring,
                fault=self._fault,
                samples_per_s=rate,
                ambient_low=low,
                warning=AMBIENT_LOW_WARNING if low else None,
                calibration=self._calibration,
            )

    # -- inside -------------------------------------------------------------------------

    def _failed(self, t: float, exc: Exception) -> list[Any]:
        with self._lock:
            self._failures += 1
            if self._fault is None and self._failures >= self._settings.fault_after:
                self._fault = str(exc) or type(exc).__name__
                # Samples either side of a fault are not one window.
                self._samples.clear()
                self._ambients.clear()
                return [SensorStatus(self._lane, t, "thermometer", False, self._fault)]
        return []

    def _step(
        self, t: float, raw_c: float, ambient_c: float, cal: Calibration, remeasure: bool
    ) -> list[Any]:
        s = self._settings
        events: list[Any] = []
        if not self._present:
            if presence(raw_c, ambient_c, s.presence_margin_c, False):
                self._present = True
                self._below = 0
                self._start_measuring(t)
                events.append(PersonPresent(self._lane, t))
            else:
                return events
        else:
            if presence(raw_c, ambient_c, s.presence_margin_c, True):
                self._below = 0
            else:
                self._below += 1
                if self._below >= LEAVE_AFTER_SAMPLES:
                    self._present = False
                    self._measuring = False
                    self._samples.clear()
                    self._ambients.clear()
                    events.append(PersonLeft(self._lane, t))
                    return events
                return events  # a sample looking past the person is not a forehead
            if remeasure:
                self._start_measuring(t)

        if not self._measuring:
            return events
        self._samples.append(raw_c)
        self._ambients.append(ambient_c)
        median = stable_median(self._samples, s.window, s.spread_c)
        ambient = statistics.median(self._ambients)
        if median is not None:
            # Rounded to the sensor's resolution (0.02 K) class: what the journal keeps.
            forehead_c = round(cal.apply(median), 2)
            body_c = round(forehead_c + s.skin_offset_c, 2)
            plausible = s.plausible_min_c <= body_c <= s.plausible_max_c
            events.append(
                TemperatureRead(
                    self._lane,
                    t,
                    "ok" if plausible else "implausible",
                    body_c if plausible else None,
                    forehead_c=forehead_c,
                    raw_object_c=round(median, 2),
                    ambient_c=round(ambient, 2),
                    samples=s.window,
                )
            )
            self._measuring = False
        elif t - self._measure_t0 >= s.stable_timeout_s:
            events.append(
                TemperatureRead(
                    self._lane,
                    t,
                    "unstable",
                    None,
                    raw_object_c=round(statistics.median(self._samples), 2),
                    ambient_c=round(ambient, 2),
                    samples=len(self._samples),
                )
            )
            self._measuring = False
        return events

    def _start_measuring(self, t: float) -> None:
        self._measuring = True
        self._measure_t0 = t
        self._samples.clear()
        self._ambients.clear()
