"""What maintenance staff do to a running lane: read its thermometer raw and calibrated,
calibrate it against a reference, write the sensor's emissivity, and look at its camera.

Changes apply at once (no restart) and are journaled as ``calibration.changed``. Everything is
returned as plain data for the maintenance page.
"""

from __future__ import annotations

import math
import threading

from kiosk.errors import CalibrationError, KioskError, SensorError
from kiosk.sensors import calibration as calibration_mod


class Maintenance:
    """Maintenance of a gate's lanes.

    :param lanes: lane name -> its parts (``thermometer``, ``sensor``, ``store``, ``drift``,
        ``reader``), as the daemon builds them.
    :param journal: where changes are journaled.
    :param clock: the injected clock.
    """

    def __init__(self, lanes: dict, journal, clock) -> None:
        self.lanes = lanes
        self.journal = journal
        self.clock = clock
        self._lock = threading.Lock()  # one change at a time

    def _lane(self, lane: str):
        try:
            return self.lanes[lane]
        except KeyError:
            raise KioskError(f"no lane named {lane!r}") from None

    def thermometer_state(self, lane: str) -> dict:
        """The thermometer of *lane*: raw and calibrated object temperature and ambient in °C,
        presence, fault, achieved samples per second, the calibration in use, the emissivity
        stored in the sensor (``None`` with ``emissivity_error`` when it cannot be read) and
        the drift watch."""
        unit = self._lane(lane)
        snap = unit.thermometer.snapshot()
        settings = unit.thermometer.settings
        cal = snap.calibration
        emissivity, emissivity_error = None, None
        try:
            emissivity = round(unit.sensor.read_emissivity(), 4)
        except SensorError as exc:
            emissivity_error = str(exc)
        age = None if snap.t is None else round(self.clock.monotonic() - snap.t, 2)
        return {
            "lane": lane,
            "raw_object_c": _round(snap.raw_object_c),
            "object_c": _round(snap.object_c),
            "ambient_c": _round(snap.ambient_c),
            "sample_age_s": age,
            "present": snap.present,
            "measuring": snap.measuring,
            "fault": snap.fault,
            "samples_per_s": round(snap.samples_per_s, 1),
            "ambient_low": snap.ambient_low,
            "warning": snap.warning,
            "calibration": calibration_dict(cal),
            "max_correction_c": settings.max_correction_c,
            "skin_offset_c": settings.skin_offset_c,
            "emissivity": emissivity,
            "emissivity_error": emissivity_error,
            "drift": unit.drift.status(self.clock.now(), cal.at),
        }

    def calibrate(self, lane: str, *, points: list[tuple[float, float]], by: str) -> dict:
        """Fit, save and apply a new calibration for *lane* at once.

        One ``(raw_c, reference_c)`` point gives an offset, two a gain and an offset. The
        change is journaled as ``calibration.changed`` with the points, who, when, before
        and after.

        :raises CalibrationError: the correction is beyond the limit or the points are
            unusable; nothing changes then.
        """
        unit = self._lane(lane)
        with self._lock:
            before, after = calibration_mod.change(
                unit.store,
                self.journal,
                lane,
                points,
                by=by,
                now=self.clock.now(),
                max_correction_c=unit.thermometer.settings.max_correction_c,
            )
            unit.thermometer.set_calibration(after)
        return {"lane": lane, "before": calibration_dict(before), "after": calibration_dict(after)}

    def set_emissivity(self, lane: str, value: float, by: str) -> dict:
        """Write the emissivity into the sensor's EEPROM, journaled as ``calibration.changed``
        with kind ``"emissivity"``.

        :param value: 0.1..1.0; human skin is about 0.98.
        :raises CalibrationError: *value* is not a number in 0.1..1.0, or *by* is empty.
        :raises SensorError: the sensor did not answer or did not keep the value.
        """
        unit = self._lane(lane)
        by = (by or "").strip()
        if not by:
            raise CalibrationError("say who changes the emissivity (by)")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise CalibrationError("emissivity must be a number in 0.1..1.0")
        if not math.isfinite(value):
            raise CalibrationError("emissivity must be a number in 0.1..1.0")
        with self._lock:
            try:
                before = unit.sensor.read_emissivity()
            except SensorError:
                before = None  # a half-written cell reads below 0.1; rewriting mends it
            unit.sensor.write_emissivity(float(value))
            after = unit.sensor.read_emissivity()
            self.journal.append(
                "calibration.changed",
                {
                    "kind": "emissivity",
                    "by": by,
                    "at": self.clock.now().isoformat(timespec="seconds"),
                    "before": None if before is None else round(before, 4),
                    "after": round(after, 4),
                },
                lane=lane,
            )
        return {"lane": lane, "before": before, "after": round(after, 4)}

    def camera_state(self, lane: str) -> dict:
        """The camera of *lane*: achieved fps, last decode time in ms, focus figure (variance
        of the Laplacian, higher is sharper), fault."""
        snap = self._lane(lane).reader.snapshot()
        return {
            "lane": lane,
            "source": snap.source,
            "fps": snap.fps,
            "frames": snap.frames,
            "scans": snap.scans,
            "last_decode_ms": _round(snap.last_decode_ms),
            "last_step": snap.last_step,
            "focus": None if snap.focus is None else round(snap.focus, 1),
            "fault": snap.fault,
            "has_frame": snap.frame is not None,
        }

    def camera_jpeg(self, lane: str) -> bytes | None:
        """The last frame of *lane*'s camera as JPEG, the last decoded code outlined; ``None``
        before the first frame."""
        return self._lane(lane).reader.snapshot().jpeg()


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def calibration_dict(cal) -> dict:
    """A :class:`kiosk.sensors.calibration.Calibration` as plain data."""
    return {
        "gain": round(cal.gain, 5),
        "offset_c": round(cal.offset_c, 3),
        "correction_at_36_5_c": round(cal.correction_at(), 3),
        "points": [list(p) for p in cal.points],
        "at": cal.at,
        "by": cal.by,
        "identity": cal.is_identity,
    }
