import pytest

from kiosk.actuators import Indicator, Relay


@pytest.fixture
def relay(mock_factory, clock):
    r = Relay(17, active_high=True, max_open_s=10.0, clock=clock, pin_factory=mock_factory)
    yield r
    r.close()


def states(pin):
    return [s.state for s in pin.states]


def test_relay_starts_off(relay):
    assert not relay.is_open
    assert states(relay.pin) == [False]


def test_relay_pulse_turns_off_after_open_s(relay, clock):
    assert relay.pulse(3.0) == 3.0
    assert relay.is_open
    clock.advance(2.99)
    relay.tick()
    assert relay.is_open
    clock.advance(0.01)
    relay.tick()
    assert not relay.is_open
    assert states(relay.pin) == [False, True, False]


def test_relay_pulse_is_clamped_to_max_open(relay, clock):
    assert relay.pulse(60.0) == 10.0
    clock.advance(10.0)
    relay.tick()
    assert not relay.is_open


def test_relay_extending_pulses_never_pass_max_open(relay, clock):
    relay.pulse(3.0)
    closed_at = []
    for _ in range(10):
        clock.advance(2.0)
        relay.tick()
        if not relay.is_open:
            closed_at.append(clock.monotonic())
        relay.pulse(3.0)
    # opened at 0, it had to close at 10 s even though pulses kept coming; the next pulse
    # opened it again, and it closed once more 10 s later
    assert states(relay.pin)[:3] == [False, True, False]
    assert closed_at == [10.0, 20.0]
    assert states(relay.pin) == [False, True, False, True, False, True]


def test_relay_active_low_is_off_at_start(mock_factory, clock):
    r = Relay(18, active_high=False, max_open_s=5, clock=clock, pin_factory=mock_factory)
    try:
        assert r.pin.state is True  # active low: high level means off
        r.pulse(1)
        assert r.pin.state is False
    finally:
        r.close()
    assert mock_factory.pin(18).state is True


def test_relay_close_twice_leaves_it_off(relay):
    relay.pulse(3.0)
    relay.close()
    relay.close()
    assert not relay.is_open
    assert relay.pulse(1.0) == 0.0
    assert states(relay.pin)[-1] is False


def test_relay_timer_thread_closes_without_anyone_calling_tick(mock_factory, clock):
    r = Relay(22, active_high=True, max_open_s=10.0, clock=clock, pin_factory=mock_factory)
    pin = r.pin
    r.start(interval=0.005)
    try:
        r.pulse(60.0)
        assert r.is_open
        clock.advance(9.99)
        assert r.timer.settle()  # the timer thread has looked at the clock since
        assert r.is_open
        clock.advance(0.01)
        assert r.timer.settle()
        assert not r.is_open  # max_open_s, enforced by the timer thread alone
    finally:
        r.close()
    assert not r.alive
    assert [s.state for s in pin.states] == [False, True, False]


def test_indicator_without_pin_does_nothing(mock_factory):
    lamp = Indicator(None, pin_factory=mock_factory)
    lamp.set(True)
    assert lamp.is_on is False
    assert mock_factory.pins == {}  # no pin claimed
    lamp.close()


def test_indicator_on_pin(mock_factory):
    lamp = Indicator(5, pin_factory=mock_factory)
    lamp.set(True)
    assert mock_factory.pin(5).state is True
    assert lamp.is_on is True
    lamp.close()


def test_relay_trace_reads_the_pin_back_high_then_low(relay, clock):
    assert relay.trace() == [(0.0, "low")]
    relay.pulse(3.0)
    clock.advance(3.0)
    relay.tick()
    assert relay.trace() == [(0.0, "low"), (0.0, "high"), (3.0, "low")]
    assert relay.level() == "low" and states(relay.pin) == [False, True, False]
    relay.off()  # already off: no change to record
    assert len(relay.trace()) == 3


def test_relay_trace_of_an_active_low_relay_is_the_pins_level(mock_factory, clock):
    r = Relay(27, active_high=False, max_open_s=10.0, clock=clock, pin_factory=mock_factory)
    try:
        r.pulse(1.0)
        assert r.is_open and r.level() == "low"  # energised on a low level
        assert [level for _, level in r.trace()] == ["high", "low"]
    finally:
        r.close()
