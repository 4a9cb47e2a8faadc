"""Sensor faults on the real daemon with simulated hardware: the thermometer and the camera
unplugged and plugged back, the lane in manual temperature, the guard's hand measurement."""

from __future__ import annotations

from datetime import timedelta

import pytest

from kiosk.clock import FakeClock, SystemClock
from kiosk.journal import Journal
from kiosk.lane import DENIED, GRANTED, MEASURING
from kiosk.sim import demo
from kiosk.sim.hardware import simulated_kiosk
from tests.conftest import wait_for
from tests.integration.conftest import Driver, make_config


def events(kiosk, type_):
    return [e for e in kiosk.journal.iter_events() if e.type == type_]


def good_pass(kiosk, clock):
    key = demo.committee_key(kiosk.config.keys_dir)
    now = clock.now()
    return demo.mint(
        key,
        pass_id="P0007120101",
        household="7-1201",
        site=kiosk.config.gate.site,
        valid_from=now - timedelta(days=1),
        valid_until=now + timedelta(days=30),
    )


def test_daemon_thermometer_unplugged_switches_lane_to_manual_and_back(kiosk, clock):
    drive = Driver(kiosk, clock)
    sensor = kiosk.world.lane("main").sensor
    drive.step(0.5)
    assert kiosk.facade.state()["lanes"]["main"]["manual_temperature"] is False

    sensor.unplugged = True
    drive.step(2.0, until=lambda: kiosk.units["main"].lane.snapshot().manual_temperature)
    lane = kiosk.facade.state()["lanes"]["main"]
    assert lane["manual_temperature"] is True
    assert "thermometer" in lane["faults"]
    assert kiosk.health()["lanes"]["main"]["thermometer"] == "fault"
    [fault] = events(kiosk, "alert.sensor_fault")
    assert fault.data["source"] == "thermometer" and fault.data["state"] == "fault"
    assert kiosk.facade.thermometer_state("main")["fault"]

    sensor.unplugged = False
    drive.step(1.0, until=lambda: not kiosk.units["main"].lane.snapshot().manual_temperature)
    lane = kiosk.facade.state()["lanes"]["main"]
    assert lane["manual_temperature"] is False and lane["faults"] == {}
    assert [e.data["state"] for e in events(kiosk, "alert.sensor_fault")] == ["fault", "recovered"]
    assert kiosk.health()["lanes"]["main"]["thermometer"] == "ok"


@pytest.mark.parametrize(
    ("measured_c", "granted", "reason"), [(36.6, True, "GRANTED"), (37.5, False, "FEVER")]
)
def test_daemon_manual_temperature_is_journaled_and_below_threshold_opens_gate(
    kiosk, clock, measured_c, granted, reason
):
    drive = Driver(kiosk, clock)
    unit = kiosk.units["main"]
    world = kiosk.world.lane("main")
    world.sensor.unplugged = True
    drive.step(2.0, until=lambda: unit.lane.snapshot().manual_temperature)

    world.present(good_pass(kiosk, clock))
    drive.step(2.0, until=lambda: unit.lane.state == MEASURING)
    snap = kiosk.facade.state()["lanes"]["main"]
    assert snap["state"] == MEASURING
    assert snap["message_en"] == "Guard: measure by hand"

    kiosk.facade.manual_temperature("main", measured_c, "guard-1")
    drive.step(1.0, until=lambda: unit.lane.state != MEASURING)
    [measured] = events(kiosk, "temperature.measured")
    assert measured.data["status"] == "manual"
    assert measured.data["temperature_c"] == measured_c
    assert measured.data["by"] == "guard-1"
    decision = events(kiosk, "access.granted" if granted else "access.denied")
    assert [d.data["reason"] for d in decision] == [reason]
    assert decision[0].data["temperature_c"] == measured_c
    assert unit.relay.is_open is granted
    assert unit.lane.state == (GRANTED if granted else DENIED)


def test_daemon_camera_unplugged_shows_fault_within_5_s_and_recovers(kiosk, clock):
    drive = Driver(kiosk, clock)
    unit = kiosk.units["main"]
    camera = kiosk.world.lane("main").camera
    sub = kiosk.facade.subscribe()
    drive.step(1.0)
    assert unit.lane.snapshot().faults == {}

    camera.unplug()
    seen = drive.step(10.0, until=lambda: "camera" in unit.lane.snapshot().faults)
    assert seen <= 5.0  # the limit; 3 s (no_frame_fault_s) plus one frame
    assert kiosk.health()["lanes"]["main"]["camera"] == "fault"
    assert kiosk.facade.camera_state("main")["fault"]
    messages = []
    while (item := sub.get(0)) is not None:
        messages.append(item)
    lanes = [p for kind, p in messages if kind == "lane"]
    assert any("camera" in p["faults"] for p in lanes)  # what the guard screen receives
    [fault] = events(kiosk, "alert.sensor_fault")
    assert fault.data["source"] == "camera" and fault.data["state"] == "fault"

    camera.replug()
    limit = kiosk.config.lanes["main"].camera.reconnect_max_s + 1.0
    back = drive.step(limit, until=lambda: "camera" not in unit.lane.snapshot().faults)
    assert back < limit
    assert kiosk.health()["lanes"]["main"]["camera"] == "ok"
    assert [e.data["state"] for e in events(kiosk, "alert.sensor_fault")] == ["fault", "recovered"]
    sub.close()


def test_daemon_cold_morning_shows_ambient_low_to_the_guard(kiosk, clock):
    drive = Driver(kiosk, clock)
    world = kiosk.world.lane("main")
    world.sensor.ambient_c = 4.0
    world.sensor.object_c = 4.0
    drive.step(0.5)
    world.step_in(33.0)
    unit = kiosk.units["main"]
    drive.step(2.0, until=lambda: unit.lane.snapshot().ambient_low)
    lane = kiosk.facade.state()["lanes"]["main"]
    assert lane["ambient_low"] is True
    assert lane["ambient_c"] == pytest.approx(4.0, abs=0.1)
    [measured] = events(kiosk, "temperature.measured")
    assert measured.data["ambient_c"] == pytest.approx(4.0, abs=0.1)
    assert kiosk.facade.thermometer_state("main")["warning"] == "ambient low: measure the wrist"

    world.leave()
    world.sensor.ambient_c = world.sensor.object_c = 18.0
    drive.step(1.0)
    world.step_in(35.5)
    drive.step(2.0, until=lambda: not unit.lane.snapshot().ambient_low)
    assert kiosk.facade.state()["lanes"]["main"]["ambient_low"] is False


def test_daemon_threads_live_through_sensor_and_camera_unplugged_and_back(tmp_path):
    """The real threads on the real clock: nothing crashes, nothing hangs."""
    cfg = make_config(tmp_path, no_frame_fault_s=0.5, reconnect_max_s=0.5)
    kiosk = simulated_kiosk(cfg, SystemClock())
    world = kiosk.world.lane("main")
    unit = kiosk.units["main"]

    def faults():
        lane = kiosk.health()["lanes"]["main"]
        return {k for k in ("thermometer", "camera") if lane[k] == "fault"}

    kiosk.start()
    try:
        camera = unit.threads[1]
        assert wait_for(lambda: unit.reader.snapshot().frames > 2, camera)
        world.sensor.unplugged = True
        world.camera.unplug()
        assert wait_for(lambda: faults() == {"thermometer", "camera"}, unit.runner)
        assert kiosk.health()["ok"] is True  # the lane thread is alive
        world.sensor.unplugged = False
        world.camera.replug()
        assert wait_for(lambda: faults() == set(), unit.runner)
        assert all(t.alive for t in unit.threads) and unit.runner.alive
        assert all(t.errors == 0 for t in unit.threads)
    finally:
        kiosk.stop()
    assert not unit.runner.alive
    assert not any(t.alive for t in unit.threads)
    assert unit.relay.is_open is False
    journal = Journal(cfg.data_dir / "journal.db", FakeClock())
    try:
        states = [
            (e.data["source"], e.data["state"])
            for e in journal.iter_events()
            if e.type == "alert.sensor_fault"
        ]
    finally:
        journal.close()
    assert sorted(states) == [
        ("camera", "fault"),
        ("camera", "recovered"),
        ("thermometer", "fault"),
        ("thermometer", "recovered"),
    ]
