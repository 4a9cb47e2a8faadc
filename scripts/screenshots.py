"""Screenshots of the guard screen for the docs: idle, granted and the fever alarm, at the
kiosk's 7-inch 800x480 screen and at a 1280x800 laptop.

Starts a demo kiosk (simulated hardware, a throw-away data folder) on a free loopback port,
drives it with Playwright and Debian's Chromium, and writes PNG files to ``docs/``::

    .venv/bin/python scripts/screenshots.py [--out docs] [--chromium /usr/bin/chromium]

Not part of the test suite.
"""

from __future__ import annotations

import argparse
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
#: Forehead temperatures (°C) the simulated sensor sees: a normal person and a fever.
NORMAL_FOREHEAD_C, FEVER_FOREHEAD_C = 35.4, 37.6


def start_demo(data_dir: Path):
    """A started demo kiosk uploading to a loopback committee server, with its guard screen
    on a free port: ``(kiosk, server, url, passes, committee)``."""
    cfg = config_mod.load(config_mod.DEMO_CONFIG)
    cfg = dataclasses.replace(cfg, gate=dataclasses.replace(cfg.gate, data_dir=str(data_dir)))
    demo_kit.ensure_keys(cfg.keys_dir)
    committee, cfg = demo_kit.start_committee(cfg)
    kiosk = simulated_kiosk(cfg)
    passes, _ = demo_kit.seed(kiosk, user=USER, password=PASSWORD)
    app = build_app(kiosk, {"kiosk.demo_passes": demo_kit.as_json(passes)})
    server = serve(app, "127.0.0.1", 0, workers=8)
    kiosk.start()
    server.start()
    return kiosk, server, server.url, passes, committee


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
            page.wait_for_selector("#lane-main.state-denied", timeout=15000)
            written.append(_save(page, out / f"guard-fever-{width}x{height}.png"))
            page.fill("#fever-note", "")
            page.click("#fever-clinic")
            page.wait_for_selector("#fever", state="hidden")
            lane.leave()
            page.close()
        browser.close()
    return written


def _save(page, path: Path) -> Path:
    page.screenshot(path=str(path))
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kiosk-shots-") as tmp:
        kiosk, server, url, passes, committee = start_demo(Path(tmp))
        try:
            for path in shoot(url, kiosk, passes, args.out, args.chromium):
                print(path)
        finally:
            kiosk.stop()
            server.close()
            committee.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
