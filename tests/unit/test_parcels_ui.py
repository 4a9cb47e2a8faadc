"""The pickup point's API on the guard screen: sign-in, CSRF, bad forms field by field,
takeaway late, overdue after N days, one tap to collect."""

from __future__ import annotations

from tests.unit.test_ui import app, client, kiosk, login, token  # noqa: F401  (fixtures)


def post(client, path, body):  # noqa: F811
    return client.post(path, json=body, headers={"X-CSRFToken": token(client, "/")})


def test_parcels_api_needs_a_session_and_csrf(client):  # noqa: F811
    assert client.get("/api/parcels").status_code in (302, 401)
    login(client)
    assert client.post("/api/parcels", json={}).status_code == 400  # no CSRF token


def test_parcels_api_records_lists_and_collects(client, kiosk, clock):  # noqa: F811
    login(client)
    answer = post(client, "/api/parcels", {"household": "7-1201", "count": "2", "slot": "a3"})
    assert answer.status_code == 200 and answer.get_json()["items"] == 2
    clock.advance(1)
    post(client, "/api/parcels", {"household": "8-0301", "slot": "T1", "kind": "takeaway"})
    clock.advance(31 * 60)
    login(client)  # the guard's session idled out meanwhile
    state = client.get("/api/parcels").get_json()
    assert [p["household"] for p in state["waiting"]] == ["8-0301", "7-1201"]
    assert state["waiting"][0]["late"] is True and state["waiting"][1]["late"] is False
    assert state["waiting"][0]["waited_s"] == 31 * 60
    assert state["overdue"] == [] and state["items"] == 3
    assert kiosk.facade.today_counts()["parcels"] == 3
    clock.advance(3 * 86400)
    login(client)
    assert [p["household"] for p in client.get("/api/parcels").get_json()["overdue"]] == [
        "7-1201",
        "8-0301",
    ]
    done = post(client, "/api/parcels/collect", {"household": "7-1201"})
    assert done.get_json() == {"ok": True, "collected": 1, "items": 1}
    one = state["waiting"][0]["id"]
    assert post(client, "/api/parcels/collect", {"id": one}).get_json()["items"] == 0
    gone = post(client, "/api/parcels/collect", {"id": one})
    assert gone.status_code == 404 and gone.get_json()["message"] == "该快递已取走"
    types = [e.type for e in kiosk.journal.iter_events()]
    assert types.count("parcel.received") == 2 and types.count("parcel.collected") == 2


def test_parcels_api_refuses_a_bad_form_field_by_field(client, kiosk):  # noqa: F811
    login(client)
    answer = post(client, "/api/parcels", {"household": "", "count": 0, "slot": "?"})
    assert answer.status_code == 400
    body = answer.get_json()
    assert body["fields"] == ["count", "household", "slot"]
    assert "请填写户号" in body["message"]
    assert post(client, "/api/parcels", ["not", "a", "form"]).status_code == 400
    assert post(client, "/api/parcels/collect", {}).status_code == 400
    assert kiosk.parcels.waiting() == []


def shelf_client(tmp_path, clock, **parcels):
    """A signed-in client of a demo kiosk (keys made before it starts, the demo roster)
    whose ``[parcels]`` are *parcels*; returns ``(client, kiosk)``."""
    import dataclasses

    from kiosk import config as config_mod
    from kiosk.accounts import Accounts
    from kiosk.sim import demo
    from kiosk.sim.hardware import simulated_kiosk
    from kiosk.ui import create_app
    from tests.unit.test_ui import PASSWORD, _config

    cfg = _config(tmp_path)
    cfg = dataclasses.replace(cfg, parcels=config_mod.ParcelSettings(**parcels))
    demo.ensure_keys(cfg.keys_dir)
    k = simulated_kiosk(cfg, clock)
    k.rosters.replace(demo.roster(cfg.gate.site, clock.now().date()))
    Accounts(k.journal).add("guard", PASSWORD, "guard")
    screen = create_app(
        k.facade, secret_key=b"k" * 32, session_idle_min=30, maintenance_idle_min=10
    )
    c = screen.test_client()
    login(c)
    return c, k


def test_parcels_api_lists_parcels_collected_at_the_shelf(tmp_path, clock):
    from kiosk.sim import demo

    c, k = shelf_client(tmp_path, clock, shelf_camera="sim")
    try:
        good = demo.demo_passes(k.config.keys_dir, k.config.gate.site, clock.now())[0]
        page = c.get("/").get_data(as_text=True)
        assert 'data-badge="shelf"' in page and 'id="sim-shelf-show"' in page
        post(c, "/api/parcels", {"household": good.household, "count": "2", "slot": "A3"})
        shown = post(c, "/api/sim/shelf", {"text": good.token})
        assert shown.status_code == 200 and shown.get_json()["shelf"]["text"] == good.token
        for _ in range(3):  # the shelf camera's thread, turn by turn
            for event in k.shelf_reader.poll():
                k.shelf.handle(event)
            clock.advance(0.1)
        state = c.get("/api/parcels").get_json()
        assert state["waiting"] == [] and state["items"] == 0 and state["shelf"] is True
        (done,) = state["collected"]
        assert done["household"] == good.household and done["how"] == "shelf"
        away = post(c, "/api/sim/shelf", {"text": None})
        assert away.get_json()["shelf"]["text"] is None
        assert post(c, "/api/sim/shelf", ["not", "a", "body"]).status_code == 400
    finally:
        k.close()


def test_parcels_sim_shelf_is_refused_without_a_simulated_shelf_camera(tmp_path, clock):
    c, k = shelf_client(tmp_path, clock)
    try:
        assert post(c, "/api/sim/shelf", {"text": "x"}).status_code == 404
        page = c.get("/").get_data(as_text=True)
        assert 'data-badge="shelf"' not in page and "sim-shelf-show" not in page
    finally:
        k.close()
