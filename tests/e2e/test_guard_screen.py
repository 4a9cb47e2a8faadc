"""The guard screen in headless Chromium against a live demo kiosk."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import cv2
import numpy as np
import zxingcpp
from playwright.sync_api import expect

from tests.conftest import wait_for
from tests.e2e.conftest import FEVER_FOREHEAD_C, NORMAL_FOREHEAD_C


def _idle(live, page, lane="main"):
    live.kiosk.world.lanes[lane].leave()
    expect(page.locator(f"#lane-{lane}")).to_have_class(re.compile(r"\bstate-idle\b"))


def test_guard_screen_login_is_required(browser, live):
    context = browser.new_context()
    page = context.new_page()
    page.goto(live.url + "/records/")
    expect(page).to_have_url(re.compile(r"/login\?next=/records/"))
    page.fill('input[name="user"]', "guard")
    page.fill('input[name="password"]', "not the password")
    page.click('button[type="submit"]')
    expect(page.locator("#login-error")).to_contain_text("用户名或密码错误")
    context.close()


def test_guard_screen_shows_granted_and_fever_live_and_acknowledges(page, live):
    _idle(live, page)
    lane = live.kiosk.world.lanes["main"]
    tile = page.locator("#lane-main")
    lane.step_in(NORMAL_FOREHEAD_C, live.token("7-1201"))
    expect(tile).to_have_class(re.compile(r"\bstate-granted\b"))
    expect(tile.locator('[data-field="household"]')).to_have_text("7-1201")
    expect(tile.locator('[data-field="message"]')).to_have_text("请通行")
    expect(page.locator('[data-count="in"]')).not_to_have_text("0")
    _idle(live, page)

    lane.step_in(FEVER_FOREHEAD_C, live.token("7-1201"))
    alarm = page.locator("#fever")
    expect(alarm).to_be_visible()
    expect(page.locator("#fever-household")).to_contain_text("7-1201")
    expect(page.locator("body")).to_have_attribute("data-alarm", "sounding")
    expect(tile).to_have_class(re.compile(r"\bstate-denied\b"))
    page.click("#fever-remeasured")  # no value typed: refused, alarm stays
    expect(page.locator("#fever-error")).to_contain_text("请填写复测体温")
    expect(alarm).to_be_visible()
    page.fill("#fever-value", "36.9")
    page.click("#fever-remeasured")
    expect(alarm).to_be_hidden()
    expect(page.locator("body")).not_to_have_attribute("data-alarm", "sounding")
    ack = live.kiosk.journal.recent(1, types=("alert.fever_ack",))[0]
    assert (ack.data["outcome"], ack.data["temperature_c"], ack.data["by"]) == (
        "remeasured",
        36.9,
        "guard",
    )
    assert live.kiosk.facade.fevers() == []
    _idle(live, page)


def _measure(live, lane, forehead_c, timeout=10.0) -> float:
    """Step someone in front of *lane*'s thermometer; wait (bounded, on the lane thread's
    turns) for the reading."""
    after = live.kiosk.journal.last_seq()
    live.kiosk.world.lanes[lane].step_in(forehead_c, None)

    def reading():
        for event in live.kiosk.journal.recent(5, types=("temperature.measured",), lane=lane):
            if event.seq > after and event.data.get("temperature_c") is not None:
                return event.data["temperature_c"]
        return None

    body_c = wait_for(reading, live.kiosk.units[lane].runner, timeout)
    assert body_c is not None, f"lane {lane} measured nobody"
    live.kiosk.world.lanes[lane].leave()
    return body_c


def test_guard_screen_registers_a_returning_resident_with_home_observation(page, live):
    # the returning resident is measured at the lane first; the form takes that reading
    body_c = _measure(live, "main", NORMAL_FOREHEAD_C)
    page.click("#nav-register")
    page.fill("#f-name", "王小明")
    page.fill("#f-phone", "13912345678")
    page.fill("#f-household", "8-0301")
    page.fill("#f-province", "湖北")
    page.click("label:has(#f-key_area-yes)")
    expect(page.locator("#f-temperature")).to_have_value(f"{body_c:.1f}")
    page.click("label:has(#f-outcome-observation)")
    page.click("#reg-submit")
    done = page.locator("#registered")
    expect(done).to_contain_text("已登记")
    expect(done).to_contain_text("居家观察至")
    expect(page.locator("#temporary-pass")).to_have_count(0)  # kept in: no pass to come back
    event = live.kiosk.journal.recent(1, types=("registration.created",))[0]
    assert event.data["household"] == "8-0301" and event.data["outcome"] == "observation"

    # the household is now kept in: its pass is refused on the way out
    page.click("#nav-guard")
    page.wait_for_selector('body[data-stream="open"]')
    exit_tile = page.locator("#lane-exit")
    live.kiosk.world.lanes["exit"].step_in(NORMAL_FOREHEAD_C, live.token("8-0301"))
    expect(exit_tile).to_have_class(re.compile(r"\bstate-denied\b"))
    expect(exit_tile.locator('[data-field="message"]')).to_contain_text("居家观察")
    _idle(live, page, "exit")


def test_guard_screen_visitor_gets_a_temporary_pass_that_opens_the_gate(page, live):
    _measure(live, "main", NORMAL_FOREHEAD_C)
    page.click("#nav-register")
    page.click("label:has(input[name=kind][value=visitor])")
    page.fill("#f-name", "李四")
    page.fill("#f-phone", "13800001111")
    page.fill("#f-household", "7-1201")
    page.fill("#f-province", "上海")
    page.click("#reg-submit")
    expect(page.locator("#registered")).to_contain_text("已登记")
    page.click("#temporary-pass")
    expect(page.locator("#temporary-result")).to_be_visible()
    issued = live.kiosk.journal.recent(1, types=("pass.temporary_issued",))[0]
    created = live.kiosk.journal.recent(1, types=("registration.created",))[0]
    assert issued.data["registration_id"] == created.data["registration_id"]  # one id
    expect(page.locator("#temporary-info")).to_contain_text(issued.data["pass_id"])

    # the QR on screen, photographed: decoded from its pixels, it is a pass this gate accepts
    src = page.locator("#temporary-qr").get_attribute("src")
    png = base64.b64decode(src.split(",", 1)[1])
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    (token,) = [r.text for r in zxingcpp.read_barcodes(image)]
    page.click("#nav-guard")
    page.wait_for_selector('body[data-stream="open"]')
    live.kiosk.world.lanes["exit"].step_in(NORMAL_FOREHEAD_C, token)
    exit_tile = page.locator("#lane-exit")
    expect(exit_tile).to_have_class(re.compile(r"\bstate-granted\b"))
    _idle(live, page, "exit")


def test_guard_screen_opens_the_gate_by_hand_with_a_reason(page, live):
    page.click('.open-gate[data-lane="main"]')
    dialog = page.locator("#open-dialog")
    expect(dialog).to_be_visible()
    page.check('input[name="reason"][value="other"]')
    page.click("#open-confirm")
    expect(page.locator("#open-error")).to_have_text("请写明开门原因")
    page.fill("#open-note", "救护车进小区")
    page.click("#open-confirm")
    expect(dialog).to_be_hidden()
    tile = page.locator("#lane-main")
    expect(tile).to_have_class(re.compile(r"\bstate-granted\b"))
    expect(tile.locator('[data-field="message"]')).to_have_text("人工放行")
    opened = live.kiosk.journal.recent(1, types=("gate.manual_open",))[0]
    assert opened.data["reason"] == "other: 救护车进小区" and opened.data["guard"] == "guard"


def test_guard_screen_switches_language_in_one_tap(page):
    page.click("#lang-switch")
    expect(page.locator('.open-gate[data-lane="main"]')).to_have_text("Open by hand")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.click("#lang-switch")
    expect(page.locator('.open-gate[data-lane="main"]')).to_have_text("人工开门")


def test_guard_screen_simulate_drawer_leaves_the_lanes_on_screen(page):
    page.click("#sim-toggle")
    expect(page.locator("#sim")).to_be_visible()
    for lane in ("main", "exit"):
        box = page.locator(f"#lane-{lane} .open-gate").bounding_box()
        assert box["y"] + box["height"] <= 480


def test_records_export_csv_for_excel(page, live):
    page.click("#nav-records")
    expect(page.locator("#records tbody tr").first).to_be_visible()
    with page.expect_download() as info:
        page.click("#r-export")
    body = Path(info.value.path()).read_bytes()
    assert body.startswith(b"\xef\xbb\xbf")
    text = body.decode("utf-8-sig")
    assert text.splitlines()[0].startswith("序号,时间,通道")
    assert "registration.created" in text and "gate.manual_open" in text
