"""The gate rules in policy: a decision table over every reason code, both directions."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk import passes, policy
from kiosk.config import RulesSettings
from kiosk.events import TemperatureRead
from kiosk.reasons import Reason
from kiosk.roster import Roster

CST = timezone(timedelta(hours=8))
NOW = datetime(2020, 2, 4, 9, 0, tzinfo=CST)
SITE = "xdm-jinwaitan"
COMMITTEE = Ed25519PrivateKey.generate()
GATE = Ed25519PrivateKey.generate()
STRANGER = Ed25519PrivateKey.generate()
KEYRING = passes.Keyring()
KEYRING.add(1, COMMITTEE.public_key(), "resident")
KEYRING.add(100, GATE.public_key(), "temporary")
ROSTER = Roster.from_body(
    {
        "version": "t#1",
        "site": SITE,
        "households": [
            {"id": "7-1201", "members": 3},
            {"id": "9-0101", "members": 1, "exit_quota_per_day": 0},
        ],
        "passes": [
            {"id": "P1", "household": "7-1201", "status": "active"},
            {"id": "P2", "household": "7-1201", "status": "active"},
            {"id": "P3", "household": "7-1201", "status": "suspended"},
            {"id": "P4", "household": "7-1201", "status": "revoked"},
            {"id": "P5", "household": "7-1202", "status": "active"},
            {"id": "P6", "household": "8-0301", "status": "active"},
        ],
        "revoked": ["P4"],
        "home_observation": [{"household": "7-1202", "until": "2020-02-18"}],
    }
)
RULES = RulesSettings(anti_passback="hard", exit_quota=1, exit_quota_days=2)
OK = TemperatureRead("main", 0.0, "ok", 36.5)
NO_QUOTA = dataclasses.replace(RULES, exit_quota=0)


def token(
    pass_id="P1",
    household="7-1201",
    *,
    kind=passes.PassKind.RESIDENT,
    key=COMMITTEE,
    kid=1,
    site=SITE,
    start=NOW - timedelta(days=1),
    end=NOW + timedelta(days=30),
    single=False,
):
    claims = passes.make_claims(
        kind=kind,
        kid=kid,
        pass_id=pass_id,
        household=household,
        site=site,
        valid_from=start,
        valid_until=end,
        single_reentry=single,
        registration_id="R1" if kind is passes.PassKind.TEMPORARY else None,
    )
    return passes.issue_token(claims, key)


def temporary(pass_id="T1", **kw):
    return token(pass_id, "8-0301", kind=passes.PassKind.TEMPORARY, key=GATE, kid=100, **kw)


def history(*steps):
    """Passages (pass_id, household, kind, direction, minutes before NOW, single)."""
    return policy.History.of(
        policy.Passage(p, h, k, d, NOW - timedelta(minutes=m), s) for p, h, k, d, m, s in steps
    )


def decide(text, direction, *, reading=OK, hist=None, at=NOW, sync=None, rules=RULES):
    check = passes.verify(text, KEYRING, site=SITE, now=at)
    return policy.decide(
        check,
        reading,
        ROSTER,
        now=at,
        direction=direction,
        threshold_c=37.3,
        rules=rules,
        history=hist if hist is not None else policy.History(),
        has_out_lane=True,
        clock_synchronised=sync,
    )


GOOD = token()
FORGED = GOOD[:-6] + ("A" if GOOD[-6] != "A" else "B") + GOOD[-5:]
WENT_IN = ("P1", "7-1201", "resident", "in", 10, False)
WENT_OUT = ("P1", "7-1201", "resident", "out", 10, False)
TEMP_BACK = ("T1", "8-0301", "temporary", "in", 5, True)
OUTING = ("P2", "7-1201", "resident", "out", 60 * 20, False)  # yesterday evening

#: (label, kwargs for decide(), reason on the way in, reason on the way out)
TABLE = [
    ("good pass", dict(text=GOOD), "GRANTED", "GRANTED"),
    ("fever", dict(text=GOOD, reading=TemperatureRead("m", 0, "ok", 37.3)), "FEVER", "FEVER"),
    (
        "unstable",
        dict(text=GOOD, reading=TemperatureRead("m", 0, "unstable", None)),
        *["TEMP_UNSTABLE"] * 2,
    ),
    (
        "implausible",
        dict(text=GOOD, reading=TemperatureRead("m", 0, "implausible", None)),
        *["TEMP_IMPLAUSIBLE"] * 2,
    ),
    ("no reading", dict(text=GOOD, reading=None), "NO_TEMPERATURE", "NO_TEMPERATURE"),
    ("shop QR", dict(text="https://shop.example/1"), "PASS_MALFORMED", "PASS_MALFORMED"),
    ("forged", dict(text=FORGED), "PASS_BAD_SIGNATURE", "PASS_BAD_SIGNATURE"),
    ("unknown key", dict(text=token(key=STRANGER, kid=7)), "PASS_UNKNOWN_KEY", "PASS_UNKNOWN_KEY"),
    (
        "gate key claims resident",
        dict(text=token(key=GATE, kid=100)),
        "PASS_WRONG_KEY",
        "PASS_WRONG_KEY",
    ),
    ("expired by a second", dict(text=token(end=NOW)), "PASS_EXPIRED", "PASS_EXPIRED"),
    (
        "future-dated",
        dict(text=token(start=NOW + timedelta(seconds=1))),
        *["PASS_NOT_YET_VALID"] * 2,
    ),
    ("revoked", dict(text=token("P4")), "PASS_REVOKED", "PASS_REVOKED"),
    ("suspended", dict(text=token("P3")), "PASS_SUSPENDED", "PASS_SUSPENDED"),
    ("not on roster", dict(text=token("P9")), "PASS_UNKNOWN", "PASS_UNKNOWN"),
    ("other compound", dict(text=token(site="elsewhere")), "PASS_WRONG_SITE", "PASS_WRONG_SITE"),
    ("home observation", dict(text=token("P5", "7-1202")), "GRANTED", "HOME_OBSERVATION"),
    ("temporary, holder left", dict(text=temporary(single=True)), "GRANTED", "GRANTED"),
    (
        "temporary, back already",
        dict(text=temporary(single=True), hist=history(TEMP_BACK)),
        "PASS_USED",
        "GRANTED",
    ),
    ("went in: screenshot", dict(text=GOOD, hist=history(WENT_IN)), "ANTI_PASSBACK", "GRANTED"),
    (
        "went out: screenshot",
        dict(text=GOOD, hist=history(WENT_OUT), rules=NO_QUOTA),
        "GRANTED",
        "ANTI_PASSBACK",
    ),
    (
        "household went out yesterday",
        dict(text=GOOD, hist=history(OUTING)),
        "GRANTED",
        "QUOTA_EXCEEDED",
    ),
    (
        "temporary at night",
        dict(text=temporary(), at=NOW.replace(hour=23)),
        "OUTSIDE_HOURS",
        "OUTSIDE_HOURS",
    ),
    (
        "clock not synchronised, deny",
        dict(text=GOOD, sync=False, rules=dataclasses.replace(RULES, untrusted_clock="deny")),
        "CLOCK_UNTRUSTED",
        "CLOCK_UNTRUSTED",
    ),
]
#: Codes only the lane gives (tests/unit/test_lane.py covers them in both directions).
LANE_ONLY = {Reason.GRANTED_MANUAL, Reason.SENSOR_FAULT, Reason.JOURNAL_UNWRITABLE}


def test_policy_decision_table_in_both_directions():
    for label, kwargs, inward, outward in TABLE:
        for direction, expected in (("in", inward), ("out", outward)):
            got = decide(
                kwargs["text"], direction, **{k: v for k, v in kwargs.items() if k != "text"}
            )
            assert str(got.reason) == expected, f"{label}, {direction}: {got}"
            assert got.granted == (expected == "GRANTED"), label


def test_policy_decision_table_covers_every_reason_code():
    covered = {Reason(r) for _, _, i, o in TABLE for r in (i, o)}
    assert covered | LANE_ONLY == set(Reason)


def test_policy_soft_anti_passback_grants_and_warns():
    got = decide(
        GOOD, "in", hist=history(WENT_IN), rules=dataclasses.replace(RULES, anti_passback="soft")
    )
    assert got.granted and "ANTI_PASSBACK" in got.warnings
    assert got.data("in")["warnings"] == ["ANTI_PASSBACK"]


def test_policy_household_under_observation_coming_in_is_let_in_with_a_warning():
    home = token("P5", "7-1202")
    got = decide(home, "in")
    assert got.granted and got.warnings == ("HOME_OBSERVATION",)  # may be back from a test
    assert got.data("in")["warnings"] == ["HOME_OBSERVATION"]
    assert decide(home, "out").reason == Reason.HOME_OBSERVATION  # going out: stopped
    off = dataclasses.replace(RULES, home_observation="off")
    assert decide(home, "in", rules=off).warnings == ()
    assert decide(GOOD, "in").warnings == ()  # a household not under observation


def test_policy_anti_passback_window_without_out_lane():
    rules = dataclasses.replace(RULES, anti_passback_window_s=600)
    check = passes.verify(GOOD, KEYRING, site=SITE, now=NOW)
    for minutes, expected in ((5, Reason.ANTI_PASSBACK), (11, Reason.GRANTED)):
        hist = history(("P1", "7-1201", "resident", "in", minutes, False))
        got = policy.decide(
            check, OK, ROSTER, now=NOW, direction="in", threshold_c=37.3, rules=rules, history=hist
        )
        assert got.reason == expected


def test_policy_direction_passback_forgets_after_reset():
    old = ("P1", "7-1201", "resident", "in", 60 * 25, False)
    assert decide(
        GOOD, "in", hist=history(old), rules=dataclasses.replace(RULES, exit_quota=0)
    ).granted


def test_policy_quota_window_is_calendar_days_and_roster_overrides():
    three_days = ("P2", "7-1201", "resident", "out", 60 * 24 * 2 + 60, False)
    assert decide(GOOD, "out", hist=history(three_days)).granted
    zero = token("P7", "9-0101")
    roster = Roster.from_body(
        {**_body(), "passes": [{"id": "P7", "household": "9-0101", "status": "active"}]}
    )
    check = passes.verify(zero, KEYRING, site=SITE, now=NOW)
    got = policy.decide(
        check,
        OK,
        roster,
        now=NOW,
        direction="out",
        threshold_c=37.3,
        rules=RULES,
        history=policy.History(),
    )
    assert got.granted  # exit_quota_per_day 0 means no quota for that household


def _body():
    return {
        "version": "x",
        "site": SITE,
        "households": [{"id": "9-0101", "members": 1, "exit_quota_per_day": 0}],
    }


def test_policy_untrusted_clock_is_recorded_and_can_ignore_validity():
    warn = decide(GOOD, "in", sync=False)
    assert warn.granted and warn.data("in")["clock_synchronised"] is False
    assert "CLOCK_UNTRUSTED" in warn.warnings
    lenient = dataclasses.replace(RULES, untrusted_clock="ignore_validity")
    got = decide(token(end=NOW), "in", sync=False, rules=lenient)
    assert got.granted and "PASS_EXPIRED" in got.warnings
    assert decide(token(end=NOW), "in", sync=True, rules=lenient).reason == Reason.PASS_EXPIRED


def test_policy_home_observation_ends_after_its_date():
    later = datetime(2020, 2, 19, 9, 0, tzinfo=CST)
    text = token("P5", "7-1202", end=later + timedelta(days=1))
    assert decide(text, "out", at=later).granted


def test_policy_opening_hours_span_midnight():
    night = policy.parse_hours("22:00-06:00")
    assert policy.within_hours(night, datetime(2020, 1, 1, 23).time())
    assert not policy.within_hours(night, datetime(2020, 1, 1, 12).time())
    assert policy.parse_hours("") is None
    assert policy.within_hours(
        policy.parse_hours("06:00-24:00"), datetime(2020, 1, 1, 23, 59).time()
    )


def test_policy_history_rebuild_from_events_skips_garbage():
    assert policy.Passage.from_event(
        "2020-02-04T09:00:00+08:00", {"pass_id": "P1", "direction": "in"}
    )
    for ts, data in (
        ("x", {}),
        ("2020-02-04T09:00:00", {"pass_id": "P1", "direction": "in"}),
        (None, None),
        ("2020-02-04T09:00:00+08:00", {"pass_id": 3, "direction": "in"}),
    ):
        assert policy.Passage.from_event(ts, data) is None


_rules = st.builds(
    RulesSettings,
    anti_passback=st.sampled_from(["off", "soft", "hard"]),
    anti_passback_by=st.sampled_from(["auto", "direction", "window"]),
    exit_quota=st.integers(0, 3),
    untrusted_clock=st.sampled_from(["warn", "ignore_validity", "deny"]),
)
_texts = st.one_of(
    st.text(max_size=300),
    st.binary(max_size=300),
    st.sampled_from([GOOD, FORGED, temporary(single=True), token("P5", "7-1202")]),
    st.builds(lambda s, i: s[:i], st.just(GOOD), st.integers(0, len(GOOD))),
)
_readings = st.one_of(
    st.none(),
    st.builds(
        TemperatureRead,
        st.just("m"),
        st.floats(0, 1e6),
        st.sampled_from(["ok", "unstable", "implausible", "manual", "??"]),
        st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
    ),
)
_bodies = st.one_of(
    st.none(),
    st.dictionaries(
        st.sampled_from(["version", "passes", "revoked", "home_observation", "households"]),
        st.recursive(
            st.none() | st.integers() | st.text(max_size=8),
            lambda c: (
                st.lists(c, max_size=3)
                | st.dictionaries(
                    st.sampled_from(["id", "household", "status", "until", "exit_quota_per_day"]),
                    c,
                    max_size=4,
                )
            ),
            max_leaves=12,
        ),
    ),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=_texts,
    reading=_readings,
    body=_bodies,
    rules=st.one_of(st.none(), _rules),
    direction=st.sampled_from(["in", "out", "sideways"]),
    sync=st.sampled_from([None, True, False]),
    minutes=st.integers(-600, 60 * 24 * 5),
    at=st.datetimes(
        min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ),
)
def test_policy_never_raises(text, reading, body, rules, direction, sync, minutes, at):
    check = passes.verify(text, KEYRING, site=SITE, now=at)
    hist = history(("P1", "7-1201", "resident", direction, minutes, False), TEMP_BACK)
    got = policy.decide(
        check,
        reading,
        Roster.from_body(body),
        now=at,
        direction=direction,
        threshold_c=37.3,
        rules=rules,
        history=hist,
        has_out_lane=minutes % 2 == 0,
        clock_synchronised=sync,
    )
    assert isinstance(got.reason, Reason)
    assert got.granted == (got.reason == Reason.GRANTED)


# -- the pass alone, wherever it is shown (the pickup shelf) --------------------------------

#: The reasons the pass and the roster give, before any rule of passing through (a single
#: re-entry pass already used, PASS_USED, is a rule of passing: the pass itself is good).
PASS_REASONS = {str(r) for r in Reason if r.startswith("PASS_")} - {"PASS_USED"} | {
    "CLOCK_UNTRUSTED"
}


def valid(text, *, at=NOW, sync=None, rules=RULES):
    check = passes.verify(text, KEYRING, site=SITE, now=at)
    return policy.valid_pass(check, ROSTER, rules=rules, clock_synchronised=sync)


def test_policy_valid_pass_refuses_what_the_table_refuses_for_the_pass_itself():
    """Every row of the decision table: where a lane refuses the pass itself, valid_pass
    gives the same reason; where a lane refuses for a rule of passing (hours, home
    observation, quota, anti-passback) or the temperature, the pass is good."""
    for label, kwargs, inward, outward in TABLE:
        reason, _ = valid(
            kwargs["text"],
            at=kwargs.get("at", NOW),
            sync=kwargs.get("sync"),
            rules=kwargs.get("rules", RULES),
        )
        expected = {inward, outward} & PASS_REASONS
        assert {str(reason)} == (expected or {"GRANTED"}), label


def test_policy_valid_pass_applies_the_clock_trust_rule():
    lenient = dataclasses.replace(RULES, untrusted_clock="ignore_validity")
    assert valid(token(end=NOW), sync=False, rules=lenient) == (Reason.GRANTED, "")
    assert valid(token(end=NOW), sync=True, rules=lenient)[0] == Reason.PASS_EXPIRED
    deny = dataclasses.replace(RULES, untrusted_clock="deny")
    assert valid(GOOD, sync=False, rules=deny)[0] == Reason.CLOCK_UNTRUSTED
    assert valid(token("P9"))[0] == Reason.PASS_UNKNOWN  # not on the loaded roster


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=_texts,
    body=_bodies,
    rules=st.one_of(st.none(), _rules),
    sync=st.sampled_from([None, True, False]),
)
def test_policy_valid_pass_never_raises_and_agrees_with_screen_pass(text, body, rules, sync):
    check = passes.verify(text, KEYRING, site=SITE, now=NOW)
    roster = Roster.from_body(body)
    reason, _ = policy.valid_pass(check, roster, rules=rules, clock_synchronised=sync)
    assert isinstance(reason, Reason)
    lane = policy.screen_pass(
        check, roster, now=NOW, direction="in", rules=rules, clock_synchronised=sync
    )
    if reason != Reason.GRANTED:
        assert lane.reason == reason and not lane.granted
    else:
        assert str(lane.reason) not in PASS_REASONS
