"""Alarms from the gates' events and the sweep, shown until someone records what was done:
raised in the transaction that stores the event, cleared when the condition ends,
acknowledged at the gate or on the pages, with the audit entry; on both engines."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from committee import alarms, heartbeats
from committee.errors import NotFound, Refused
from committee.models import Alert, AuditEntry
from tests.committee.helpers import (
    SITE,
    add_account,
    add_gate,
    event,
    headers,
    heartbeat_body,
    post_form,
    push,
    sign_in,
)


def _push(client, token, events):
    reply = push(client, token, {"gate_id": "xdm-jinwaitan-1", "events": events})
    assert reply.status_code == 200, reply.get_json()


def test_alarm_events_raise_clear_and_the_gate_acknowledges(client, db, clock):
    token = add_gate(db, clock)
    fever = event(1, "alert.fever", temperature_c=38.2, household="7-1201", threshold_c=37.3)
    _push(
        client,
        token,
        [
            fever,
            event(2, "alert.sensor_fault", source="thermometer", state="fault", message="PEC"),
            event(3, "door.forced", held_open_s=30),
            event(4, "alert.sensor_fault", source="camera", state="recovered"),  # not an alarm
        ],
    )
    with db.transaction() as session:
        open_now = alarms.open_alarms(session)
        assert [a.kind for a in open_now] == ["alert.fever", "alert.sensor_fault", "door.forced"]
        assert [a.cleared_at for a in open_now] == [None, None, None]
        assert open_now[0].detail["temperature_c"] == 38.2
    _push(
        client,
        token,
        [
            event(5, "alert.sensor_fault", source="thermometer", state="recovered"),
            event(6, "door.closed", alarm="door.forced", open_s=40.0),
            event(
                7,
                "alert.fever_ack",
                fever_seq=1,
                fever_id=fever["id"],
                outcome="clinic",
                by="guard",
                temperature_c=None,
            ),
        ],
    )
    with db.transaction() as session:
        still = alarms.open_alarms(session)
        # the sensor recovered and the door shut, but nobody recorded what was done yet
        assert [a.kind for a in still] == ["alert.sensor_fault", "door.forced"]
        assert all(a.cleared_at is not None for a in still)
        handled = session.scalar(select(Alert).where(Alert.kind == "alert.fever"))
        assert (handled.outcome, handled.ack_by) == ("clinic", "gate:guard")


def test_acknowledging_on_the_pages_checks_the_outcome_and_is_audited(client, db, clock):
    token = add_gate(db, clock)
    _push(client, token, [event(1, "alert.fever", temperature_c=38.0, household="7-1201")])
    add_account(db, clock, "ann", "committee", [SITE])
    sign_in(client, "ann")
    alarm_id = client.get("/now/state").get_json()["alarms"][0]["id"]

    def ack(**body):
        return post_form(client, f"/alarms/{alarm_id}/ack", body)

    assert ack(outcome="checked").status_code == 400  # not a fever's outcome
    assert ack(outcome="remeasured").status_code == 400  # no value
    assert "复测仍发热" in ack(outcome="remeasured", value_c="37.6").get_data(as_text=True)
    assert ack(outcome="remeasured", value_c="36.8", note="rested 10 min").status_code == 302
    assert client.get("/now/state").get_json()["alarms"] == []
    assert ack(outcome="clinic").status_code == 409  # handled already
    with db.transaction() as session:
        row = session.get(Alert, alarm_id)
        assert (row.outcome, row.value_c, row.ack_by, row.note) == (
            "remeasured",
            36.8,
            "ann",
            "rested 10 min",
        )
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "alarm.ack"))
        assert entry.actor == "ann" and entry.detail["outcome"] == "remeasured"


def test_a_silent_gate_is_an_alarm_until_handled_even_after_it_comes_back(client, db, clock):
    token = add_gate(db, clock)
    client.post(
        "/api/v1/gates/xdm-jinwaitan-1/heartbeat", json=heartbeat_body(), headers=headers(token)
    )
    clock.advance(minutes=4)
    with db.transaction() as session:
        assert len(heartbeats.sweep_silent(session, clock(), 180)) == 1
    client.post(
        "/api/v1/gates/xdm-jinwaitan-1/heartbeat", json=heartbeat_body(), headers=headers(token)
    )
    with db.transaction() as session:
        (silent,) = alarms.open_alarms(session)
        assert silent.kind == "gate.silent" and silent.cleared_at is not None
        with pytest.raises(Refused, match="outcome"):
            alarms.acknowledge(session, silent.id, "clinic", by="ann", now=clock())
        alarms.acknowledge(session, silent.id, "checked", by="ann", now=clock())
        assert alarms.open_alarms(session) == []
        with pytest.raises(NotFound):
            alarms.acknowledge(session, 999999, "checked", by="ann", now=clock())


def test_a_committee_cannot_acknowledge_another_sites_alarm(client, db, clock):
    token = add_gate(db, clock, gate="other-1", site="other-site")
    add_gate(db, clock)
    reply = push(
        client, token, {"gate_id": "other-1", "events": [event(1, "door.forced")]}, gate="other-1"
    )
    assert reply.status_code == 200
    add_account(db, clock, "ann", "committee", [SITE])
    sign_in(client, "ann")
    assert client.get("/now/state").get_json()["alarms"] == []
    with db.transaction() as session:
        (alarm,) = alarms.open_alarms(session)
    assert post_form(client, f"/alarms/{alarm.id}/ack", {"outcome": "checked"}).status_code == 404


def test_a_sensor_fault_is_named_by_the_part_that_failed(client, db, clock):
    token = add_gate(db, clock)
    shelf = event(1, "alert.sensor_fault", source="shelf_camera", state="fault", message="x")
    shelf["lane"] = None  # the pickup shelf's camera belongs to no lane
    _push(
        client,
        token,
        [
            shelf,
            event(2, "alert.sensor_fault", source="camera", state="fault", message="no frame"),
            event(3, "alert.sensor_fault", source="thermometer", state="fault", message="PEC"),
            event(4, "alert.sensor_fault", source="audio", state="fault", message="gone"),
        ],
    )
    with db.transaction() as session:
        shown = [alarms.view(a) for a in alarms.open_alarms(session)]
    assert [(a["what"], a["lane"]) for a in shown] == [
        ("alarm.alert.sensor_fault.shelf_camera", None),
        ("alarm.alert.sensor_fault.camera", "main"),
        ("alarm.alert.sensor_fault.thermometer", "main"),
        ("alarm.alert.sensor_fault", "main"),
    ]
