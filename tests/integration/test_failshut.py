"""The gate fails shut: relay off at start, after each pulse, after lane errors, when the lane
thread hangs (the relay timer enforces max_open_s), and when the daemon closes."""

from __future__ import annotations

import threading

import pytest
from gpiozero.pins.mock import MockFactory

from kiosk import config as config_mod
from kiosk.clock import FakeClock
from kiosk.daemon import LANE_STALL_S
from kiosk.events import ManualOpen
from kiosk.sim.hardware import simulated_kiosk


def states(pin):
    return [s.state for s in pin.states]


@pytest.fixture
def kiosk(tmp_path):
    raw = {
        "gate": {"data_dir": str(tmp_path), "hardware": "sim"},
        "lanes": {
            "main": {"camera": {"source": "sim"}, "relay": {"pin": 17, "max_open_s": 10.0}},
            "exit": {
                "direction": "out",
                "camera": {"source": "sim"},
                "relay": {"pin": 27, "max_open_s": 10.0},
                "thermometer": {"address": 0x5B},
            },
        },
    }
    factory = MockFactory()
    k = simulated_kiosk(config_mod.from_dict(raw), FakeClock(), pin_factory=factory)
    yield k
    k.stop()
    k.close()
    factory.reset()


def test_failshut_every_relay_is_off_at_start(kiosk):
    for unit in kiosk.units.values():
        assert states(unit.relay.pin) == [False]


def test_failshut_relay_off_beyond_max_open_even_when_the_lane_thread_hangs(kiosk):
    unit = kiosk.units["main"]
    hang, hung = threading.Event(), threading.Event()

    def hanging_tick():  # a lane that asks for a minute of open gate, then never returns
        unit.relay.pulse(60.0)
        hung.set()
        hang.wait(30.0)

    unit.lane.tick = hanging_tick
    kiosk.start()
    try:
        assert hung.wait(5.0)
        assert unit.relay.is_open
        kiosk.clock.advance(9.99)
        assert unit.relay.timer.settle()
        assert unit.relay.is_open
        kiosk.clock.advance(0.01)  # max_open_s reached: the relay's own timer closes it
        assert unit.relay.timer.settle()
        assert not unit.relay.is_open
        assert states(unit.relay.pin) == [False, True, False]
        kiosk.clock.advance(LANE_STALL_S)  # the other lane's loop turns on; this one is stuck
        assert kiosk.units["exit"].runner.settle()
        hung_only = ["lane main: thread hung for 20 s"]
        assert kiosk.alive() == (False, hung_only)  # no watchdog ping
        assert kiosk.health()["ok"] is False
    finally:
        hang.set()


def test_failshut_unhandled_lane_error_turns_the_relay_off(kiosk):
    unit = kiosk.units["main"]
    real = unit.lane.handle

    def failing(event):
        real(event)  # the manual open pulses the relay ...
        raise RuntimeError("lane bug")  # ... and then the lane fails

    unit.lane.handle = failing
    kiosk.start()
    unit.runner.put(ManualOpen("main", 0.0, "test", "guard"))
    assert unit.runner.settle()  # a whole turn of the lane thread since: the input is handled
    assert "alert.lane_error" in [e.type for e in kiosk.journal.recent(5)]
    assert not unit.relay.is_open
    assert states(unit.relay.pin) == [False, True, False]
    assert unit.runner.alive  # the lane goes on with the next input
    assert kiosk.alive()[0]


def test_failshut_stop_turns_relays_off_and_releases_the_pins(kiosk):
    kiosk.start()
    for unit in kiosk.units.values():
        unit.relay.pulse(5.0)
    pins = {n: u.relay.pin for n, u in kiosk.units.items()}
    kiosk.stop()
    kiosk.stop()
    for pin in pins.values():
        assert states(pin) == [False, True, False]
        assert pin.function == "input"  # released: the pull-down keeps the relay off


def test_failshut_relays_off_is_safe_before_start_and_twice(kiosk):
    kiosk.relays_off()
    kiosk.relays_off()
    for unit in kiosk.units.values():
        assert states(unit.relay.pin) == [False]
