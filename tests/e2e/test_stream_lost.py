"""A guard screen that has lost its live stream says so over the whole screen (tiles greyed, a
banner), and comes back by itself: in Chromium at 800x480 in Chinese and 1280x800 in English
(tests/e2e/test_fit.py looks at the banner at 800x480 in both), against a stream cut while
the gate stays up, and against the real daemon stopped with SIGTERM."""

from __future__ import annotations

import re
import signal
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import LANGUAGES, SIZES, sign_in, stream_cut
from tests.e2e.test_guard_steps import on_screen

ROOT = Path(__file__).resolve().parents[2]
#: What the page allows the stream to be away before saying so (guard.js), and a margin.
GRACE_MS, MARGIN_MS = 4000, 6000
LOST = {"zh": "连接中断 — 画面不是实时的", "en": "Connection lost — this screen is not live"}


def greyed(page) -> bool:
    return page.locator("#lanes").evaluate("(el) => getComputedStyle(el).filter") == "grayscale(1)"


@pytest.mark.parametrize(("size", "lang"), list(zip(SIZES, LANGUAGES, strict=True)))
def test_lost_stream_greys_the_screen_under_a_banner_and_comes_back(browser, live, size, lang):
    context, page = sign_in(browser, live.url, size=size, lang=lang)
    try:
        page.evaluate("() => { window.sameDocument = true; }")
        banner = page.locator("#stream-lost")
        expect(banner).to_be_hidden()
        with stream_cut(live.url, page):
            expect(page.locator("body")).to_have_attribute("data-stream", "reconnecting")
            expect(banner).to_be_hidden()  # a blink of the network is not an alarm
            expect(banner).to_be_visible(timeout=GRACE_MS + MARGIN_MS)
            expect(banner).to_contain_text(LOST[lang])
            on_screen(banner)  # the guard cannot miss it, at 800x480 too
            for lane in ("main", "exit"):  # greyed, not pushed away
                on_screen(page.locator(f"#lane-{lane} .state"))
            assert greyed(page)
            expect(page.locator("#lane-main .open-gate")).to_be_disabled()
            expect(page.locator("body")).to_have_class(re.compile(r"\bnot-live\b"))
        # the gate answers again: the screen comes back by itself
        expect(page.locator("body")).to_have_attribute("data-stream", "open", timeout=10000)
        expect(banner).to_be_hidden()
        assert not greyed(page)
        expect(page.locator("#lane-main .open-gate")).to_be_enabled()
        assert page.evaluate("() => window.sameDocument") is True  # not reloaded
        live.kiosk.world.lanes["main"].step_in(35.4, live.token("7-1201"))
        expect(page.locator("#lane-main")).to_have_class(re.compile(r"\bstate-granted\b"))
        live.kiosk.world.lanes["main"].leave()
    finally:
        context.close()


def test_stopped_daemon_is_not_shown_as_healthy(browser, tmp_path):
    from tests.integration.daemon_child import free_port, ready_daemon

    config = tmp_path / "demo.toml"
    config.write_text(
        (ROOT / "config" / "demo.toml")
        .read_text(encoding="utf-8")
        .replace('data_dir = "../var/demo"', f'data_dir = "{tmp_path / "data"}"'),
        encoding="utf-8",
    )
    port = free_port()
    args = ("demo", "--config", str(config), "--port", str(port), "--no-committee")
    context = None
    try:
        with ready_daemon(tmp_path, *args) as daemon:
            context, page = sign_in(browser, f"http://127.0.0.1:{port}")
            daemon.send_signal(signal.SIGTERM)
            assert daemon.wait(30) == 0
        banner = page.locator("#stream-lost")
        expect(banner).to_be_visible(timeout=GRACE_MS + MARGIN_MS)
        assert greyed(page)
        badges = page.locator("[data-badge]")
        for i in range(badges.count()):  # no green badge left on a screen that is not live
            colour = badges.nth(i).evaluate("(el) => getComputedStyle(el).borderColor")
            assert colour != "rgb(76, 212, 116)", badges.nth(i).inner_text()
    finally:
        if context is not None:
            context.close()
