"""The guard screen as a guard outdoors uses it, in Chromium at 800x480 and 1280x800, in both
languages where the words matter: the health form after a fever, readings picked rather than
prefilled, warnings on the tile, the person with no pass, the fever alarm beside the other
lane, manual opening without a chosen reason, the simulate panel's unplugging, the language
switch that keeps the page, masked personal data, the printable temporary pass."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import FEVER_FOREHEAD_C, LANGUAGES, NORMAL_FOREHEAD_C, SIZES
from tests.e2e.test_guard_screen import _idle, _measure

COVERED = """(el) => {
  const r = el.getBoundingClientRect();
  if (r.width === 0 || r.height === 0) return "not shown";
  if (r.top < 0 || r.left < 0 || r.bottom > innerHeight + 1 || r.right > innerWidth + 1)
    return "outside the screen";
  const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
  if (hit && (hit === el || el.contains(hit))) return "";
  return "covered by " + (hit && hit.outerHTML.slice(0, 80));
}"""


def on_screen(locator) -> None:
    """*locator* is on screen, inside the window and not covered by anything."""
    locator.scroll_into_view_if_needed()
    assert locator.evaluate(COVERED) == ""


def fill_person(page, *, household="7-1201") -> None:
    page.fill("#f-name", "王小明")
    page.fill("#f-phone", "13912345678")
    page.fill("#f-household", household)
    page.fill("#f-province", "湖北")


# -- item 1 and 2: the health form after a fever ---------------------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_health_form_after_a_fever_stays_usable_and_prefills_nobodys_reading(screens, live, size):
    page = screens(size=size)
    lane = live.kiosk.world.lanes["main"]
    lane.step_in(FEVER_FOREHEAD_C, None)  # a fever, with no pass: the alarm sounds
    expect(page.locator("#fever")).to_be_visible()
    fever = live.kiosk.facade.fevers()[0]
    live.kiosk.facade.acknowledge_fever(fever["seq"], "clinic", "guard")
    lane.leave()
    page.click("#nav-register")  # within five minutes of the fever
    temperature = page.locator("#f-temperature")
    expect(temperature).to_have_value("")  # nobody's reading by itself
    body_c = f"{fever['temperature_c']:.1f}"
    page.click(f'button.reading[data-value="{body_c}"]')  # the guard picks it: it is theirs
    expect(temperature).to_have_value(body_c)
    expect(temperature).to_have_class(re.compile(r"\btemp-high\b"))
    expect(page.locator("#temp-warning")).to_be_visible()
    box = temperature.bounding_box()
    assert box["width"] < size[0] * 0.6 and box["height"] < 80  # a field, not the screen
    assert temperature.evaluate("(el) => getComputedStyle(el).position") != "fixed"
    fill_person(page)
    page.click("label:has(#f-outcome-refused)")
    on_screen(page.locator("#reg-submit"))
    page.click("#reg-submit")
    expect(page.locator("#registered")).to_contain_text("已登记")
    event = live.kiosk.journal.recent(1, types=("registration.created",))[0]
    assert (event.data["outcome"], event.data["temperature_c"]) == ("refused", float(body_c))
    assert event.data["temperature_source"] == "sensor"
    # the next, empty form: no temperature, and that reading is not offered again
    expect(page.locator("#f-temperature")).to_have_value("")
    expect(page.locator(f'button.reading[data-seq="{event.data["reading_seq"]}"]')).to_have_count(0)


# -- item 4 and the missing steps on the tile ------------------------------------------------


@pytest.mark.parametrize("lang", LANGUAGES)
def test_soft_anti_passback_is_an_amber_warning_on_the_tile(screens, live, lang):
    page = screens(lang=lang)
    token = live.token("8-0301")
    tile = page.locator("#lane-main")
    live.kiosk.world.lanes["exit"].step_in(NORMAL_FOREHEAD_C, token)  # went out first
    expect(page.locator("#lane-exit")).to_have_class(re.compile(r"\bstate-granted\b"))
    _idle(live, page, "exit")
    for _ in range(2):  # in, and in again with the same pass (a shared screenshot)
        _idle(live, page)
        live.kiosk.world.lanes["main"].step_in(NORMAL_FOREHEAD_C, token)
        expect(tile).to_have_class(re.compile(r"\bstate-granted\b"))
    warning = tile.locator('[data-field="warning"]')
    words = "此证刚刚已进入 — 请核对" if lang == "zh" else "This pass just went in — please check"
    expect(warning).to_have_text(words)
    expect(tile).to_have_class(re.compile(r"\bhas-warning\b"))
    assert warning.evaluate("(el) => getComputedStyle(el).backgroundColor") == "rgb(255, 179, 0)"
    on_screen(warning)
    notice = "重复使用提醒" if lang == "zh" else "Pass used twice"
    expect(page.locator('#events li[data-type="alert.anti_passback"]').first).to_contain_text(
        notice
    )
    _idle(live, page)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_household_under_observation_coming_in_is_a_notice_to_the_guard(screens, live, lang):
    page = screens(lang=lang)
    _idle(live, page)
    until = live.kiosk.rosters.current().home_observation["7-1202"].isoformat()
    live.kiosk.world.lanes["main"].step_in(NORMAL_FOREHEAD_C, live.pass_token("P0007120201"))
    tile = page.locator("#lane-main")
    expect(tile).to_have_class(re.compile(r"\bstate-granted\b"))
    warning = tile.locator('[data-field="warning"]')
    if lang == "zh":
        expect(warning).to_have_text(f"居家观察户（至 {until}）进入 — 可能外出检测返回，请核对")
    else:
        expect(warning).to_contain_text(f"Home observation (until {until}) coming in")
    _idle(live, page)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_person_with_no_pass_is_asked_for_it_with_their_temperature(screens, live, lang):
    page = screens(lang=lang)
    _idle(live, page)
    tile = page.locator("#lane-main")
    shown = tile.locator('[data-field="temperature"]')
    live.kiosk.world.lanes["main"].step_in(NORMAL_FOREHEAD_C, None)
    try:
        expect(tile.locator('[data-field="state"]')).to_have_text(
            "请出示出入证" if lang == "zh" else "Show your pass"
        )
        expect(shown).to_have_text(re.compile(r"^\d\d\.\d °C$"))
        (measured,) = live.kiosk.journal.recent(1, types=("temperature.measured",))
        value = measured.data["temperature_c"]  # the sensor's noise: within 0.2 °C
        assert abs(value - (NORMAL_FOREHEAD_C + 1.0)) <= 0.2, value
        expect(shown).to_have_text(f"{value:.1f} °C")
    finally:
        live.kiosk.world.lanes["main"].leave()
    expect(tile.locator('[data-field="state"]')).to_have_text("等待" if lang == "zh" else "Waiting")
    expect(tile.locator('[data-field="temperature"]')).to_have_text("—")


@pytest.mark.parametrize("size", SIZES)
def test_fever_alarm_leaves_the_other_lane_on_screen_and_usable(screens, live, size):
    page = screens(size=size)
    _idle(live, page)
    live.kiosk.world.lanes["main"].step_in(FEVER_FOREHEAD_C, live.token("7-1201"))
    expect(page.locator("#fever")).to_be_visible()
    for control in ("#fever-value", "#fever-release", "#fever-clinic", "#fever-reported"):
        on_screen(page.locator(control))
    other = page.locator("#lane-exit")
    on_screen(other.locator('[data-field="state"]'))
    on_screen(other.locator(".open-gate"))
    other.locator(".open-gate").click()  # the exit lane still opens by hand meanwhile
    expect(page.locator("#open-dialog")).to_be_visible()
    page.click("#open-cancel")
    page.fill("#fever-value", "36.8")
    page.click("#fever-release")
    expect(page.locator("#fever")).to_be_hidden()
    expect(page.locator("#lane-main")).to_be_visible()
    _idle(live, page)


def test_manual_opening_has_no_reason_chosen_for_the_guard(page, live):
    before = live.kiosk.journal.last_seq()
    page.click('.open-gate[data-lane="exit"]')
    expect(page.locator('#open-dialog input[name="reason"]:checked')).to_have_count(0)
    page.click("#open-confirm")  # a hurried tap records nothing
    expect(page.locator("#open-error")).to_have_text("请选择开门原因")
    opened = live.kiosk.journal.recent(5, types=("gate.manual_open",))
    assert [e for e in opened if e.seq > before] == []
    page.check('input[name="reason"][value="elderly"]')
    page.click("#open-confirm")
    expect(page.locator("#open-dialog")).to_be_hidden()
    opened = live.kiosk.journal.recent(1, types=("gate.manual_open",))[0]
    assert opened.seq > before and opened.data["reason"] == "elderly"
    _idle(live, page, "exit")


# -- the demo's simulate panel ----------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_simulate_panel_leaves_every_lane_on_screen(screens, size):
    page = screens(size=size)
    page.click("#sim-toggle")
    expect(page.locator("#sim")).to_be_visible()
    sim = page.locator("#sim").bounding_box()
    for lane in ("main", "exit"):
        tile = page.locator(f"#lane-{lane}").bounding_box()
        apart = sim["y"] >= tile["y"] + tile["height"] or sim["x"] >= tile["x"] + tile["width"]
        assert apart, f"the simulate panel covers lane {lane}"
        on_screen(page.locator(f"#lane-{lane} .open-gate"))
    on_screen(page.locator("#sim-thermometer"))


def test_simulate_panel_unplugs_the_thermometer_and_the_camera(page):
    page.click("#sim-toggle")
    page.select_option("#sim-lane", "main")
    page.click("#sim-thermometer")
    manual = page.locator("#lane-main .manual-temp")
    expect(manual).to_be_visible()  # 手动测温: the guard measures by hand
    expect(page.locator('[data-badge="thermometer"]')).to_have_class(re.compile("dot-fault"))
    expect(page.locator("#sim-thermometer")).to_have_text("插回测温仪")
    page.click("#sim-camera")
    expect(page.locator('[data-badge="camera"]')).to_have_class(re.compile("dot-fault"))
    page.click("#sim-thermometer")
    page.click("#sim-camera")
    expect(manual).to_be_hidden()
    expect(page.locator('[data-badge="camera"]')).to_have_class(re.compile("dot-ok"))


# -- item 7: the language switch keeps the page and what was typed ----------------------------


def test_language_switch_keeps_a_half_filled_form_and_the_page(page, live):
    page.click("#nav-register")
    page.click("label:has(input[name=kind][value=visitor])")
    page.fill("#f-name", "赵六")
    page.fill("#f-phone", "13700001111")
    page.click('label:has(input[name="symptoms"][value="cough"])')
    page.click("summary")
    page.fill("#f-id", "110101199003074258")
    page.click("#lang-switch")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page).to_have_url(re.compile(r"/register/$"))
    expect(page.locator("h1")).to_have_text("Health information form")
    expect(page.locator("#f-name")).to_have_value("赵六")
    expect(page.locator("#f-phone")).to_have_value("13700001111")
    expect(page.locator("#f-id")).to_have_value("110101199003074258")
    expect(page.locator("input[name=kind][value=visitor]")).to_be_checked()
    expect(page.locator('input[name="symptoms"][value="cough"]')).to_be_checked()
    page.goto(live.url + "/records/?lane=exit")
    page.click("#lang-switch")
    expect(page).to_have_url(re.compile(r"/records/\?lane=exit$"))
    expect(page.locator("#r-lane")).to_have_value("exit")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")


# -- item 9: personal data masked on screen ---------------------------------------------------


def test_id_number_is_masked_until_a_deliberate_tap(page):
    page.click("#nav-register")
    page.click("summary")
    field = page.locator("#f-id")
    page.fill("#f-id", "110101199003074258")
    security = "(el) => getComputedStyle(el).webkitTextSecurity"
    assert field.evaluate(security) == "disc"
    page.click("#f-id-reveal")
    assert field.evaluate(security) == "none"
    page.click("#f-id-reveal")
    assert field.evaluate(security) == "disc"


def test_registrations_list_masks_names_and_phones_and_shows_one_on_a_tap(page, live):
    body_c = _measure(live, "main", NORMAL_FOREHEAD_C)
    page.click("#nav-register")
    page.click(f'button.reading[data-value="{body_c:.1f}"]')
    page.click("label:has(input[name=kind][value=visitor])")
    fill_person(page)
    page.click("#reg-submit")
    expect(page.locator("#registered")).to_be_visible()
    page.goto(live.url + "/records/registrations")
    row = page.locator("#registrations tbody tr").first
    expect(row).to_contain_text("王*明 · 139****5678")
    expect(page.locator("#registrations")).not_to_contain_text("13912345678")
    row.locator("button.reveal").click()
    expect(row).to_contain_text("王小明 · 13912345678")
    with page.expect_download() as info:
        page.click("#reg-export")
    table = list(csv.reader(io.StringIO(Path(info.value.path()).read_text("utf-8-sig"))))
    assert table[0][:4] == ["登记时间", "登记编号", "人员类别", "姓名"]
    assert table[1][2:5] == ["访客", "王*明", "139****5678"]


# -- the printable temporary pass -------------------------------------------------------------


def test_temporary_pass_prints_the_card_with_the_compound_household_and_validity(page, live):
    body_c = _measure(live, "main", NORMAL_FOREHEAD_C)
    page.click("#nav-register")
    page.click(f'button.reading[data-value="{body_c:.1f}"]')
    page.click("label:has(input[name=kind][value=visitor])")
    fill_person(page, household="8-0301")
    page.click("#reg-submit")
    page.click("#temporary-pass")
    card = page.locator("#temporary-card")
    expect(card).to_be_visible()
    issued = live.kiosk.journal.recent(1, types=("pass.temporary_issued",))[0]
    page.emulate_media(media="print")
    expect(card).to_be_visible()
    expect(card.locator(".card-site")).to_have_text("演示小区")
    expect(card.locator(".card-title")).to_have_text("临时通行证")
    expect(card.locator("#temporary-household")).to_have_text("8-0301")
    expect(card.locator("#temporary-id")).to_have_text(issued.data["pass_id"])
    expect(card.locator("#temporary-valid")).to_contain_text(" 至 ")
    visible = page.evaluate(
        "() => [...document.querySelectorAll('button, nav, header, form')]"
        ".filter((el) => el.getClientRects().length > 0).map((el) => el.outerHTML.slice(0, 60))"
    )
    assert visible == []  # the card only: no buttons, no navigation, no form
    page.emulate_media(media="screen")
