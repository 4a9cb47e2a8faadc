"""POST …/heartbeat and GET …/roster: heartbeats kept per gate, gate.silent, the roster with
its ETag and a new version on every change."""

from __future__ import annotations

import base64
import json
from datetime import date, timedelta

from sqlalchemy import select

from committee import heartbeats, households, keys, observation, passes, sites
from committee.models import Alert, Heartbeat
from committee.serve import sweep_once
from kiosk import contract
from kiosk.passes import Keyring, verify
from tests.committee.helpers import GATE, SITE, add_gate, event, headers, heartbeat_body, push


def beat(client, token, body, gate=GATE):
    return client.post(
        f"/api/v1/gates/{gate}/heartbeat", data=json.dumps(body), headers=headers(token)
    )


def roster(client, token, etag=None, gate=GATE):
    extra = {"If-None-Match": etag} if etag else {}
    return client.get(f"/api/v1/gates/{gate}/roster", headers=headers(token, **extra))


def test_heartbeat_is_kept_per_gate(client, db, clock):
    one = add_gate(db, clock)
    two = add_gate(db, clock, gate="xdm-jinwaitan-2")
    reply = beat(client, one, heartbeat_body(unsent=7))
    assert reply.status_code == 200 and reply.json == {}
    clock.advance(seconds=60)
    assert beat(client, one, heartbeat_body(unsent=3, last_seq=12)).status_code == 200
    assert (
        beat(
            client, two, heartbeat_body("xdm-jinwaitan-2", uptime_s=5.5), "xdm-jinwaitan-2"
        ).status_code
        == 200
    )
    with db.transaction() as session:
        rows = {
            sites.get_gate(session, code).code: session.get(
                Heartbeat, sites.get_gate(session, code).id
            )
            for code in (GATE, "xdm-jinwaitan-2")
        }
        first = rows[GATE]
        assert (first.unsent, first.last_seq, first.version) == (3, 12, "0.1.0")
        assert first.received_at == clock()
        assert first.lanes["main"]["thermometer"] == "ok"
        assert rows["xdm-jinwaitan-2"].uptime_s == 5


def test_heartbeat_bad_body_is_400_and_token_rules_hold(client, db, clock):
    token = add_gate(db, clock)
    other = add_gate(db, clock, gate="xdm-jinwaitan-2")
    for bad in (
        heartbeat_body(unsent=-1),
        heartbeat_body(ts="now"),
        heartbeat_body(lanes=[]),
        heartbeat_body(gate="xdm-jinwaitan-2"),
        {"gate_id": GATE},
    ):
        reply = beat(client, token, bad)
        assert reply.status_code == 400 and reply.json["error"], bad
    assert beat(client, None, heartbeat_body()).status_code == 401
    assert beat(client, other, heartbeat_body()).status_code == 403


def test_gate_silent_after_three_minutes_once_and_cleared_by_a_heartbeat(server, client, db, clock):
    token = add_gate(db, clock)
    add_gate(db, clock, gate="never-started")  # never sent a heartbeat: not silent
    beat(client, token, heartbeat_body())
    clock.advance(seconds=179)
    assert sweep_once(server)["silent"] == 0
    clock.advance(seconds=2)
    assert sweep_once(server)["silent"] == 1
    clock.advance(seconds=60)
    assert sweep_once(server)["silent"] == 0  # one alert per silence
    with db.transaction() as session:
        [alert] = heartbeats.open_alerts(session)
        assert alert.kind == "gate.silent" and alert.detail["silent_s"] == 181
    beat(client, token, heartbeat_body())
    with db.transaction() as session:
        assert heartbeats.open_alerts(session) == []
        assert session.scalars(select(Alert)).one().cleared_at == clock()
    clock.advance(minutes=4)
    assert sweep_once(server)["silent"] == 1  # a new silence, a new alert


def test_roster_200_with_etag_then_304(client, db, clock):
    token = add_gate(db, clock)
    reply = roster(client, token)
    assert reply.status_code == 200
    body = contract.parse_roster(reply.data, site=SITE)
    assert reply.headers["ETag"] == f'"{body.version}"'
    again = roster(client, token, reply.headers["ETag"])
    assert again.status_code == 304 and again.data == b""
    assert again.headers["ETag"] == reply.headers["ETag"]
    assert roster(client, token, '"something-old"').status_code == 200
    assert roster(client, None).status_code == 401


def test_roster_is_the_gates_own_compound(client, db, clock):
    token = add_gate(db, clock)
    other = add_gate(db, clock, gate="other-1", site="other-compound")
    with db.transaction() as session:
        for code, household in ((SITE, "7-1201"), ("other-compound", "1-0101")):
            site = sites.get_site(session, code)
            register = households.Register([households.Row(2, household, 3, None)])
            households.apply(session, site, households.plan(session, site, register), clock())
    mine = roster(client, token).json
    theirs = roster(client, other, gate="other-1").json
    assert mine["site"] == SITE and [h["id"] for h in mine["households"]] == ["7-1201"]
    assert theirs["site"] == "other-compound"
    assert [h["id"] for h in theirs["households"]] == ["1-0101"]


def _version(client, token):
    reply = roster(client, token)
    assert reply.status_code == 200
    return reply.headers["ETag"], reply.json


def test_roster_new_version_on_every_change(server, client, db, clock, tmp_path):
    token = add_gate(db, clock)
    seen = [_version(client, token)[0]]

    def changed():
        clock.advance(seconds=1)
        etag, body = _version(client, token)
        assert etag not in seen
        assert roster(client, token, seen[-1]).status_code == 200
        seen.append(etag)
        return body

    with db.transaction() as session:
        site = sites.get_site(session, SITE)
        register = households.Register(
            [households.Row(2, "7-1201", 3, None), households.Row(3, "7-1202", 2, 1)]
        )
        households.apply(session, site, households.plan(session, site, register), clock())
    body = changed()
    assert body["households"][1] == {"id": "7-1202", "members": 2, "exit_quota_per_day": 1}

    with db.transaction() as session:
        key, created = keys.init(session, tmp_path / "keys", clock())
    assert created
    body = changed()
    [entry] = body["keys"]
    assert entry["kid"] == key.kid and entry["use"] == "resident"
    assert base64.b64decode(entry["ed25519_public"]) == key.key.public_key().public_bytes_raw()

    with db.transaction() as session:
        issued = passes.issue(session, key, SITE, clock(), household="7-1201")
    body = changed()
    assert body["passes"] == [{"id": "P0007120101", "household": "7-1201", "status": "active"}]
    # the pass verifies at a gate holding only this roster's keys
    ring = Keyring.from_roster(body["keys"])
    assert verify(issued[0].token, ring, site=SITE, now=clock()).granted

    for action, status in (("suspend", "suspended"), ("resume", "active"), ("revoke", "revoked")):
        with db.transaction() as session:
            passes.change(session, "P0007120101", action, clock())
        body = changed()
        assert body["passes"][0]["status"] == status
    assert body["revoked"] == ["P0007120101"]

    today = clock().date()
    with db.transaction() as session:
        observation.set_by_hand(session, SITE, "7-1202", today + timedelta(days=13), today, clock())
    body = changed()
    assert body["home_observation"] == [
        {"household": "7-1202", "until": (today + timedelta(days=13)).isoformat()}
    ]
    with db.transaction() as session:
        observation.clear_by_hand(session, SITE, "7-1202", clock())
    assert changed()["home_observation"] == []


def test_registration_with_home_observation_reaches_every_gate_and_ends_after_its_last_day(
    server, client, db, clock
):
    token = add_gate(db, clock)
    second = add_gate(db, clock, gate="xdm-jinwaitan-2")
    with db.transaction() as session:
        site = sites.get_site(session, SITE)
        register = households.Register([households.Row(2, "7-1202", 2, None)])
        households.apply(session, site, households.plan(session, site, register), clock())
    old = roster(client, second, gate="xdm-jinwaitan-2").headers["ETag"]
    until = date(2020, 2, 17)
    form = {
        "outcome": "observation",
        "household": "7-1202",
        "arrival_date": "2020-02-03",
        "observation_until": until.isoformat(),
        "kind": "returning",
    }
    admitted = {"outcome": "admitted", "household": "7-1202", "observation_until": None}
    body = {
        "gate_id": GATE,
        "events": [
            event(1, "registration.created", **form),
            event(2, "registration.created", **admitted),
        ],
    }
    assert push(client, token, body).json == {"acked_seq": 2}
    reply = roster(client, second, old, gate="xdm-jinwaitan-2")
    assert reply.status_code == 200
    assert reply.json["home_observation"] == [{"household": "7-1202", "until": "2020-02-17"}]
    with db.transaction() as session:
        [row] = observation.current(session, sites.get_site(session, SITE).id)
        assert (row.source, row.start, row.until) == ("gate", date(2020, 2, 3), until)
        assert row.source_ref == body["events"][0]["id"]
    # on its last day (Shanghai time) it still holds; the next day it has ended
    clock.moment = clock.moment.replace(month=2, day=17, hour=15)  # 23:00 in Shanghai
    etag = roster(client, token).headers["ETag"]
    assert roster(client, token, etag).status_code == 304
    clock.advance(hours=2)  # 01:00 on the 18th in Shanghai
    reply = roster(client, token, etag)
    assert reply.status_code == 200 and reply.json["home_observation"] == []
    with db.transaction() as session:
        assert observation.current(session, sites.get_site(session, SITE).id) == []


def test_sweep_ends_observations_after_their_last_day(server, db, clock):
    add_gate(db, clock)
    with db.transaction() as session:
        site = sites.get_site(session, SITE)
        register = households.Register([households.Row(2, "7-1202", 2, None)])
        households.apply(session, site, households.plan(session, site, register), clock())
        today = server.today()
        observation.set_by_hand(session, SITE, "7-1202", today, today, clock())
    assert sweep_once(server)["observations_ended"] == 0
    clock.advance(days=1)
    assert sweep_once(server)["observations_ended"] == 1


def test_heartbeat_odd_texts_are_kept_or_refused_by_the_contract(client, db, clock):
    token = add_gate(db, clock)
    body = heartbeat_body(lanes={"main": {"state": "idle\u0000", "note": "\U0001f600"}})
    raw = json.dumps(body)
    reply = client.post(f"/api/v1/gates/{GATE}/heartbeat", data=raw, headers=headers(token))
    assert reply.status_code == 200
    reply = beat(client, token, heartbeat_body(version="0.\u00001"))
    assert reply.status_code == 400 and "NUL" in reply.json["error"]
