"""The resident screen in headless Chromium at 800x480 against a live demo kiosk, through a
whole person each way: granted (with a parcel waiting), fever, a refused pass, no pass, the
thermometer faulty. Nothing on it names anyone; no text under 32 px; high contrast."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from kiosk.parcels import ParcelForm
from kiosk.sim import demo as demo_kit
from tests.conftest import wait_for
from tests.e2e.conftest import FEVER_FOREHEAD_C, NORMAL_FOREHEAD_C

#: The guard who records parcels and measures by hand in these tests: a person's name.
OPERATOR = "li.wei"

#: Every visible text element's font size, its box, and the contrast with the background.
MEASURE = """() => {
  const lum = (c) => {
    const [r, g, b] = c.match(/\\d+(\\.\\d+)?/g).slice(0, 3).map((v) => {
      v = Number(v) / 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const bg = lum(getComputedStyle(document.body).backgroundColor);
  const out = [];
  for (const el of document.querySelectorAll("body *")) {
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own || el.offsetParent === null) continue;
    const style = getComputedStyle(el);
    const fg = lum(style.color);
    const box = el.getBoundingClientRect();
    out.push({
      text: el.textContent.trim(),
      px: parseFloat(style.fontSize),
      contrast: (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05),
      right: box.right, bottom: box.bottom, left: box.left, top: box.top,
    });
  }
  return out;
}"""


@pytest.fixture
def screen(browser, live):
    """The resident page of lane main at 800x480, no sign-in, its stream open."""
    context = browser.new_context(viewport={"width": 800, "height": 480})
    context.set_default_timeout(15000)
    page = context.new_page()
    live.kiosk.world.lanes["main"].leave()
    unit = live.kiosk.units["main"]
    # the lane has seen the last person go (the sensor settles), so the next one is new
    assert wait_for(lambda: not unit.lane.snapshot().present, unit.runner)
    page.goto(live.url + "/resident/main")
    page.wait_for_selector('body[data-stream="open"]')
    expect(page.locator("body")).to_have_attribute("data-colour", "idle")
    yield page
    context.close()


def private_words(live) -> list[str]:
    """Household numbers and pass ids of the demo compound, and the guard acting here."""
    words = [h for h, _ in demo_kit.HOUSEHOLDS] + [p.household for p in live.passes if p.household]
    words += [p.pass_id for p in live.passes if p.pass_id]
    return sorted({*words, OPERATOR})


def check(page, live, colour: str) -> None:
    """The screen in *colour*: readable at 1.5 m, and naming nobody."""
    expect(page.locator("body")).to_have_attribute("data-colour", colour)
    html = page.content()
    text = page.locator("body").inner_text()
    for word in private_words(live):
        assert word not in html and word not in text, word
    measured = page.evaluate(MEASURE)
    assert measured
    for item in measured:
        assert item["px"] >= 32, item
        assert item["contrast"] >= 7, item
        assert item["left"] >= 0 and item["right"] <= 800, item
        assert item["top"] >= 0 and item["bottom"] <= 480, item


def back_to_idle(page, live, started: float) -> None:
    """The result goes away within the lane's hold time (3 s), the person still there."""
    hold = live.kiosk.config.lanes["main"].result_hold_s
    expect(page.locator("body")).to_have_attribute("data-colour", "idle", timeout=(hold + 3) * 1000)
    assert time.monotonic() - started < hold + 3
    live.kiosk.world.lanes["main"].leave()


def test_resident_screen_granted_with_parcel_then_idle(screen, live):
    check(screen, live, "idle")
    expect(screen.locator("#r-title")).to_have_text("请出示出入证")
    expect(screen.locator("#r-arrow")).to_be_visible()
    # the camera is below the screen: the arrow stands under the words, pointing at it
    arrow, words = screen.locator("#r-arrow").bounding_box(), screen.locator("#r-action-en")
    assert arrow["y"] >= words.bounding_box()["y"] + words.bounding_box()["height"]
    live.kiosk.parcels.receive(ParcelForm("7-1201", 2, "A3"), by=OPERATOR)
    started = time.monotonic()
    live.kiosk.world.lanes["main"].step_in(NORMAL_FOREHEAD_C, live.token("7-1201"))
    check(screen, live, "green")
    expect(screen.locator("#r-title")).to_have_text("请通行")
    # the person's own reading: 36.4 °C within the simulated sensor's noise (sd 0.05 °C)
    expect(screen.locator("#r-temp")).to_have_text(re.compile(r"^36\.[345] °C$"))
    expect(screen.locator("#r-parcel")).to_contain_text("您有快递在取件处")
    back_to_idle(screen, live, started)
    expect(screen.locator("#r-parcel")).to_be_hidden()
    live.kiosk.parcels.collect_household("7-1201", by=OPERATOR)


def test_resident_screen_asks_for_a_far_pass_closer_then_shows_the_result(screen, live):
    world = live.kiosk.world.lanes["main"]
    before = len(live.kiosk.world.audio.played)
    token = live.token("7-1201")
    world.step_in(NORMAL_FOREHEAD_C, token, held_cm=29)  # seen, but too small to read
    check(screen, live, "busy")
    expect(screen.locator("#r-title")).to_have_text("请将出入证靠近摄像头")
    expect(screen.locator("#r-title-en")).to_have_text("Hold your pass closer to the camera")
    expect(screen.locator("#r-action")).to_have_text("摄像头在下方")
    expect(screen.locator("#r-arrow")).to_have_text("↓")
    started = time.monotonic()
    world.present(token)  # brought to where the screen asks
    check(screen, live, "green")
    expect(screen.locator("#r-title")).to_have_text("请通行")
    deadline = time.monotonic() + 10
    said: list[str] = []
    while "granted" not in said and time.monotonic() < deadline:
        screen.wait_for_timeout(50)
        said = [p.prompt for p in live.kiosk.world.audio.played[before:]]
    assert said == ["closer", "granted"], said
    back_to_idle(screen, live, started)


def test_resident_screen_fever(screen, live):
    started = time.monotonic()
    live.kiosk.world.lanes["main"].step_in(FEVER_FOREHEAD_C, live.token("7-1201"))
    check(screen, live, "red")
    expect(screen.locator("#r-title")).to_have_text("体温异常")
    expect(screen.locator("#r-action")).to_have_text("请到一旁复测")
    expect(screen.locator("#r-temp")).to_be_hidden()
    back_to_idle(screen, live, started)
    for fever in live.kiosk.facade.fevers():
        live.kiosk.facade.acknowledge_fever(fever["seq"], "clinic", OPERATOR)


def test_resident_screen_refused_pass(screen, live):
    revoked = next(p.token for p in live.passes if p.expect == "PASS_REVOKED")
    started = time.monotonic()
    live.kiosk.world.lanes["main"].step_in(NORMAL_FOREHEAD_C, revoked)
    check(screen, live, "red")
    expect(screen.locator("#r-title")).to_have_text("通行证已注销")
    expect(screen.locator("#r-action")).to_have_text("请联系居委会")
    back_to_idle(screen, live, started)


def test_resident_screen_no_pass_is_asked_for_one(screen, live):
    before = len(live.kiosk.world.audio.played)
    live.kiosk.world.lanes["main"].step_in(NORMAL_FOREHEAD_C, None)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if any(p.prompt == "show_pass" for p in live.kiosk.world.audio.played[before:]):
            break
        screen.wait_for_timeout(50)
    assert [p.prompt for p in live.kiosk.world.audio.played[before:]] == ["show_pass"]
    check(screen, live, "idle")
    expect(screen.locator("#r-title")).to_have_text("请出示出入证")
    live.kiosk.world.lanes["main"].leave()


def test_resident_screen_thermometer_fault_is_amber(screen, live):
    world = live.kiosk.world.lanes["main"]
    world.sensor.unplugged = True
    try:
        check(screen, live, "amber")
        expect(screen.locator("#r-action")).to_have_text("请配合保安手动测温")
        world.present(live.token("8-0301"))
        expect(screen.locator("#r-title")).to_have_text("请配合保安手动测温")
        check(screen, live, "amber")
        live.kiosk.facade.manual_temperature("main", 36.6, OPERATOR)
        check(screen, live, "green")
        world.leave()
    finally:
        world.sensor.unplugged = False
    expect(screen.locator("body")).to_have_attribute("data-colour", "idle")
