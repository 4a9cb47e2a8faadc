import base64
from datetime import date

from kiosk.roster import Roster

KEY = base64.b64encode(bytes(range(32))).decode("ascii")

BODY = {
    "version": "2020-02-04T08:00:00+08:00#17",
    "site": "xdm-jinwaitan",
    "keys": [{"kid": 1, "ed25519_public": KEY, "use": "resident"}],
    "households": [{"id": "7-1201", "members": 3, "exit_quota_per_day": None}],
    "passes": [
        {"id": "P0007120101", "household": "7-1201", "status": "active"},
        {"id": "P0007120102", "household": "7-1201", "status": "suspended"},
    ],
    "revoked": ["P0007120103"],
    "home_observation": [{"household": "7-1202", "until": "2020-02-18"}],
}


def test_roster_reads_the_committee_shape():
    r = Roster.from_body(BODY, "2020-02-04T08:01:00+08:00")
    assert r.loaded and r.version == BODY["version"]
    assert r.pass_status("P0007120101") == "active"
    assert r.pass_status("P0007120102") == "suspended"
    assert r.pass_status("P0007120103") == "revoked"
    assert r.pass_status("P9") is None
    assert r.observation_until("7-1202", date(2020, 2, 18)) == date(2020, 2, 18)
    assert r.observation_until("7-1202", date(2020, 2, 19)) is None
    assert r.problem is None
    assert r.keys[0].raw() == bytes(range(32))


def test_roster_breaking_the_contract_is_refused_whole_without_raising():
    # one function reads every roster (kiosk.contract.parse_roster): a body with garbage
    # entries is not taken in part, it is refused, and the roster says why
    body = {
        "version": 3,
        "passes": [{"id": "P1"}, "x", None, {"id": "P2", "household": "1", "status": "active"}],
        "revoked": [1, "P3"],
        "home_observation": [{"household": "1", "until": "not a date"}, 7],
        "households": ["x"],
        "keys": "nope",
    }
    r = Roster.from_body(body)
    assert not r.loaded
    assert r.pass_status("P2") is None
    assert "version" in r.problem
    assert r.keys == ()
    bad_entry = {**BODY, "passes": [{"id": "P1"}]}
    assert "passes[0]" in Roster.from_body(bad_entry).problem
    assert Roster.from_body(b"[" * 30000).problem


def test_roster_missing_is_not_loaded():
    assert not Roster.from_body(None).loaded
    assert not Roster().loaded
    assert Roster.from_body({"version": "v", "site": "s"}).loaded
    assert not Roster.from_body({"version": "", "site": "s"}).loaded
