"""The lane state machine on a fake clock, with real passes, a real journal and mock pins."""

from datetime import timedelta

import pytest

from kiosk import passes
from kiosk.actuators import Relay
from kiosk.config import LaneSettings, ScreeningSettings
from kiosk.events import (
    CodeUnread,
    ManualOpen,
    PassPresented,
    PersonLeft,
    PersonPresent,
    SensorStatus,
    TemperatureRead,
)
from kiosk.journal import Journal
from kiosk.keys import init_keys, issue_pass, load_private_key, load_public_keys
from kiosk.lane import CLOSER_FORGET_S, DENIED, GRANTED, IDLE, MEASURING, Lane
from kiosk.roster import Roster

SITE = "test-compound"


@pytest.fixture(scope="module")
def keydir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("keys")
    init_keys(folder)
    return folder


@pytest.fixture
def rig(tmp_path, clock, mock_factory, keydir):
    yield from build(tmp_path, clock, mock_factory, keydir, "in")


@pytest.fixture(params=["in", "out"])
def either_way(request, tmp_path, clock, mock_factory, keydir):
    yield from build(tmp_path, clock, mock_factory, keydir, request.param)


def build(tmp_path, clock, mock_factory, keydir, direction, *, rules=None, history=None, **journal):
    journal = Journal(tmp_path / "j.db", clock, **journal)
    relay = Relay(17, active_high=True, max_open_s=10, clock=clock, pin_factory=mock_factory)
    keyring = load_public_keys(keydir)
    roster = {"value": Roster()}
    snapshots = []
    lane = Lane(
        "main",
        LaneSettings(direction=direction),
        ScreeningSettings(),
        clock=clock,
        journal=journal,
        relay=relay,
        verify_pass=lambda text, now: passes.verify(text, keyring, site=SITE, now=now),
        roster=lambda: roster["value"],
        on_change=snapshots.append,
        rules=rules,
        history=history,
    )
    lane.snapshots = snapshots
    lane.roster_box = roster
    yield lane
    relay.close()
    journal.close()


def token(keydir, clock, pass_id="P0007120101", household="7-1201", **kw):
    key = load_private_key(keydir / "committee.key")
    args = {"site": SITE, "now": clock.now() - timedelta(days=1), "days": 30} | kw
    return issue_pass(
        key, kind=passes.PassKind.RESIDENT, pass_id=pass_id, household=household, **args
    )[0]


def reading(clock, body_c, status="ok"):
    return TemperatureRead(
        "main",
        clock.monotonic(),
        status,
        body_c if status == "ok" else None,
        forehead_c=None if body_c is None else body_c - 1.0,
        ambient_c=21.0,
        samples=5,
    )


def types(lane):
    return [e.type for e in lane.journal.iter_events()]


def pin_states(lane):
    return [s.state for s in lane.relay.pin.states]


def test_lane_pass_then_temperature_grants_and_pulses_once(rig, clock, keydir):
    rig.handle(PersonPresent("main", clock.monotonic()))
    rig.handle(PassPresented("main", clock.monotonic(), token(keydir, clock)))
    assert rig.state == MEASURING
    assert rig.relay.is_open is False
    clock.advance(0.5)
    rig.handle(reading(clock, 36.5))
    assert rig.state == GRANTED
    assert rig.relay.is_open
    clock.advance(3.0)
    rig.relay.tick()
    rig.tick()
    assert rig.state == IDLE
    assert pin_states(rig) == [False, True, False]
    assert types(rig) == ["pass.scanned", "temperature.measured", "access.granted"]
    granted = rig.journal.events_after(2)[0]
    assert granted.data["reason"] == "GRANTED"
    assert granted.data["household"] == "7-1201"
    assert granted.data["temperature_c"] == 36.5


def test_lane_temperature_first_then_pass_grants_at_once(rig, clock, keydir):
    rig.handle(reading(clock, 36.4))
    clock.advance(1.0)
    rig.handle(PassPresented("main", clock.monotonic(), token(keydir, clock)))
    assert rig.state == GRANTED


def test_lane_one_reading_admits_one_person(rig, clock, keydir):
    rig.handle(reading(clock, 36.4))
    rig.handle(PassPresented("main", clock.monotonic(), token(keydir, clock)))
    assert rig.state == GRANTED
    clock.advance(3.0)
    rig.tick()
    rig.handle(PassPresented("main", clock.monotonic(), token(keydir, clock, "P0008030101")))
    assert rig.state == MEASURING


def test_lane_fever_denies_alerts_and_keeps_relay_off(rig, clock, keydir):
    rig.handle(PassPresented("main", clock.monotonic(), token(keydir, clock)))
    rig.handle(reading(clock, 37.3))
    assert rig.state == DENIED
    assert pin_states(rig) == [False]
    assert types(rig) == ["pass.scanned", "temperature.measured", "alert.fever", "access.denied"]
    assert rig.snapshot().reason == "FEVER"


def test_lane_reading_goes_stale_after_the_person_leaves(rig, clock, keydir):
    rig.handle(reading(clock, 36.4))
    rig.handle(PersonLeft("main", clock.monotonic()))
    rig.handle(PassPresented("main", clock.monotonic(), token(keydir, clock)))
    assert rig.state == MEASURING


def test_lane_reading_too_old_does_not_count(rig, clock, keydir):
    rig.handle(reading(clock, 36.4))
    clock.advance(16.0)
    rig.handle(PassPresented("main", clock.monotonic(), token(keydir, clock)))
    assert rig.state == MEASURING


def test_lane_no_temperature_times_out(rig, clock, keydir):
    rig.handle(PassPresented("main", clock.monotonic(), token(keydir, clock)))
    clock.advance(7.9)
    rig.tick()
    assert rig.state == MEASURING
    clock.advance(0.2)
    rig.tick()
    assert rig.state == DENIED
    assert rig.snapshot().reason == "NO_TEMPERATURE"
    assert pin_states(rig) == [False]


def test_lane_unstable_reading_then_timeout_says_hold_still(rig, clock, keydir):
    rig.handle(PassPresented("main", clock.monotonic(), token(keydir, clock)))
    rig.handle(reading(clock, None, status="unstable"))
    assert rig.state == MEASURING
    clock.advance(8.1)
    rig.tick()
    assert rig.snapshot().reason == "TEMP_UNSTABLE"


def test_lane_bad_pass_denied_with_temperature_when_it_comes(rig, clock):
    rig.handle(PassPresented("main", clock.monotonic(), "https://shop.example/item/42"))
    assert rig.state == MEASURING
    rig.handle(reading(clock, 36.6))
    assert rig.state == DENIED
    denied = next(e for e in rig.journal.iter_events() if e.type == "access.denied")
    assert denied.data["reason"] == "PASS_MALFORMED"
    assert denied.data["temperature_c"] == 36.6
    assert denied.data["pass_id"] is None


def test_lane_bad_pass_denied_after_short_wait_without_temperature(rig, clock):
    rig.handle(PassPresented("main", clock.monotonic(), "garbage"))
    clock.advance(1.6)
    rig.tick()
    assert rig.state == DENIED
    assert rig.snapshot().reason == "PASS_MALFORMED"


def test_lane_expired_and_revoked_passes(rig, clock, keydir):
    old = token(keydir, clock, now=clock.now() - timedelta(days=40), days=30)
    rig.handle(reading(clock, 36.4))
    rig.handle(PassPresented("main", clock.monotonic(), old))
    assert rig.snapshot().reason == "PASS_EXPIRED"
    clock.advance(3.0)
    rig.tick()
    rig.roster_box["value"] = Roster.from_body(
        {"version": "1", "site": "t-site", "revoked": ["P0007120101"]}
    )
    rig.handle(reading(clock, 36.4))
    rig.handle(PassPresented("main", clock.monotonic(), token(keydir, clock)))
    assert rig.snapshot().reason == "PASS_REVOKED"


def test_lane_same_code_still_in_view_is_not_decided_twice(rig, clock, keydir):
    text = token(keydir, clock)
    rig.handle(reading(clock, 36.4))
    rig.handle(PassPresented("main", clock.monotonic(), text))
    rig.handle(PassPresented("main", clock.monotonic(), text))
    assert types(rig).count("access.granted") == 1


def test_lane_manual_open_is_journaled_with_reason_and_guard(rig, clock):
    rig.handle(ManualOpen("main", clock.monotonic(), "ambulance", "wang"))
    assert rig.relay.is_open
    event = list(rig.journal.iter_events())[-1]
    assert event.type == "gate.manual_open"
    assert event.data == {"reason": "ambulance", "guard": "wang", "open_s": 3.0}


def test_lane_sensor_fault_switches_to_manual_temperature(rig, clock, keydir):
    rig.handle(SensorStatus("main", clock.monotonic(), "thermometer", False, "no answer"))
    assert rig.snapshot().manual_temperature
    rig.handle(PassPresented("main", clock.monotonic(), token(keydir, clock)))
    assert rig.state == MEASURING
    clock.advance(20.0)
    rig.tick()
    assert rig.state == MEASURING  # the guard has time to measure by hand
    rig.handle(TemperatureRead("main", clock.monotonic(), "manual", 36.6, by="wang"))
    assert rig.state == GRANTED
    rig.handle(SensorStatus("main", clock.monotonic(), "thermometer", True))
    assert not rig.snapshot().manual_temperature
    faults = [e.data["state"] for e in rig.journal.iter_events() if e.type == "alert.sensor_fault"]
    assert faults == ["fault", "recovered"]


def test_lane_publishes_a_snapshot_on_every_change(rig, clock, keydir):
    rig.handle(PassPresented("main", clock.monotonic(), token(keydir, clock)))
    rig.handle(reading(clock, 36.4))
    states = [s.state for s in rig.snapshots]
    assert states[0] == MEASURING and states[-1] == GRANTED
    versions = [s.version for s in rig.snapshots]
    assert versions == sorted(versions) and len(set(versions)) == len(versions)


def test_lane_manual_open_is_granted_manual_in_both_directions(either_way, clock):
    either_way.handle(ManualOpen("main", clock.monotonic(), "ambulance", "wang"))
    assert either_way.snapshot().reason == "GRANTED_MANUAL"
    assert either_way.relay.is_open


def test_lane_sensor_fault_without_a_hand_measurement_denies_in_both_directions(
    either_way, clock, keydir
):
    either_way.handle(SensorStatus("main", clock.monotonic(), "thermometer", False, "no answer"))
    either_way.handle(PassPresented("main", clock.monotonic(), token(keydir, clock)))
    clock.advance(90.1)  # the guard never typed a temperature
    either_way.tick()
    assert either_way.state == DENIED
    assert either_way.snapshot().reason == "SENSOR_FAULT"
    denied = [e for e in either_way.journal.iter_events() if e.type == "access.denied"]
    assert denied[0].data["direction"] == either_way.settings.direction
    assert pin_states(either_way) == [False]


@pytest.fixture(params=["in", "out"])
def unrecorded(request, tmp_path, clock, mock_factory, keydir):
    """A lane whose journal cannot be written and whose gate then refuses every grant."""
    lane_gen = build(tmp_path, clock, mock_factory, keydir, request.param, when_unwritable="deny")
    lane = next(lane_gen)
    lane.journal.fail_writes = "database or disk is full"
    lane.journal.append("kiosk.started", {})  # the disk refuses it: the journal knows
    yield lane
    lane.journal.fail_writes = None
    next(lane_gen, None)


def test_lane_journal_unwritable_refuses_with_its_own_reason_in_both_directions(
    unrecorded, clock, keydir
):
    unrecorded.handle(PassPresented("main", clock.monotonic(), token(keydir, clock)))
    unrecorded.handle(reading(clock, 36.5))
    assert unrecorded.state == DENIED
    snap = unrecorded.snapshot()
    assert snap.reason == "JOURNAL_UNWRITABLE"  # not "thermometer fault" to the resident
    assert (snap.message_zh, snap.message_en) == (
        "系统无法记录，请找门卫",
        "Cannot record: please see the guard",
    )
    assert pin_states(unrecorded) == [False]
    unrecorded.journal.fail_writes = None
    unrecorded.journal.flush()
    (denied,) = [e for e in unrecorded.journal.iter_events() if e.type == "access.denied"]
    assert denied.data["reason"] == "JOURNAL_UNWRITABLE"
    assert denied.data["direction"] == unrecorded.settings.direction


@pytest.mark.parametrize(
    ("direction", "words"),
    [
        ("in", ("该通行证已进入，请勿重复使用", "Pass already used to enter")),
        ("out", ("该通行证已外出，请勿重复使用", "Pass already used to go out")),
    ],
)
def test_lane_anti_passback_words_follow_the_lane_direction(
    direction, words, tmp_path, clock, mock_factory, keydir
):
    from kiosk.config import RulesSettings
    from kiosk.policy import History, Passage

    rules = RulesSettings(anti_passback="hard", anti_passback_by="window")
    before = Passage("P0007120101", "7-1201", "resident", direction, clock.now())
    lanes = build(
        tmp_path, clock, mock_factory, keydir, direction, rules=rules, history=History.of([before])
    )
    lane = next(lanes)
    try:
        clock.advance(60.0)
        lane.handle(PassPresented("main", clock.monotonic(), token(keydir, clock)))
        lane.handle(reading(clock, 36.5))
        snap = lane.snapshot()
        assert snap.reason == "ANTI_PASSBACK"
        assert (snap.message_zh, snap.message_en) == words
    finally:
        next(lanes, None)


def test_lane_someone_measured_without_a_pass_shows_their_temperature_until_they_leave(rig, clock):
    rig.handle(PersonPresent("main", clock.monotonic()))
    rig.handle(reading(clock, 36.7))
    snap = rig.snapshot()
    assert (snap.state, snap.present, snap.temperature_c) == (IDLE, True, 36.7)  # "show a pass"
    rig.handle(PersonLeft("main", clock.monotonic()))
    assert rig.snapshot().temperature_c is None


def test_lane_household_under_observation_coming_in_is_granted_with_the_date_to_check(
    tmp_path, clock, mock_factory, keydir
):
    from datetime import date

    from kiosk.config import RulesSettings

    lanes = build(tmp_path, clock, mock_factory, keydir, "in", rules=RulesSettings())
    lane = next(lanes)
    try:
        lane.roster_box["value"] = Roster(
            version="r1",
            passes={"P0007120201": ("7-1202", "active")},
            home_observation={"7-1202": date(2020, 2, 18)},
        )
        lane.handle(reading(clock, 36.5))
        lane.handle(
            PassPresented("main", clock.monotonic(), token(keydir, clock, "P0007120201", "7-1202"))
        )
        snap = lane.snapshot()
        assert (snap.state, snap.warnings, snap.observation_until) == (
            GRANTED,
            ("HOME_OBSERVATION",),
            "2020-02-18",
        )
        granted = lane.journal.recent(1, types=("access.granted",))[0]
        assert granted.data["warnings"] == ["HOME_OBSERVATION"]  # the committee sees it too
    finally:
        next(lanes, None)


def closer_changes(lane):
    """The lane's ``closer`` guidance as published, each change once."""
    out = []
    for snap in lane.snapshots:
        if not out or out[-1] != snap.closer:
            out.append(snap.closer)
    return out


def test_lane_asks_for_the_pass_closer_until_it_is_read(rig, clock, keydir):
    rig.handle(PersonPresent("main", clock.monotonic()))
    rig.handle(CodeUnread("main", clock.monotonic()))
    assert rig.state == IDLE and rig.snapshot().closer
    assert rig.snapshot().to_dict()["closer"] is True
    for _ in range(3):  # the camera goes on reporting it: still one request
        clock.advance(1.0)
        rig.handle(CodeUnread("main", clock.monotonic()))
        rig.tick()
    rig.handle(PassPresented("main", clock.monotonic(), token(keydir, clock)))
    assert rig.state == MEASURING and not rig.snapshot().closer
    rig.handle(reading(clock, 36.5))
    assert rig.state == GRANTED and not rig.snapshot().closer
    assert closer_changes(rig) == [False, True, False]
    assert "pass.scanned" in types(rig)  # nothing journaled for the hint itself
    assert len(types(rig)) == 3


def test_lane_never_asks_for_the_pass_closer_over_a_measurement_or_a_result(rig, clock, keydir):
    rig.handle(PassPresented("main", clock.monotonic(), token(keydir, clock)))
    rig.handle(CodeUnread("main", clock.monotonic()))
    assert rig.state == MEASURING and not rig.snapshot().closer
    rig.handle(reading(clock, 36.5))
    rig.handle(CodeUnread("main", clock.monotonic()))
    assert rig.state == GRANTED and not rig.snapshot().closer


def test_lane_closer_ends_when_the_person_leaves_or_the_code_is_gone(rig, clock):
    rig.handle(PersonPresent("main", clock.monotonic()))
    rig.handle(CodeUnread("main", clock.monotonic()))
    rig.handle(PersonLeft("main", clock.monotonic()))
    assert not rig.snapshot().closer
    rig.handle(CodeUnread("main", clock.monotonic()))
    assert rig.snapshot().closer
    clock.advance(CLOSER_FORGET_S - 0.1)
    rig.tick()
    assert rig.snapshot().closer
    clock.advance(0.1)
    rig.tick()
    assert not rig.snapshot().closer
    assert closer_changes(rig) == [False, True, False, True, False]
