"""The thermometer: real driver on the emulated sensor, driven by a fake clock."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.clock import FakeClock
from kiosk.config import ThermometerSettings
from kiosk.errors import ConfigError, SensorError
from kiosk.events import PersonLeft, PersonPresent, SensorStatus, TemperatureRead
from kiosk.sensors.calibration import Calibration, fit_offset
from kiosk.sensors.mlx90614 import MLX90614, Reading
from kiosk.sensors.thermometer import (
    AMBIENT_LOW_WARNING,
    LEAVE_AFTER_SAMPLES,
    Thermometer,
    presence,
    stable_median,
)
from kiosk.sim.mlx90614 import EmulatedMLX90614
from kiosk.sim.smbus import FakeSMBus

SETTINGS = ThermometerSettings()
AMBIENT_C = 24.0


class World:
    """A lane's thermometer on the emulated sensor, with the clock under the test's hand."""

    def __init__(self, clock, settings=SETTINGS, *, noise_c=0.05, seed=11, calibration=None):
        self.clock = clock
        self.settings = settings
        self.bus = FakeSMBus()
        self.emu = self.bus.attach(
            EmulatedMLX90614(
                clock=clock, seed=seed, noise_c=noise_c, object_c=AMBIENT_C, ambient_c=AMBIENT_C
            )
        )
        self.sensor = MLX90614(self.bus, sleep=clock.advance)
        self.thermometer = Thermometer(self.sensor, clock, settings, "east", calibration)
        self.events: list = []

    def step_in(self, body_c: float) -> float:
        """A person whose body temperature is *body_c* steps in; returns the time."""
        self.emu.object_c = body_c - self.settings.skin_offset_c
        return self.clock.monotonic()

    def step_out(self) -> float:
        self.emu.object_c = AMBIENT_C
        return self.clock.monotonic()

    def run(self, seconds: float) -> list:
        """Poll at sample_hz for *seconds*; returns the events, also kept in .events."""
        period = 1.0 / self.settings.sample_hz
        out = []
        for _ in range(round(seconds / period)):
            self.clock.advance(period)
            out.extend(self.thermometer.poll())
        self.events.extend(out)
        return out


def reads(events) -> list[TemperatureRead]:
    return [e for e in events if isinstance(e, TemperatureRead)]


def kinds(events) -> list[str]:
    return [type(e).__name__ for e in events]


@pytest.fixture
def world(clock):
    return World(clock)


def test_thermometer_nobody_no_events(world):
    assert world.run(5.0) == []


def test_thermometer_person_at_36_4_gets_an_ok_reading(world):
    world.run(1.0)
    world.step_in(36.4)
    events = world.run(2.0)
    assert kinds(events) == ["PersonPresent", "TemperatureRead"]
    present, reading = events
    assert present.lane == reading.lane == "east"
    assert reading.status == "ok"
    assert reading.body_c == pytest.approx(36.4, abs=0.1)
    assert reading.forehead_c == pytest.approx(35.4, abs=0.1)
    assert reading.body_c == pytest.approx(reading.forehead_c + SETTINGS.skin_offset_c)
    assert reading.raw_object_c == reading.forehead_c  # identity calibration
    assert reading.ambient_c == pytest.approx(AMBIENT_C, abs=0.02)
    assert reading.samples == SETTINGS.window
    assert reading.t > present.t


def test_thermometer_time_from_stepping_in_to_reading(world, record_property):
    world.run(1.0)
    stepped_in = world.step_in(36.4)
    events = world.run(3.0)
    (reading,) = reads(events)
    delay = reading.t - stepped_in
    record_property("step_in_to_reading_s", delay)
    print(f"\nstepping in to TemperatureRead: {delay:.2f} s simulated")
    # One sample period for the sensor to see the face (its filter settles in ~0.1 s),
    # then the window of samples.
    assert delay == pytest.approx(SETTINGS.window / SETTINGS.sample_hz, abs=0.11)
    assert delay < 2.0


@pytest.mark.parametrize("body_c", [37.3, 37.8, 38.5, 40.0])
def test_thermometer_fever_values_come_through(world, body_c):
    world.step_in(body_c)
    (reading,) = reads(world.run(2.0))
    assert reading.status == "ok"
    assert reading.body_c == pytest.approx(body_c, abs=0.1)


@pytest.mark.parametrize("body_c", [44.5, 33.0])
def test_thermometer_implausible_values_have_no_body_temperature(world, body_c):
    world.step_in(body_c)
    (reading,) = reads(world.run(2.0))
    assert reading.status == "implausible"
    assert reading.body_c is None
    assert reading.forehead_c == pytest.approx(body_c - SETTINGS.skin_offset_c, abs=0.1)


def test_thermometer_unstable_when_samples_never_agree(clock):
    world = World(clock, noise_c=0.5)
    stepped_in = world.step_in(36.6)
    events = world.run(5.0)
    (reading,) = reads(events)
    assert reading.status == "unstable"
    assert reading.body_c is None and reading.forehead_c is None
    assert reading.t - stepped_in == pytest.approx(SETTINGS.stable_timeout_s, abs=0.11)
    assert reading.samples == SETTINGS.window


def test_thermometer_one_reading_per_presence(world):
    world.step_in(36.5)
    world.run(10.0)
    assert kinds(world.events) == ["PersonPresent", "TemperatureRead"]


def test_thermometer_person_leaving_and_the_next_one(world):
    world.step_in(36.5)
    world.run(2.0)
    left_at = world.step_out()
    events = world.run(1.0)
    assert kinds(events) == ["PersonLeft"]
    assert events[0].t - left_at == pytest.approx(
        LEAVE_AFTER_SAMPLES / SETTINGS.sample_hz, abs=0.11
    )
    world.step_in(38.1)
    events = world.run(2.0)
    assert kinds(events) == ["PersonPresent", "TemperatureRead"]
    assert events[1].body_c == pytest.approx(38.1, abs=0.1)


def test_thermometer_glance_away_is_not_leaving(world):
    world.step_in(36.5)
    world.run(2.0)
    world.step_out()
    world.run(0.2)  # two samples away
    world.step_in(36.5)
    world.run(2.0)
    assert kinds(world.events) == ["PersonPresent", "TemperatureRead"]


def test_thermometer_leaving_before_a_reading(world):
    world.step_in(36.5)
    world.run(0.2)
    world.step_out()
    events = world.run(1.0)
    assert kinds(world.events) == ["PersonPresent", "PersonLeft"]
    assert reads(events) == []


def test_thermometer_remeasure_gives_a_new_reading(world):
    world.step_in(36.5)
    world.run(2.0)
    world.emu.object_c = 37.9 - SETTINGS.skin_offset_c
    world.thermometer.remeasure()
    events = world.run(2.0)
    (reading,) = reads(events)
    assert reading.body_c == pytest.approx(37.9, abs=0.1)
    assert kinds(world.events) == ["PersonPresent", "TemperatureRead", "TemperatureRead"]


def test_thermometer_remeasure_with_nobody_present_does_nothing(world):
    world.thermometer.remeasure()
    world.run(1.0)
    world.step_in(36.5)
    world.run(2.0)
    assert kinds(world.events) == ["PersonPresent", "TemperatureRead"]


def test_thermometer_fault_after_n_failures_and_recovery(world):
    world.run(0.5)
    world.emu.unplugged = True
    events = world.run((SETTINGS.fault_after - 1) / SETTINGS.sample_hz)
    assert events == []
    events = world.run(0.1)
    assert len(events) == 1
    fault = events[0]
    assert isinstance(fault, SensorStatus)
    assert (fault.source, fault.ok, fault.lane) == ("thermometer", False, "east")
    assert "Remote I/O error" in fault.message and "0x5A" in fault.message
    assert world.run(3.0) == []  # raised once, not every sample
    assert world.thermometer.snapshot().fault == fault.message
    world.emu.unplugged = False
    events = world.run(0.1)
    assert len(events) == 1
    assert (events[0].source, events[0].ok) == ("thermometer", True)
    assert world.thermometer.snapshot().fault is None


def test_thermometer_error_flag_counts_as_failure(world):
    world.emu.error_flag = True
    events = world.run(SETTINGS.fault_after / SETTINGS.sample_hz)
    assert [e.ok for e in events] == [False]
    assert "error flag" in events[0].message


def test_thermometer_measurement_restarts_after_a_fault(world):
    world.step_in(36.5)
    world.run(0.3)
    world.emu.unplugged = True
    world.run(5.0)
    world.emu.unplugged = False
    events = world.run(2.0)
    assert kinds(events) == ["SensorStatus", "TemperatureRead"]
    assert reads(events)[0].status == "ok"


def test_thermometer_calibration_applied_live(world):
    world.step_in(36.4)
    (before,) = reads(world.run(2.0))
    world.thermometer.set_calibration(fit_offset(35.0, 35.5))
    assert world.thermometer.snapshot().object_c == pytest.approx(
        world.thermometer.snapshot().raw_object_c + 0.5
    )
    world.thermometer.remeasure()
    (after,) = reads(world.run(2.0))
    assert after.body_c == pytest.approx(before.body_c + 0.5, abs=0.1)
    assert after.forehead_c == pytest.approx(after.raw_object_c + 0.5)


def test_thermometer_calibration_given_at_start(clock):
    world = World(clock, calibration=Calibration(gain=1.0, offset_c=-0.3))
    world.step_in(36.4)
    (reading,) = reads(world.run(2.0))
    assert reading.body_c == pytest.approx(36.1, abs=0.1)


class BrokenSensor:
    """A sensor whose read fails in ways a driver should not, to show poll never raises."""

    def __init__(self, outcome):
        self.outcome = outcome

    def read(self):
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


@pytest.mark.parametrize(
    "outcome",
    [
        SensorError("no answer"),
        OSError(121, "Remote I/O error"),
        RuntimeError("a bug"),
        Reading(math.nan, 20.0),
        object(),
    ],
)
def test_thermometer_poll_never_raises(clock, outcome):
    thermometer = Thermometer(BrokenSensor(outcome), clock, SETTINGS, "east")
    events = []
    for _ in range(SETTINGS.fault_after):
        events += thermometer.poll()
    assert [(e.source, e.ok) for e in events] == [("thermometer", False)]
    assert events[0].message


def test_thermometer_snapshot(clock):
    world = World(clock)
    world.emu.ambient_c = 5.0
    world.emu.object_c = 5.0
    world.run(3.0)
    snap = world.thermometer.snapshot()
    assert snap.samples_per_s == pytest.approx(SETTINGS.sample_hz, rel=0.01)
    assert snap.ambient_low and snap.warning == AMBIENT_LOW_WARNING
    assert snap.present is False and snap.measuring is False
    assert snap.ambient_c == pytest.approx(5.0, abs=0.02)
    world.emu.ambient_c = 24.0
    world.step_in(36.5)
    world.run(0.2)
    snap = world.thermometer.snapshot()
    assert not snap.ambient_low and snap.warning is None
    assert snap.present and snap.measuring
    assert snap.calibration == Calibration()


def test_thermometer_snapshot_before_any_sample(world):
    snap = world.thermometer.snapshot()
    assert snap.t is None and snap.raw_object_c is None and snap.samples_per_s == 0.0


def test_thermometer_presence_needs_the_margin(world):
    world.emu.object_c = AMBIENT_C + SETTINGS.presence_margin_c - 0.2
    assert world.run(2.0) == []


@pytest.mark.parametrize(
    "change",
    [
        {"window": 1},
        {"sample_hz": 0},
        {"spread_c": 0},
        {"presence_margin_c": 0.2},
        {"stable_timeout_s": 0.1},
        {"plausible_min_c": 44.0},
        {"fault_after": 0},
        {"address": 0x80},
        {"sample_hz": math.nan},
        {"window": "5"},
        {"skin_offset_c": 9.0},
    ],
)
def test_thermometer_settings_refuse_nonsense(change):
    with pytest.raises(ConfigError, match=f"thermometer.{next(iter(change))}"):
        replace(SETTINGS, **change)


def test_thermometer_settings_defaults():
    assert (SETTINGS.bus, SETTINGS.address, SETTINGS.sample_hz) == (1, 0x5A, 10.0)
    assert (SETTINGS.spread_c, SETTINGS.plausible_min_c, SETTINGS.plausible_max_c) == (
        0.3,
        34.0,
        43.0,
    )


# -- the pure rules --------------------------------------------------------------------

temperatures = st.floats(20.0, 45.0, allow_nan=False)


@given(samples=st.lists(temperatures, max_size=20), window=st.integers(1, 10))
def test_stable_median_is_within_the_window(samples, window):
    result = stable_median(samples, window, 0.3)
    if len(samples) < window:
        assert result is None
    if result is not None:
        last = samples[-window:]
        assert min(last) <= result <= max(last)
        assert max(last) - min(last) <= 0.3


@given(value=temperatures, window=st.integers(1, 10))
def test_stable_median_of_equal_samples_is_that_value(value, window):
    assert stable_median([value] * window, window, 0.3) == value


@given(samples=st.lists(temperatures, min_size=5, max_size=5))
def test_stable_median_agrees_exactly_when_spread_is_small(samples):
    agrees = max(samples) - min(samples) <= 0.3
    assert (stable_median(samples, 5, 0.3) is not None) == agrees


def test_stable_median_looks_only_at_the_newest():
    assert stable_median([20.0, 36.0, 36.1, 36.2], 3, 0.3) == 36.1


def test_presence_hysteresis():
    assert presence(26.0, 24.0, 2.0, False)
    assert not presence(25.9, 24.0, 2.0, False)
    assert presence(25.6, 24.0, 2.0, True)
    assert not presence(25.4, 24.0, 2.0, True)


class ScriptedSensor:
    """Returns the given object temperatures one per read, at a fixed ambient."""

    def __init__(self, objects):
        self.objects = list(objects)

    def read(self):
        return Reading(self.objects.pop(0), AMBIENT_C)


@given(st.lists(st.floats(20.0, 40.0), min_size=1, max_size=80))
def test_thermometer_never_reads_from_fewer_than_window_samples(objects):
    clock = FakeClock()
    thermometer = Thermometer(ScriptedSensor(objects), clock, SETTINGS, "east")
    present_samples = 0
    present = False
    for _ in objects:
        clock.advance(0.1)
        for event in thermometer.poll():
            if isinstance(event, PersonPresent):
                present, present_samples = True, 0
            elif isinstance(event, PersonLeft):
                present = False
            elif isinstance(event, TemperatureRead) and event.status != "unstable":
                assert event.samples == SETTINGS.window
                assert present_samples + 1 >= SETTINGS.window
        if present:
            present_samples += 1
