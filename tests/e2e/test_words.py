"""Every word a person sees comes from the catalogue, in both languages: a walk through every
page, dialog and export of a gate that has seen a bit of everything, failing on any catalogue
key shown as it is (``reason.other``, ``outcome.clinic``, ``event.alert.home_observation``).

Text meant for machines is left out on purpose: the configuration and the log lines (``pre``)
and, in the CSV, the type code, the reason code, the data (JSON) and the ids.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from kiosk.registrations import validate
from kiosk.ui.i18n import CATALOGUE
from tests.e2e.conftest import FEVER_FOREHEAD_C, LANGUAGES, MAINT, MAINT_PASSWORD, sign_in

#: The catalogue's first words (``reason`` of ``reason.FEVER``): a key shown as it is.
NAMESPACES = sorted({key.split(".")[0] for key in CATALOGUE if "." in key}, key=len, reverse=True)
KEY = re.compile(r"\b(?:" + "|".join(NAMESPACES) + r")\.[A-Za-z_][\w.]*")
#: The page's words, scripts and machine text (``pre``) left out, with the attributes shown.
SEEN = """() => {
  const out = [];
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walk.nextNode(); n; n = walk.nextNode()) {
    if (!n.parentElement.closest("script, style, pre")) out.push(n.textContent);
  }
  for (const el of document.querySelectorAll("*")) {
    if (el.closest("pre")) continue;
    for (const a of ["title", "placeholder", "alt", "aria-label", "value"]) {
      if (el.hasAttribute(a) && !(a === "value" && !/^(BUTTON|OPTION)$/.test(el.tagName)))
        out.push(el.getAttribute(a));
    }
    for (const a of el.getAttributeNames()) {
      if (/^data-(label|none|show|hide|on|off|to)$/.test(a)) out.push(el.getAttribute(a));
    }
  }
  return out.join("\\n");
}"""
#: CSV columns for machines, by header key (their cells are codes by design).
MACHINE_COLUMNS = {"csv.type", "csv.reason", "csv.data", "csv.id", "csv.ts_iso"}


def keys_shown(page) -> list[str]:
    return sorted(set(KEY.findall(page.evaluate(SEEN))))


def keys_in_csv(path: Path, lang: str) -> list[str]:
    from kiosk.ui.i18n import translate

    table = list(csv.reader(io.StringIO(path.read_text("utf-8-sig"))))
    machine = {translate(k, lang) for k in MACHINE_COLUMNS}
    keep = [i for i, name in enumerate(table[0]) if name not in machine]
    cells = "\n".join(row[i] for row in table for i in keep if i < len(row))
    return sorted(set(KEY.findall(cells)))


def a_bit_of_everything(live) -> None:
    """Journal what a gate sees in a week: grants and every denial, fevers handled each way,
    openings by hand for every reason, registrations of every outcome, a temporary pass, a
    sensor unplugged and back, soft anti-passback, home observation, calibrations; and the
    events no demo lane makes by itself (door contact, exit button, uplink, roster import)."""
    kiosk, facade, world = live.kiosk, live.kiosk.facade, live.kiosk.world
    # every demo pass, two at a time (one on each lane); 7-1202's on the way out
    shown = sorted(live.passes, key=lambda p: p.pass_id != "P0007120201")
    for pair in (shown[i : i + 2] for i in range(0, len(shown), 2)):
        lanes = ("exit", "main")[: len(pair)]
        before = kiosk.journal.last_seq()
        for lane, demo in zip(lanes, pair, strict=True):
            world.lanes[lane].step_in(35.4, demo.token)
        wait_turns(kiosk, lanes[0], lambda: decisions_after(kiosk, before) >= len(pair))  # noqa: B023
        for lane in lanes:
            leave(kiosk, lane)
    for outcome in ("clinic", "reported", "remeasured"):
        world.lanes["main"].step_in(FEVER_FOREHEAD_C, None)
        wait_turns(kiosk, "main", facade.fevers)
        seq = facade.fevers()[0]["seq"]
        if outcome == "remeasured":
            facade.release_after_remeasure(seq, 36.8, "guard")
        else:
            facade.acknowledge_fever(seq, outcome, "guard")
        leave(kiosk, "main")
    for reason in ("ambulance", "elderly", "resident_known", "other: 送水工人"):
        facade.open_gate("main", reason, "guard")
    facade.test_pulse("exit", "maint")
    form = {
        "kind": "visitor", "name": "李四", "phone": "13800138000", "household": "7-1201",
        "from_province": "湖北", "arrival_date": facade.today().isoformat(), "key_area": "no",
        "contact": "no", "temperature_c": "36.6", "symptoms": [],
    }  # fmt: skip
    for outcome, changes in (
        ("admitted", {}),
        ("observation", {"key_area": "yes", "kind": "returning"}),
        ("refused", {"temperature_c": "38.0"}),
        ("courier", {"kind": "courier"}),
    ):
        filled = {**form, **changes, "outcome": outcome}
        registration, errors = validate(filled, today=facade.today())
        assert not errors, errors
        event = facade.register(registration, "guard", "main")
    facade.issue_temporary_pass(event.data["registration_id"], "7-1201", guard="guard")
    faults = kiosk.units["main"].lane.snapshot
    facade.simulate_part("main", "thermometer", plugged=False)
    wait_turns(kiosk, "main", lambda: "thermometer" in faults().faults)
    facade.simulate_part("main", "thermometer", plugged=True)
    wait_turns(kiosk, "main", lambda: not faults().faults)
    facade.calibrate("main", points=[(36.1, 36.4)], by="maint")
    facade.restore_calibration("main", "maint")
    facade.set_emissivity("main", 0.98, "maint")
    for type_, data in (
        ("door.forced", {"held_open_s": 30}),
        ("door.held_open", {"held_open_s": 30}),
        ("door.closed", {"alarm": "door.forced", "open_s": 12.0}),
        ("gate.exit_request", {"open_s": 3.0}),
        ("alert.lane_error", {"error": "ValueError: boom"}),
        ("alert.journal_overflow", {"lost": 3}),
        ("alert.uplink", {"code": "auth", "message": "401"}),
        ("roster.imported", {"version": "r2", "passes": 6, "source": "file"}),
        ("uplink.event_replaced", {"seq": 3, "type": "pass.scanned", "by": "maint"}),
        ("config.changed", {"key": "rules.anti_passback"}),
    ):
        kiosk.journal.append(type_, data, lane="main")


def wait_turns(kiosk, lane, until) -> None:
    """Wait (bounded, on the lane thread's turns) until *until()* holds."""
    from tests.conftest import wait_for

    assert wait_for(until, kiosk.units[lane].runner, 15.0)


def decisions_after(kiosk, seq: int) -> int:
    """How many access decisions were journaled after *seq*."""
    recent = kiosk.journal.recent(5, types=("access.granted", "access.denied"))
    return sum(1 for event in recent if event.seq > seq)


def leave(kiosk, lane) -> None:
    """The person walks away; wait until the lane saw them go and is idle again."""
    kiosk.world.lanes[lane].leave()
    snapshot = kiosk.units[lane].lane.snapshot
    wait_turns(kiosk, lane, lambda: not snapshot().present and snapshot().state == "idle")


@pytest.fixture(scope="module")
def everything(live):
    a_bit_of_everything(live)
    return live


def walk(page, url: str) -> dict[str, list[str]]:
    """Every page (and the guard screen's dialogs) in the page's language: url -> keys shown."""
    found: dict[str, list[str]] = {}

    def look(name: str) -> None:
        found[name] = keys_shown(page)

    page.goto(url + "/")
    page.wait_for_selector('body[data-stream="open"]')
    expect(page.locator("#events li").first).to_be_visible()
    look("/")
    for dialog, opener in (("#open-dialog", ".open-gate"), ("#parcel-dialog", "#parcel-toggle")):
        page.click(opener)
        expect(page.locator(dialog)).to_be_visible()
        look(f"/ {dialog}")
        page.keyboard.press("Escape")
    page.click("#sim-toggle")
    look("/ #sim")
    pages = ["/register/", "/records/registrations", "/maintenance/", "/maintenance/main"]
    pages += ["/maintenance/exit", "/resident/main"]
    for path in pages:
        page.goto(url + path)
        page.wait_for_load_state("networkidle")
        look(path)
    page.goto(url + "/register/")
    page.click("#reg-submit")  # empty: every field's error
    look("/register/ (errors)")
    records = url + "/records/"
    while records:
        page.goto(records)
        look(records.removeprefix(url))
        older = page.locator("#r-older")
        records = url + older.get_attribute("href") if older.count() else None
    for type_ in page.eval_on_selector_all("#r-type option", "os => os.map(o => o.value)"):
        page.goto(f"{url}/records/?type={type_}")
        look(f"/records/?type={type_}")
    return found


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_page_and_export_speaks_words_not_code(browser, everything, lang, tmp_path):
    live = everything
    context, page = sign_in(browser, live.url, user=MAINT, password=MAINT_PASSWORD, lang=lang)
    try:
        shown = {name: keys for name, keys in walk(page, live.url).items() if keys}
        page.goto(live.url + "/records/")
        with page.expect_download() as events_csv:
            page.click("#r-export")
        page.goto(live.url + "/records/registrations")
        with page.expect_download() as registrations_csv:
            page.click("#reg-export")
        for name, download in (
            ("events.csv", events_csv),
            ("registrations.csv", registrations_csv),
        ):
            keys = keys_in_csv(Path(download.value.path()), lang)
            if keys:
                shown[name] = keys
        page.goto(live.url + "/login")  # signed in: the sign-in page, then signed out
        context.clear_cookies()
        page.goto(live.url + "/login")
        if keys_shown(page):
            shown["/login"] = keys_shown(page)
    finally:
        context.close()
    assert shown == {}
    types = {e.type for e in live.kiosk.journal.iter_events()}
    assert {  # the walk saw a bit of everything
        "access.granted", "access.denied", "alert.fever", "alert.fever_ack",
        "alert.home_observation", "alert.sensor_fault", "gate.manual_open",
        "registration.created", "pass.temporary_issued", "calibration.changed", "door.forced",
        "pass.scanned", "temperature.measured", "auth.login", "kiosk.started",
    } <= types  # fmt: skip
