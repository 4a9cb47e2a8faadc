"""The maintenance pages as maintenance staff use them, in Chromium: words, units and local
times rather than a debug dump, one header, readable links, errors in one language; the
calibration's confirm step and its undo; the focus guide over the camera snapshot; the relay
test pulse proven by the pin going high and low; upload now."""

from __future__ import annotations

import dataclasses
import re

import pytest
from playwright.sync_api import expect

from kiosk import config as config_mod
from kiosk.accounts import Accounts
from kiosk.sim import demo as demo_kit
from kiosk.sim.camera import PHONE
from kiosk.sim.committee import CommitteeServer
from kiosk.sim.hardware import simulated_kiosk
from tests.e2e.conftest import LANGUAGES, MAINT, MAINT_PASSWORD, SIZES, serving, sign_in
from tests.e2e.test_guard_steps import on_screen

#: What a debug dump shows and a maintenance page must not: key=value, Python's None and
#: floats with a dozen digits, UTC ISO times.
DUMP = re.compile(r"\w+=\w+|\bNone\b|\d\.\d{5,}|\d{4}-\d\d-\d\dT\d\d:\d\d|\+00:00|lane_thread")
TEXT = """() => {
  const out = [];
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walk.nextNode(); n; n = walk.nextNode())
    if (!n.parentElement.closest("script, pre, details")) out.push(n.textContent);
  return out.join("\\n");
}"""
#: WCAG's contrast ratio of an element's text against the page background.
CONTRAST = """(el) => {
  const rgb = (c) => c.match(/\\d+(\\.\\d+)?/g).slice(0, 3).map(Number);
  const lum = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  let bg = el;
  while (bg && getComputedStyle(bg).backgroundColor.endsWith(", 0)")) bg = bg.parentElement;
  const a = lum(rgb(getComputedStyle(el).color));
  const b = lum(rgb(bg ? getComputedStyle(bg).backgroundColor : "rgb(255,255,255)"));
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}"""


def maintenance(browser, live, *, size=(800, 480), lang="zh", path="/maintenance/main"):
    context, page = sign_in(
        browser, live.url, user=MAINT, password=MAINT_PASSWORD, size=size, lang=lang
    )
    page.goto(live.url + path)
    if path != "/maintenance/":
        expect(page.locator("#t-raw")).not_to_have_text("—")  # the live figures came
    return context, page


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("path", ["/maintenance/", "/maintenance/main"])
def test_maintenance_pages_read_as_words_with_one_header(browser, live, lang, path):
    context, page = maintenance(browser, live, lang=lang, path=path)
    try:
        expect(page.locator("header.bar")).to_have_count(1)
        text = page.evaluate(TEXT)
        assert DUMP.findall(text) == []
        for link in page.locator("main a, .lane-tabs a").all():
            assert link.evaluate(CONTRAST) >= 4.5, link.inner_text()
        if path == "/maintenance/":
            health = page.locator("#health")
            expect(health).to_contain_text("运行中" if lang == "zh" else "running")
            expect(health).to_contain_text("已关" if lang == "zh" else "Closed")
    finally:
        context.close()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_maintenance_refusal_is_in_the_pages_language_with_the_detail_folded(browser, live, lang):
    context, page = maintenance(browser, live, lang=lang)
    try:
        page.fill("#raw-1", "31.0")
        page.fill("#ref-1", "36.5")
        page.click("#apply")
        result = page.locator("#wizard-result")
        words = "校准被拒绝" if lang == "zh" else "Calibration refused"
        expect(result).to_contain_text(words)
        other = "Calibration refused" if lang == "zh" else "校准被拒绝"
        expect(result).not_to_contain_text(other)
        detail = result.locator("details")
        expect(detail).to_be_visible()
        expect(detail.locator("span")).to_be_hidden()  # folded until asked for
    finally:
        context.close()


@pytest.mark.parametrize("size", SIZES)
def test_calibration_is_confirmed_before_it_is_saved_and_can_be_undone(browser, live, size):
    thermometer = live.kiosk.units["main"].thermometer
    context, page = maintenance(browser, live, size=size)
    try:
        page.fill("#raw-1", "36.10")
        page.fill("#ref-1", "36.40")
        page.click("#apply")
        confirm = page.locator("#confirm")
        expect(confirm).to_be_visible()
        expect(page.locator("#confirm-text")).to_contain_text("+0.30 °C")
        assert thermometer.calibration.is_identity  # asked, not saved
        on_screen(page.locator("#confirm-save"))
        page.click("#confirm-save")
        expect(page.locator("#wizard-result")).to_contain_text("已保存并应用")
        assert thermometer.calibration.offset_c == pytest.approx(0.3)
        undo = page.locator("#undo")
        expect(undo).to_be_visible()
        expect(page.locator("#previous-text")).to_contain_text("未校准")
        page.click("#restore")
        page.click("#restore-confirm")
        expect(page.locator("#wizard-result")).to_contain_text("已恢复并应用")
        assert thermometer.calibration.is_identity
        kinds = [
            e.data["kind"] for e in live.kiosk.journal.recent(2, types=("calibration.changed",))
        ]
        assert kinds == ["restore", "offset"]
    finally:
        context.close()


def test_focus_guide_on_the_camera_snapshot(browser, live):
    camera = live.kiosk.world.lanes["main"].camera
    context, page = maintenance(browser, live)
    try:
        guide = page.locator("#focus-guide")
        expect(guide).to_have_attribute("data-guide", "no_pass")
        expect(page.locator("#focus-help")).to_contain_text("30–40 厘米")
        text = "KP1:" + "FOCUS" * 12
        camera.present(text, style=dataclasses.replace(PHONE, blur_sigma=0.0, tilt_deg=0.0))
        expect(guide).to_have_attribute("data-guide", "good", timeout=10000)
        expect(guide).to_have_text("清晰 ✓")
        image, label = page.locator("#camera").bounding_box(), guide.bounding_box()
        assert (
            image["x"] <= label["x"]
            and label["y"] + label["height"] <= image["y"] + image["height"]
        )
        camera.present(text, style=dataclasses.replace(PHONE, blur_sigma=1.2, tilt_deg=0.0))
        expect(guide).to_have_attribute("data-guide", "poor", timeout=10000)
        expect(guide).to_have_text("模糊 ✗")
        camera.present(None)
    finally:
        context.close()


def test_relay_test_pulse_shows_the_pin_went_high_and_low(browser, live):
    context, page = maintenance(browser, live)
    try:
        expect(page.locator("#r-pin")).to_contain_text("GPIO17")
        page.click("#pulse")
        result = page.locator("#pulse-result")
        expect(result).to_contain_text("已确认：引脚变高，3.0 秒后变低", timeout=15000)
        levels = page.locator("#r-trace li").evaluate_all("els => els.map(e => e.dataset.level)")
        assert levels[-2:] == ["high", "low"]
        opened = live.kiosk.journal.recent(1, types=("gate.manual_open",))[0]
        assert (opened.data["reason"], opened.data["guard"]) == ("test", MAINT)
    finally:
        context.close()


# -- upload now ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def uploading(tmp_path_factory):
    """A demo kiosk uploading to the fake committee server, which fails the first push.
    (That upload now skips the back-off is tests/unit/test_maintenance_ui.py's, on the fake
    clock; here the page's button, its words and the way back from the index.)"""
    data = tmp_path_factory.mktemp("kiosk")
    token = "gate-token-e2e-push-now-3Kd"
    with CommitteeServer(gate_id="demo-gate", token=token) as committee:
        committee.inject("error", endpoint="events", status=500)
        (data / "token").write_text(token)
        (data / "token").chmod(0o600)
        cfg = config_mod.load(config_mod.DEMO_CONFIG)
        cfg = dataclasses.replace(
            cfg,
            gate=dataclasses.replace(cfg.gate, data_dir=str(data), gate_id="demo-gate"),
            uplink=dataclasses.replace(
                cfg.uplink, url=committee.url, token_file=str(data / "token"), interval_s=3600
            ),
            voice=dataclasses.replace(cfg.voice, output="sim"),
        )
        demo_kit.ensure_keys(cfg.keys_dir)
        kiosk = simulated_kiosk(cfg)
        Accounts(kiosk.journal).add(MAINT, MAINT_PASSWORD, "maintenance")
        with serving(kiosk) as url:
            yield kiosk, committee, url


def test_upload_now_pushes_at_once_after_a_failure(browser, uploading):
    _, committee, url = uploading
    assert committee.wait_for(lambda s: s.requests_to("events"))  # the failed push
    context = browser.new_context(viewport={"width": 800, "height": 480})
    page = context.new_page()
    try:
        page.goto(url + "/login")
        page.fill('input[name="user"]', MAINT)
        page.fill('input[name="password"]', MAINT_PASSWORD)
        page.click('button[type="submit"]')
        page.goto(url + "/maintenance/main")
        push = page.locator("#u-push")
        expect(push).to_be_visible()
        push.click()
        expect(page.locator("#u-result")).to_contain_text("已开始上传")
        assert committee.wait_for(lambda s: s.stored_seqs())
        expect(page.locator("#u-state")).to_have_text("正常")
        page.goto(url + "/maintenance/")
        page.click("#push-now")  # and from the maintenance index, without script
        expect(page.locator("#uplink-status + form [role=status]")).to_have_text("已开始上传")
    finally:
        context.close()


def test_language_switch_keeps_the_calibration_points_typed(browser, live):
    context, page = maintenance(browser, live)
    try:
        page.fill("#raw-1", "35.10")
        page.fill("#ref-1", "35.00")
        page.click("#lang-switch")
        expect(page.locator("html")).to_have_attribute("lang", "en")
        expect(page).to_have_url(re.compile(r"/maintenance/main$"))
        expect(page.locator("#raw-1")).to_have_value("35.10")
        expect(page.locator("#ref-1")).to_have_value("35.00")
    finally:
        context.close()
