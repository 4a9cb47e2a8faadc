"""The guard screen's real server on loopback (uvicorn, the app in its thread pool, the live
stream on the event loop): a flood of open streams, the stream's own rules, sign-in guessed in
parallel, HTTPS with a Secure cookie, and a demo that stops cleanly with screens open."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import logging
import os
import signal
import ssl
import subprocess
import sys

import pytest

from kiosk import config as config_mod
from kiosk.accounts import Accounts
from kiosk.clock import FakeClock
from kiosk.service import screen_server
from kiosk.sim import demo
from kiosk.sim.hardware import simulated_kiosk
from kiosk.sim.screen_client import ScreenClient
from kiosk.ui import create_app, stream
from kiosk.ui.auth import THROTTLE_AFTER
from tests.conftest import self_signed_cert
from tests.integration.daemon_child import ROOT, free_port

PASSWORD = "long enough 1"
#: Seconds between a stream's keep-alives in these tests.
KEEPALIVE_S = 0.2


def _kiosk(tmp_path, clock=None, **ui):
    cfg = config_mod.load(config_mod.DEMO_CONFIG)
    cfg = dataclasses.replace(
        cfg,
        gate=dataclasses.replace(cfg.gate, data_dir=str(tmp_path / "data")),
        ui=dataclasses.replace(cfg.ui, **ui),
    )
    demo.ensure_keys(cfg.keys_dir)
    kiosk = simulated_kiosk(cfg, clock or FakeClock())
    accounts = Accounts(kiosk.journal)
    accounts.add("guard", PASSWORD, "guard")
    accounts.add("fixer", PASSWORD, "maintenance")
    return kiosk


@pytest.fixture
def screen(tmp_path):
    """``(kiosk, server)``: a kiosk (not started, on a fake clock) and its guard screen
    served on a free loopback port."""
    kiosk = _kiosk(tmp_path)
    app = create_app(kiosk.facade, secret_key=b"k" * 32, https=False)
    server = screen_server(app, kiosk.config, "127.0.0.1", 0, keepalive_s=KEEPALIVE_S)
    server.start()
    try:
        yield kiosk, server
    finally:
        server.close()
        kiosk.close()


def _signed_in(server, user="guard") -> ScreenClient:
    client = ScreenClient(server.url)
    assert client.sign_in(user, PASSWORD) == 302
    return client


def _next_of(live, kind: bytes) -> bytes:
    """The next message of *kind* on *live*, past keep-alives and other messages; b"" when
    the stream ends first."""
    while True:
        message = live.next()
        if not message or message.startswith(kind):
            return message


def test_screen_200_open_streams_leave_healthz_and_sign_in_answering(screen):
    kiosk, server = screen
    sessions = [_signed_in(server) for _ in range(200 // stream.PER_SESSION)]
    streams = [s.open_stream() for s in sessions for _ in range(stream.PER_SESSION)]
    try:
        for one in streams:
            assert one.status == 200
            assert b"event: state" in one.next()
        assert server.streams.count == 200
        # every other page still answers at once, sign-in included (a timeout fails)
        quick = ScreenClient(server.url, timeout=5)
        status, _, body = quick.request("GET", "/healthz")
        assert status in (200, 503) and b'"ok"' in body
        assert quick.sign_in("fixer", PASSWORD) == 302
        assert quick.get("/api/state")[0] == 200
        # one publisher, however many streams: a change reaches every one of them
        assert kiosk.hub.listeners == 1 and kiosk.hub.subscribers == 0
        kiosk.hub.publish("alert", {"source": "test", "ok": True, "message": "hello"})
        for one in streams:
            assert b"hello" in _next_of(one, b"event: alert")
    finally:
        for one in streams:
            one.close()
    # the clients went away: every stream is noticed gone at once, nothing lingers
    assert server.streams.wait_until(lambda s: s.count == 0, 10)
    assert ScreenClient(server.url, timeout=5).request("GET", "/healthz")[0] in (200, 503)


def test_screen_stream_ends_when_the_session_ends(screen):
    _, server = screen
    client = _signed_in(server)
    live = client.open_stream()
    assert b"event: state" in live.next()
    assert live.next() == b": keep-alive\n\n"
    server.app.extensions["kiosk.sessions"].end_user("guard")
    assert live.next() == b""  # the stream ended at its next keep-alive
    live.close()
    status, _, body = client.request("GET", "/stream", headers={"Accept": "text/event-stream"})
    assert status == 401 and b"login required" in body


def test_screen_stream_of_a_removed_account_ends(screen):
    kiosk, server = screen
    live = _signed_in(server, "fixer").open_stream()
    assert b"event: state" in live.next()
    Accounts(kiosk.journal).remove("fixer")
    assert _next_of(live, b"event: never") == b""  # ended at its next keep-alive
    live.close()


def test_screen_one_session_holds_a_few_streams_the_oldest_goes(screen):
    _, server = screen
    client = _signed_in(server)
    streams = []
    for _ in range(stream.PER_SESSION + 2):
        streams.append(client.open_stream())
        assert b"event: state" in streams[-1].next()
    for old in streams[:2]:
        assert _next_of(old, b"event: never") == b""  # ended by the newer ones
    assert server.streams.wait_until(lambda s: s.count == stream.PER_SESSION, 10)
    for one in streams:
        one.close()


def test_screen_stream_needs_a_session_and_says_so(screen):
    _, server = screen
    status, headers, body = ScreenClient(server.url).request("GET", "/stream")
    assert status == 401 and b"login required" in body
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    forged = ScreenClient(server.url)
    forged.cookies["session"] = "eyJzaWQiOiJ4In0.forged.signature"
    assert forged.request("GET", "/stream")[0] == 401


def test_screen_stream_carries_the_screen_s_headers(screen):
    _, server = screen
    live = _signed_in(server).open_stream()
    headers = live.response.headers
    assert headers["Content-Type"].startswith("text/event-stream")
    assert headers["Cache-Control"] == "no-store"
    assert headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    live.close()


def test_screen_parallel_guesses_on_one_account_run_at_most_the_limit_s_checks(screen):
    kiosk, server = screen
    sources = [f"127.0.0.{n}" for n in range(1, 25)]  # 24 loopback addresses

    def guess(n: int) -> int:
        client = ScreenClient(server.url, source=sources[n % len(sources)], timeout=60)
        return client.sign_in("guard", f"wrong guess {n}")

    with concurrent.futures.ThreadPoolExecutor(50) as pool:
        statuses = list(pool.map(guess, range(100)))
    checks = [e for e in kiosk.journal.recent(500) if e.type == "auth.login_failed"]
    assert len(checks) <= THROTTLE_AFTER, len(checks)
    assert statuses.count(401) == len(checks) and statuses.count(429) == 100 - len(checks)


def test_screen_over_https_has_a_secure_cookie_and_csrf_still_works(tmp_path):
    cert, key = self_signed_cert(tmp_path)
    kiosk = _kiosk(tmp_path, tls_cert_file=str(cert), tls_key_file=str(key))
    app = create_app(kiosk.facade, secret_key=b"k" * 32, https=kiosk.config.ui.https)
    server = screen_server(app, kiosk.config, "127.0.0.1", 0)
    server.start()
    try:
        assert server.url.startswith("https://127.0.0.1:")
        tls = ssl.create_default_context(cafile=str(cert))
        client = ScreenClient(server.url, tls=tls)
        assert client.sign_in("guard", PASSWORD) == 302
        session_cookie = next(c for c in client.set_cookie if c.startswith("session="))
        assert "Secure" in session_cookie and "HttpOnly" in session_cookie
        # no Referer (the pages' Referrer-Policy): the token alone is the CSRF check
        status, reply = client.post_json("/api/lanes/main/open", {"reason": "elderly"})
        assert status == 200, reply
        assert client.post_json("/api/lanes/main/open", {"reason": "x"})[0] == 400
        client.csrf = "forged"
        assert client.post_json("/api/lanes/main/open", {"reason": "elderly"})[0] == 400
        live = client.open_stream()
        assert b"event: state" in live.next()
        live.close()
    finally:
        server.close()
        kiosk.close()


def test_screen_bad_certificate_is_a_configuration_error(tmp_path):
    from kiosk.errors import ConfigError

    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")
    kiosk = _kiosk(tmp_path, tls_cert_file=str(junk), tls_key_file=str(junk))
    try:
        app = create_app(kiosk.facade, secret_key=b"k" * 32, https=True)
        with pytest.raises(ConfigError, match="tls_cert_file"):
            screen_server(app, kiosk.config, "127.0.0.1", 0)
    finally:
        kiosk.close()


def test_screen_on_the_lan_without_https_is_warned_about(tmp_path, caplog):
    kiosk = _kiosk(tmp_path)
    app = create_app(kiosk.facade, secret_key=b"k" * 32)
    try:
        with caplog.at_level(logging.WARNING, logger="kiosk.service"):
            screen_server(app, kiosk.config, "127.0.0.1", 0).close()
            assert not caplog.records
            screen_server(app, kiosk.config, "0.0.0.0", 0).close()  # listens, sends nothing
        (warning,) = caplog.records
        assert "plain HTTP" in warning.getMessage() and "tls_cert_file" in warning.getMessage()
    finally:
        kiosk.close()


DEMO_TOML = """
[gate]
gate_id = "demo-gate-1"
site = "demo-compound"
hardware = "sim"
data_dir = "{data}"

[ui]
demo_user = "guard"
demo_password = "demo-guard-2020"

[lanes.main]
direction = "in"
[lanes.main.camera]
source = "sim"
"""


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_screen_demo_stops_cleanly_with_guard_screens_open(tmp_path, sig):
    config = tmp_path / "demo.toml"
    config.write_text(DEMO_TOML.format(data=tmp_path / "data"))
    port = free_port()
    child = subprocess.Popen(
        [sys.executable, "-m", "kiosk.cli", "demo", "--config", str(config), "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    streams = []
    try:
        lines = []
        for line in child.stdout:  # waits on the child's own words, never on a sleep
            lines.append(line)
            if "Stop with Ctrl-C" in line:
                break
        for _ in range(3):
            client = ScreenClient(f"http://127.0.0.1:{port}")
            assert client.sign_in("guard", "demo-guard-2020") == 302
            streams += [client.open_stream() for _ in range(2)]
        for one in streams:
            assert b"event: state" in one.next()
        child.send_signal(sig)
        rest, _ = child.communicate(timeout=30)
    finally:
        for one in streams:
            one.close()
        if child.poll() is None:
            child.kill()
            child.wait()
    output = "".join(lines) + rest
    assert child.returncode == 0, output
    assert "Traceback" not in output and "Error" not in output, output
    assert "stopped" in output


def test_screen_resident_stream_is_the_kiosk_s_own_and_follows_its_lane(screen):
    kiosk, server = screen
    own = ScreenClient(server.url)
    live = own.open_stream_at("/resident/main/stream")
    assert live.status == 200
    assert b"event: view" in live.next()
    snapshot = kiosk.units["main"].lane.snapshot().to_dict()
    kiosk.hub.publish("lane", {**snapshot, "name": "exit"})  # another lane: not this screen's
    kiosk.hub.publish("event", {"type": "access.granted", "data": {"household": "7-1201"}})
    kiosk.hub.publish("lane", snapshot)
    message = _next_of(live, b"event:")
    assert message.startswith(b"event: view") and b"7-1201" not in message
    assert server.streams.count == 1
    live.close()
    # anything but the kiosk's own display is refused, the stream as the page
    other = ScreenClient(server.url, source="127.0.0.5")
    assert other.request("GET", "/resident/main/stream")[0] == 403
    proxied = own.request("GET", "/resident/main/stream", headers={"X-Forwarded-For": "10.0.0.7"})
    assert proxied[0] == 403
    assert own.request("GET", "/resident/nowhere/stream")[0] == 404
    assert server.streams.wait_until(lambda s: s.count == 0, 10)
