"""POST /gates/{gate_id}/events, status by status, as committee-api.md says."""

from __future__ import annotations

import gzip
import json

from sqlalchemy import func, select

from committee.export import export_events
from committee.models import Event, Gate
from kiosk import contract
from tests.committee.helpers import GATE, add_gate, batch, event, push


def stored_seqs(db, gate=GATE):
    with db.transaction() as session:
        return list(
            session.scalars(
                select(Event.seq)
                .join(Gate, Event.gate_id == Gate.id)
                .where(Gate.code == gate)
                .order_by(Event.seq)
            )
        )


def test_events_200_gzip_and_plain_store_every_event(client, db, clock):
    token = add_gate(db, clock)
    reply = push(client, token, batch(1, 3))
    assert reply.status_code == 200 and reply.json == {"acked_seq": 3}
    reply = push(client, token, batch(4, 2), compress=False)
    assert reply.status_code == 200 and reply.json == {"acked_seq": 5}
    assert stored_seqs(db) == [1, 2, 3, 4, 5]


def test_events_stored_exactly_as_sent(client, db, clock):
    token = add_gate(db, clock)
    sent = batch(1, 2)
    sent["events"][0]["lane"] = None
    sent["events"][0]["data"] = {"nested": {"list": [1, 2.5, "三"]}, "direction": "out"}
    assert push(client, token, sent).status_code == 200
    with db.transaction() as session:
        rows = session.scalars(select(Event).order_by(Event.seq)).all()
        got = [
            {
                "id": str(r.event_id),
                "seq": r.seq,
                "ts": r.ts,
                "lane": r.lane,
                "type": r.type,
                "data": r.data,
            }
            for r in rows
        ]
    assert got == sent["events"]


def test_events_resend_after_lost_reply_is_409_and_stores_nothing_twice(client, db, clock):
    token = add_gate(db, clock)
    body = batch(1, 4)
    assert push(client, token, body).json == {"acked_seq": 4}
    again = push(client, token, body)  # the gate never saw the first reply
    assert again.status_code == 409 and again.json == {"acked_seq": 4}
    assert stored_seqs(db) == [1, 2, 3, 4]


def test_events_batch_past_the_cursor_is_409_with_the_stored_cursor(client, db, clock):
    token = add_gate(db, clock)
    reply = push(client, token, batch(5, 2))
    assert reply.status_code == 409 and reply.json == {"acked_seq": 0}
    assert push(client, token, batch(1, 2)).status_code == 200
    reply = push(client, token, batch(2, 3))  # overlaps what is stored
    assert reply.status_code == 409 and reply.json == {"acked_seq": 2}
    assert stored_seqs(db) == [1, 2]


def test_events_malformed_event_is_400_bad_seq_and_nothing_of_the_batch_is_stored(
    client, db, clock
):
    token = add_gate(db, clock)
    body = batch(1, 5)
    body["events"][3]["ts"] = "yesterday"
    reply = push(client, token, body)
    assert reply.status_code == 400
    assert reply.json["bad_seq"] == 4 and "ts" in reply.json["error"]
    assert stored_seqs(db) == []


def test_events_wrong_types_are_400_naming_the_event(client, db, clock):
    token = add_gate(db, clock)
    for field, value in (("data", [1]), ("type", ""), ("id", "not-a-uuid"), ("lane", 7)):
        body = batch(1, 3)
        body["events"][1][field] = value
        reply = push(client, token, body)
        assert reply.status_code == 400, field
        assert reply.json["bad_seq"] == 2, field
    body = batch(1, 2)
    body["events"][1]["seq"] = "2"
    reply = push(client, token, body)
    assert reply.status_code == 400 and "seq" in reply.json["error"]
    assert stored_seqs(db) == []


def test_events_not_contiguous_is_400(client, db, clock):
    token = add_gate(db, clock)
    body = {"gate_id": GATE, "events": [event(1), event(3)]}
    reply = push(client, token, body)
    assert reply.status_code == 400 and reply.json["bad_seq"] == 3


def test_events_negative_and_huge_seq_are_400(client, db, clock):
    token = add_gate(db, clock)
    for seq in (-1, 0):
        reply = push(client, token, {"gate_id": GATE, "events": [event(seq)]})
        assert reply.status_code == 400 and "seq" in reply.json["error"]
    huge = 2**80
    reply = push(client, token, {"gate_id": GATE, "events": [event(huge)]})
    assert reply.status_code == 400 and reply.json["bad_seq"] == huge
    reply = push(client, token, {"gate_id": GATE, "events": [event(2**63)]})
    assert reply.status_code == 400 and reply.json["bad_seq"] == 2**63
    assert stored_seqs(db) == []


def test_events_body_not_a_batch_is_400_without_bad_seq(client, db, clock):
    token = add_gate(db, clock)
    for raw in (b"", b"not json", b"[]", b'{"gate_id": "x"}', b"\xff\xfe", b"[" * 30000):
        reply = push(client, token, raw)
        assert reply.status_code == 400, raw[:10]
        assert "bad_seq" not in reply.json and reply.json["error"]
    reply = push(client, token, {"gate_id": "another-gate", "events": [event(1)]})
    assert reply.status_code == 400 and "gate_id" in reply.json["error"]
    reply = push(client, token, {"gate_id": GATE, "events": []})
    assert reply.status_code == 400


def test_events_garbage_gzip_is_400(client, db, clock):
    token = add_gate(db, clock)
    raw = gzip.compress(json.dumps(batch(1, 2)).encode())
    for body in (b"garbage", raw[: len(raw) // 2], b"\x1f\x8b" + b"\x00" * 40):
        reply = client.post(
            f"/api/v1/gates/{GATE}/events",
            data=body,
            headers={"Authorization": f"Bearer {token}", "Content-Encoding": "gzip"},
        )
        assert reply.status_code == 400 and "gzip" in reply.json["error"]
    reply = client.post(
        f"/api/v1/gates/{GATE}/events",
        data=raw,
        headers={"Authorization": f"Bearer {token}", "Content-Encoding": "br"},
    )
    assert reply.status_code == 400
    assert stored_seqs(db) == []


def test_events_over_500_or_over_one_mib_is_413(client, db, clock):
    token = add_gate(db, clock)
    reply = push(client, token, batch(1, contract.MAX_BATCH_EVENTS + 1))
    assert reply.status_code == 413
    big = batch(1, 2)
    big["events"][0]["data"] = {"blob": "x" * contract.MAX_BATCH_BYTES}
    assert push(client, token, big).status_code == 413  # gzip: small on the wire
    assert push(client, token, big, compress=False).status_code == 413
    bomb = gzip.compress(b'{"gate_id":"' + b" " * (64 << 20) + b'"}')
    reply = client.post(
        f"/api/v1/gates/{GATE}/events",
        data=bomb,
        headers={"Authorization": f"Bearer {token}", "Content-Encoding": "gzip"},
    )
    assert reply.status_code == 413
    assert push(client, token, batch(1, contract.MAX_BATCH_EVENTS)).json == {"acked_seq": 500}


def test_events_token_missing_or_unknown_is_401_another_gates_is_403(client, db, clock):
    token = add_gate(db, clock)
    other = add_gate(db, clock, gate="xdm-jinwaitan-2")
    assert push(client, None, batch(1, 1)).status_code == 401
    assert push(client, "not-the-token", batch(1, 1)).status_code == 401
    reply = push(client, other, batch(1, 1))
    assert reply.status_code == 403 and reply.json["error"]
    assert push(client, token, batch(1, 1), gate="no-such-gate").status_code == 403
    raw = client.post(
        f"/api/v1/gates/{GATE}/events",
        data=b"{}",
        headers={"Authorization": f"Basic {token}"},
    )
    assert raw.status_code == 401
    assert stored_seqs(db) == []


def test_events_id_stored_for_another_event_is_400_naming_it(client, db, clock):
    token = add_gate(db, clock)
    other = add_gate(db, clock, gate="xdm-jinwaitan-2")
    first = batch(1, 2, gate="xdm-jinwaitan-2")
    assert push(client, other, first, gate="xdm-jinwaitan-2").status_code == 200
    body = batch(1, 3)
    body["events"][1]["id"] = first["events"][0]["id"]
    reply = push(client, token, body)
    assert reply.status_code == 400 and reply.json["bad_seq"] == 2
    assert "xdm-jinwaitan-2" in reply.json["error"]
    assert stored_seqs(db) == []


def test_events_unknown_types_and_fields_are_stored(client, db, clock):
    token = add_gate(db, clock)
    body = batch(1, 2)
    body["events"][0]["type"] = "gate.something_new"
    body["events"][1]["colour"] = "blue"  # a field added to the contract later
    body["sent_by"] = "kiosk/9.9"
    assert push(client, token, body).json == {"acked_seq": 2}
    assert stored_seqs(db) == [1, 2]


def test_events_refused_event_replaced_by_kiosk_event_refused_goes_on(client, db, clock):
    token = add_gate(db, clock)
    body = batch(1, 3)
    body["events"][1]["data"] = ["not", "an", "object"]
    reply = push(client, token, body)
    assert reply.json["bad_seq"] == 2
    assert push(client, token, batch(1, 1)).json == {"acked_seq": 1}
    replacement = contract.event_refused(body["events"][1], reply.json["error"])
    assert push(client, token, {"gate_id": GATE, "events": [replacement]}).json == {"acked_seq": 2}
    assert push(client, token, batch(3, 2)).json == {"acked_seq": 4}
    with db.transaction() as session:
        kinds = session.scalars(select(Event.type).order_by(Event.seq)).all()
    assert kinds[1] == contract.EVENT_REFUSED


def test_events_two_gates_keep_their_own_sequence(client, db, clock):
    one = add_gate(db, clock)
    two = add_gate(db, clock, gate="xdm-jinwaitan-2")
    assert push(client, one, batch(1, 3)).json == {"acked_seq": 3}
    assert push(client, two, batch(1, 2, gate="xdm-jinwaitan-2"), gate="xdm-jinwaitan-2").json == {
        "acked_seq": 2
    }
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Event)) == 5


def test_unknown_endpoint_and_method_get_json(client, db, clock):
    token = add_gate(db, clock)
    reply = client.get("/api/v1/nothing", headers={"Authorization": f"Bearer {token}"})
    assert reply.status_code == 404 and reply.is_json
    reply = client.get(f"/api/v1/gates/{GATE}/events", headers={"Authorization": f"Bearer {token}"})
    assert reply.status_code == 405 and reply.is_json


def test_database_unreachable_is_503_with_retry_after(config, clock, tmp_path):
    from committee.app import Server, create_app
    from committee.db import Database, make_engine

    gone = make_engine(f"postgresql+psycopg://postgres@/committee?host={tmp_path}/no-server")
    app = create_app(Server(config, Database(gone), clock))
    reply = push(app.test_client(), "any-token", batch(1, 1))
    assert reply.status_code == 503 and reply.headers["Retry-After"] == "5"
    assert reply.json["error"]
    gone.dispose()


def test_listeners_hear_of_each_stored_batch_after_commit(server, client, db, clock):
    token = add_gate(db, clock)
    heard = []

    def listener(gate, acked):
        heard.append((gate, acked, stored_seqs(db)[-1]))  # already visible when told

    def broken(gate, acked):
        raise RuntimeError("a broken listener does not stop the others")

    server.listeners += [broken, listener]
    push(client, token, batch(1, 3))
    push(client, token, batch(1, 3))  # 409: nothing new
    push(client, token, batch(4, 1))
    assert heard == [(GATE, 3, 3), (GATE, 4, 4)]


def test_events_any_text_in_data_and_long_names_are_stored_as_sent(client, db, clock):
    token = add_gate(db, clock)
    body = batch(1, 3)
    body["events"][0]["data"] = {"text": "a\u0000b", "raw": "\u0001\u00ff三\U0001f600"}
    body["events"][1]["lane"] = "l" * 300
    body["events"][2]["type"] = "t." + "x" * 500
    raw = json.dumps(body).encode("ascii")  # NUL travels as \\u0000
    assert push(client, token, raw).json == {"acked_seq": 3}
    assert list(export_events(db, GATE)) == body["events"]


def test_events_nul_in_a_name_is_400_naming_the_event(client, db, clock):
    token = add_gate(db, clock)
    body = batch(1, 2)
    body["events"][1]["lane"] = "ma\u0000in"
    reply = push(client, token, body)
    assert reply.status_code == 400 and reply.json["bad_seq"] == 2
    assert stored_seqs(db) == []
