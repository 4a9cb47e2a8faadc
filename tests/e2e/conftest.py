"""Browser tests: one headless Chromium (Debian's, driven by Playwright) per session, one live
demo kiosk (simulated hardware, real threads, the guard screen's server on a free loopback
port) per module."""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
from dataclasses import dataclass

import pytest

from kiosk import config as config_mod
from kiosk.daemon import Kiosk
from kiosk.service import build_app
from kiosk.sim import demo as demo_kit
from kiosk.sim.hardware import simulated_kiosk
from kiosk.sim.screen_client import crowd_out
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
MAINT, MAINT_PASSWORD = "maint", "demo-maint-2020"
#: The two screens every page is looked at on: the kiosk's 7-inch one and a laptop's.
SIZES = ((800, 480), (1280, 800))
LANGUAGES = ("zh", "en")
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

    def pass_token(self, pass_id: str) -> str:
        """The demo pass *pass_id* (of any kind: revoked, under home observation, ...)."""
        return next(p.token for p in self.passes if p.pass_id == pass_id)

    def types(self, limit: int = 200) -> list[str]:
        return [e.type for e in self.kiosk.journal.recent(limit)]


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@contextlib.contextmanager
def serving(kiosk, extras: dict | None = None):
    """Start *kiosk* (built, not started) and serve its guard screen on a free loopback port:
    yields the URL; stops both at the end."""
    try:
        app = build_app(kiosk, extras)
        server = serve(app, "127.0.0.1", 0, workers=8)
    except BaseException:
        kiosk.close()
        raise
    kiosk.start()
    server.start()
    try:
        yield server.url
    finally:
        kiosk.stop()  # ends the event streams
        server.close()


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
        passes, _ = demo_kit.seed(
            kiosk, user=USER, password=PASSWORD, maintenance=(MAINT, MAINT_PASSWORD)
        )
    except BaseException:
        kiosk.close()
        raise
    with serving(kiosk, {"kiosk.demo_passes": demo_kit.as_json(passes)}) as url:
        yield LiveKiosk(kiosk, url, passes)


@pytest.fixture
def page(browser, live):
    """A fresh browser context (no cookies) at 800x480, signed in as the demo guard."""
    context, page = sign_in(browser, live.url)
    yield page
    context.close()


def sign_in(browser, url, *, user=USER, password=PASSWORD, size=(800, 480), lang="zh"):
    """A fresh browser context at *size*, signed in as *user*, its pages in *lang*:
    ``(context, page)``; the page is on the guard screen with its live stream open."""
    context = browser.new_context(
        viewport={"width": size[0], "height": size[1]}, accept_downloads=True
    )
    context.set_default_timeout(15000)
    page = context.new_page()
    page.goto(url + "/login")
    page.fill('input[name="user"]', user)
    page.fill('input[name="password"]', password)
    page.click('button[type="submit"]')
    page.wait_for_selector('body[data-stream="open"]')
    if lang == "en":
        page.click("#lang-switch")
        page.wait_for_selector('html[lang="en"] body[data-stream="open"]')
    return context, page


@pytest.fixture
def screens(browser, live):
    """Open signed-in pages: ``screens(size=..., lang=..., user=..., password=...)``; every
    context is closed at the end of the test."""
    opened = []

    def open_screen(**kwargs):
        context, page = sign_in(browser, live.url, **kwargs)
        opened.append(context)
        return page

    yield open_screen
    for context in opened:
        context.close()


@contextlib.contextmanager
def stream_cut(url, page):
    """*page*'s live stream cut while the gate stays up, as a dropped connection would cut it:
    the server ends the stream and the page's reconnects are refused until the block ends."""
    page.route("**/stream", lambda route: route.abort("connectionrefused"))
    held = []
    try:
        held = crowd_out(url, {c["name"]: c["value"] for c in page.context.cookies()})
        yield
    finally:
        page.unroute("**/stream")
        for stream in held:
            stream.close()
