"""Door contact and exit button: gpiozero Buttons on mock pins, and what the lane makes of them."""

from __future__ import annotations

import dataclasses

import pytest

from kiosk import config as config_mod
from kiosk.actuators import Relay
from kiosk.config import DoorSettings, LaneSettings, ScreeningSettings
from kiosk.errors import ConfigError
from kiosk.events import DoorClosed, DoorOpened, ExitRequested
from kiosk.journal import Journal
from kiosk.lane import Lane
from kiosk.roster import Roster
from kiosk.sensors.inputs import DoorInputs

CONTACT, EXIT = 23, 24


def states(pin):
    return [s.state for s in pin.states]


@pytest.fixture
def journal(tmp_path, clock):
    j = Journal(tmp_path / "journal.db", clock)
    yield j
    j.close()


@pytest.fixture
def relay(mock_factory, clock):
    r = Relay(17, active_high=True, max_open_s=10.0, clock=clock, pin_factory=mock_factory)
    yield r
    r.close()


@pytest.fixture
def lane(journal, relay, clock):
    door = DoorSettings(contact_pin=CONTACT, exit_pin=EXIT, held_open_s=30.0, grant_grace_s=5.0)
    settings = dataclasses.replace(LaneSettings(), door=door)
    return Lane(
        "main",
        settings,
        ScreeningSettings(),
        clock=clock,
        journal=journal,
        relay=relay,
        verify_pass=lambda text, now: None,
        roster=Roster,
    )


@pytest.fixture
def inputs(mock_factory, clock):
    got = []
    door = DoorSettings(contact_pin=CONTACT, exit_pin=EXIT, bounce_s=0)
    dev = DoorInputs("main", door, clock=clock, sink=got.append, pin_factory=mock_factory)
    mock_factory.pin(CONTACT).drive_low()  # door shut: contact closed to GND
    got.clear()
    yield dev, got
    dev.close()


def types(journal):
    return [e.type for e in journal.iter_events()]


def test_inputs_door_opening_and_closing_become_events(inputs, mock_factory, clock):
    dev, got = inputs
    assert dev.door_open() is False
    clock.advance(1.0)
    mock_factory.pin(CONTACT).drive_high()
    assert dev.door_open() is True
    mock_factory.pin(CONTACT).drive_low()
    assert got == [DoorOpened("main", 1.0), DoorClosed("main", 1.0)]


def test_inputs_exit_button_press_is_one_event(inputs, mock_factory):
    _dev, got = inputs
    pin = mock_factory.pin(EXIT)
    pin.drive_low()
    pin.drive_high()
    assert got == [ExitRequested("main", 0.0)]


def test_inputs_not_fitted_claims_no_pin(mock_factory, clock):
    dev = DoorInputs("main", DoorSettings(), clock=clock, sink=print, pin_factory=mock_factory)
    assert not dev.fitted
    assert dev.door_open() is None
    assert dev.initial() == []
    assert mock_factory.pins == {}
    dev.close()
    dev.close()


def test_inputs_door_open_at_start_is_reported(mock_factory, clock):
    dev = DoorInputs(
        "main", DoorSettings(contact_pin=CONTACT), clock=clock, sink=print, pin_factory=mock_factory
    )
    try:  # nothing pulls the pin low: door open, or the wire is cut
        assert dev.initial() == [DoorOpened("main", 0.0)]
    finally:
        dev.close()


def test_inputs_settings_refuse_bad_pins():
    with pytest.raises(ValueError, match="contact_pin"):
        DoorSettings(contact_pin=40)
    with pytest.raises(ValueError, match="exit_pin"):
        DoorSettings(contact_pin=5, exit_pin=5)


def test_inputs_settings_from_toml_name_the_key(tmp_path):
    path = tmp_path / "k.toml"
    path.write_text("[lanes.main.door]\ncontact_pin = 99\n")
    with pytest.raises(ConfigError, match=r"k.toml.*lanes.main.door.*contact_pin"):
        config_mod.load(path)
    sim = '[gate]\nhardware = "sim"\n'
    path.write_text(sim + "[lanes.main.door]\ncontact_pin = 23\nexit_pin = 24\nheld_open_s = 20\n")
    door = config_mod.load(path).lanes["main"].door
    assert (door.contact_pin, door.exit_pin, door.held_open_s) == (23, 24, 20.0)


def test_lane_door_opened_without_grant_is_forced(lane, journal, clock):
    clock.advance(100.0)
    lane.handle(DoorOpened("main", clock.monotonic()))
    assert types(journal) == ["door.forced"]
    assert "door" in lane.snapshot().faults
    lane.handle(DoorClosed("main", clock.monotonic() + 2))
    assert types(journal) == ["door.forced", "door.closed"]
    assert "door" not in lane.snapshot().faults


def test_lane_door_opened_during_grant_is_not_forced(lane, journal, relay, clock):
    relay.pulse(3.0)
    clock.advance(1.0)
    lane.handle(DoorOpened("main", clock.monotonic()))
    clock.advance(2.0)
    relay.tick()
    lane.handle(DoorClosed("main", clock.monotonic()))
    assert types(journal) == []
    assert lane.snapshot().faults == {}


def test_lane_door_opened_just_after_the_pulse_is_in_grace(lane, journal, relay, clock):
    relay.pulse(3.0)
    clock.advance(3.0)
    relay.tick()
    assert not relay.is_open
    clock.advance(4.9)
    lane.handle(DoorOpened("main", clock.monotonic()))
    assert types(journal) == []
    clock.advance(0.2)
    lane.handle(DoorClosed("main", clock.monotonic()))
    clock.advance(0.1)
    lane.handle(DoorOpened("main", clock.monotonic()))
    assert types(journal) == ["door.forced"]


def test_lane_door_held_open_alarms_after_held_open_s(lane, journal, relay, clock):
    relay.pulse(3.0)
    lane.handle(DoorOpened("main", clock.monotonic()))
    clock.advance(29.9)
    lane.tick()
    assert types(journal) == []
    clock.advance(0.1)
    lane.tick()
    lane.tick()
    assert types(journal) == ["door.held_open"]
    assert "door" in lane.snapshot().faults
    lane.handle(DoorClosed("main", clock.monotonic()))
    assert types(journal)[-1] == "door.closed"
    assert list(journal.iter_events())[-1].data["open_s"] == 30.0


def test_lane_exit_button_opens_and_is_journaled(lane, journal, relay, clock):
    lane.handle(ExitRequested("main", clock.monotonic()))
    assert relay.is_open
    events = list(journal.iter_events())
    assert [e.type for e in events] == ["gate.exit_request"]
    assert events[0].data == {"open_s": 3.0}
    clock.advance(1.0)
    lane.handle(DoorOpened("main", clock.monotonic()))  # the person leaving opens the door
    assert types(journal) == ["gate.exit_request"]
    clock.advance(2.0)
    relay.tick()
    assert states(relay.pin) == [False, True, False]


def test_daemon_sim_world_drives_door_and_exit(tmp_path):
    from gpiozero.pins.mock import MockFactory

    from kiosk.clock import FakeClock
    from kiosk.sim.hardware import simulated_kiosk

    raw = {
        "gate": {"data_dir": str(tmp_path), "hardware": "sim"},
        "lanes": {
            "main": {
                "camera": {"source": "sim"},
                "door": {"contact_pin": CONTACT, "exit_pin": EXIT, "bounce_s": 0.0},
            }
        },
    }
    cfg = config_mod.from_dict(raw)
    factory = MockFactory()
    clock = FakeClock()
    kiosk = simulated_kiosk(cfg, clock, pin_factory=factory)
    try:
        unit = kiosk.units["main"]
        world = kiosk.world.lanes["main"]
        assert unit.inputs.door_open() is False

        def drain():  # drive the lane by hand on the fake clock
            unit.relay.tick()
            while not unit.runner.inputs.empty():
                unit.lane.handle(unit.runner.inputs.get())

        world.press_exit()
        world.open_door()
        drain()
        clock.advance(10.0)
        world.close_door()
        drain()
        clock.advance(10.0)
        world.open_door()
        drain()
        got = [e.type for e in kiosk.journal.iter_events()]
        assert got == ["gate.exit_request", "door.forced"]
        assert kiosk.facade.state()["lanes"]["main"]["faults"]["door"]
    finally:
        kiosk.close()
        factory.reset()
