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
    for _ in range(10):
        clock.advance(2.0)
        relay.tick()
        relay.pulse(3.0)
    # opened at 0, it had to close by 10 s even though pulses kept coming
    assert states(relay.pin)[:3] == [False, True, False]


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


def test_relay_timer_thread_closes_without_anyone_calling_tick(mock_factory):
    from kiosk.clock import SystemClock

    r = Relay(22, active_high=True, max_open_s=0.05, clock=SystemClock(), pin_factory=mock_factory)
    pin = r.pin
    r.start(interval=0.005)
    try:
        r.pulse(5.0)
        assert r.is_open
        # wait for the timer thread to enforce max_open_s (bounded, no fixed sleep)
        import threading

        done = threading.Event()
        for _ in range(200):
            if not r.is_open:
                done.set()
                break
            done.wait(0.01)
        assert done.is_set()
    finally:
        r.close()
    assert [s.state for s in pin.states] == [False, True, False]


def test_indicator_without_pin_does_nothing():
    lamp = Indicator(None)
    lamp.set(True)
    lamp.close()


def test_indicator_on_pin(mock_factory):
    lamp = Indicator(5, pin_factory=mock_factory)
    lamp.set(True)
    assert mock_factory.pin(5).state is True
    lamp.close()
