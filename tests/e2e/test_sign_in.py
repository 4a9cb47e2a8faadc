"""Sign-in in Chromium: the warning before a pause, the pause counting down on the page, the
user name kept; only a local path after sign-in, as Chromium itself reads the address; the
whole screen over HTTPS with the certificate trusted the way docs/operations.md says."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import re
from urllib.parse import quote, urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from playwright.sync_api import expect

from kiosk import config as config_mod
from kiosk.service import build_app, screen_server
from kiosk.sim import demo as demo_kit
from kiosk.sim.hardware import simulated_kiosk
from kiosk.ui.auth import local_path
from tests.conftest import self_signed_cert
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, PASSWORD, USER

SIZES = [(800, 480), (1280, 800)]


def _sign_in_page(browser, live, width=800, height=480, locale="zh-CN"):
    context = browser.new_context(viewport={"width": width, "height": height}, locale=locale)
    context.set_default_timeout(15000)
    page = context.new_page()
    page.goto(live.url + "/login")
    return context, page


def _all_in_view(page):
    """The form, its messages and the language switch fit the screen, nothing cut off."""
    height = page.viewport_size["height"]
    for selector in ("#login-warning", "#login-wait", 'button[type="submit"]', "#lang-switch"):
        for box in (el.bounding_box() for el in page.locator(selector).all()):
            assert box is not None and box["y"] + box["height"] <= height, selector


def _try(page, user, password):
    page.fill('input[name="user"]', user)
    page.fill('input[name="password"]', password)
    page.click('button[type="submit"]')


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_sign_in_warns_then_pauses_with_a_countdown_and_keeps_the_name(
    browser, live, width, height
):
    context, page = _sign_in_page(browser, live, width, height)
    name = f"nobody{width}"  # an account of its own: the demo guard is not paused
    for _ in range(3):
        _try(page, name, "wrong password")
        expect(page.locator("#login-error")).to_contain_text("用户名或密码错误")
        expect(page.locator('input[name="user"]')).to_have_value(name)
        expect(page.locator("#login-warning")).to_have_count(0)
    page.fill('input[name="password"]', "wrong password")
    page.click('button[type="submit"]')
    expect(page.locator("#login-warning")).to_contain_text("再输错一次")
    expect(page.locator("#login-warning")).to_be_visible()
    _all_in_view(page)
    page.fill('input[name="password"]', "wrong password")
    page.click('button[type="submit"]')
    wait = page.locator("#login-wait")
    expect(wait).to_be_visible()
    expect(page.locator('input[name="user"]')).to_have_value(name)
    _all_in_view(page)
    first = int(wait.locator(".countdown").text_content())
    assert 25 <= first <= 30  # the kiosk's own screen (127.0.0.1): a slow pace
    # the page's own timer counts it down
    page.wait_for_function(
        "n => Number(document.querySelector('#login-wait .countdown').textContent) < n", arg=first
    )
    assert page.locator("#login-warning").count() == 0
    # the demo guard, on the same screen, is not locked out by another name's failures
    _try(page, USER, PASSWORD)
    page.wait_for_selector('body[data-stream="open"]')
    context.close()


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_sign_in_the_warning_and_the_pause_in_english(browser, live, width, height):
    context, page = _sign_in_page(browser, live, width, height)
    page.click("#lang-switch")
    for _ in range(4):
        _try(page, f"nobody-en{width}", "wrong password")
    expect(page.locator("#login-warning")).to_contain_text("One more wrong password")
    _all_in_view(page)
    _try(page, f"nobody-en{width}", "wrong password")
    expect(page.locator("#login-wait")).to_contain_text("Sign-in paused")
    expect(page.locator("#login-wait")).to_contain_text("seconds before the next try")
    _all_in_view(page)
    context.close()


#: Pieces an address is made of, the ones browsers treat in surprising ways included.
PIECES = ["/", "\\", "\t", "\n", "\r", " ", "\x00", "\x1f", "evil.example", ":", "@", ".", "?"]
PIECES += ["#", "%2F", "%5C", "%09", "http:", "https:", "javascript:", "records"]


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.lists(st.sampled_from(PIECES), min_size=1, max_size=8).map("".join))
def test_sign_in_next_stays_on_this_site_as_chromium_reads_it(browser_page, target):
    kept = local_path(target)
    where = browser_page.evaluate("t => new URL(t, 'http://kiosk.test/').host", kept)
    assert where == "kiosk.test", (target, kept)


@pytest.fixture(scope="module")
def browser_page(browser):
    page = browser.new_page()
    yield page
    page.close()


def test_sign_in_with_a_tab_in_next_lands_on_this_site(browser, live):
    context = browser.new_context()
    page = context.new_page()
    page.goto(live.url + "/login?next=" + quote("/\t/evil.example/phish"))
    _try(page, USER, PASSWORD)
    page.wait_for_selector('body[data-stream="open"]')
    assert urlsplit(page.url).netloc == urlsplit(live.url).netloc
    context.close()


def _spki(cert_path) -> str:
    """What docs/operations.md's openssl line prints: the key's SHA-256, base64."""
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    der = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


def test_sign_in_over_https_with_the_documented_trust(browser, tmp_path):
    cert, key = self_signed_cert(tmp_path)
    cfg = config_mod.load(config_mod.DEMO_CONFIG)
    cfg = dataclasses.replace(
        cfg,
        gate=dataclasses.replace(cfg.gate, data_dir=str(tmp_path / "data")),
        ui=dataclasses.replace(cfg.ui, tls_cert_file=str(cert), tls_key_file=str(key)),
    )
    demo_kit.ensure_keys(cfg.keys_dir)
    kiosk = simulated_kiosk(cfg)
    try:
        demo_kit.seed(kiosk, user=USER, password=PASSWORD)
        server = screen_server(build_app(kiosk), cfg, "127.0.0.1", 0)
    except BaseException:
        kiosk.close()
        raise
    kiosk.start()
    server.start()
    args = [*CHROMIUM_ARGS, f"--ignore-certificate-errors-spki-list={_spki(cert)}"]
    try:
        chromium = browser.browser_type.launch(executable_path=CHROMIUM, args=args)
        try:
            page = chromium.new_page(viewport={"width": 800, "height": 480})
            page.set_default_timeout(15000)
            assert server.url.startswith("https://")
            page.goto(server.url + "/login")
            _try(page, USER, PASSWORD)
            page.wait_for_selector('body[data-stream="open"]')
            cookie = next(c for c in page.context.cookies() if c["name"] == "session")
            assert cookie["secure"] and cookie["httpOnly"]
            # a change needs the CSRF token and no Referer (the pages send none)
            page.click('.open-gate[data-lane="main"]')
            page.check('input[name="reason"][value="elderly"]')
            page.click("#open-confirm")
            expect(page.locator("#open-dialog")).to_be_hidden()
            expect(page.locator("#lane-main")).to_have_class(re.compile(r"\bstate-granted\b"))
            opened = kiosk.journal.recent(5, types=("gate.manual_open",))
            assert opened and opened[0].data["reason"] == "elderly"
        finally:
            chromium.close()
    finally:
        kiosk.stop()
        server.close()
