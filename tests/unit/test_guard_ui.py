"""The guard screen's app as a guard outdoors uses it, through Flask's test client on a real
(not started) kiosk with a fake clock at +08:00: readings picked, not prefilled; names, phone
and ID numbers masked; words for every record; local times; the language switch that comes
back; one-step release after a fever; the simulate panel's unplugging."""

from __future__ import annotations

import csv
import io
import json
import re

from kiosk.accounts import Accounts
from kiosk.events import ManualOpen
from kiosk.ui import describe
from tests.unit.guard_app import PASSWORD, REGISTRATION, api, login, token


def reading(kiosk, value, lane="main"):
    return kiosk.journal.append(
        "temperature.measured", {"status": "ok", "temperature_c": value}, lane=lane
    )


def rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))


# -- item 2: the form never fills in someone else's temperature ------------------------------


def test_registration_form_offers_readings_to_pick_and_prefills_none(ui, ui_kiosk, clock):
    login(ui)
    old = reading(ui_kiosk, 36.9)
    clock.advance(301)  # older than five minutes: not offered
    mine = reading(ui_kiosk, 36.47)
    page = ui.get("/register/?lane=main").get_data(as_text=True)
    temperature = re.search(r'<input name="temperature_c"[^>]*>', page).group(0)
    assert 'value=""' in temperature  # nobody's reading by itself
    assert f'data-seq="{mine.seq}" data-value="36.5"' in page  # shown as the screen shows it
    assert f'data-seq="{old.seq}"' not in page
    assert "07:35:01" in page  # its local time (the gate's clock, +08:00), to pick it by


def test_registration_records_the_reading_picked_and_it_is_not_offered_again(ui, ui_kiosk):
    login(ui)
    picked = reading(ui_kiosk, 36.6)
    data = dict(REGISTRATION, reading_seq=str(picked.seq), csrf_token=token(ui, "/"))
    assert ui.post("/register/", data=data).status_code == 302
    event = ui_kiosk.journal.recent(1, types=("registration.created",))[0]
    assert event.data["reading_seq"] == picked.seq
    assert event.data["temperature_source"] == "sensor"
    page = ui.get("/register/?lane=main").get_data(as_text=True)
    assert f'data-seq="{picked.seq}"' not in page  # the next person's form: not offered


def test_registration_a_sensor_value_sent_by_the_browser_is_not_the_sensors(ui, ui_kiosk):
    login(ui)
    data = dict(REGISTRATION, sensor_c="36.6", csrf_token=token(ui, "/"))
    assert ui.post("/register/", data=data).status_code == 302
    event = ui_kiosk.journal.recent(1, types=("registration.created",))[0]
    assert event.data["temperature_source"] == "manual" and event.data["reading_seq"] is None


def test_registration_a_changed_reading_needs_a_reason(ui, ui_kiosk):
    login(ui)
    picked = reading(ui_kiosk, 36.6)
    form = dict(REGISTRATION, temperature_c="37.6", outcome="refused")
    data = dict(form, reading_seq=str(picked.seq), csrf_token=token(ui, "/"))
    response = ui.post("/register/", data=data)
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "体温与测温仪读数不同" in page
    assert f'class="reading picked" data-seq="{picked.seq}"' in page  # still the one picked


# -- item 9: the ID number, names and phones masked ------------------------------------------


ID = "110101199003074258"


def test_registration_id_number_is_masked_on_the_form_even_when_sent_back(ui, ui_kiosk):
    login(ui)
    data = dict(REGISTRATION, id_number=ID, phone="12", csrf_token=token(ui, "/"))
    page = ui.post("/register/", data=data).get_data(as_text=True)
    field = re.search(r'<input name="id_number"[^>]*>', page).group(0)
    assert 'class="masked"' in field and "f-id-reveal" in page


def test_registrations_page_masks_names_and_phones_and_reveals_one_on_a_tap(ui, ui_kiosk):
    login(ui)
    data = dict(REGISTRATION, id_number=ID, csrf_token=token(ui, "/"))
    ui.post("/register/", data=data)
    page = ui.get("/records/registrations").get_data(as_text=True)
    assert "李四" not in page and "13800138000" not in page and ID not in page
    assert "李*" in page and "138****8000" in page and "**************4258" in page
    (rid,) = re.findall(r'<tr data-registration="([^"]+)"', page)
    shown = ui.get(f"/records/registrations/{rid}/contact").get_json()
    assert shown == {"name": "李四", "phone": "13800138000"}
    assert ui.get("/records/registrations/R0000000000/contact").status_code == 404


def test_csv_exports_mask_names_and_phones_for_a_guard(ui, ui_kiosk):
    login(ui)
    ui.post("/register/", data=dict(REGISTRATION, csrf_token=token(ui, "/")))
    events = ui.get("/records/export.csv?type=registration.created").get_data(as_text=True)
    assert "李四" not in events and "13800138000" not in events
    assert "李*" in events and "138****8000" in events
    table = rows(ui.get("/records/registrations.csv"))
    header, row = table[0], table[1]
    assert header[:6] == [
        "登记时间",
        "登记编号",
        "人员类别",
        "姓名",
        "手机号码",
        "身份证号（选填）",
    ]
    assert (row[2], row[3], row[4]) == ("返回居民", "李*", "138****8000")


def test_registrations_csv_has_every_field_in_words_and_in_full_for_the_committee(ui_app, ui_kiosk):
    Accounts(ui_kiosk.journal).add("office", PASSWORD, "admin")
    client = ui_app.test_client()
    login(client, user="office")
    form = dict(REGISTRATION, id_number=ID, symptoms="cough", outcome="observation")
    client.post("/register/", data=dict(form, csrf_token=token(client, "/")))
    header, row = rows(client.get("/records/registrations.csv"))[:2]
    cells = dict(zip(header, row, strict=True))
    assert cells["登记时间"] == "2020-02-04 07:30:00"  # local time
    assert (cells["姓名"], cells["手机号码"]) == ("李四", "13800138000")
    assert cells["身份证号（选填）"] == "**************4258"  # the ID number never in full
    assert cells["14天内到过重点地区"] == "是" and cells["症状"] == "干咳"
    assert cells["处理结果"] == "进入，居家观察14天" and cells["体温"] == "36.6"


# -- item 5 and records: words, local times, temperatures as shown -----------------------------


def test_records_words_for_manual_openings_and_fever_outcomes_not_code_words(ui, ui_kiosk):
    login(ui)
    for reason in ("other: 送水工人", "test", "remeasured: 36.9 °C", "ambulance"):
        ui_kiosk.journal.append("gate.manual_open", {"reason": reason, "guard": "g"}, lane="main")
    for outcome in ("clinic", "remeasured", "reported"):
        ui_kiosk.journal.append("alert.fever_ack", {"outcome": outcome}, lane="main")
    ui_kiosk.journal.append("alert.home_observation", {"household": "7-1202"}, lane="exit")
    ui_kiosk.journal.append("registration.created", {"outcome": "refused"}, lane="main")
    page = ui.get("/records/").get_data(as_text=True)
    for words in ("其他：送水工人", "维保测试", "复测正常放行：36.9 °C", "救护/紧急"):
        assert words in page
    for words in ("已送发热门诊", "手动复测正常", "已报告居委会", "居家观察提醒"):
        assert words in page
    assert not re.search(r"\b(reason|outcome|event|fever\.outcome)\.[a-z_]+", page)
    exported = ui.get("/records/export.csv").get_data(as_text=True)
    assert "其他：送水工人" in exported and "outcome.clinic" not in exported


def test_records_and_csv_show_local_times_and_temperatures_as_the_screen_does(ui, ui_kiosk):
    login(ui)
    event = ui_kiosk.journal.append(
        "access.denied", {"household": "7-1201", "temperature_c": 37.47, "reason": "FEVER"}
    )
    ui_kiosk.journal.write(
        "UPDATE events SET ts = ? WHERE seq = ?", ("2020-02-03T23:30:00.000+00:00", event.seq)
    )
    page = ui.get("/records/").get_data(as_text=True)
    assert "2020-02-04 07:30:00" in page and "37.5 °C" in page and "37.47" not in page
    header, row = rows(ui.get("/records/export.csv"))[:2]
    cells = dict(zip(header, row, strict=True))
    assert cells["时间"] == "2020-02-04 07:30:00" and cells["体温"] == "37.5"
    assert cells["时间戳（RFC 3339）"] == "2020-02-03T23:30:00.000+00:00"  # the record as kept


def test_guard_event_list_carries_words_in_the_guards_language(ui, ui_kiosk):
    login(ui)
    ui_kiosk.journal.append("gate.manual_open", {"reason": "other: 送水工人"}, lane="main")
    (latest,) = ui.get("/api/events?limit=1").get_json()
    assert latest["type"] == "gate.manual_open"  # the contract's shape, kept
    assert latest["words"] == {
        "time": "2020-02-04 07:30:00",
        "title": "人工开门",
        "summary": "其他：送水工人",
    }
    ui.post("/lang", data={"csrf_token": token(ui, "/"), "next": "/"})
    (latest,) = ui.get("/api/events?limit=1").get_json()
    assert latest["words"]["title"] == "Opened by hand"
    assert latest["words"]["summary"] == "Other：送水工人"


def test_describe_summary_words_every_reason_and_outcome():
    from kiosk.fevers import FEVER_OUTCOMES
    from kiosk.reasons import Reason
    from kiosk.registrations import KINDS, OUTCOMES
    from kiosk.ui.guard import OPEN_REASONS

    for lang in ("zh", "en"):
        lines = [describe.summary("access.denied", {"reason": r.value}, lang) for r in Reason]
        lines += [describe.summary("alert.fever_ack", {"outcome": o}, lang) for o in FEVER_OUTCOMES]
        lines += [
            describe.summary("registration.created", {"outcome": o, "kind": k}, lang)
            for o in OUTCOMES
            for k in KINDS
        ]
        lines += [
            describe.summary("gate.manual_open", {"reason": r}, lang)
            for r in (*OPEN_REASONS, "test", "remeasured: 36.9 °C")
        ]
        lines += [
            describe.summary("access.granted", {"warnings": ["ANTI_PASSBACK", w]}, lang)
            for w in ("HOME_OBSERVATION", "CLOCK_UNTRUSTED", "PASS_EXPIRED", "PASS_NOT_YET_VALID")
        ]
        untranslated = [line for line in lines if re.search(r"\b[a-z_]+\.[a-z_A-Z]+", line)]
        assert untranslated == [], lang


# -- item 7: the language switch comes back to the page ---------------------------------------


def test_language_switch_comes_back_to_the_page_it_was_asked_from(ui):
    login(ui)
    switched = ui.post("/lang", data={"csrf_token": token(ui, "/"), "next": "/records/?lane=main"})
    assert switched.status_code == 302 and switched.location == "/records/?lane=main"
    for elsewhere in (
        "https://evil.example/",
        "//evil.example/",
        "/\\evil",
        "/\t/evil.example",
        "",
        None,
    ):
        data = {"csrf_token": token(ui, "/")}
        if elsewhere is not None:
            data["next"] = elsewhere
        assert ui.post("/lang", data=data).location == "/"


def test_every_page_sends_its_own_path_with_the_language_switch(ui):
    login(ui)
    page = ui.get("/records/?lane=exit").get_data(as_text=True)
    assert '<input type="hidden" name="next" value="/records/?lane=exit">' in page
    assert 'name="next" value="/register/"' in ui.get("/register/").get_data(as_text=True)


# -- the fever alarm: re-measured normal -> let through, in one step ---------------------------


def test_fever_release_acknowledges_and_opens_the_lane_in_one_step(ui, ui_kiosk):
    login(ui)
    fever = ui_kiosk.journal.append("alert.fever", {"temperature_c": 38.1}, lane="exit")
    url = f"/api/fevers/{fever.seq}/release"
    assert api(ui, url, {}).status_code == 400  # no value: nothing happens
    still = api(ui, url, {"temperature_c": "37.4"})
    assert still.status_code == 400 and "发热门诊" in still.get_json()["message"]
    assert ui_kiosk.units["exit"].runner.inputs.empty()
    done = api(ui, url, {"temperature_c": "36.9", "note": "腋下"})
    assert done.get_json() == {"ok": True, "lane": "exit"}
    ack = ui_kiosk.journal.recent(1, types=("alert.fever_ack",))[0]
    assert (ack.data["outcome"], ack.data["temperature_c"], ack.data["note"]) == (
        "remeasured",
        36.9,
        "腋下",
    )
    opened = ui_kiosk.units["exit"].runner.inputs.get_nowait()
    assert isinstance(opened, ManualOpen)
    assert (opened.reason, opened.guard) == ("remeasured: 36.9 °C", "guard")
    assert api(ui, url, {"temperature_c": "36.9"}).status_code == 404  # handled already


def test_manual_open_dialog_has_no_reason_chosen_for_the_guard(ui):
    login(ui)
    page = ui.get("/").get_data(as_text=True)
    dialog = page[page.index('id="open-dialog"') : page.index('id="temp-dialog"')]
    assert dialog.count('name="reason"') == 4 and "checked" not in dialog


# -- the demo's simulate panel: unplug the thermometer or the camera ---------------------------


def test_sim_panel_unplugs_and_plugs_back_the_thermometer_and_camera(ui, ui_kiosk):
    login(ui)
    scene = ui_kiosk.world.lanes["main"]
    out = api(ui, "/api/sim/main/part", {"part": "thermometer", "plugged": False})
    assert out.get_json()["lane"]["thermometer_plugged"] is False and scene.sensor.unplugged
    api(ui, "/api/sim/main/part", {"part": "camera", "plugged": False})
    assert scene.camera.unplugged
    back = api(ui, "/api/sim/main/part", {"part": "camera", "plugged": True}).get_json()
    assert back["lane"]["camera_plugged"] is True and not scene.camera.unplugged
    for bad in ({"part": "relay", "plugged": False}, {"part": "camera", "plugged": "no"}):
        assert api(ui, "/api/sim/main/part", bad).status_code == 400
    assert api(ui, "/api/sim/nowhere/part", {"part": "camera", "plugged": True}).status_code == 404


def test_guard_state_gives_the_compound_name(ui, ui_kiosk):
    login(ui)
    assert ui.get("/api/state").get_json()["site_name"] == "演示小区"
    assert json.loads(json.dumps(ui_kiosk.facade.state()))["site_name"] == "演示小区"
