"""Every page fits the kiosk's 7-inch 800x480 screen in both languages without losing anything:
nothing wider than the screen, no text cut off by its box, and what the guard must see (every
health badge, the signed-in name, the language switch, each lane's state and its buttons, the
alarm's buttons, a dialog's buttons) inside the screen and not covered by anything else.

The guard screen does not scroll: everything on it must be within the 480 pixels. The other
pages scroll down, never sideways."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import FEVER_FOREHEAD_C, LANGUAGES, MAINT, MAINT_PASSWORD, stream_cut
from tests.e2e.test_guard_screen import _idle
from tests.e2e.test_guard_steps import on_screen

KIOSK_SCREEN = (800, 480)
#: Problems of a page as the guard sees it: what overflows or is cut, and which of the
#: elements that must be seen (*selector*) are outside the screen or covered.
PROBLEMS = """(selector) => {
  const problems = [];
  const vw = document.documentElement.clientWidth, vh = innerHeight;
  const classes = (el) => typeof el.className === "string" && el.className.trim()
    ? "." + el.className.trim().split(/\\s+/).join(".") : "";
  const name = (el) => !el ? "nothing" : (el.id ? "#" + el.id : el.tagName.toLowerCase() +
    classes(el)) + " '" + (el.innerText || el.value || "").trim().slice(0, 30) + "'";
  const shown = (el) => {
    if (!el.getClientRects().length) return false;
    const cs = getComputedStyle(el);
    return cs.visibility !== "hidden" && cs.opacity !== "0";
  };
  const page = [document.body, document.documentElement];
  const scrolls = (el) => {
    for (let p = el.parentElement; p && !page.includes(p); p = p.parentElement) {
      const o = getComputedStyle(p).overflowX;
      if (o === "auto" || o === "scroll") return true;
    }
    return false;
  };
  if (document.documentElement.scrollWidth > vw + 1)
    problems.push("the page scrolls sideways: " + document.documentElement.scrollWidth + " px");
  for (const el of document.querySelectorAll("body *")) {
    if (!shown(el) || el.closest("pre, script, style, option")) continue;
    const cs = getComputedStyle(el);
    const r = el.getBoundingClientRect();
    const hides = ["hidden", "clip"].includes(cs.overflowX) || cs.textOverflow === "ellipsis";
    const field = ["SELECT", "INPUT"].includes(el.tagName);
    if (hides && !field && el.scrollWidth > el.clientWidth + 1)
      problems.push("text cut off: " + name(el));
    if ((r.right > vw + 1 || r.left < -1) && !scrolls(el))
      problems.push("beyond the screen's side: " + name(el));
  }
  for (const el of document.querySelectorAll(selector)) {
    if (!shown(el)) { problems.push("not shown: " + name(el)); continue; }
    const r = el.getBoundingClientRect();
    if (r.top < -1 || r.left < -1 || r.bottom > vh + 1 || r.right > vw + 1) {
      problems.push("outside the screen: " + name(el));
      continue;
    }
    const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    if (!hit || !(hit === el || el.contains(hit)))
      problems.push("covered: " + name(el) + " by " + name(hit));
  }
  return problems;
}"""
HEADER = "#user, #lang-switch, #logout, #clock, .bar nav .tab"
LANES = (
    ".lane:not(.fever-lane) header, .lane:not(.fever-lane) .state, .lane:not(.fever-lane) "
    ".open-gate, .lane .warning:not([hidden]), .lane:not(.fever-lane) .manual-temp:not([hidden])"
)
GUARD = f"{HEADER}, [data-badge], #roster, .count, {LANES}, #parcel-toggle, #sim-toggle"
ALARM = "#fever-title, #fever-temp, #fever-value, #fever-note, .fever button:not([hidden])"


def problems(page, must_see: str) -> list[str]:
    return page.evaluate(PROBLEMS, must_see)


def guard_screen(screens, lang, maintenance=False):
    if maintenance:
        return screens(size=KIOSK_SCREEN, lang=lang, user=MAINT, password=MAINT_PASSWORD)
    return screens(size=KIOSK_SCREEN, lang=lang)


@pytest.mark.parametrize(
    ("lang", "maintenance"),
    [("zh", False), ("en", True)],  # English with the maintenance tab: the widest header
    ids=["guard-zh", "maintenance-en"],
)
def test_fit_guard_screen_idle_and_with_results(screens, live, lang, maintenance):
    page = guard_screen(screens, lang, maintenance)
    assert problems(page, GUARD) == []
    # the longest words on both tiles at once: a fever denial with both messages, a grant
    # with a warning, a fault and the hand-measurement button
    live.kiosk.facade.simulate_part("exit", "thermometer", plugged=False)
    expect(page.locator("#lane-exit .manual-temp")).to_be_visible()
    live.kiosk.world.lanes["main"].step_in(37.2, live.token("8-0301"))  # 38.2 °C: denied
    expect(page.locator("#fever")).to_be_visible()
    expect(page.locator("#lane-main")).to_have_class(re.compile(r"\bstate-denied\b"), timeout=15000)
    assert problems(page, f"{GUARD}, {ALARM}") == []
    fever = live.kiosk.facade.fevers()[0]
    live.kiosk.facade.acknowledge_fever(fever["seq"], "clinic", "guard")
    expect(page.locator("#fever")).to_be_hidden()
    assert problems(page, GUARD) == []
    live.kiosk.facade.simulate_part("exit", "thermometer", plugged=True)
    expect(page.locator("#lane-exit .manual-temp")).to_be_hidden()
    _idle(live, page)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_fit_fever_alarm_beside_the_other_lane(screens, live, lang):
    page = guard_screen(screens, lang)
    _idle(live, page)
    live.kiosk.world.lanes["main"].step_in(FEVER_FOREHEAD_C, live.token("7-1201"))
    expect(page.locator("#fever")).to_be_visible()
    assert problems(page, f"{HEADER}, [data-badge], {ALARM}, #lane-exit .state, {LANES}") == []
    page.fill("#fever-value", "36.6")
    page.click("#fever-release")
    expect(page.locator("#fever")).to_be_hidden()
    _idle(live, page)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_fit_guard_screen_with_its_panel_and_dialogs(screens, live, lang):
    page = guard_screen(screens, lang)
    page.click("#sim-toggle")
    sim = "#sim select, #sim input, #sim button:not([hidden])"
    assert problems(page, f"{GUARD.replace(', #parcel-toggle', '')}, {sim}") == []
    page.select_option("#sim-pass", index=1)
    page.click("#sim-shelf-show")  # the pass held at the shelf: its button takes it away
    expect(page.locator("#sim-shelf-away")).to_be_visible()
    assert problems(page, sim) == []
    page.click("#sim-shelf-away")
    expect(page.locator("#sim-shelf-show")).to_be_visible()
    page.click("#sim-close")
    for opener, dialog, must_see in (
        ('.open-gate[data-lane="main"]', "#open-dialog", "input, button"),
        ("#parcel-toggle", "#parcel-dialog", "input:not([type=radio]), .tap span, button"),
    ):
        page.click(opener)
        expect(page.locator(dialog)).to_be_visible()
        inside = ", ".join(f"{dialog} {part}" for part in must_see.split(", "))
        assert problems(page, inside) == [], dialog
        page.keyboard.press("Escape")
    live.kiosk.facade.simulate_part("main", "thermometer", plugged=False)
    page.locator("#lane-main .manual-temp").click()
    assert problems(page, "#temp-dialog input, #temp-dialog button") == []
    page.keyboard.press("Escape")
    live.kiosk.facade.simulate_part("main", "thermometer", plugged=True)
    expect(page.locator("#lane-main .manual-temp")).to_be_hidden()


def test_fit_the_stream_lost_banner_in_english(screens, live):
    # (in Chinese: tests/e2e/test_stream_lost.py, at 800x480)
    page = guard_screen(screens, "en")
    with stream_cut(live.url, page):
        expect(page.locator("#stream-lost")).to_be_visible(timeout=10000)
        # greyed, not gone: the tiles are still on screen under the banner
        assert problems(page, f"#stream-lost, {HEADER}, .lane .state, [data-badge]") == []
    expect(page.locator("#stream-lost")).to_be_hidden(timeout=10000)


PAGES = [
    ("/register/", f"{HEADER}, h1, #reg-form > fieldset:first-of-type label"),
    ("/records/", f"{HEADER}, #filters label, #r-filter, #r-export"),
    ("/records/registrations", f"{HEADER}, #reg-export, .subtabs .tab"),
    ("/maintenance/", f"{HEADER}, .lane-tabs .tab, .badges .dot"),
    ("/maintenance/main", f"{HEADER}, .lane-tabs .tab"),
]


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize(("path", "must_see"), PAGES, ids=[p for p, _ in PAGES])
def test_fit_every_other_page(screens, live, lang, path, must_see):
    page = guard_screen(screens, lang, maintenance=path.startswith("/maintenance"))
    page.goto(live.url + path)
    page.wait_for_load_state("networkidle")
    assert problems(page, must_see) == []
    if path == "/register/":
        page.click("#reg-submit")  # every field's error shown at once
        expect(page.locator("#form-errors")).to_be_visible()
        assert problems(page, HEADER) == []
    if path == "/maintenance/main":  # the buttons further down, each in view in turn
        for button in page.locator("#maintenance button:visible").all():
            on_screen(button)
        assert problems(page, "#pulse") == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_fit_sign_in_page(browser, live, lang):
    context = browser.new_context(viewport={"width": 800, "height": 480})
    page = context.new_page()
    try:
        page.goto(live.url + "/login")
        if lang == "en":
            page.click("#lang-switch")
            expect(page.locator("html")).to_have_attribute("lang", re.compile("en"))
        must = "input[name=user], input[name=password], button[type=submit], #lang-switch"
        assert problems(page, must) == []
    finally:
        context.close()
