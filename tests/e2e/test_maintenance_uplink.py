"""The maintenance page's committee upload panel in Chromium: a record the server refused is
shown, and maintenance sends a kiosk.event_refused in its place in two taps; the rest follows.

Its own live kiosk (the demo, uploading to the fake committee server that refuses seq 1).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from kiosk import config as config_mod
from kiosk.accounts import Accounts
from kiosk.service import build_app
from kiosk.sim import demo as demo_kit
from kiosk.sim.committee import CommitteeServer
from kiosk.sim.hardware import simulated_kiosk
from kiosk.ui import serve

TECH, PASSWORD = "tech", "demo-maintenance-2020"
TOKEN = "gate-token-e2e-maint-8Rv"
SHOTS = Path(os.environ.get("KIOSK_E2E_SHOTS", "")) if os.environ.get("KIOSK_E2E_SHOTS") else None


@pytest.fixture(scope="module")
def uplinked(tmp_path_factory):
    data = tmp_path_factory.mktemp("kiosk")
    with CommitteeServer(gate_id="demo-gate", token=TOKEN) as committee:
        committee.reject_seq(1)  # the first record the gate writes is refused
        token = data / "token"
        token.write_text(TOKEN)
        token.chmod(0o600)
        cfg = config_mod.load(config_mod.DEMO_CONFIG)
        cfg = dataclasses.replace(
            cfg,
            gate=dataclasses.replace(cfg.gate, data_dir=str(data), gate_id="demo-gate"),
            uplink=dataclasses.replace(
                cfg.uplink, url=committee.url, token_file=str(token), interval_s=0.5
            ),
        )
        demo_kit.ensure_keys(cfg.keys_dir)
        kiosk = simulated_kiosk(cfg)
        Accounts(kiosk.journal).add(TECH, PASSWORD, "maintenance")
        passes, _ = demo_kit.seed(kiosk, user="", password="")
        app = build_app(kiosk, {"kiosk.demo_passes": demo_kit.as_json(passes)})
        server = serve(app, "127.0.0.1", 0, workers=8)
        kiosk.start()
        server.start()
        try:
            yield kiosk, committee, server.url
        finally:
            kiosk.stop()
            server.close()


def signed_in(browser, url, width, height):
    context = browser.new_context(viewport={"width": width, "height": height})
    context.set_default_timeout(15000)
    page = context.new_page()
    page.goto(url + "/login")
    page.fill('input[name="user"]', TECH)
    page.fill('input[name="password"]', PASSWORD)
    page.click('button[type="submit"]')
    page.goto(url + "/maintenance/main")
    return context, page


def english(page, url):
    page.click('form[action="/lang"] button')
    page.goto(url + "/maintenance/main")
    expect(page.locator("html")).to_have_attribute("lang", "en")


@pytest.mark.parametrize(("width", "height"), [(800, 480), (1280, 800)])
def test_maintenance_page_shows_the_refused_record_in_both_languages(
    browser, uplinked, width, height
):
    _kiosk, committee, url = uplinked
    assert committee.wait_for(lambda s: s.requests_to("events"))
    context, page = signed_in(browser, url, width, height)
    try:
        held = page.locator("#u-held")
        expect(held).to_be_visible()
        held.scroll_into_view_if_needed()
        expect(page.locator("#u-held-seq")).to_have_text("1")
        expect(page.locator("#u-held-reason")).to_have_text("rejected by the committee")
        expect(page.locator("#u-state")).to_have_text("有记录被拒收，已暂停")
        expect(page.locator("#u-send-refused")).to_have_text("以 kiosk.event_refused 代替发送")
        box = page.locator("#u-send-refused").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width  # reachable, not cut off
        if SHOTS:
            page.screenshot(path=str(SHOTS / f"maint-uplink-held-zh-{width}x{height}.png"))
        english(page, url)
        held.scroll_into_view_if_needed()
        expect(page.locator("#u-state")).to_have_text("A record was refused: held")
        expect(page.locator("#u-send-refused")).to_have_text(
            "Send kiosk.event_refused in its place"
        )
        if SHOTS:
            page.screenshot(path=str(SHOTS / f"maint-uplink-held-en-{width}x{height}.png"))
    finally:
        context.close()


def test_maintenance_page_sends_kiosk_event_refused_in_two_taps(browser, uplinked):
    kiosk, committee, url = uplinked
    assert committee.wait_for(lambda s: s.requests_to("events"))
    context, page = signed_in(browser, url, 800, 480)
    try:
        expect(page.locator("#u-held")).to_be_visible()
        page.click("#u-send-refused")
        confirm = page.locator("#u-confirm")
        expect(confirm).to_be_visible()
        assert committee.stored_seqs() == []  # the first tap only asks
        confirm.click()
        expect(page.locator("#u-result")).to_contain_text("已代替发送")
        assert committee.wait_for(lambda s: s.stored_seqs()[:1] == [1])
        assert committee.events[0]["type"] == "kiosk.event_refused"
        expect(page.locator("#u-held")).to_be_hidden()
        expect(page.locator("#u-state")).to_have_text("正常")
        if SHOTS:
            page.screenshot(path=str(SHOTS / "maint-uplink-sent-zh-800x480.png"))
        replaced = kiosk.journal.recent(5, types=("uplink.event_replaced",))
        assert replaced and replaced[0].data["by"] == TECH
    finally:
        context.close()
