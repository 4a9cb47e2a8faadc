"""Calibration of the forehead thermometer against a reference, and watching it drift.

A :class:`Calibration` maps the sensor's raw object temperature to a corrected one,
``gain * raw_c + offset_c``. Maintenance staff fit one against a reference (a black-body
source or a clinical thermometer) with :func:`fit_offset` or :func:`fit_two_point`; both
refuse corrections that would hide a broken sensor. :class:`CalibrationStore` keeps the
current one in a small JSON file, written atomically.

Between calibrations, the median of a day's screened body temperatures should sit near the
population's normal value; :func:`daily_median` and :func:`drift_warning` turn that into a
warning for the maintenance page, and :func:`check_due` says when a check against the
reference is due.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import tempfile
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from kiosk.clock import aware_time
from kiosk.errors import CalibrationError

#: The body temperature in °C at which the size of a correction is judged.
BODY_C = 36.5
#: The largest correction at :data:`BODY_C` accepted by default, in °C.
MAX_CORRECTION_C = 3.0
#: Gains accepted by default; outside this the sensor or the reference is wrong.
GAIN_BAND = (0.8, 1.2)
#: The smallest distance in °C between the two reference points of a two-point fit.
MIN_SPAN_C = 2.0
#: Where the median of a day's screened body temperatures should lie, in °C: the normal
#: population median (about 36.5-36.9 °C) with room for the skin offset's error.
DRIFT_BAND = (36.0, 37.2)
#: Fewer screened people than this in a day say nothing about drift.
MIN_DAILY_COUNT = 20

_FILE_VERSION = 1


@dataclass(frozen=True)
class Calibration:
    """A linear correction of the raw object temperature: ``gain * raw_c + offset_c``.

    :param gain: slope, dimensionless; 1.0 for an offset-only calibration.
    :param offset_c: intercept in °C.
    :param points: the reference data it was fitted from, as ``(raw_c, reference_c)`` pairs.
    :param at: when it was made, ISO 8601 with offset, or ``None`` for the identity.
    :param by: who made it, or ``None``.
    """

    gain: float = 1.0
    offset_c: float = 0.0
    points: tuple[tuple[float, float], ...] = ()
    at: str | None = None
    by: str | None = None

    def apply(self, raw_c: float) -> float:
        """The corrected temperature in °C for a raw object temperature *raw_c* in °C."""
        return self.gain * raw_c + self.offset_c

    def correction_at(self, celsius: float = BODY_C) -> float:
        """How much the calibration moves a reading of *celsius* °C, in °C."""
        return self.apply(celsius) - celsius

    @property
    def is_identity(self) -> bool:
        """True when the calibration changes nothing."""
        return self.gain == 1.0 and self.offset_c == 0.0

    def to_dict(self) -> dict:
        """A JSON-ready dict (the file format of :class:`CalibrationStore`)."""
        return {
            "version": _FILE_VERSION,
            "gain": self.gain,
            "offset_c": self.offset_c,
            "points": [list(p) for p in self.points],
            "at": self.at,
            "by": self.by,
        }

    @classmethod
    def from_dict(cls, data: object) -> Calibration:
        """Build from :meth:`to_dict` output; any other shape is a CalibrationError."""
        if not isinstance(data, dict):
            raise CalibrationError("expected a JSON object")
        if data.get("version") != _FILE_VERSION:
            raise CalibrationError(f"unknown version {data.get('version')!r}")
        unknown = set(data) - {"version", "gain", "offset_c", "points", "at", "by"}
        if unknown:
            raise CalibrationError(f"unknown keys: {', '.join(sorted(unknown))}")
        try:
            gain = _number(data.get("gain", 1.0), "gain")
            offset_c = _number(data.get("offset_c", 0.0), "offset_c")
            points = tuple(
                (_number(raw, "points"), _number(ref, "points"))
                for raw, ref in data.get("points", [])
            )
        except (TypeError, ValueError) as exc:
            raise CalibrationError(f"bad points: {exc}") from None
        for key in ("at", "by"):
            if data.get(key) is not None and not isinstance(data[key], str):
                raise CalibrationError(f"{key} must be a string")
        return cls(gain, offset_c, points, data.get("at"), data.get("by"))


def _number(value: object, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CalibrationError(f"{key} must be a number, not {value!r}")
    if not math.isfinite(value):
        raise CalibrationError(f"{key} must be finite, not {value!r}")
    return float(value)


def check(
    cal: Calibration,
    *,
    max_correction_c: float = MAX_CORRECTION_C,
    gain_band: tuple[float, float] = GAIN_BAND,
) -> Calibration:
    """Refuse a calibration that corrects too much; return it unchanged otherwise.

    :raises CalibrationError: a non-finite gain or offset, a gain outside *gain_band*, or a
        correction at :data:`BODY_C` larger than *max_correction_c* °C.
    """
    _number(cal.gain, "gain")
    _number(cal.offset_c, "offset_c")
    low, high = gain_band
    if not low <= cal.gain <= high:
        raise CalibrationError(
            f"gain {cal.gain:.3f} is outside {low}..{high}: check the sensor and the reference"
        )
    correction = cal.correction_at(BODY_C)
    if abs(correction) > max_correction_c:
        raise CalibrationError(
            f"the correction at {BODY_C} °C would be {correction:+.2f} °C, beyond "
            f"±{max_correction_c} °C: check the sensor, its window and the reference"
        )
    return cal


def fit_offset(
    raw_c: float,
    reference_c: float,
    *,
    at: str | None = None,
    by: str | None = None,
    max_correction_c: float = MAX_CORRECTION_C,
) -> Calibration:
    """An offset-only calibration from one reading of a reference.

    :param raw_c: what the sensor read, raw, in °C.
    :param reference_c: the reference's true temperature in °C.
    :param at: when, ISO 8601 with offset.
    :param by: who.
    :raises CalibrationError: non-finite input, or an offset beyond *max_correction_c*.
    """
    raw_c = _number(raw_c, "raw_c")
    reference_c = _number(reference_c, "reference_c")
    cal = Calibration(1.0, reference_c - raw_c, ((raw_c, reference_c),), at, by)
    return check(cal, max_correction_c=max_correction_c)


def fit_two_point(
    first: tuple[float, float],
    second: tuple[float, float],
    *,
    at: str | None = None,
    by: str | None = None,
    max_correction_c: float = MAX_CORRECTION_C,
    gain_band: tuple[float, float] = GAIN_BAND,
    min_span_c: float = MIN_SPAN_C,
) -> Calibration:
    """A gain-and-offset calibration from two ``(raw_c, reference_c)`` points in °C.

    Take the points either side of the screening range (for example 35 °C and 39 °C on a
    black-body source), so the fit interpolates rather than extrapolates.

    :raises CalibrationError: non-finite input, points closer than *min_span_c* °C (raw or
        reference), a gain outside *gain_band*, or a correction at :data:`BODY_C` beyond
        *max_correction_c*.
    """
    (raw1, ref1), (raw2, ref2) = (
        (_number(first[0], "raw_c"), _number(first[1], "reference_c")),
        (_number(second[0], "raw_c"), _number(second[1], "reference_c")),
    )
    if abs(raw2 - raw1) < min_span_c or abs(ref2 - ref1) < min_span_c:
        raise CalibrationError(
            f"the two points are closer than {min_span_c} °C: "
            f"take them further apart (for example 35 °C and 39 °C)"
        )
    gain = (ref2 - ref1) / (raw2 - raw1)
    offset_c = ref1 - gain * raw1
    cal = Calibration(gain, offset_c, ((raw1, ref1), (raw2, ref2)), at, by)
    return check(cal, max_correction_c=max_correction_c, gain_band=gain_band)


class CalibrationStore:
    """The current calibration in a JSON file.

    :param path: the file; its folder must exist and be writable.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def load(self) -> Calibration:
        """The stored calibration, or the identity when there is no file.

        :raises CalibrationError: the file cannot be read, is not valid JSON, or holds a
            calibration that :func:`check` refuses; the message names the file.
        """
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return Calibration()
        except OSError as exc:
            raise CalibrationError(f"{self.path}: cannot read: {exc.strerror}") from None
        try:
            return check(Calibration.from_dict(json.loads(text)))
        except json.JSONDecodeError as exc:
            raise CalibrationError(f"{self.path}: not valid JSON: {exc}") from None
        except CalibrationError as exc:
            raise CalibrationError(f"{self.path}: {exc}") from None

    def save(self, cal: Calibration) -> None:
        """Write *cal* atomically: a temporary file in the same folder, fsync, rename, fsync
        the folder. A crash leaves either the old file or the new one, never half of one.

        :raises CalibrationError: *cal* is refused by :func:`check`, or writing failed.
        """
        check(cal)
        text = json.dumps(cal.to_dict(), indent=2, ensure_ascii=False) + "\n"
        folder = self.path.parent
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=folder)
        except OSError as exc:
            raise CalibrationError(f"{self.path}: cannot write: {exc.strerror}") from None
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except OSError as exc:
            Path(tmp).unlink(missing_ok=True)
            raise CalibrationError(f"{self.path}: cannot write: {exc.strerror}") from None
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def daily_median(
    body_c: Iterable[float | None], *, min_count: int = MIN_DAILY_COUNT
) -> float | None:
    """The median of a day's screened body temperatures in °C.

    :param body_c: the day's ``body_c`` values; ``None`` and non-finite values are skipped.
    :param min_count: fewer values than this give ``None`` (too few to judge drift).
    """
    values = [v for v in body_c if v is not None and math.isfinite(v)]
    if len(values) < max(1, min_count):
        return None
    return statistics.median(values)


def drift_warning(median_c: float | None, band: tuple[float, float] = DRIFT_BAND) -> str | None:
    """A warning when a day's median body temperature left *band* (°C), else ``None``.

    A whole population does not run a fever; a median outside the band means the sensor,
    its calibration or the skin offset has drifted.
    """
    if median_c is None:
        return None
    low, high = band
    if median_c < low:
        return (
            f"the day's median body temperature {median_c:.2f} °C is below {low} °C: "
            "the thermometer reads low, check it against the reference"
        )
    if median_c > high:
        return (
            f"the day's median body temperature {median_c:.2f} °C is above {high} °C: "
            "the thermometer reads high, check it against the reference"
        )
    return None


def check_due(last_check_at: datetime | str | None, now: datetime, days: float) -> bool:
    """True when a check against the reference is due.

    :param last_check_at: when the last check was made (a timezone-aware datetime or ISO
        8601 text such as :attr:`Calibration.at`), or ``None`` if never.
    :param now: the current wall-clock time, timezone-aware.
    :param days: the interval between checks in days.
    """
    last = aware_time(last_check_at)
    return last is None or now - last >= timedelta(days=days)


def fit(
    points: Iterable[tuple[float, float]],
    *,
    at: str | None = None,
    by: str | None = None,
    max_correction_c: float = MAX_CORRECTION_C,
) -> Calibration:
    """Fit a calibration to one point (an offset) or two points (gain and offset).

    :param points: ``(raw_c, reference_c)`` pairs in °C: what the sensor read raw, and what
        the reference says.
    :raises CalibrationError: no point, more than two, a point that is not a pair of finite
        numbers, or a fit :func:`fit_offset` / :func:`fit_two_point` refuses.
    """
    try:
        pairs = [(raw, ref) for raw, ref in points]
    except (TypeError, ValueError):
        raise CalibrationError("each point is a (raw °C, reference °C) pair") from None
    if len(pairs) == 1:
        return fit_offset(*pairs[0], at=at, by=by, max_correction_c=max_correction_c)
    if len(pairs) == 2:
        return fit_two_point(*pairs, at=at, by=by, max_correction_c=max_correction_c)
    raise CalibrationError(
        f"give one point (offset) or two points (gain and offset), not {len(pairs)}"
    )


def change(
    store: CalibrationStore,
    journal: Any,
    lane: str,
    points: Iterable[tuple[float, float]],
    *,
    by: str,
    now: datetime,
    max_correction_c: float = MAX_CORRECTION_C,
) -> tuple[Calibration, Calibration]:
    """Fit, save and journal a new calibration; nothing changes when it is refused.

    The journal gets one ``calibration.changed`` event (kind ``"offset"`` or
    ``"two_point"``) with the raw and reference values, who, when, and the calibration
    before and after. Applying it to a running thermometer is the caller's job.

    :param store: where the lane's calibration is kept.
    :param journal: anything with ``append(type, data, lane=...)``.
    :param now: the wall-clock time, timezone-aware; stored as the calibration's ``at``.
    :return: ``(before, after)``.
    :raises CalibrationError: the fit is refused, or the file cannot be written.
    """
    by = (by or "").strip()
    if not by:
        raise CalibrationError("say who calibrates (by)")
    after = fit(
        points, at=now.isoformat(timespec="seconds"), by=by, max_correction_c=max_correction_c
    )
    try:
        before = store.load()
    except CalibrationError:
        before = Calibration()  # an unreadable file is replaced; the event says from what
    store.save(after)
    journal.append(
        "calibration.changed",
        {
            "kind": "offset" if len(after.points) == 1 else "two_point",
            "points": [{"raw_c": raw, "reference_c": ref} for raw, ref in after.points],
            "by": by,
            "at": after.at,
            "before": {"gain": before.gain, "offset_c": before.offset_c, "at": before.at},
            "after": {"gain": after.gain, "offset_c": after.offset_c, "at": after.at},
        },
        lane=lane,
    )
    return before, after


@dataclass(frozen=True)
class DriftSettings:
    """What the drift watch compares against.

    :param band: ``(low, high)`` in °C where a day's median body temperature should lie.
    :param min_count: fewer readings than this in a day say nothing about drift.
    :param check_days: a check against the reference is due this many days after the last.
    """

    band: tuple[float, float] = DRIFT_BAND
    min_count: int = MIN_DAILY_COUNT
    check_days: float = 30.0


class DriftWatch:
    """The daily median of one lane's screened body temperatures, kept as readings arrive.

    Feed it every ``ok`` reading with :meth:`add`; :meth:`status` tells the maintenance
    page whether the median left the band and whether a check is due. Thread-safe.

    It judges the most recent day that has at least ``min_count`` readings: today once it
    has enough, else the previous day.
    """

    def __init__(self, settings: DriftSettings | None = None) -> None:
        self.settings = settings or DriftSettings()
        self._lock = threading.Lock()
        self._day: str | None = None
        self._values: list[float] = []
        self._previous: tuple[str, float | None, int] | None = None

    def add(self, day: str, body_c: float | None) -> None:
        """Count one screened body temperature in °C on *day* (``YYYY-MM-DD``, local)."""
        if body_c is None or not math.isfinite(body_c):
            return
        with self._lock:
            if day != self._day:
                if self._day is not None:
                    self._previous = (
                        self._day,
                        daily_median(self._values, min_count=self.settings.min_count),
                        len(self._values),
                    )
                self._day, self._values = day, []
            self._values.append(float(body_c))

    def status(self, now: datetime, last_check_at: str | None) -> dict:
        """The drift status as plain data.

        :param now: wall-clock time, timezone-aware.
        :param last_check_at: when the calibration was last checked (ISO 8601) or ``None``.
        """
        s = self.settings
        today = now.date().isoformat()
        with self._lock:
            day, values, previous = self._day, list(self._values), self._previous
        if day != today:  # no reading yet today: what we hold is an earlier day
            previous = (
                (day, daily_median(values, min_count=s.min_count), len(values)) if day else previous
            )
            values = []
        median_today = daily_median(values, min_count=s.min_count)
        judged = (today, median_today, len(values)) if median_today is not None else previous
        median = judged[1] if judged else None
        warning = drift_warning(median, s.band)
        due = check_due(last_check_at, now, s.check_days)
        return {
            "day": judged[0] if judged else None,
            "median_c": None if median is None else round(median, 2),
            "count": judged[2] if judged else 0,
            "today_count": len(values),
            "band_c": list(s.band),
            "drifted": warning is not None,
            "warning": warning,
            "last_check_at": last_check_at,
            "check_days": s.check_days,
            "check_due": due or warning is not None,
            "reminder": due,
        }
