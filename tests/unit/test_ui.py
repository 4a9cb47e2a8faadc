"""The guard-screen app on a real (not started) kiosk with a fake clock: sessions, sign-in
throttling, CSRF, roles, headers, the fever alarm, manual opening, registration, records."""

from __future__ import annotations

import csv
import dataclasses
import io
import re

import pytest
from gpiozero.pins.mock import MockFactory

from kiosk import config as config_mod
from kiosk.accounts import Accounts
from kiosk.events import ManualOpen
from kiosk.sim.hardware import simulated_kiosk
from kiosk.ui import create_app

PASSWORD = "long enough 1"


def _config(tmp_path, **lane_changes):
    cfg = config_mod.load(config_mod.DEMO_CONFIG)
    lanes = {n: dataclasses.replace(s, **lane_changes) for n, s in cfg.lanes.items()}
    return dataclasses.replace(
        cfg, gate=dataclasses.replace(cfg.gate, data_dir=str(tmp_path)), lanes=lanes
    )


@pytest.fixture
def kiosk(tmp_path, clock):
    k = simulated_kiosk(_config(tmp_path), clock)
    accounts = Accounts(k.journal)
    accounts.add("guard", PASSWORD, "guard")
    accounts.add("fixer", PASSWORD, "maintenance")
    yield k
    k.close()


@pytest.fixture
def app(kiosk):
    return create_app(
        kiosk.facade, secret_key=b"k" * 32, session_idle_min=30, maintenance_idle_min=10
    )


@pytest.fixture
def client(app):
    return app.test_client()


def token(client, path="/login") -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)


def login(client, user="guard", password=PASSWORD, **kwargs):
    return client.post(
        "/login",
        data={"user": user, "password": password, "csrf_token": token(client)},
        **kwargs,
    )


def api(client, path, body=None):
    return client.post(path, json=body or {}, headers={"X-CSRFToken": token(client, "/")})


def types(kiosk):
    return [e.type for e in kiosk.journal.recent(500)]


# -- sessions and protection ---------------------------------------------------------------


def test_auth_every_page_but_login_needs_a_session(app, client):
    open_paths = {"/login", "/healthz", "/static/<path:filename>", "/lang"}
    checked = 0
    for rule in app.url_map.iter_rules():
        if rule.rule in open_paths:
            continue
        path = re.sub(r"<int:[^>]+>", "1", re.sub(r"<(?!int:)[^>]+>", "main", rule.rule))
        if rule.rule.startswith("/resident"):
            # the resident screen has no sign-in: it is served to the kiosk's own display only
            lan = client.get(path, environ_base={"REMOTE_ADDR": "192.168.1.20"})
            assert lan.status_code == 403, path
            checked += 1
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            app.config["WTF_CSRF_ENABLED"] = method == "GET"  # reach the view itself
            response = client.open(path, method=method)
            assert response.status_code in (302, 401), (method, path)
            if response.status_code == 302:
                assert response.location.startswith("/login")
            checked += 1
    assert checked >= 12


def test_auth_post_without_csrf_token_is_refused(kiosk, client):
    assert login(client).status_code == 302
    response = client.post("/api/lanes/main/open", json={"reason": "ambulance"})
    assert response.status_code == 400
    assert response.get_json()["error"] == "csrf"
    assert kiosk.units["main"].runner.inputs.empty()
    assert client.post("/login", data={"user": "guard", "password": PASSWORD}).status_code == 400
    assert api(client, "/api/lanes/main/open", {"reason": "ambulance"}).status_code == 200
    assert isinstance(kiosk.units["main"].runner.inputs.get_nowait(), ManualOpen)


#: A client on the compound LAN (the kiosk's own screen is 127.0.0.1, the test client's default).
LAN = {"REMOTE_ADDR": "10.0.0.8"}


def test_auth_sixth_wrong_password_in_a_row_is_throttled(kiosk, client, clock):
    for _ in range(5):
        assert login(client, password="wrong password", environ_base=LAN).status_code == 401
    response = login(client, environ_base=LAN)  # even the right password waits
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) == 60
    assert "尝试次数过多" in response.get_data(as_text=True)
    assert types(kiosk).count("auth.login_failed") == 5
    clock.advance(61)
    assert login(client, environ_base=LAN).status_code == 302
    assert "auth.login" in types(kiosk)


def test_auth_throttle_grows_per_account_and_spares_the_client_s_other_accounts(client, clock):
    for _ in range(6):
        login(client, user="nobody", password="guess", environ_base=LAN)
        clock.advance(61)
    # six failures in a row: the second refusal lasts two minutes
    assert login(client, user="nobody", password="guess", environ_base=LAN).status_code == 429
    clock.advance(30)
    assert login(client, user="nobody", environ_base=LAN).status_code == 429
    # the same client, another account: one guard's typos do not lock everyone out
    assert login(client, user="fixer", environ_base=LAN).status_code == 302
    other = client.application.test_client()
    response = login(other, user="guard", environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert response.status_code == 302  # another client, an account not attacked


def test_auth_throttle_counts_each_attempt_before_its_check(clock):
    import concurrent.futures

    from kiosk.ui.auth import THROTTLE_AFTER, Throttle

    throttle = Throttle(clock)
    keys = [("user:guard", THROTTLE_AFTER), ("client:10.0.0.8", 50)]
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        attempts = list(pool.map(lambda _: throttle.attempt(keys), range(100)))
    let_through = [a for a in attempts if a.wait_s == 0]
    assert len(let_through) == THROTTLE_AFTER
    assert sorted(a.left for a in let_through) == list(range(THROTTLE_AFTER))
    assert [a.lock_s for a in let_through if a.left == 0] == [60.0]
    throttle.succeeded("user:guard", "client:10.0.0.8")  # a right password clears both
    assert throttle.attempt(keys).wait_s == 0


def test_auth_one_client_is_throttled_only_at_a_much_higher_count(kiosk, client, clock):
    from kiosk.ui.auth import CLIENT_THROTTLE_AFTER, THROTTLE_AFTER

    assert CLIENT_THROTTLE_AFTER >= 10 * THROTTLE_AFTER
    for n in range(CLIENT_THROTTLE_AFTER):
        assert login(client, user=f"name{n}", password="guess", environ_base=LAN).status_code == 401
    response = login(client, user="guard", environ_base=LAN)
    assert response.status_code == 429 and int(response.headers["Retry-After"]) == 60
    elsewhere = client.application.test_client()
    response = login(elsewhere, user="guard", environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert response.status_code == 302


def test_auth_the_kiosk_s_own_screen_gets_a_slow_pace_never_a_wall(kiosk, client, clock):
    from kiosk.ui.auth import LOCAL_PACE_S

    # someone on the LAN locks the guard's account for an hour...
    for _ in range(12):
        clock.advance(3600)
        login(client, password="guess", environ_base=LAN)
    assert login(client, environ_base=LAN).status_code == 429
    # ...and someone at the kiosk's screen keeps typing wrong passwords
    for _ in range(20):
        response = login(client, password="guess")
        if response.status_code == 429:
            assert int(response.headers["Retry-After"]) <= LOCAL_PACE_S
        clock.advance(LOCAL_PACE_S + 1)
    # the guard at the kiosk's own screen is never kept out longer than the pace
    response = login(client)
    assert response.status_code == 302, response.status_code


def test_auth_warns_before_the_lock_counts_down_and_keeps_the_user_name(client, clock):
    for _ in range(3):
        page = login(client, password="wrong password", environ_base=LAN).get_data(as_text=True)
        assert 'value="guard"' in page  # the name typed is kept
        assert "login-warning" not in page
    page = login(client, password="wrong password", environ_base=LAN).get_data(as_text=True)
    assert 'id="login-warning"' in page and "再输错一次" in page and "60" in page
    response = login(client, password="wrong password", environ_base=LAN)
    page = response.get_data(as_text=True)
    assert response.status_code == 401 and response.headers["Retry-After"] == "60"
    assert re.search(r'id="login-wait"[^>]*data-wait="60"', page), page
    assert 'value="guard"' in page
    clock.advance(20)
    page = login(client, environ_base=LAN).get_data(as_text=True)
    assert re.search(r'data-wait="40"', page) and 'value="guard"' in page


@pytest.mark.parametrize(
    "target",
    [
        "/%09/evil.example/phish",
        "/\t/evil.example/phish",
        "\t//evil.example",
        "//evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "/\n/evil.example",
        "/\r\n/evil.example",
        " //evil.example",
        "\x00//evil.example",
        "https://evil.example/",
        "https:evil.example",
        "javascript:alert(1)",
        "evil.example",
        "",
    ],
)
def test_auth_sign_in_goes_only_to_a_path_on_this_site(client, target):
    from urllib.parse import quote

    query = target if target.startswith("/%") else quote(target.encode("latin-1"), safe="")
    response = client.post(
        "/login?next=" + query,
        data={"user": "guard", "password": PASSWORD, "csrf_token": token(client)},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_auth_sign_in_goes_back_to_the_page_asked_for(client):
    response = login(client, query_string={"next": "/records/?lane=main"})
    assert response.headers["Location"] == "/records/?lane=main"


def test_auth_session_cookie_flags_and_renewal_at_login(client):
    client.get("/login")
    before = client.get_cookie("session").value
    response = login(client)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert client.get_cookie("session").value != before


def test_auth_logout_ends_the_session_on_the_server(app, client):
    login(client)
    stolen = client.get_cookie("session").value
    assert client.get("/").status_code == 200
    client.post("/logout", data={"csrf_token": token(client, "/")})
    thief = app.test_client()
    thief.set_cookie("session", stolen)
    assert thief.get("/").status_code == 302


def test_auth_idle_timeout_is_shorter_for_maintenance(app, clock):
    guard_client, fixer_client = app.test_client(), app.test_client()
    login(guard_client)
    login(fixer_client, user="fixer")
    clock.advance(11 * 60)
    assert fixer_client.get("/maintenance/").status_code == 302
    assert guard_client.get("/").status_code == 200
    clock.advance(31 * 60)
    assert guard_client.get("/").status_code == 302


def test_auth_guard_cannot_reach_maintenance_pages(client):
    login(client)
    response = client.get("/maintenance/")
    assert response.status_code == 403
    assert "无权访问" in response.get_data(as_text=True)
    assert "nav-maintenance" not in client.get("/").get_data(as_text=True)


def test_ui_maintenance_index_shows_configuration_with_secrets_hidden(client):
    login(client, user="fixer")
    page = client.get("/maintenance/").get_data(as_text=True)
    assert "demo_user = &#39;guard&#39;" in page
    assert "demo-guard-2020" not in page
    assert "hidden" in page


def test_ui_security_headers_and_no_store(client):
    login(client)
    for path in ("/", "/register/", "/records/", "/records/registrations"):
        response = client.get(path)
        assert response.status_code == 200, path
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Cache-Control"] == "no-store"


def test_ui_pages_have_no_inline_script_or_style(client):
    login(client)
    for path in ("/", "/register/", "/records/", "/login"):
        page = client.get(path).get_data(as_text=True)
        assert " style=" not in page and " onclick=" not in page
        for tag in re.findall(r"<script[^>]*>", page):
            assert "src=" in tag or 'type="application/json"' in tag, (path, tag)


def test_ui_language_switch_changes_the_words(client):
    login(client)
    assert "人工开门" in client.get("/").get_data(as_text=True)
    client.post("/lang", data={"csrf_token": token(client, "/")})
    assert "Open by hand" in client.get("/").get_data(as_text=True)


# -- the guard screen ------------------------------------------------------------------------


def test_ui_manual_open_needs_a_reason(client, kiosk):
    login(client)
    response = api(client, "/api/lanes/main/open", {"reason": "other"})
    assert response.status_code == 400
    assert response.get_json()["message"] == "请写明开门原因"
    assert api(client, "/api/lanes/main/open", {"reason": "x"}).status_code == 400
    assert api(client, "/api/lanes/nowhere/open", {"reason": "elderly"}).status_code == 404
    assert kiosk.units["main"].runner.inputs.empty()
    assert (
        api(client, "/api/lanes/main/open", {"reason": "other", "note": "搬家"}).status_code == 200
    )
    opened = kiosk.units["main"].runner.inputs.get_nowait()
    assert (opened.reason, opened.guard) == ("other: 搬家", "guard")


def _fever(kiosk, lane="main"):
    return kiosk.journal.append(
        "alert.fever", {"temperature_c": 38.2, "household": "7-1201"}, lane=lane
    )


def test_ui_fever_alarm_is_acknowledged_with_an_outcome(client, kiosk):
    login(client)
    fever = _fever(kiosk)
    assert client.get("/api/state").get_json()["fevers"][0]["seq"] == fever.seq
    url = f"/api/fevers/{fever.seq}/ack"
    assert api(client, url, {"outcome": "remeasured"}).status_code == 400
    still = api(client, url, {"outcome": "remeasured", "temperature_c": "37.8"})
    assert still.status_code == 400 and "发热门诊" in still.get_json()["message"]
    assert api(client, url, {"outcome": "ignored"}).status_code == 400
    assert kiosk.facade.fevers()
    assert api(client, url, {"outcome": "remeasured", "temperature_c": "36.8"}).status_code == 200
    ack = kiosk.journal.recent(1)[0]
    assert ack.type == "alert.fever_ack"
    assert ack.data["fever_seq"] == fever.seq and ack.data["temperature_c"] == 36.8
    assert ack.data["by"] == "guard" and ack.lane == "main"
    assert kiosk.facade.fevers() == []
    assert api(client, url, {"outcome": "clinic"}).status_code == 404


def test_ui_fever_buzzer_sounds_until_acknowledged(tmp_path, clock):
    factory = MockFactory()
    cfg = _config(tmp_path, buzzer_pin=22)
    cfg = dataclasses.replace(cfg, lanes={"main": cfg.lanes["main"]})  # one lane, one buzzer
    k = simulated_kiosk(cfg, clock, pin_factory=factory)
    try:
        pin = factory.pin(22)
        assert pin.state is False
        fever = _fever(k)
        assert pin.state is True
        k.facade.acknowledge_fever(fever.seq, "clinic", "guard")
        assert pin.state is False
    finally:
        k.close()
        factory.reset()


def test_ui_fever_left_open_before_a_restart_is_still_open(tmp_path, clock):
    cfg = _config(tmp_path)
    k = simulated_kiosk(cfg, clock)
    first, second = _fever(k), _fever(k)
    k.facade.acknowledge_fever(first.seq, "reported", "guard")
    k.close()
    k = simulated_kiosk(cfg, clock)
    try:
        assert [f["seq"] for f in k.facade.fevers()] == [second.seq]
    finally:
        k.close()


def test_ui_today_counts_in_out_denied_fevers(kiosk, clock):
    kiosk.journal.append("access.granted", {}, lane="main")
    kiosk.journal.append("gate.manual_open", {}, lane="main")
    kiosk.journal.append("access.granted", {}, lane="exit")
    kiosk.journal.append("access.denied", {}, lane="exit")
    _fever(kiosk)
    assert kiosk.counts.today() == {
        "in": 2,
        "out": 1,
        "denied": 1,
        "fevers": 1,
        "registrations": 0,
    }
    assert kiosk.facade.today_counts()["parcels"] == 0  # and the pickup point's items
    clock.advance(24 * 3600)
    assert kiosk.counts.today()["in"] == 0


# -- registration ----------------------------------------------------------------------------


REGISTRATION = {
    "kind": "returning",
    "name": "李四",
    "phone": "13800138000",
    "household": "7-1201",
    "from_province": "湖北",
    "arrival_date": "2020-02-04",
    "key_area": "yes",
    "contact": "no",
    "temperature_c": "36.6",
    "outcome": "observation",
    "lane": "main",
}


def test_registration_form_keeps_what_was_typed_and_says_what_is_wrong(client, kiosk):
    login(client)
    data = dict(REGISTRATION, phone="12", outcome="admitted", csrf_token=token(client, "/"))
    response = client.post("/register/", data=data)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "手机号码应为11位数字" in page and "须居家观察或不予进入" in page
    assert 'value="李四"' in page and 'value="湖北"' in page
    assert "registration.created" not in types(kiosk)


def test_registration_form_records_and_flags_home_observation(client, kiosk, clock):
    login(client)
    kiosk.journal.append(
        "temperature.measured", {"status": "ok", "temperature_c": 36.6}, lane="main"
    )
    assert 'value="36.6"' in client.get("/register/?lane=main").get_data(as_text=True)
    data = dict(REGISTRATION, sensor_c="36.6", csrf_token=token(client, "/"))
    response = client.post("/register/", data=data)
    assert response.status_code == 302
    page = client.get(response.location).get_data(as_text=True)
    assert "2020-02-18" in page and "已登记" in page
    event = kiosk.journal.recent(1, types=("registration.created",))[0]
    assert event.data["household"] == "7-1201" and event.data["outcome"] == "observation"
    today = clock.now().date()
    assert kiosk.rosters.current().observation_until("7-1201", today).isoformat() == "2020-02-18"


# -- records ---------------------------------------------------------------------------------


def test_ui_records_filter_and_page(client, kiosk):
    login(client)
    for i in range(60):
        kiosk.journal.append("access.granted", {"household": "7-1201", "n": i}, lane="main")
    kiosk.journal.append("access.denied", {"household": "8-0301", "reason": "FEVER"}, lane="exit")
    page = client.get("/records/?type=access.granted&lane=main").get_data(as_text=True)
    assert page.count('data-type="access.granted"') == 50
    older = re.search(r'href="([^"]+)" id="r-older"', page).group(1).replace("&amp;", "&")
    assert client.get(older).get_data(as_text=True).count('data-type="access.granted"') == 10
    page = client.get("/records/?household=8-0301&day_from=2020-02-04").get_data(as_text=True)
    assert page.count("<tr class=") == 1 and "体温异常" in page
    assert "没有符合条件的记录" in client.get("/records/?day_to=2020-02-03").get_data(as_text=True)
    bad = client.get("/records/?day_from=yesterday")
    assert bad.status_code == 400 and "请填写日期" in bad.get_data(as_text=True)


def test_ui_records_csv_opens_in_excel(client, kiosk):
    login(client)
    kiosk.journal.append("access.denied", {"household": "8-0301", "reason": "FEVER"}, lane="exit")
    kiosk.journal.append("gate.manual_open", {"reason": "=HYPERLINK(1)"}, lane="main")
    response = client.get("/records/export.csv?lane=exit")
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    body = response.get_data()
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0][:3] == ["序号", "时间", "通道"]
    assert len(rows) == 2 and rows[1][2] == "exit" and "体温异常" in rows[1][8]
    rows = list(csv.reader(io.StringIO(client.get("/records/export.csv").data.decode("utf-8-sig"))))
    assert rows[1][7] == "'=HYPERLINK(1)"


def test_registration_offers_a_temporary_pass_under_the_registration_id_even_unwritten(
    client, kiosk
):
    login(client)
    kiosk.journal.fail_writes = "database or disk is full"  # the event waits in memory
    admitted = dict(REGISTRATION, key_area="no", outcome="admitted", csrf_token=token(client, "/"))
    response = client.post("/register/", data=admitted)
    assert response.status_code == 302
    page = client.get(response.location).get_data(as_text=True)
    (shown,) = re.findall(r'data-registration="([^"]*)"', page)
    assert re.fullmatch(r"R0204[2-9A-HJ-NP-Z]{6}", shown)  # not "RNone"
    kiosk.journal.fail_writes = None
    kiosk.journal.flush()
    event = kiosk.journal.recent(1, types=("registration.created",))[0]
    assert event.data["registration_id"] == shown
    assert kiosk.journal.read("SELECT id, event_seq FROM registrations") == [(shown, event.seq)]


def test_ui_records_far_dates_and_huge_page_marks_are_answered_plainly(client, kiosk):
    login(client)
    kiosk.journal.append("access.granted", {"household": "7-1201"}, lane="main")
    for url in (
        "/records/?day_to=9999-12-31",
        "/records/?day_from=0001-01-01&day_to=9999-12-31",
        "/records/?before=99999999999999999999",
        "/records/?before=-99999999999999999999",
        "/records/?before=x",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert 'data-type="access.granted"' in response.get_data(as_text=True), url
    response = client.get("/records/export.csv?day_to=9999-12-31")
    assert response.status_code == 200
    assert "7-1201" in response.get_data(as_text=True)


# -- every request checks the account as it is now -------------------------------------------


def _write_config(tmp_path, kiosk):
    path = tmp_path / "kiosk.toml"
    path.write_text(
        f'[gate]\nhardware = "sim"\ndata_dir = "{kiosk.config.data_dir}"\n'
        '[lanes.main]\ndirection = "in"\n[lanes.main.camera]\nsource = "sim"\n'
    )
    return path


def _kiosk_command(*args, stdin=""):
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "kiosk.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done


def test_auth_a_removed_maintenance_account_can_no_longer_pulse_the_relay(tmp_path, kiosk, client):
    login(client, user="fixer")
    assert api(client, "/maintenance/main/pulse").get_json() == {"ok": True}
    kiosk.units["main"].runner.inputs.get_nowait()  # the test pulse was queued
    # removed by another process, as `kiosk user remove` on the kiosk's console does
    _kiosk_command("user", "remove", "fixer", "--config", str(_write_config(tmp_path, kiosk)))
    response = client.post(
        "/maintenance/main/pulse", headers={"X-CSRFToken": token(client, "/login")}
    )
    assert response.status_code == 302 and response.location.startswith("/login")
    assert kiosk.units["main"].runner.inputs.empty()  # no pulse
    assert client.get("/maintenance/").status_code == 302


def test_auth_a_demoted_admin_loses_maintenance(tmp_path, kiosk, client):
    Accounts(kiosk.journal).add("boss", PASSWORD, "admin")
    login(client, user="boss")
    assert client.get("/maintenance/").status_code == 200
    config = str(_write_config(tmp_path, kiosk))
    stdin = f"{PASSWORD}\n{PASSWORD}\n"
    _kiosk_command("user", "add", "boss", "--role", "guard", "--config", config, stdin=stdin)
    assert client.get("/maintenance/").status_code == 302
    assert client.get("/").status_code == 302  # signed out: sign in again as what it is now
    login(client, user="boss")
    assert client.get("/maintenance/").status_code == 403


def test_auth_a_changed_password_ends_the_old_sessions(tmp_path, kiosk, app):
    from kiosk.journal import Journal

    old, other = app.test_client(), app.test_client()
    login(old)
    login(other, user="fixer")
    assert old.get("/").status_code == 200
    # another process's connection to the same store
    elsewhere = Journal(kiosk.config.data_dir / "journal.db", kiosk.clock)
    try:
        Accounts(elsewhere).passwd("guard", "a new password 2")
    finally:
        elsewhere.close()
    assert old.get("/").status_code == 302
    assert old.get("/api/session").status_code == 401
    assert other.get("/").status_code == 200  # another account's session goes on
    assert login(old, password="a new password 2").status_code == 302
    assert old.get("/").status_code == 200
