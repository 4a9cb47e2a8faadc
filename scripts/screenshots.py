"""Screenshots for the docs: the guard screen (idle, granted, a warning on the tile, the fever
alarm beside the other lane, the live stream lost), the health form, the records, the
maintenance page, and the resident screen (idle, granted with a parcel waiting, fever, a
refused pass, a pass held too far and asked closer, the thermometer faulty), at the kiosk's
7-inch 800x480 screen and at 1280x800.

Starts a demo kiosk (simulated hardware, a throw-away data folder) on a free loopback port,
drives it with Playwright and Debian's Chromium, and writes PNG files to ``docs/``::

    .venv/bin/python scripts/screenshots.py [--out docs] [--chromium /usr/bin/chromium]

Not part of the test suite.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kiosk import config as config_mod  # noqa: E402
from kiosk.service import build_app  # noqa: E402
from kiosk.sim import demo as demo_kit  # noqa: E402
from kiosk.sim.hardware import simulated_kiosk  # noqa: E402
from kiosk.sim.screen_client import crowd_out  # noqa: E402
from kiosk.ui import serve  # noqa: E402

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SIZES = ((800, 480), (1280, 800))
USER, PASSWORD = "guard", "demo-guard-2020"
MAINT, MAINT_PASSWORD = "maint", "demo-maint-2020"
#: Forehead temperatures (°C) the simulated sensor sees: a normal person and a fever.
NORMAL_FOREHEAD_C, FEVER_FOREHEAD_C = 35.4, 37.6


def start_demo(data_dir: Path):
    """A started demo kiosk uploading to a loopback committee server, with its guard screen
    on a free port: ``(kiosk, server, url, passes, committee)``."""
    cfg = config_mod.load(config_mod.DEMO_CONFIG)
    cfg = dataclasses.replace(
        cfg,
        gate=dataclasses.replace(cfg.gate, data_dir=str(data_dir)),
        voice=dataclasses.replace(cfg.voice, output="sim"),  # this machine's audio is no part
    )
    demo_kit.ensure_keys(cfg.keys_dir)
    committee, cfg = demo_kit.start_committee(cfg)
    kiosk = simulated_kiosk(cfg)
    passes, _ = demo_kit.seed(
        kiosk,
        user=USER,
        password=PASSWORD,
        maintenance=(MAINT, MAINT_PASSWORD),
        passes=getattr(committee, "passes", None),
    )
    app = build_app(kiosk, {"kiosk.demo_passes": demo_kit.as_json(passes)})
    server = serve(app, "127.0.0.1", 0, workers=8)
    kiosk.start()
    server.start()
    return kiosk, server, server.url, passes, committee


@contextlib.contextmanager
def running_demo():
    """The demo of :func:`start_demo` in a throw-away folder, stopped at the end:
    ``(kiosk, guard screen url, passes, committee server, folder)``."""
    with tempfile.TemporaryDirectory(prefix="kiosk-shots-") as tmp:
        kiosk, server, url, passes, committee = start_demo(Path(tmp))
        try:
            yield kiosk, url, passes, committee, Path(tmp)
        finally:
            kiosk.stop()
            server.close()
            committee.stop()


def shoot(url: str, kiosk, passes, out: Path, chromium: str) -> list[Path]:
    from playwright.sync_api import sync_playwright

    token = next(p.token for p in passes if p.expect == "GRANTED")
    written = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        for width, height in SIZES:
            page = browser.new_page(viewport={"width": width, "height": height}, locale="zh-CN")
            page.goto(url + "/login")
            page.fill('input[name="user"]', USER)
            page.fill('input[name="password"]', PASSWORD)
            page.click('button[type="submit"]')
            page.wait_for_selector('body[data-stream="open"]')
            lane = kiosk.world.lanes["main"]
            lane.leave()
            page.wait_for_selector("#lane-main.state-idle")
            written.append(_save(page, out / f"guard-idle-{width}x{height}.png"))
            lane.step_in(NORMAL_FOREHEAD_C, token)
            page.wait_for_selector("#lane-main.state-granted", timeout=15000)
            written.append(_save(page, out / f"guard-granted-{width}x{height}.png"))
            lane.leave()
            page.wait_for_selector("#lane-main.state-idle", timeout=15000)
            lane.step_in(FEVER_FOREHEAD_C, token)
            page.wait_for_selector("#fever:not([hidden])", timeout=15000)
            # the alarm takes the place of its lane's tile
            page.wait_for_selector("#lane-main.state-denied", state="attached", timeout=15000)
            written.append(_save(page, out / f"guard-fever-{width}x{height}.png"))
            page.fill("#fever-note", "")
            page.click("#fever-clinic")
            page.wait_for_selector("#fever", state="hidden")
            lane.leave()
            written += _pickup(page, kiosk, lane, token, out / f"guard-{{}}-{width}x{height}.png")
            page.close()
        browser.close()
    return written


def _signed_in(browser, url, size, *, user=USER, password=PASSWORD, english=False):
    page = browser.new_page(viewport={"width": size[0], "height": size[1]}, locale="zh-CN")
    page.goto(url + "/login")
    page.fill('input[name="user"]', user)
    page.fill('input[name="password"]', password)
    page.click('button[type="submit"]')
    page.wait_for_selector('body[data-stream="open"]')
    if english:
        page.click("#lang-switch")
        page.wait_for_selector('html[lang="en"] body[data-stream="open"]')
    return page


def shoot_steps(url: str, kiosk, passes, out: Path, chromium: str, english=False) -> list[Path]:
    """The guard's and maintenance's steps: a warning on the tile (a household under home
    observation coming in), the live stream lost, the health form with the lane's readings to
    pick, the records, the maintenance page (focus guide, the relay's pin)."""
    from playwright.sync_api import sync_playwright

    observed = next(p.token for p in passes if p.pass_id == "P0007120201")
    token = next(p.token for p in passes if p.expect == "GRANTED")
    lane = kiosk.world.lanes["main"]
    tag = "-en" if english else ""
    written = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        for width, height in SIZES:
            size = f"{width}x{height}"
            page = _signed_in(browser, url, (width, height), english=english)
            lane.leave()
            page.wait_for_selector("#lane-main.state-idle", timeout=15000)
            lane.step_in(NORMAL_FOREHEAD_C, observed)
            page.wait_for_selector("#lane-main.has-warning", timeout=15000)
            written.append(_save(page, out / f"guard-warning{tag}-{size}.png"))
            lane.leave()
            page.wait_for_selector("#lane-main.state-idle", timeout=15000)
            # the stream cut while the gate stays up: ended by the server, reconnects refused
            page.route("**/stream", lambda route: route.abort("connectionrefused"))
            held = crowd_out(url, {c["name"]: c["value"] for c in page.context.cookies()})
            page.wait_for_selector("#stream-lost:not([hidden])", timeout=15000)
            written.append(_save(page, out / f"guard-lost{tag}-{size}.png"))
            page.unroute("**/stream")
            for stream in held:
                stream.close()
            page.wait_for_selector("#stream-lost", state="hidden", timeout=15000)
            lane.step_in(NORMAL_FOREHEAD_C, None)  # measured: a reading to pick
            page.wait_for_selector("#lane-main.asks-pass", timeout=15000)
            lane.leave()
            page.click("#nav-register")
            page.click("button.reading")
            page.click("summary")
            page.fill("#f-id", "110101199003074258")
            written.append(_save(page, out / f"register{tag}-{size}.png"))
            page.goto(url + "/records/")
            written.append(_save(page, out / f"records{tag}-{size}.png"))
            page.close()
            page = _signed_in(
                browser, url, (width, height), user=MAINT, password=MAINT_PASSWORD,
                english=english,
            )  # fmt: skip
            page.goto(url + "/maintenance/main")
            lane.present(token)
            page.wait_for_selector('#focus-guide[data-guide="good"]', timeout=15000)
            page.click("#pulse")
            page.wait_for_selector("#pulse-result.ok:has-text('3.0')", timeout=15000)
            written.append(_save(page, out / f"maintenance{tag}-{size}.png", full=True))
            lane.leave()
            page.close()
        browser.close()
    return written


def _pickup(page, kiosk, lane, token, pattern) -> list[Path]:
    """The pickup point: a parcel's notice on the tile at the household's scan, the dialog
    with takeaway waiting, and a parcel collected at the shelf camera."""
    from kiosk.parcels import ParcelForm

    page.wait_for_selector("#lane-main.state-idle", timeout=15000)
    kiosk.parcels.receive(ParcelForm("7-1201", 2, "A3", courier="顺丰"), by="guard")
    kiosk.parcels.receive(ParcelForm("9-0502", 1, "T1", "takeaway", "美团"), by="guard")
    lane.step_in(NORMAL_FOREHEAD_C, token)
    page.wait_for_selector("#lane-main .parcel-notice:not([hidden])", timeout=15000)
    page.locator('#counts [data-count="parcels"]').filter(has_text="3").wait_for()
    shots = [_save(page, Path(str(pattern).format("parcel-notice")))]
    page.click("#lane-main .parcel-collect")
    lane.leave()
    page.click("#parcel-toggle")
    page.wait_for_selector("#parcel-waiting li.urgent")
    page.fill("#parcel-household", "8-0301")
    page.fill("#parcel-slot", "B2")
    shots.append(_save(page, Path(str(pattern).format("pickup"))))
    # a parcel of the same household, collected when its pass is shown at the shelf camera
    kiosk.parcels.receive(ParcelForm("7-1201", 3, "C5"), by="guard")
    page.wait_for_selector("#parcel-waiting li:has-text('C5')")
    kiosk.world.shelf.show(token)
    page.wait_for_selector("#parcel-waiting li:has-text('C5')", state="detached")
    kiosk.world.shelf.show(None)
    shots.append(_save(page, Path(str(pattern).format("pickup-shelf"))))
    page.click("#parcel-close")
    kiosk.parcels.collect_household("9-0502", by="guard")
    return shots


def look_english(url: str, chromium: str, out: Path) -> list[Path]:
    """The guard screen in English with a parcel waiting (to look at; not for the docs)."""
    from playwright.sync_api import sync_playwright

    shots = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        for width, height in SIZES:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.goto(url + "/login")
            page.fill('input[name="user"]', USER)
            page.fill('input[name="password"]', PASSWORD)
            page.click('button[type="submit"]')
            page.wait_for_selector('body[data-stream="open"]')
            page.click("#lang-switch")
            page.wait_for_selector('body[data-stream="open"]')
            shots.append(_save(page, out / f"english-guard-{width}x{height}.png"))
            page.click("#parcel-toggle")
            page.wait_for_selector("#parcel-dialog[open]")
            shots.append(_save(page, out / f"english-pickup-{width}x{height}.png"))
            page.close()
        browser.close()
    return shots


def shoot_resident(url: str, kiosk, passes, out: Path, chromium: str) -> list[Path]:
    """The resident screen of lane ``main`` through a whole person, at each size."""
    from playwright.sync_api import sync_playwright

    from kiosk.parcels import ParcelForm

    token = next(p.token for p in passes if p.expect == "GRANTED")
    household = next(p.household for p in passes if p.expect == "GRANTED")
    revoked = next(p.token for p in passes if p.expect == "PASS_REVOKED")
    lane = kiosk.world.lanes["main"]
    unit = kiosk.units["main"]
    written = []

    def person(object_c, text, colour, name, page, size):
        lane.step_in(object_c, text)
        page.wait_for_selector(f'body[data-colour="{colour}"]', timeout=15000)
        written.append(_save(page, out / f"resident-{name}-{size}.png"))
        lane.leave()
        page.wait_for_selector('body[data-colour="idle"]', timeout=15000)

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        for width, height in SIZES:
            size = f"{width}x{height}"
            page = browser.new_page(viewport={"width": width, "height": height}, locale="zh-CN")
            page.goto(url + "/resident/main")
            page.wait_for_selector('body[data-stream="open"]')
            lane.leave()
            page.wait_for_selector('body[data-colour="idle"]', timeout=15000)
            written.append(_save(page, out / f"resident-idle-{size}.png"))
            kiosk.parcels.receive(ParcelForm(household, 2, "A3"), by="screenshots")
            person(NORMAL_FOREHEAD_C, token, "green", "granted", page, size)
            kiosk.parcels.collect_household(household, by="screenshots")
            person(FEVER_FOREHEAD_C, token, "red", "fever", page, size)
            for fever in kiosk.facade.fevers():
                kiosk.facade.acknowledge_fever(fever["seq"], "clinic", "screenshots")
            person(NORMAL_FOREHEAD_C, revoked, "red", "refused", page, size)
            lane.step_in(NORMAL_FOREHEAD_C, token, held_cm=29)  # seen, too small to read
            page.wait_for_selector('body[data-colour="busy"]', timeout=15000)
            written.append(_save(page, out / f"resident-closer-{size}.png"))
            lane.leave()
            page.wait_for_selector('body[data-colour="idle"]', timeout=15000)
            lane.sensor.unplugged = True
            page.wait_for_selector('body[data-colour="amber"]', timeout=15000)
            lane.present(token)
            page.wait_for_selector("#r-title:has-text('手动测温')", timeout=15000)
            written.append(_save(page, out / f"resident-thermometer-fault-{size}.png"))
            kiosk.facade.manual_temperature("main", 36.5, "screenshots")
            page.wait_for_selector('body[data-colour="green"]', timeout=15000)
            lane.leave()
            lane.sensor.unplugged = False
            page.wait_for_selector('body[data-colour="idle"]', timeout=15000)
            assert not unit.lane.snapshot().faults
            page.close()
        browser.close()
    return written


def _save(page, path: Path, *, full: bool = False) -> Path:
    page.screenshot(path=str(path), full_page=full)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--english-to", type=Path, help="also shoot the English guard screen here")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with running_demo() as (kiosk, url, passes, _, _):
        for path in shoot(url, kiosk, passes, args.out, args.chromium):
            print(path)
        for path in shoot_steps(url, kiosk, passes, args.out, args.chromium):
            print(path)
        for path in shoot_resident(url, kiosk, passes, args.out, args.chromium):
            print(path)
        if args.english_to:
            for path in look_english(url, args.chromium, args.english_to):
                print(path)
            for path in shoot_steps(url, kiosk, passes, args.english_to, args.chromium, True):
                print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
