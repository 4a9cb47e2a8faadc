"""The pickup shelf's camera on the real daemon: rendered QR frames through the lanes' reader
and scanner, the pass checked as a lane checks it, the household's parcels collected once per
showing; a fault of the shelf camera is no lane's and never moves a relay."""

from __future__ import annotations

import pytest

from kiosk import config
from kiosk.parcels import ParcelForm
from kiosk.shelf import COLLECTED, NOTHING_WAITING, REFUSED, SAME_SHOWING, SOURCE
from kiosk.sim import demo
from kiosk.sim.hardware import simulated_kiosk
from tests.integration.conftest import CAMERA_S, Driver

NORMAL_FOREHEAD_C = 35.4


def shelf_config(tmp_path) -> config.Config:
    """Two lanes (in and out) and a simulated shelf camera."""
    cfg = config.from_dict(
        {
            "gate": {"data_dir": str(tmp_path / "data"), "hardware": "sim"},
            "parcels": {"shelf_camera": "sim"},
            "lanes": {
                "main": {"direction": "in", "camera": {"source": "sim"}},
                "exit": {
                    "direction": "out",
                    "relay": {"pin": 27},
                    "thermometer": {"address": 0x5B},
                    "camera": {"source": "sim"},
                },
            },
        },
        tmp_path / "kiosk.toml",
    )
    demo.ensure_keys(cfg.keys_dir)
    return cfg


@pytest.fixture
def gate(tmp_path, clock):
    """A simulated two-lane kiosk with a shelf camera on the fake clock, the demo roster
    and the demo passes (``{label: token}``); not started: tests drive its step functions."""
    kiosk = simulated_kiosk(shelf_config(tmp_path), clock)
    kiosk.rosters.replace(demo.roster(kiosk.config.gate.site, clock.now().date()))
    passes = {
        p.label: p.token
        for p in demo.demo_passes(kiosk.config.keys_dir, "demo-compound", clock.now())
    }
    yield kiosk, passes
    kiosk.close()


def run_shelf(kiosk, clock, seconds: float) -> list[str]:
    """Read the shelf camera at its frame rate for *seconds* of fake time, as its thread
    does; returns what each report of a pass came to."""
    outcomes, end = [], clock.monotonic() + seconds
    while clock.monotonic() < end:
        for event in kiosk.shelf_reader.poll():
            outcome = kiosk.shelf.handle(event)
            if outcome is not None:
                outcomes.append(outcome)
        clock.advance(CAMERA_S)
    return outcomes


def collected_events(kiosk):
    return list(reversed(kiosk.journal.recent(50, types=("parcel.collected",))))


def relay_pins_never_high(kiosk) -> bool:
    """Every relay pin has only ever been off (one state each: its initial low)."""
    return all([s.state for s in u.relay.pin.states] == [False] for u in kiosk.units.values())


def test_shelf_collects_both_parcels_of_a_household_at_one_showing(gate, clock):
    kiosk, passes = gate
    first = kiosk.parcels.receive(ParcelForm("7-1201", 2, "A3"), by="guard")
    second = kiosk.parcels.receive(ParcelForm("7-1201", 1, "T1", "takeaway", "美团"), by="guard")
    other = kiosk.parcels.receive(ParcelForm("8-0301", 1, "B2"), by="guard")
    kiosk.world.shelf.show(passes["7-1201 出入证 (valid)"])
    outcomes = run_shelf(kiosk, clock, 1.0)
    assert outcomes == [COLLECTED]
    events = collected_events(kiosk)
    assert {e.data["parcel_id"] for e in events} == {first.id, second.id}
    for event in events:
        assert event.lane is None
        assert event.data["household"] == "7-1201"
        assert event.data["by"] == "shelf" and event.data["how"] == "shelf"
        assert event.data["pass_id"] == "P0007120101"
    assert [p.id for p in kiosk.parcels.waiting()] == [other.id]
    assert kiosk.facade.today_counts()["parcels"] == 1
    listed = kiosk.facade.parcels_state()["collected"]
    assert {p["id"] for p in listed} == {first.id, second.id}
    assert {p["how"] for p in listed} == {"shelf"}
    assert relay_pins_never_high(kiosk)


@pytest.mark.parametrize(
    "label",
    ["7-1201 revoked pass", "7-1201 expired pass", "forged pass", "a shop's QR code"],
)
def test_shelf_refuses_a_pass_a_lane_refuses_and_collects_nothing(gate, clock, label):
    kiosk, passes = gate
    kiosk.parcels.receive(ParcelForm("7-1201", 2, "A3"), by="guard")
    kiosk.world.shelf.show(passes[label])
    assert run_shelf(kiosk, clock, 1.0) == [REFUSED]
    assert collected_events(kiosk) == []
    assert [p.household for p in kiosk.parcels.waiting()] == ["7-1201"]


def test_shelf_refuses_a_suspended_pass(gate, clock):
    kiosk, passes = gate
    kiosk.parcels.receive(ParcelForm("9-0502", 1, "C1"), by="guard")
    kiosk.world.shelf.show(passes["9-0502 suspended pass"])
    assert run_shelf(kiosk, clock, 1.0) == [REFUSED]
    assert kiosk.parcels.waiting("9-0502") != []


def test_shelf_pass_held_in_view_collects_once(gate, clock):
    kiosk, passes = gate
    kiosk.parcels.receive(ParcelForm("8-0301", 1, "B2"), by="guard")
    kiosk.world.shelf.show(passes["8-0301 出入证 (valid)"])
    outcomes = run_shelf(kiosk, clock, 12.0)  # held for 12 s: the reader reports it again
    assert outcomes[0] == COLLECTED
    assert len(outcomes) >= 3 and set(outcomes[1:]) == {SAME_SHOWING}
    assert len(collected_events(kiosk)) == 1
    # taken away, a new parcel comes, the pass is shown again: a new showing collects it
    kiosk.world.shelf.show(None)
    run_shelf(kiosk, clock, 11.0)
    kiosk.parcels.receive(ParcelForm("8-0301", 1, "B3"), by="guard")
    kiosk.world.shelf.show(passes["8-0301 出入证 (valid)"])
    assert run_shelf(kiosk, clock, 1.0) == [COLLECTED]
    assert len(collected_events(kiosk)) == 2


def test_shelf_pass_with_nothing_waiting_records_nothing(gate, clock):
    kiosk, passes = gate
    before = kiosk.journal.last_seq()
    kiosk.world.shelf.show(passes["7-1201 出入证 (valid)"])
    assert run_shelf(kiosk, clock, 1.0) == [NOTHING_WAITING]
    assert kiosk.journal.last_seq() == before
    assert kiosk.facade.health()["shelf"]["nothing"] == 1


def test_shelf_camera_fault_is_a_badge_lanes_work_and_the_guard_still_collects(gate, clock):
    kiosk, passes = gate
    kiosk.parcels.receive(ParcelForm("7-1201", 2, "A3"), by="guard")
    assert kiosk.facade.badges()["shelf"] == "ok"
    kiosk.world.shelf.camera.unplug()
    run_shelf(kiosk, clock, 4.0)  # no frame for more than no_frame_fault_s (3 s)
    assert kiosk.facade.badges()["shelf"] == "fault"
    (alert,) = kiosk.journal.recent(5, types=("alert.sensor_fault",))
    assert alert.lane is None
    assert alert.data["source"] == SOURCE and alert.data["state"] == "fault"
    badges = kiosk.facade.badges()
    assert badges["camera"] == "ok" and badges["relay"] == "ok"
    health = kiosk.facade.health()
    assert all(lane["camera"] == "ok" for lane in health["lanes"].values())
    assert all(not u.lane.snapshot().faults for u in kiosk.units.values())
    assert relay_pins_never_high(kiosk)

    # both lanes still let a resident through while the shelf camera is down
    for name, label in (("main", "7-1201 出入证 (valid)"), ("exit", "8-0301 出入证 (valid)")):
        driver = Driver(kiosk, clock)
        driver.unit = kiosk.units[name]
        kiosk.world.lane(name).step_in(NORMAL_FOREHEAD_C, passes[label])
        driver.step(4.0, until=lambda u=driver.unit: u.lane.snapshot().state == "granted")
        assert driver.unit.lane.snapshot().state == "granted", name
        assert driver.unit.relay.is_open
        kiosk.world.lane(name).leave()
        driver.step(5.0, until=lambda u=driver.unit: not u.relay.is_open)
        assert not driver.unit.relay.is_open

    # the guard's one tap collects as before
    assert kiosk.facade.collect_parcels("guard", household="7-1201") == 1
    (event,) = collected_events(kiosk)
    assert event.data["how"] == "guard" and event.data["by"] == "guard"

    # plugged back in: the badge clears, the recovery is journalled
    kiosk.world.shelf.camera.replug()
    run_shelf(kiosk, clock, 8.0)  # the reader's back-off reopens it
    assert kiosk.facade.badges()["shelf"] == "ok"
    recovered = kiosk.journal.recent(1, types=("alert.sensor_fault",))[0]
    assert recovered.data["state"] == "recovered" and recovered.lane is None


def test_shelf_threads_start_and_stop_with_the_daemon(tmp_path):
    kiosk = simulated_kiosk(shelf_config(tmp_path))
    kiosk.start()
    try:
        assert kiosk.shelf_thread.alive
        assert kiosk.health()["shelf"]["thread"] is True
    finally:
        kiosk.stop()
    assert not kiosk.shelf_thread.alive


def test_gate_without_shelf_camera_has_no_shelf(tmp_path, clock):
    cfg = shelf_config(tmp_path)
    import dataclasses

    cfg = dataclasses.replace(cfg, parcels=config.ParcelSettings())
    kiosk = simulated_kiosk(cfg, clock)
    try:
        assert kiosk.shelf is None and kiosk.shelf_thread is None
        assert "shelf" not in kiosk.health() and "shelf" not in kiosk.facade.badges()
        assert kiosk.facade.parcels_state()["shelf"] is False
    finally:
        kiosk.close()
