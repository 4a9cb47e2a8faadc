"""Browser tests: one headless Chromium (Debian's, driven by Playwright) per session, one live
demo kiosk (simulated hardware, real threads, the guard screen's server on a free loopback
port) per module."""

from __future__ import annotations

import dataclasses
import shutil
from dataclasses import dataclass

import pytest

from kiosk import config as config_mod
from kiosk.daemon import Kiosk
from kiosk.service import build_app
from kiosk.sim import demo as demo_kit
from kiosk.sim.hardware import simulated_kiosk
from kiosk.ui import serve

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # the kiosk's own browser runs with this flag, so the fever alarm sounds untouched
    "--autoplay-policy=no-user-gesture-required",
]
USER, PASSWORD = "guard", "demo-guard-2020"
#: Forehead temperatures (°C) the simulated sensor sees (body = forehead + 1.0 °C).
NORMAL_FOREHEAD_C, FEVER_FOREHEAD_C = 35.4, 37.6


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/e2e/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.e2e)


@dataclass
class LiveKiosk:
    kiosk: Kiosk
    url: str
    passes: list

    def token(self, household: str) -> str:
        return next(p.token for p in self.passes if p.household == household and "valid" in p.label)

    def types(self, limit: int = 200) -> list[str]:
        return [e.type for e in self.kiosk.journal.recent(limit)]


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """A started demo kiosk with its guard screen: :class:`LiveKiosk`."""
    data = tmp_path_factory.mktemp("kiosk")
    cfg = config_mod.load(config_mod.DEMO_CONFIG)
    cfg = dataclasses.replace(
        cfg,
        gate=dataclasses.replace(cfg.gate, data_dir=str(data)),
        voice=dataclasses.replace(cfg.voice, output="sim"),  # recorded, never out loud
    )
    demo_kit.ensure_keys(cfg.keys_dir)
    kiosk = simulated_kiosk(cfg)
    try:
        passes, _ = demo_kit.seed(kiosk, user=USER, password=PASSWORD)
        app = build_app(kiosk, {"kiosk.demo_passes": demo_kit.as_json(passes)})
        server = serve(app, "127.0.0.1", 0, workers=8)
    except BaseException:
        kiosk.close()
        raise
    kiosk.start()
    server.start()
    try:
        yield LiveKiosk(kiosk, server.url, passes)
    finally:
        kiosk.stop()  # ends the event streams
        server.close()


@pytest.fixture
def page(browser, live):
    """A fresh browser context (no cookies) at 800x480, signed in as the demo guard."""
    context = browser.new_context(viewport={"width": 800, "height": 480}, accept_downloads=True)
    context.set_default_timeout(15000)
    page = context.new_page()
    page.goto(live.url + "/login")
    page.fill('input[name="user"]', USER)
    page.fill('input[name="password"]', PASSWORD)
    page.click('button[type="submit"]')
    page.wait_for_selector('body[data-stream="open"]')
    yield page
    context.close()
