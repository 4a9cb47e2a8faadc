"""The live pages' streams against the real server (waitress on loopback, both engines):
one publisher feeds every stream, no stream holds a request thread, so the gate API keeps
answering with more open pages than the server has threads; a cap; a stream ends with its
session."""

from __future__ import annotations

import re
import socket
import uuid

import httpx
import pytest

from committee import accounts, sites
from committee.app import Server
from committee.config import from_dict
from committee.serve import Background
from tests.committee.conftest import Clock
from tests.committee.helpers import PASSWORD, SITE

THREADS = 2
STREAMS = 30  # fifteen times the request threads


@pytest.fixture
def live_server(fresh_db, tmp_path):
    clock = Clock()
    config = from_dict(
        {
            "storage": {"data_dir": str(tmp_path / "data")},
            "server": {"threads": THREADS},
            "web": {"max_streams": STREAMS, "poll_s": 0.2, "keepalive_s": 15},
        }
    )
    with fresh_db.transaction() as session:
        sites.add_site(session, SITE, "金外滩花园", clock())
        token = sites.add_gate(session, "g1", SITE, clock())[1]
        accounts.add(session, "ann", "committee", PASSWORD, [SITE], clock())
    server = Background(Server(config, fresh_db, clock), sweep=False).start()
    try:
        yield server, token, clock
    finally:
        server.stop()


def _cookie(base: str) -> str:
    with httpx.Client(base_url=base, timeout=10) as client:
        page = client.get("/login").text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        reply = client.post(
            "/login", data={"user": "ann", "password": PASSWORD, "csrf_token": csrf}
        )
        assert reply.status_code == 302
        return f"committee_session={client.cookies['committee_session']}"


class Stream:
    """One open page's stream on a raw socket."""

    def __init__(self, base: str, cookie: str) -> None:
        host, port = base.removeprefix("http://").split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=10)
        self.sock.sendall(
            f"GET /live/stream HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\n"
            "Accept: text/event-stream\r\n\r\n".encode()
        )
        self.data = b""

    def until(self, marker: bytes) -> bytes:
        """Read until *marker* arrived (the socket's timeout bounds the wait)."""
        while marker not in self.data:
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            self.data += chunk
        return self.data

    def ended(self) -> bool:
        """True when the server closed the stream (read to the end)."""
        while True:
            chunk = self.sock.recv(65536)
            if not chunk:
                return True
            self.data += chunk

    def close(self) -> None:
        self.sock.close()


def _event(seq: int):
    return {
        "id": str(uuid.uuid4()),
        "seq": seq,
        "ts": "2020-02-04T08:15:02.123+08:00",
        "lane": "main",
        "type": "access.granted",
        "data": {"household": "7-1201", "direction": "in", "pass_id": f"P00071201{seq:02d}"},
    }


def test_many_open_pages_leave_the_gate_api_answering(live_server):
    server, token, _ = live_server
    cookie = _cookie(server.pages_url)
    streams = [Stream(server.pages_url, cookie) for _ in range(STREAMS)]
    try:
        for stream in streams:
            assert b"200 OK" in stream.until(b"event: snapshot")
        publisher = server.app.extensions["committee.live"]
        assert publisher.open_streams == STREAMS
        with httpx.Client(base_url=server.url, timeout=5) as gate:
            for seq in (1, 2, 3):
                reply = gate.post(
                    "/gates/g1/events",
                    json={"gate_id": "g1", "events": [_event(seq)]},
                    headers={"Authorization": f"Bearer {token}"},
                )
                assert reply.status_code == 200 and reply.json() == {"acked_seq": seq}
            assert gate.get(server.pages_url + "/healthz").status_code == 200
        for stream in streams:
            data = stream.until(b"P0007120103")
            for seq in (1, 2, 3):  # each event once, in order
                assert data.count(f"P00071201{seq:02d}".encode()) == 1
            assert data.index(b"P0007120101") < data.index(b"P0007120103")
        # one more page than the cap: told to come back later, the page polls meanwhile
        extra = Stream(server.pages_url, cookie)
        assert extra.until(b"\r\n\r\n").startswith(b"HTTP/1.1 503")
        assert b"Retry-After: 15" in extra.data
        extra.close()
    finally:
        for stream in streams:
            stream.close()


def test_a_stream_ends_with_its_session(live_server):
    server, _, clock = live_server
    cookie = _cookie(server.pages_url)
    stream = Stream(server.pages_url, cookie)
    try:
        stream.until(b"event: snapshot")
        with server.server.db.transaction() as session:
            for row in accounts.list_accounts(session):
                accounts.passwd(session, row.name, "a-new-password", clock())
        clock.advance(seconds=16)  # the next keep-alive checks the sessions
        server.app.extensions["committee.live"].wake.set()
        assert stream.ended()
        assert stream.data.endswith(b"0\r\n\r\n")  # the chunked response ended properly
    finally:
        stream.close()
