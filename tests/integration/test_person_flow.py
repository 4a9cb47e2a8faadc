"""A whole person through the real daemon on simulated hardware: camera frames decoded by the
real scanner, the emulated MLX90614 read by the real driver, the real lane, relay and journal."""

from datetime import timedelta

from kiosk.journal import Journal
from kiosk.sim import demo
from tests.conftest import wait_for


def resident_token(kiosk, pass_id="P0007120101", household="7-1201"):
    now = kiosk.clock.now()
    return demo.mint(
        demo.committee_key(kiosk.config.keys_dir),
        pass_id=pass_id,
        household=household,
        site=kiosk.config.gate.site,
        valid_from=now - timedelta(days=1),
        valid_until=now + timedelta(days=30),
    )


def events(kiosk, kind=None):
    return [e for e in kiosk.journal.iter_events() if kind is None or e.type == kind]


def test_person_flow_resident_walks_through(running_kiosk):
    kiosk = running_kiosk
    relay = kiosk.units["main"].relay
    world = kiosk.world.lanes["main"]

    lane = kiosk.units["main"].runner
    world.step_in(35.5, resident_token(kiosk))
    assert wait_for(lambda: events(kiosk, "access.granted"), lane)
    assert relay.is_open
    world.leave()
    assert wait_for(lambda: not relay.is_open, relay.timer, timeout=5.0)

    assert [s.state for s in relay.pin.states] == [False, True, False]
    open_s = relay.pin.states[2].timestamp  # MockPin: seconds since the previous change
    assert 2.9 <= open_s <= 3.5

    rows = [(e.type, e.lane) for e in events(kiosk)]
    assert rows[0] == ("kiosk.started", None)
    assert rows[1:] == [
        ("pass.scanned", "main"),
        ("temperature.measured", "main"),
        ("access.granted", "main"),
    ]
    granted = events(kiosk, "access.granted")[0].data
    assert granted["reason"] == "GRANTED"
    assert granted["pass_id"] == "P0007120101"
    assert granted["household"] == "7-1201"
    assert 36.2 <= granted["temperature_c"] <= 36.8  # 35.5 forehead + 1.0 skin offset
    seqs = [e.seq for e in events(kiosk)]
    assert seqs == list(range(1, len(seqs) + 1))


def test_person_flow_fever_stops_the_person_and_alerts(running_kiosk):
    kiosk = running_kiosk
    relay = kiosk.units["main"].relay
    kiosk.world.lanes["main"].step_in(37.2, resident_token(kiosk))
    assert wait_for(lambda: events(kiosk, "access.denied"), kiosk.units["main"].runner)
    assert events(kiosk, "access.denied")[0].data["reason"] == "FEVER"
    assert len(events(kiosk, "alert.fever")) == 1
    assert [s.state for s in relay.pin.states] == [False]


def test_person_flow_no_pass_opens_nothing(running_kiosk):
    kiosk = running_kiosk
    relay = kiosk.units["main"].relay
    kiosk.world.lanes["main"].step_in(35.5, None)
    assert wait_for(lambda: events(kiosk, "temperature.measured"), kiosk.units["main"].runner)
    kiosk.world.lanes["main"].leave()
    assert not events(kiosk, "access.granted")
    assert [s.state for s in relay.pin.states] == [False]


def test_person_flow_stop_leaves_relay_off_and_is_journaled(running_kiosk):
    kiosk = running_kiosk
    relay = kiosk.units["main"].relay
    kiosk.world.lanes["main"].step_in(35.5, resident_token(kiosk))
    assert wait_for(lambda: relay.is_open, kiosk.units["main"].runner)
    kiosk.stop()  # mid-pulse
    assert not relay.is_open
    assert [s.state for s in relay.pin.states] == [False, True, False]
    journal = Journal(kiosk.config.data_dir / "journal.db", kiosk.clock)
    last = list(journal.iter_events())[-1]
    journal.close()
    assert last.type == "kiosk.stopped"
    assert last.data["relays"] == {"main": "off"}
