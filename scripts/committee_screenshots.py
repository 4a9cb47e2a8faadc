"""Screenshots of the committee's pages for the docs: Now (a fever alarm arrived live from the
demo gate), households and passes, the register import preview, registrations, the daily
report, who is out, anomalies and the audit list, at a desk (1280x800) and a phone (390x844).

Starts the demo (a simulated kiosk uploading to the demo's committee server, a throw-away
data folder), gives the committee a second gate and a neighbouring compound's gate with a
synthetic two weeks and today pushed through the gate API (:mod:`committee.devdata`), drives
Debian's Chromium with Playwright and writes PNG files to ``docs/``::

    .venv/bin/python scripts/committee_screenshots.py [--out docs] [--english-to DIR]

Not part of the test suite.
"""

from __future__ import annotations

import argparse
import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from committee import accounts, alarms, devdata, sites  # noqa: E402
from scripts.screenshots import CHROMIUM_ARGS, FEVER_FOREHEAD_C, running_demo  # noqa: E402

SIZES = ((1280, 800), (390, 844))
ADMIN = ("admin", "demo-admin-2020")
PAGES = (
    ("households", "/households"),
    ("registrations", "/registrations?from={yesterday}&to={today}"),
    ("report", "/report?site=all&day={yesterday}"),
    ("out", "/out"),
    ("anomalies", "/anomalies?day={yesterday}"),
)
REGISTER = (
    "户号,人数,每日外出次数,姓名\n7-1201,3,2,王某\n7-1202,2,,李某\n8-0301,5,1,张某\n"
    "10-0101,2,1,赵某\n"
)


def history(committee, site: str) -> None:
    """A second gate at the demo compound and one at the neighbouring compound, each with two
    synthetic weeks and today until now, pushed through the gate API in contract batches;
    and a heartbeat each."""
    server = committee.server
    now = datetime.now(UTC)
    today = now.astimezone().date()
    with server.db.transaction() as session:
        tokens = {
            "demo-gate-2": (sites.add_gate(session, "demo-gate-2", site, now)[1], site),
            "other-gate-1": (
                sites.add_gate(session, "other-gate-1", "other-compound", now)[1],
                "other-compound",
            ),
        }
        accounts.add(session, ADMIN[0], "admin", ADMIN[1], [], now)
    rng = random.Random(20200204)
    days = [(today - timedelta(days=back), None) for back in range(14, 0, -1)] + [(today, now)]
    with httpx.Client(base_url=committee.url, timeout=30) as client:
        for code, (token, site_code) in tokens.items():
            homes = devdata.households(120 if site_code == site else 60)
            gate = devdata.Gate(code, site_code, homes)
            seq = 1
            for day, until in days:
                events = list(
                    devdata.day_events(
                        gate,
                        day,
                        rng,
                        passages=200,
                        tz=datetime.now().astimezone().tzinfo,
                        first_seq=seq,
                        until=until,
                    )
                )
                for start in range(0, len(events), 400):
                    batch = {"gate_id": code, "events": events[start : start + 400]}
                    reply = client.post(
                        f"/gates/{code}/events",
                        json=batch,
                        headers={"Authorization": f"Bearer {token}"},
                    )
                    reply.raise_for_status()
                seq += len(events)
            client.post(
                f"/gates/{code}/heartbeat",
                json={
                    "gate_id": code,
                    "ts": now.isoformat(),
                    "version": "0.1.0",
                    "uptime_s": 3600,
                    "last_seq": seq - 1,
                    "unsent": 0,
                    "lanes": {
                        "main": {
                            "state": "idle",
                            "thermometer": "ok",
                            "camera": "ok",
                            "relay": "ok",
                        }
                    },
                },
                headers={"Authorization": f"Bearer {token}"},
            ).raise_for_status()
    # the committee handled yesterday's and this morning's alarms already
    with server.db.transaction() as session:
        for alarm in alarms.open_alarms(session):
            outcome = "clinic" if alarm.kind == alarms.FEVER else "checked"
            alarms.acknowledge(session, alarm.id, outcome, by="committee", now=now)


def sign_in(page, url: str, user: str, password: str) -> None:
    page.goto(url + "/login")
    page.fill('input[name="user"]', user)
    page.fill('input[name="password"]', password)
    page.click('button[type="submit"]')
    page.wait_for_selector('body[data-stream="open"]')


def shoot(
    committee, kiosk, passes, out: Path, chromium: str, work: Path, *, english: bool
) -> list[Path]:
    from playwright.sync_api import sync_playwright

    url = committee.pages_url
    user, password = committee.login
    token = next(p.token for p in passes if p.expect == "GRANTED")
    today = datetime.now().astimezone().date()
    words = {"today": today, "yesterday": today - timedelta(days=1)}
    written = []
    lane = kiosk.world.lanes["main"]
    register = work / "register.csv"
    register.write_text(REGISTER, encoding="utf-8")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        for width, height in SIZES:
            size = f"{width}x{height}"
            context = browser.new_context(viewport={"width": width, "height": height})
            page = context.new_page()
            sign_in(page, url, user, password)
            if english:
                page.click("#lang-switch")
                page.wait_for_selector('body[data-stream="open"]')
            lane.step_in(FEVER_FOREHEAD_C, token)
            page.wait_for_selector(".alarm-alert-fever form.ack", timeout=20000)
            lane.leave()
            written.append(_save(page, out / f"committee-now-{size}.png"))
            for name, path in PAGES:
                page.goto(url + path.format(**words))
                written.append(_save(page, out / f"committee-{name}-{size}.png"))
            page.goto(url + "/households")
            page.set_input_files('#import-form input[type="file"]', str(register))
            page.click("#import-form button[type=submit]")
            page.wait_for_selector("#preview")
            written.append(_save(page, out / f"committee-import-{size}.png"))
            context.close()
            context = browser.new_context(viewport={"width": width, "height": height})
            page = context.new_page()
            sign_in(page, url, *ADMIN)
            if english:
                page.click("#lang-switch")
            page.goto(url + "/audit")
            written.append(_save(page, out / f"committee-audit-{size}.png"))
            context.close()
        browser.close()
    return written


def _save(page, path: Path) -> Path:
    page.screenshot(path=str(path), full_page=False)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--english-to", type=Path, help="also shoot the pages in English here")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with running_demo() as (kiosk, _, passes, committee, folder):
        history(committee, kiosk.config.gate.site)
        work = folder / "work"
        work.mkdir()
        for path in shoot(committee, kiosk, passes, args.out, args.chromium, work, english=False):
            print(path)
        if args.english_to:
            args.english_to.mkdir(parents=True, exist_ok=True)
            for path in shoot(
                committee, kiosk, passes, args.english_to, args.chromium, work, english=True
            ):
                print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
