"""What maintenance staff do to a running lane: read its thermometer raw and calibrated,
calibrate it against a reference, write the sensor's emissivity, and look at its camera.

Changes apply at once (no restart) and are journaled as ``calibration.changed``. Everything is
returned as plain data for the maintenance page.
"""

from __future__ import annotations

import math
import threading
from datetime import timedelta

from kiosk.errors import CalibrationError, KioskError, SensorError
from kiosk.sensors import calibration as calibration_mod

#: A pass read this recently (s) counts as in view for the focus guide.
FOCUS_IN_VIEW_S = 5.0
#: The focus figure is "good" from this share of the sharpest seen with a pass in view.
FOCUS_GOOD_RATIO = 0.7


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
        self._best_focus: dict[str, float] = {}  # lane -> sharpest figure with a pass in view

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
            "previous": _or_none(calibration_mod.previous(self.journal, lane)),
            "max_correction_c": settings.max_correction_c,
            "skin_offset_c": settings.skin_offset_c,
            "emissivity": emissivity,
            "emissivity_error": emissivity_error,
            "drift": unit.drift.status(self.clock.now(), cal.at),
        }

    def calibration_preview(self, lane: str, points: list[tuple[float, float]]) -> dict:
        """What :meth:`calibrate` would put in force for *points*, without saving anything:
        ``before`` and ``after`` (:func:`calibration_dict`), for the confirm step.

        :raises CalibrationError: the fit would be refused.
        """
        unit = self._lane(lane)
        after = calibration_mod.fit(
            points, max_correction_c=unit.thermometer.settings.max_correction_c
        )
        return {
            "lane": lane,
            "before": calibration_dict(unit.thermometer.calibration),
            "after": calibration_dict(after),
        }

    def restore_calibration(self, lane: str, by: str) -> dict:
        """Undo *lane*'s last calibration: the one before it is saved and applied at once
        (journaled as ``calibration.changed`` of kind ``restore``).

        :raises CalibrationError: the lane's calibration was never changed, or no *by*.
        """

        def restore(unit, limit):
            previous = calibration_mod.previous(self.journal, lane)
            if previous is None:
                raise CalibrationError("this lane's calibration was never changed")
            return calibration_mod.restore(
                unit.store, self.journal, lane, previous, by=by, now=self.clock.now(),
                max_correction_c=limit,
            )  # fmt: skip

        return self._apply(lane, restore)

    def _apply(self, lane: str, change) -> dict:
        """Make a calibration *change* of *lane* (``(unit, max_correction_c) -> (before,
        after)``, saved and journaled) and apply it at once, one change at a time."""
        unit = self._lane(lane)
        with self._lock:
            before, after = change(unit, unit.thermometer.settings.max_correction_c)
            unit.thermometer.set_calibration(after)
        return {"lane": lane, "before": calibration_dict(before), "after": calibration_dict(after)}

    def calibrate(self, lane: str, *, points: list[tuple[float, float]], by: str) -> dict:
        """Fit, save and apply a new calibration for *lane* at once.

        One ``(raw_c, reference_c)`` point gives an offset, two a gain and an offset. The
        change is journaled as ``calibration.changed`` with the points, who, when, before
        and after.

        :raises CalibrationError: the correction is beyond the limit or the points are
            unusable; nothing changes then.
        """
        return self._apply(
            lane,
            lambda unit, limit: calibration_mod.change(
                unit.store, self.journal, lane, points, by=by, now=self.clock.now(),
                max_correction_c=limit,
            ),
        )  # fmt: skip

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
        of the Laplacian, higher is sharper), fault, and the focus guide (:meth:`_focus`)."""
        snap = self._lane(lane).reader.snapshot()
        guide, best = self._focus(lane, snap)
        return {
            "focus_guide": guide,
            "focus_best": None if best is None else round(best, 1),
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

    def _focus(self, lane: str, snap) -> tuple[str, float | None]:
        """The focus guide for maintenance turning the lens: ``"good"`` while a pass in view
        (read in the last :data:`FOCUS_IN_VIEW_S`) is at least :data:`FOCUS_GOOD_RATIO` of
        the sharpest seen with a pass in view since start, ``"poor"`` below it,
        ``"no_pass"`` with no pass read lately (hold one up; if it is never read, the lens
        is far off), ``"no_frame"`` before the first frame. The figure depends on the scene,
        so only this ratio says anything."""
        if snap.focus is None:
            return "no_frame", self._best_focus.get(lane)
        read = snap.last_read_t
        if read is None or self.clock.monotonic() - read > FOCUS_IN_VIEW_S:
            return "no_pass", self._best_focus.get(lane)
        best = max(self._best_focus.get(lane, 0.0), snap.focus)
        self._best_focus[lane] = best
        return ("good" if snap.focus >= FOCUS_GOOD_RATIO * best else "poor"), best

    def relay_state(self, lane: str) -> dict:
        """*lane*'s relay for the test pulse: its pin, the level on the pin now, whether the
        relay is energised, and the last changes of the pin's level read back from it
        (``trace``: ``at`` wall-clock ISO time, ``level`` ``"high"`` or ``"low"``), so
        maintenance sees the pin went high and low again."""
        relay = self._lane(lane).relay
        now_mono, now = self.clock.monotonic(), self.clock.now()
        return {
            "lane": lane,
            "pin": relay.pin_number,
            "active_high": relay.active_high,
            "level": relay.level(),
            "open": relay.is_open,
            "trace": [
                {
                    "at": (now - timedelta(seconds=now_mono - t)).isoformat(
                        timespec="milliseconds"
                    ),
                    "level": level,
                }
                for t, level in relay.trace()
            ],
        }

    def camera_jpeg(self, lane: str) -> bytes | None:
        """The last frame of *lane*'s camera as JPEG, the last decoded code outlined; ``None``
        before the first frame."""
        return self._lane(lane).reader.snapshot().jpeg()


def _or_none(cal) -> dict | None:
    return None if cal is None else calibration_dict(cal)


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
