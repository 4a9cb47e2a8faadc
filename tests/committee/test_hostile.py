"""Hostile bodies get a contract answer, never a 500 or a traceback: garbage gzip, a 100 MB
body, wrong types, huge and negative seqs, and whatever hypothesis makes up."""

from __future__ import annotations

import gzip
import json
import logging
import socket

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from committee.app import Server, create_app
from committee.serve import Background
from tests.committee.helpers import GATE, add_gate, event, headers, heartbeat_body

CONTRACT_STATUSES = {200, 400, 409, 413}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=20,
)
seqs = st.one_of(st.integers(), st.text(max_size=4), st.none(), st.floats(allow_nan=False))


def events_like():
    return st.fixed_dictionaries(
        {
            "id": st.one_of(st.uuids().map(str), st.text(max_size=40)),
            "seq": seqs,
            "ts": st.one_of(st.just("2020-02-04T08:15:02+08:00"), st.text(max_size=30)),
            "lane": st.one_of(st.none(), st.text(max_size=5), st.integers()),
            "type": st.one_of(st.text(max_size=20), st.integers()),
            "data": json_values,
        }
    )


@pytest.fixture
def hostile(config, db, clock):
    token = add_gate(db, clock)
    return create_app(Server(config, db, clock)).test_client(), token


def _post(client, token, path, raw, gz):
    extra = {"Content-Encoding": "gzip"} if gz else {}
    if gz:
        raw = gzip.compress(raw)
    return client.post(f"/api/v1/gates/{GATE}/{path}", data=raw, headers=headers(token, **extra))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(raw=st.binary(max_size=300), gz=st.booleans(), path=st.sampled_from(["events", "heartbeat"]))
def test_any_bytes_get_a_contract_answer(hostile, raw, gz, path, caplog):
    client, token = hostile
    with caplog.at_level(logging.ERROR):
        reply = _post(client, token, path, raw, gz)
    assert reply.status_code in CONTRACT_STATUSES and reply.is_json
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    events=st.lists(events_like(), min_size=1, max_size=4), gate=st.sampled_from([GATE, 7, None])
)
def test_any_batch_shape_gets_a_contract_answer(hostile, events, gate, caplog):
    client, token = hostile
    raw = json.dumps({"gate_id": gate, "events": events}).encode()
    with caplog.at_level(logging.ERROR):
        reply = _post(client, token, "events", raw, True)
    assert reply.status_code in CONTRACT_STATUSES, reply.json
    if reply.status_code == 400 and "bad_seq" in reply.json:
        assert isinstance(reply.json["bad_seq"], int) and reply.json["bad_seq"] >= 1
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(field=st.sampled_from(sorted(heartbeat_body())), value=json_values)
def test_any_heartbeat_field_gets_a_contract_answer(hostile, field, value):
    client, token = hostile
    raw = json.dumps(heartbeat_body(**{field: value})).encode()
    assert _post(client, token, "heartbeat", raw, False).status_code in {200, 400}


def _raw_request(port: int, head: bytes, body_chunks) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head)
        try:
            for chunk in body_chunks:
                sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed: what we want
        data = b""
        try:
            while chunk := sock.recv(65536):
                data += chunk
        except (ConnectionResetError, TimeoutError):
            pass
        return data


def test_a_100_mb_body_is_413_without_being_read(fresh_db, config, clock):
    token = add_gate(fresh_db, clock)
    with Background(Server(config, fresh_db, clock), sweep=False) as committee:
        port = committee.wsgi.effective_port
        size = 100 << 20
        head = (
            f"POST /api/v1/gates/{GATE}/events HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {size}\r\n\r\n"
        ).encode()
        chunk = b"x" * (1 << 20)
        reply = _raw_request(port, head, (chunk for _ in range(100)))
        assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
        # chunked, with no length announced: cut off at the limit just the same
        head = (
            f"POST /api/v1/gates/{GATE}/events HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: Bearer {token}\r\nTransfer-Encoding: chunked\r\n\r\n"
        ).encode()
        piece = b"%x\r\n" % len(chunk) + chunk + b"\r\n"
        reply = _raw_request(port, head, (piece for _ in range(100)))
        assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
        # and the server goes on answering
        body = json.dumps({"gate_id": GATE, "events": [event(1)]}).encode()
        head = (
            f"POST /api/v1/gates/{GATE}/events HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        reply = _raw_request(port, head, [body])
        assert reply.startswith(b"HTTP/1.1 200") and b'{"acked_seq":1}' in reply
