"""Calibration, emissivity, drift watch and the maintenance facade on the real daemon."""

from __future__ import annotations

from datetime import timedelta

import pytest

from kiosk.errors import CalibrationError
from kiosk.sensors.calibration import CalibrationStore
from kiosk.sim.hardware import simulated_kiosk
from tests.integration.conftest import Driver, make_config
from tests.integration.test_sensor_faults import events, good_pass


def reading_of(kiosk, drive, forehead_c):
    world = kiosk.world.lane("main")
    before = len(events(kiosk, "temperature.measured"))
    world.step_in(forehead_c)
    drive.step(2.0, until=lambda: len(events(kiosk, "temperature.measured")) > before)
    world.leave()
    drive.step(1.0)
    return events(kiosk, "temperature.measured")[-1].data


def test_kiosk_calibrate_applies_at_once_saves_and_journals(kiosk, clock):
    drive = Driver(kiosk, clock)
    first = reading_of(kiosk, drive, 35.4)
    at = clock.now().isoformat(timespec="seconds")
    result = kiosk.facade.calibrate("main", points=[(36.0, 36.5)], by="tech-1")
    assert result["before"]["identity"] is True
    assert result["after"]["offset_c"] == pytest.approx(0.5)
    second = reading_of(kiosk, drive, 35.4)
    assert second["forehead_c"] - second["raw_object_c"] == pytest.approx(0.5, abs=0.011)
    assert first["forehead_c"] == pytest.approx(first["raw_object_c"], abs=0.011)
    [event] = events(kiosk, "calibration.changed")
    assert event.lane == "main"
    assert event.data["kind"] == "offset"
    assert event.data["by"] == "tech-1"
    assert event.data["points"] == [{"raw_c": 36.0, "reference_c": 36.5}]
    assert event.data["before"]["offset_c"] == 0.0
    assert event.data["after"]["offset_c"] == pytest.approx(0.5)
    assert event.data["at"] == at
    stored = CalibrationStore(kiosk.config.data_dir / "calibration-main.json").load()
    assert stored.offset_c == pytest.approx(0.5) and stored.by == "tech-1"
    assert kiosk.facade.thermometer_state("main")["calibration"]["offset_c"] == pytest.approx(0.5)


@pytest.mark.parametrize(
    "points",
    [[(33.0, 36.5)], [(35.0, 35.0), (36.0, 38.0)], [], [(35.0, 35.0)] * 3, [(35.0, float("nan"))]],
)
def test_kiosk_calibrate_refused_changes_nothing(kiosk, points):
    with pytest.raises(CalibrationError):
        kiosk.facade.calibrate("main", points=points, by="tech")
    assert kiosk.units["main"].thermometer.calibration.is_identity
    assert not (kiosk.config.data_dir / "calibration-main.json").exists()
    assert events(kiosk, "calibration.changed") == []


def test_kiosk_calibrate_needs_a_name(kiosk):
    with pytest.raises(CalibrationError, match="who"):
        kiosk.facade.calibrate("main", points=[(36.0, 36.2)], by="  ")


def test_kiosk_set_emissivity_writes_the_sensor_and_journals(kiosk):
    assert kiosk.facade.thermometer_state("main")["emissivity"] == 1.0
    result = kiosk.facade.set_emissivity("main", 0.98, "tech-2")
    assert result["after"] == pytest.approx(0.98, abs=1e-4)
    assert kiosk.facade.thermometer_state("main")["emissivity"] == pytest.approx(0.98, abs=1e-4)
    [event] = events(kiosk, "calibration.changed")
    assert event.data["kind"] == "emissivity"
    assert event.data["before"] == 1.0 and event.data["after"] == pytest.approx(0.98, abs=1e-4)
    assert event.data["by"] == "tech-2"
    with pytest.raises(CalibrationError):
        kiosk.facade.set_emissivity("main", 1.5, "tech-2")
    with pytest.raises(CalibrationError):
        kiosk.facade.set_emissivity("main", 0.95, "")
    assert len(events(kiosk, "calibration.changed")) == 1


def journal_readings(kiosk, values):
    for v in values:
        kiosk.journal.append(
            "temperature.measured", {"status": "ok", "temperature_c": v}, lane="main"
        )


def test_kiosk_drift_watch_says_check_due_when_the_median_leaves_the_band(kiosk, clock):
    kiosk.facade.calibrate("main", points=[(36.0, 36.1)], by="tech")
    drift = kiosk.facade.thermometer_state("main")["drift"]
    assert drift["check_due"] is False and drift["median_c"] is None
    journal_readings(kiosk, [35.6] * 19)
    assert kiosk.facade.thermometer_state("main")["drift"]["median_c"] is None  # too few
    journal_readings(kiosk, [35.6])
    drift = kiosk.facade.thermometer_state("main")["drift"]
    assert drift["median_c"] == 35.6 and drift["count"] == 20
    assert drift["drifted"] is True and drift["check_due"] is True
    assert drift["reminder"] is False
    assert "reads low" in drift["warning"]


def test_kiosk_drift_watch_reminds_after_check_days(kiosk, clock):
    kiosk.facade.calibrate("main", points=[(36.0, 36.1)], by="tech")
    journal_readings(kiosk, [36.6] * 25)
    assert kiosk.facade.thermometer_state("main")["drift"]["check_due"] is False
    clock.advance(timedelta(days=30).total_seconds())
    drift = kiosk.facade.thermometer_state("main")["drift"]
    assert drift["reminder"] is True and drift["check_due"] is True
    assert drift["median_c"] == 36.6  # yesterday's median is still judged


def test_kiosk_drift_watch_is_seeded_from_the_journal_at_start(tmp_path, clock):
    cfg = make_config(tmp_path)
    k = simulated_kiosk(cfg, clock)
    journal_readings(k, [37.6] * 21)
    k.close()
    k = simulated_kiosk(cfg, clock)
    try:
        drift = k.facade.thermometer_state("main")["drift"]
        assert drift["count"] == 21 and drift["drifted"] is True
        assert drift["reminder"] is True  # never calibrated
    finally:
        k.close()


def test_kiosk_camera_state_and_snapshot_with_the_code_outlined(kiosk, clock):
    drive = Driver(kiosk, clock)
    assert kiosk.facade.camera_jpeg("main") is None
    kiosk.world.lane("main").present(good_pass(kiosk, clock))
    drive.step(1.0, until=lambda: events(kiosk, "pass.scanned"))
    drive.step(0.5)
    state = kiosk.facade.camera_state("main")
    assert state["fps"] == pytest.approx(15, rel=0.1)
    assert state["focus"] > 0 and state["last_decode_ms"] is not None
    assert state["fault"] is None
    jpeg = kiosk.facade.camera_jpeg("main")
    assert jpeg[:2] == b"\xff\xd8" and len(jpeg) > 1000


def test_kiosk_test_pulse_opens_the_relay_and_is_journaled(kiosk, clock):
    drive = Driver(kiosk, clock)
    unit = kiosk.units["main"]
    kiosk.facade.test_pulse("main", "tech-3")
    drive.step(0.1, until=lambda: unit.relay.is_open)
    assert unit.relay.is_open
    [event] = events(kiosk, "gate.manual_open")
    assert event.data["reason"] == "test" and event.data["guard"] == "tech-3"
    drive.step(kiosk.config.lanes["main"].relay.open_s + 0.1)
    assert not unit.relay.is_open
