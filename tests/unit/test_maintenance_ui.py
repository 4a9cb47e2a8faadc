"""The maintenance pages through Flask's test client, on a simulated kiosk."""

from __future__ import annotations

import re

import pytest
from werkzeug.security import generate_password_hash

from kiosk import config as config_mod
from kiosk.accounts import Accounts
from kiosk.clock import FakeClock
from kiosk.sim.hardware import simulated_kiosk
from kiosk.ui import create_app

PASSWORD = "correct horse 2020"
#: werkzeug's own format, with one PBKDF2 round so that signing in costs the tests nothing.
CHEAP_HASH = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1")


@pytest.fixture
def kiosk(tmp_path):
    cfg = config_mod.from_dict(
        {"gate": {"data_dir": str(tmp_path), "hardware": "sim"}}, tmp_path / "kiosk.toml"
    )
    k = simulated_kiosk(cfg, FakeClock())
    for name, role in (("guard", "guard"), ("tech", "maintenance"), ("boss", "admin")):
        k.journal.put_user(name, role, CHEAP_HASH)  # what Accounts.add stores, hashed cheaply
    assert Accounts(k.journal).check("tech", PASSWORD) == "maintenance"
    yield k
    k.close()


@pytest.fixture
def app(kiosk):
    app = create_app(kiosk.facade, secret_key=b"k" * 32)
    app.config.update(TESTING=True, WTF_CSRF_ENABLED=False)
    return app


def client_as(app, user):
    client = app.test_client()
    response = client.post("/login", data={"user": user, "password": PASSWORD})
    assert response.status_code == 302
    return client


def events(kiosk, type_):
    return [e for e in kiosk.journal.iter_events() if e.type == type_]


ROUTES = [
    ("get", "/maintenance/"),
    ("get", "/maintenance/main"),
    ("get", "/maintenance/main/state"),
    ("get", "/maintenance/main/camera.jpg"),
    ("post", "/maintenance/main/calibration"),
    ("post", "/maintenance/main/emissivity"),
    ("post", "/maintenance/main/pulse"),
    ("post", "/maintenance/main/uplink/send-refused"),
    ("post", "/maintenance/main/uplink/retry"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_maintenance_ui_guard_gets_403(app, kiosk, method, path):
    client = client_as(app, "guard")
    response = getattr(client, method)(path, json={"points": [[36.0, 36.4]], "value": 0.95})
    assert response.status_code == 403
    assert events(kiosk, "calibration.changed") == []
    assert kiosk.units["main"].runner.inputs.empty()


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_maintenance_ui_needs_a_session(app, method, path):
    response = getattr(app.test_client(), method)(path, json={})
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


@pytest.mark.parametrize("user", ["tech", "boss"])
def test_maintenance_ui_page_for_maintenance_and_admin(app, user):
    response = client_as(app, user).get("/maintenance/main")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert '<meta name="csrf-token"' in html
    assert "/static/maintenance.js" in html
    assert "校准向导" in html  # Chinese first
    scripts = re.findall(r"<script([^>]*)>", html)
    assert all("src=" in s or 'type="application/json"' in s for s in scripts)  # CSP: no inline


def test_maintenance_ui_state_has_live_thermometer_and_camera(app, kiosk):
    kiosk.units["main"].thermometer.poll()
    data = client_as(app, "tech").get("/maintenance/main/state").get_json()
    assert data["thermometer"]["raw_object_c"] == pytest.approx(22.0, abs=0.3)
    assert data["thermometer"]["ambient_c"] == pytest.approx(22.0, abs=0.1)
    assert data["thermometer"]["emissivity"] == 1.0
    assert data["thermometer"]["calibration"]["identity"] is True
    assert set(data["camera"]) >= {"fps", "focus", "last_decode_ms", "fault"}


def test_maintenance_ui_calibration_applies_and_journals_who(app, kiosk):
    client = client_as(app, "tech")
    response = client.post("/maintenance/main/calibration", json={"points": [[36.1, 36.4]]})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["after"]["offset_c"] == pytest.approx(0.3)
    [event] = events(kiosk, "calibration.changed")
    assert event.data["by"] == "tech"
    assert kiosk.units["main"].thermometer.calibration.offset_c == pytest.approx(0.3)


def test_maintenance_ui_calibration_beyond_limit_refused_in_both_languages(app, kiosk):
    client = client_as(app, "tech")
    response = client.post("/maintenance/main/calibration", json={"points": [[31.0, 36.5]]})
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] == "refused"
    assert "校准被拒绝" in body["message_zh"]
    assert "refused" in body["message_en"]
    assert "3.0 °C" in body["detail"]
    assert events(kiosk, "calibration.changed") == []
    assert kiosk.units["main"].thermometer.calibration.is_identity


@pytest.mark.parametrize(
    "body",
    [{}, {"points": []}, {"points": [[36.0]]}, {"points": [["x", 36.0]]}, {"points": [[1, 2]] * 3}],
)
def test_maintenance_ui_calibration_bad_points_get_a_message(app, kiosk, body):
    response = client_as(app, "tech").post("/maintenance/main/calibration", json=body)
    assert response.status_code == 400
    assert response.get_json()["error"] == "bad_points"


def test_maintenance_ui_emissivity_set_and_refused(app, kiosk):
    client = client_as(app, "tech")
    ok = client.post("/maintenance/main/emissivity", json={"value": 0.97})
    assert ok.status_code == 200
    assert ok.get_json()["after"] == pytest.approx(0.97, abs=1e-4)
    for value in (1.5, "abc", None):
        bad = client.post("/maintenance/main/emissivity", json={"value": value})
        assert bad.status_code == 400
        assert bad.get_json()["error"] == "bad_emissivity"
    assert [e.data["kind"] for e in events(kiosk, "calibration.changed")] == ["emissivity"]


def test_maintenance_ui_camera_snapshot_after_a_frame(app, kiosk):
    client = client_as(app, "tech")
    assert client.get("/maintenance/main/camera.jpg").status_code == 404
    kiosk.units["main"].reader.poll()
    response = client.get("/maintenance/main/camera.jpg")
    assert response.status_code == 200
    assert response.mimetype == "image/jpeg"
    assert response.data[:2] == b"\xff\xd8"


def test_maintenance_ui_pulse_queues_a_test_opening(app, kiosk):
    response = client_as(app, "tech").post("/maintenance/main/pulse")
    assert response.status_code == 200
    unit = kiosk.units["main"]
    unit.lane.handle(unit.runner.inputs.get_nowait())
    [event] = events(kiosk, "gate.manual_open")
    assert event.data == {"reason": "test", "guard": "tech", "open_s": 3.0}
    assert unit.relay.is_open


def test_maintenance_ui_unknown_lane_is_404(app):
    client = client_as(app, "tech")
    assert client.get("/maintenance/nowhere").status_code == 404
    assert client.get("/maintenance/nowhere/state").status_code == 404
    assert client.post("/maintenance/nowhere/pulse").status_code == 404


def test_maintenance_ui_posts_need_the_csrf_token(app, kiosk):
    app.config["WTF_CSRF_ENABLED"] = True
    client = client_as_with_csrf(app, "tech")
    refused = client.post("/maintenance/main/pulse", json={})
    assert refused.status_code == 400
    page = client.get("/maintenance/main").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    accepted = client.post("/maintenance/main/pulse", json={}, headers={"X-CSRFToken": token})
    assert accepted.status_code == 200


def client_as_with_csrf(app, user):
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    response = client.post("/login", data={"user": user, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302
    return client


def test_maintenance_ui_state_has_the_uplink_panel(app, kiosk):
    client = client_as(app, "tech")
    state = client.get("/maintenance/main/state").get_json()
    assert state["uplink"] == {"state": "disabled"}
    page = client.get("/maintenance/main").get_data(as_text=True)
    assert 'id="u-unsent"' in page


# -- the committee upload: a refused record sent as kiosk.event_refused ------------------------


@pytest.fixture
def uplinked(tmp_path):
    from kiosk.sim.committee import CommitteeServer

    token = "gate-token-maint-ui-6Hc"
    (tmp_path / "token").write_text(token)
    (tmp_path / "token").chmod(0o600)
    with CommitteeServer(gate_id="kiosk-1", token=token) as server:
        raw = {
            "gate": {"gate_id": "kiosk-1", "data_dir": str(tmp_path / "data"), "hardware": "sim"},
            "uplink": {"url": server.url, "token_file": "token"},
        }
        k = simulated_kiosk(config_mod.from_dict(raw, tmp_path / "kiosk.toml"), FakeClock())
        k.journal.put_user("tech", "maintenance", CHEAP_HASH)
        k.journal.put_user("guard", "guard", CHEAP_HASH)
        yield k, server
        k.close()


def test_maintenance_ui_shows_the_refused_record_and_sends_kiosk_event_refused(uplinked):
    kiosk, server = uplinked
    refused = kiosk.journal.append("pass.scanned", {"pass_id": "P0007120101"}, lane="main")
    kiosk.journal.append("pass.scanned", {"pass_id": "P0008030101"}, lane="main")
    server.reject_seq(refused.seq)
    kiosk.uplink.step()
    app = create_app(kiosk.facade, secret_key=b"k" * 32)
    app.config.update(TESTING=True, WTF_CSRF_ENABLED=False)
    client = client_as(app, "tech")
    held = client.get("/maintenance/main/state").get_json()["uplink"]["held_event"]
    assert held["seq"] == refused.seq and held["replaceable"] is True
    assert held["reason"] == "rejected by the committee"
    assert held["event"]["data"] == {"pass_id": "***"}  # personal fields masked on the page

    wrong = client.post("/maintenance/main/uplink/send-refused", json={"seq": refused.seq + 1})
    assert wrong.status_code == 409
    assert wrong.get_json()["error"] == "uplink_not_held"
    assert (
        client.post("/maintenance/main/uplink/send-refused", json={"seq": "1"}).status_code == 400
    )
    guard = client_as(app, "guard")
    assert guard.post("/maintenance/main/uplink/send-refused", json={"seq": 1}).status_code == 403

    done = client.post("/maintenance/main/uplink/send-refused", json={"seq": refused.seq})
    assert done.status_code == 200 and done.get_json()["id"] == refused.id
    kiosk.uplink.step()
    assert server.events[refused.seq - 1]["type"] == "kiosk.event_refused"
    assert server.stored_seqs() == list(range(1, kiosk.journal.last_seq() + 1))
    replaced = events(kiosk, "uplink.event_replaced")
    assert replaced[0].data["by"] == "tech"
    assert client.get("/maintenance/main/state").get_json()["uplink"]["held_event"] is None


def test_maintenance_ui_retry_asks_the_server_again_after_a_conflict(uplinked):
    kiosk, server = uplinked
    kiosk.journal.append("pass.scanned", {}, lane="main")
    server.inject("overclaim", endpoint="events", n=50)
    kiosk.uplink.step()
    app = create_app(kiosk.facade, secret_key=b"k" * 32)
    app.config.update(TESTING=True, WTF_CSRF_ENABLED=False)
    client = client_as(app, "tech")
    state = client.get("/maintenance/main/state").get_json()["uplink"]
    assert state["state"] == "conflict"
    assert state["conflict"] == {"server_acked": 51, "sent_seq": 1}
    assert client.post("/maintenance/main/uplink/retry").get_json() == {"ok": True, "seq": 51}
    kiosk.uplink.step()
    assert client.get("/maintenance/main/state").get_json()["uplink"]["state"] == "ok"
    assert server.stored_seqs() == [1]


# -- the calibration's confirm step and its undo; the focus guide; the relay's pin ------------


def test_maintenance_ui_calibration_preview_changes_nothing(app, kiosk):
    client = client_as(app, "tech")
    preview = client.post("/maintenance/main/calibration/preview", json={"points": [[36.1, 36.4]]})
    assert preview.status_code == 200
    body = preview.get_json()
    assert body["before"]["identity"] is True
    assert body["after"]["offset_c"] == pytest.approx(0.3)
    assert events(kiosk, "calibration.changed") == []
    assert kiosk.units["main"].thermometer.calibration.is_identity
    assert not (kiosk.config.data_dir / "calibration-main.json").exists()
    refused = client.post("/maintenance/main/calibration/preview", json={"points": [[31, 36.5]]})
    assert refused.status_code == 400 and refused.get_json()["message"].startswith("校准被拒绝")


def test_maintenance_ui_restore_puts_the_previous_calibration_back_at_once(app, kiosk):
    client = client_as(app, "tech")
    state = lambda: client.get("/maintenance/main/state").get_json()["thermometer"]  # noqa: E731
    nothing = client.post("/maintenance/main/calibration/restore")
    assert nothing.status_code == 400 and nothing.get_json()["error"] == "no_previous"
    assert state()["previous"] is None
    client.post("/maintenance/main/calibration", json={"points": [[36.1, 36.4]]})
    client.post("/maintenance/main/calibration", json={"points": [[36.0, 36.5]]})
    assert state()["previous"]["offset_c"] == pytest.approx(0.3)
    undone = client.post("/maintenance/main/calibration/restore").get_json()
    assert undone["after"]["offset_c"] == pytest.approx(0.3)
    assert kiosk.units["main"].thermometer.calibration.offset_c == pytest.approx(0.3)
    last = events(kiosk, "calibration.changed")[-1]
    assert (last.data["kind"], last.data["by"]) == ("restore", "tech")
    # undoing the undo goes back to what it undid
    client.post("/maintenance/main/calibration/restore")
    assert kiosk.units["main"].thermometer.calibration.offset_c == pytest.approx(0.5)


def test_maintenance_ui_focus_guide_says_good_poor_or_hold_a_pass(app, kiosk):
    import dataclasses

    from kiosk.sim.camera import PHONE

    clock, unit = kiosk.clock, kiosk.units["main"]
    camera = kiosk.world.lanes["main"].camera
    client = client_as(app, "tech")
    guide = lambda: client.get("/maintenance/main/state").get_json()["camera"]  # noqa: E731
    assert guide()["focus_guide"] == "no_frame"
    unit.reader.poll()
    assert guide()["focus_guide"] == "no_pass"  # nothing read yet: hold a pass up
    text = "KP1:" + "FOCUSGUIDE" * 6
    camera.present(text, style=dataclasses.replace(PHONE, blur_sigma=0.0, tilt_deg=0.0))
    clock.advance(0.1)
    unit.reader.poll()
    sharp = guide()
    assert sharp["focus_guide"] == "good" and sharp["focus_best"] == pytest.approx(sharp["focus"])
    camera.present(text, style=dataclasses.replace(PHONE, blur_sigma=1.2, tilt_deg=0.0))
    clock.advance(0.1)
    unit.reader.poll()
    blurred = guide()
    assert blurred["focus"] < 0.7 * blurred["focus_best"]
    assert blurred["focus_guide"] == "poor"
    clock.advance(6.0)  # the pass taken away a while ago
    camera.present(None)
    unit.reader.poll()
    assert guide()["focus_guide"] == "no_pass"


def test_maintenance_ui_relay_state_shows_the_pin_went_high_and_low(app, kiosk):
    client = client_as(app, "tech")
    unit = kiosk.units["main"]
    client.post("/maintenance/main/pulse")
    unit.lane.handle(unit.runner.inputs.get_nowait())
    high = client.get("/maintenance/main/state").get_json()["relay"]
    assert (high["pin"], high["level"], high["open"]) == (17, "high", True)
    kiosk.clock.advance(3.0)
    unit.relay.tick()
    relay = client.get("/maintenance/main/state").get_json()["relay"]
    assert [c["level"] for c in relay["trace"]] == ["low", "high", "low"]
    assert relay["trace"][-1]["at"] == "2020-02-04T07:30:03.000+08:00"  # the gate's clock
    assert relay["level"] == "low" and relay["open"] is False


def test_maintenance_ui_upload_now_needs_a_committee_server(app):
    client = client_as(app, "tech")
    refused = client.post("/maintenance/main/uplink/push")
    assert refused.status_code == 409 and refused.get_json()["error"] == "uplink_off"


def test_maintenance_ui_upload_now_pushes_during_a_back_off(uplinked):
    kiosk, server = uplinked
    kiosk.journal.append("pass.scanned", {}, lane="main")
    server.inject("error", endpoint="events", status=503)
    kiosk.uplink.step()
    assert kiosk.uplink.status()["state"] == "backing_off" and server.stored_seqs() == []
    kiosk.uplink.step()  # the back-off holds the next push back (the fake clock stands still)
    assert server.stored_seqs() == []
    app = create_app(kiosk.facade, secret_key=b"k" * 32)
    app.config.update(TESTING=True, WTF_CSRF_ENABLED=False)
    pushed = client_as(app, "tech").post("/maintenance/main/uplink/push")
    assert pushed.status_code == 200
    kiosk.uplink.step()
    assert server.stored_seqs()[:1] == [1]  # upload now: pushed at once
    assert client_as(app, "guard").post("/maintenance/main/uplink/push").status_code == 403
