"""Calibration: fitting, refusing, storing, and watching drift."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.errors import CalibrationError
from kiosk.sensors.calibration import (
    Calibration,
    CalibrationStore,
    check_due,
    daily_median,
    drift_warning,
    fit_offset,
    fit_two_point,
)

CST = timezone(timedelta(hours=8))


def test_calibration_identity_changes_nothing():
    cal = Calibration()
    assert cal.is_identity
    assert cal.apply(36.25) == 36.25


def test_calibration_apply_is_gain_times_raw_plus_offset():
    assert Calibration(1.1, -3.0).apply(35.0) == pytest.approx(35.5)


def test_fit_offset_corrects_the_reading():
    cal = fit_offset(35.2, 36.0, at="2020-02-04T08:00:00+08:00", by="maintenance")
    assert cal.gain == 1.0
    assert cal.offset_c == pytest.approx(0.8)
    assert cal.apply(35.2) == pytest.approx(36.0)
    assert cal.points == ((35.2, 36.0),)
    assert (cal.at, cal.by) == ("2020-02-04T08:00:00+08:00", "maintenance")


@pytest.mark.parametrize("raw, ref", [(33.0, 36.1), (38.0, 34.9)])
def test_fit_offset_refuses_a_correction_beyond_three_degrees(raw, ref):
    with pytest.raises(CalibrationError, match="beyond"):
        fit_offset(raw, ref)


def test_fit_offset_limit_is_adjustable():
    assert fit_offset(33.0, 36.5, max_correction_c=4.0).offset_c == pytest.approx(3.5)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_fit_offset_refuses_non_finite_input(bad):
    with pytest.raises(CalibrationError):
        fit_offset(bad, 36.0)
    with pytest.raises(CalibrationError):
        fit_offset(36.0, bad)


def test_fit_two_point_recovers_gain_and_offset():
    cal = fit_two_point((34.6, 35.0), (38.4, 39.0))
    assert cal.apply(34.6) == pytest.approx(35.0)
    assert cal.apply(38.4) == pytest.approx(39.0)
    assert cal.gain == pytest.approx(4.0 / 3.8)


def test_fit_two_point_refuses_points_too_close():
    with pytest.raises(CalibrationError, match=r"closer than 2\.0"):
        fit_two_point((36.0, 36.2), (37.5, 37.7))


def test_fit_two_point_refuses_gain_outside_band():
    with pytest.raises(CalibrationError, match="gain"):
        fit_two_point((35.0, 35.0), (37.0, 39.0))  # gain 2


def test_fit_two_point_refuses_large_correction_at_body_temperature():
    with pytest.raises(CalibrationError, match=r"36\.5 °C"):
        fit_two_point((30.0, 34.0), (35.0, 39.0))  # +4 everywhere


def test_fit_two_point_refuses_non_finite():
    with pytest.raises(CalibrationError):
        fit_two_point((math.nan, 35.0), (38.0, 39.0))


@given(
    raw1=st.floats(30.0, 36.0),
    raw2=st.floats(38.0, 42.0),
    gain=st.floats(0.85, 1.15),
    offset=st.floats(-2.0, 2.0),
)
def test_fit_two_point_round_trips(raw1, raw2, gain, offset):
    truth = Calibration(gain, offset - (gain - 1) * 36.5)
    try:
        cal = fit_two_point((raw1, truth.apply(raw1)), (raw2, truth.apply(raw2)))
    except CalibrationError:
        # Only refusals the rules call for: reference points closer than 2 °C.
        assert abs(truth.apply(raw2) - truth.apply(raw1)) < 2.0
        return
    assert cal.gain == pytest.approx(gain, rel=1e-6)
    assert cal.apply(36.5) == pytest.approx(truth.apply(36.5), abs=1e-6)


def test_store_missing_file_loads_identity(tmp_path):
    assert CalibrationStore(tmp_path / "calibration.json").load() == Calibration()


def test_store_round_trip(tmp_path):
    store = CalibrationStore(tmp_path / "calibration.json")
    cal = fit_two_point((34.6, 35.0), (38.4, 39.0), at="2020-02-04T08:00:00+08:00", by="维保")
    store.save(cal)
    assert store.load() == cal
    assert json.loads((tmp_path / "calibration.json").read_text("utf-8"))["by"] == "维保"


def test_store_save_replaces_and_leaves_no_temporary_files(tmp_path):
    store = CalibrationStore(tmp_path / "calibration.json")
    store.save(fit_offset(35.0, 35.5))
    store.save(fit_offset(35.0, 36.0))
    assert store.load().offset_c == pytest.approx(1.0)
    assert [p.name for p in tmp_path.iterdir()] == ["calibration.json"]


def test_store_save_refuses_an_unchecked_calibration(tmp_path):
    store = CalibrationStore(tmp_path / "calibration.json")
    with pytest.raises(CalibrationError):
        store.save(Calibration(offset_c=5.0))
    assert not store.path.exists()


def test_store_save_into_missing_folder_is_a_clear_error(tmp_path):
    store = CalibrationStore(tmp_path / "nowhere" / "calibration.json")
    with pytest.raises(CalibrationError, match="nowhere"):
        store.save(Calibration())


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        "[]",
        '{"version": 2, "gain": 1.0, "offset_c": 0.0}',
        '{"version": 1, "gain": "1.0", "offset_c": 0.0}',
        '{"version": 1, "gain": 1.0, "offset_c": 9.0}',
        '{"version": 1, "gain": 1.0, "offset_c": 0.0, "colour": "red"}',
        '{"version": 1, "gain": 1.0, "offset_c": 0.0, "points": [[1]]}',
        '{"version": 1, "gain": 1.0, "offset_c": NaN}',
        '{"version": 1, "gain": 1.0, "offset_c": 0.0, "by": 3}',
    ],
)
def test_store_corrupt_file_names_the_file(tmp_path, text):
    path = tmp_path / "calibration.json"
    path.write_text(text, "utf-8")
    with pytest.raises(CalibrationError, match=r"calibration\.json"):
        CalibrationStore(path).load()


def test_daily_median_skips_missing_and_needs_enough_values():
    values = [36.4, None, 36.6, math.nan, 36.8] + [36.5] * 20
    assert daily_median(values) == 36.5
    assert daily_median([36.5] * 19) is None
    assert daily_median([36.9, 36.1, 36.5], min_count=3) == 36.5


def test_drift_warning_outside_band_only():
    assert drift_warning(36.6) is None
    assert drift_warning(None) is None
    assert "reads low" in drift_warning(35.8)
    assert "reads high" in drift_warning(37.5)
    assert drift_warning(36.6, band=(36.7, 37.0)) is not None


def test_check_due():
    now = datetime(2020, 2, 10, 8, 0, tzinfo=CST)
    assert check_due(None, now, 7)
    assert check_due(now - timedelta(days=7), now, 7)
    assert not check_due(now - timedelta(days=6, hours=23), now, 7)
    assert not check_due("2020-02-09T08:00:00+08:00", now, 7)
    assert check_due("yesterday", now, 7)
