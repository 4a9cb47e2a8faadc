"""The health information form: its rules (pure), its store, and home observation."""

from __future__ import annotations

import dataclasses
import re
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk import config as config_mod
from kiosk.registrations import id_checksum_ok, mask_id, validate
from kiosk.retention import purge_personal
from kiosk.sim.hardware import simulated_kiosk

TODAY = date(2020, 2, 4)
GOOD_ID = "11010519491231002X"


def form(**changes):
    base = {
        "kind": "returning",
        "name": "王小明",
        "phone": "139 1234 5678",
        "household": "7-1201",
        "from_province": "浙江",
        "from_city": "温州",
        "arrival_date": "2020-02-03",
        "key_area": "no",
        "contact": "no",
        "symptoms": [],
        "temperature_c": "36.5",
        "sensor_c": "36.5",
        "outcome": "admitted",
    }
    base.update(changes)
    return base


def check(**changes):
    return validate(form(**changes), today=TODAY, households={"7-1201", "8-0301"})


def test_registration_returning_resident_with_defaults_is_valid():
    reg, errors = check()
    assert errors == {}
    assert reg.phone == "13912345678"
    assert reg.temperature_source == "sensor"
    assert reg.observation_until is None


@pytest.mark.parametrize(
    ("changes", "field", "code"),
    [
        ({"name": " "}, "name", "name_required"),
        ({"phone": ""}, "phone", "phone_required"),
        ({"phone": "12345"}, "phone", "phone_format"),
        ({"id_number": "110105194912310021"}, "id_number", "id_checksum"),
        ({"id_number": "1101051949123100"}, "id_number", "id_format"),
        ({"household": "9-9999"}, "household", "household_unknown"),
        ({"household": "7/1201"}, "household", "household_format"),
        ({"household": ""}, "household", "household_required"),
        ({"from_province": ""}, "from_province", "from_required"),
        ({"arrival_date": "2020-02-05"}, "arrival_date", "date_future"),
        ({"arrival_date": "4 Feb"}, "arrival_date", "date_format"),
        ({"key_area": "maybe"}, "key_area", "yes_no"),
        ({"symptoms": ["sneezing"]}, "symptoms", "symptoms"),
        ({"temperature_c": ""}, "temperature_c", "temperature_required"),
        ({"temperature_c": "98.6"}, "temperature_c", "temperature_range"),
        ({"temperature_c": "36.9"}, "temperature_note", "temperature_note"),
        ({"plate": "沪A"}, "plate", "plate_format"),
        ({"temperature_c": "37.3", "sensor_c": "37.3"}, "outcome", "outcome_fever"),
        ({"key_area": "yes"}, "outcome", "outcome_risk"),
        ({"contact": "yes"}, "outcome", "outcome_risk"),
        ({"symptoms": ["cough"]}, "outcome", "outcome_symptoms"),
        ({"kind": "courier"}, "outcome", "outcome_courier"),
        ({"outcome": "courier"}, "outcome", "outcome_not_courier"),
        ({"outcome": "observation", "arrival_date": "2020-01-10"}, "outcome", "observation_over"),
    ],
)
def test_registration_rejects_with_a_code_per_field(changes, field, code):
    reg, errors = check(**changes)
    assert reg is None
    assert errors[field] == code


def test_registration_key_area_goes_to_home_observation_for_14_days():
    reg, errors = check(key_area="yes", outcome="observation", arrival_date="2020-02-01")
    assert errors == {}
    assert reg.observation_until == date(2020, 2, 15)


def test_registration_edited_temperature_with_a_reason_is_manual():
    reg, errors = check(temperature_c="36.9", temperature_note="额头出汗，腋下复测")
    assert errors == {}
    assert (reg.temperature_c, reg.temperature_source) == (36.9, "manual")


def test_registration_courier_needs_no_household_and_goes_to_the_pickup_point():
    reg, errors = check(kind="courier", household="", from_province="", outcome="courier")
    assert errors == {}
    assert reg.outcome == "courier"


def test_registration_id_number_checksum_and_mask():
    assert id_checksum_ok(GOOD_ID)
    assert not id_checksum_ok("110105194912310021")
    assert mask_id(GOOD_ID) == "*" * 14 + "002X"
    assert mask_id("") == ""
    reg, errors = check(id_number=GOOD_ID.lower())
    assert errors == {} and reg.id_number == GOOD_ID


@given(st.dictionaries(st.sampled_from([*sorted(form()), "plate", "id_number"]), st.text()))
def test_registration_validate_never_raises_on_any_text(fields):
    reg, errors = validate(fields, today=TODAY, households=None)
    assert (reg is None) == bool(errors)


@pytest.fixture
def kiosk(tmp_path, clock):
    cfg = config_mod.load(config_mod.DEMO_CONFIG)
    cfg = dataclasses.replace(cfg, gate=dataclasses.replace(cfg.gate, data_dir=str(tmp_path)))
    k = simulated_kiosk(cfg, clock)
    yield k
    k.close()


def _roster(version, observation=()):
    return {
        "version": version,
        "site": config_mod.load(config_mod.DEMO_CONFIG).gate.site,
        "households": [{"id": "7-1201", "members": 3}],
        "passes": [],
        "revoked": [],
        "home_observation": [{"household": h, "until": u} for h, u in observation],
    }


def test_registration_store_sends_the_id_number_masked_and_keeps_it_locally(kiosk):
    reg, _ = check(id_number=GOOD_ID)
    event = kiosk.facade.register(reg, "guard", "main")
    assert event.type == "registration.created"
    assert event.data["id_number"].endswith("002X") and GOOD_ID not in str(event.data)
    assert event.data["name"] == "王小明" and event.data["by"] == "guard"
    rows = kiosk.journal.read("SELECT data, event_seq FROM registrations")
    assert GOOD_ID in rows[0][0] and rows[0][1] == event.seq
    assert kiosk.registrations.recent()[0]["id_number"] == mask_id(GOOD_ID)
    assert kiosk.counts.today()["registrations"] == 1


def test_registration_home_observation_flags_the_household_through_roster_pulls(kiosk, clock):
    today = clock.now().date()
    kiosk.rosters.replace(_roster("v1"))
    reg, errors = validate(
        form(key_area="yes", outcome="observation", arrival_date=today.isoformat()),
        today=today,
    )
    assert errors == {}
    kiosk.facade.register(reg, "guard", "main")
    until = today + timedelta(days=14)
    assert kiosk.rosters.current().observation_until("7-1201", today) == until
    kiosk.rosters.replace(_roster("v2"))  # the committee has not heard of it yet
    assert kiosk.rosters.current().observation_until("7-1201", today) == until
    later = until + timedelta(days=3)
    kiosk.rosters.replace(_roster("v3", [("7-1201", later.isoformat())]))
    assert kiosk.rosters.current().observation_until("7-1201", today) == later


def test_registration_flag_keeps_the_later_date(kiosk, clock):
    today = clock.now().date()
    assert kiosk.facade.flag_home_observation("8-0301", today + timedelta(days=14), "guard") == (
        today + timedelta(days=14)
    )
    assert kiosk.facade.flag_home_observation("8-0301", today + timedelta(days=2), "guard") == (
        today + timedelta(days=14)
    )


def test_registration_id_is_one_short_kind_in_the_event_and_the_row(kiosk):
    from kiosk.passes import REGISTRATION_ID_MAX

    reg, _ = check(id_number=GOOD_ID)
    event = kiosk.facade.register(reg, "guard", "main")
    registration_id = event.data["registration_id"]
    assert re.fullmatch(r"R0204[2-9A-HJ-NP-Z]{6}", registration_id)  # month, day, random
    assert len(registration_id.encode()) <= REGISTRATION_ID_MAX  # it fits a temporary pass
    assert kiosk.journal.read("SELECT id FROM registrations") == [(registration_id,)]


def test_registration_written_while_the_disk_refuses_events_is_purged_in_time(kiosk, clock):
    kiosk.journal.fail_writes = "database or disk is full"
    reg, _ = check(id_number=GOOD_ID)
    waiting = kiosk.facade.register(reg, "guard", "main")
    assert waiting.seq is None
    assert kiosk.journal.read("SELECT event_seq FROM registrations") == [(None,)]
    kiosk.journal.fail_writes = None
    kiosk.journal.flush()
    (written,) = kiosk.journal.recent(1, types=("registration.created",))
    assert kiosk.journal.read("SELECT event_seq FROM registrations") == [(written.seq,)]
    kiosk.journal.set_acked_seq(kiosk.journal.last_seq())
    clock.advance(29 * 86400)
    purge_personal(kiosk.journal, 28)
    assert kiosk.journal.read("SELECT COUNT(*) FROM registrations") == [(0,)]
