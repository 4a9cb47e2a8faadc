"""The committee's pages in Debian's Chromium, each page's main job, against the demo: a
simulated kiosk (real threads, the real uplink) uploading to the demo's committee server
(waitress on loopback, SQLite), signed in as the demo committee. The fever alarm arrives
live from the gate and is acknowledged; desktop (1280x800) and phone (390x844) widths."""

from __future__ import annotations

import dataclasses
import threading
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from committee import accounts, alarms, sites
from committee.models import Alert, AuditEntry, Pass
from kiosk import config as config_mod
from kiosk.registrations import validate
from kiosk.sim import demo as demo_kit
from kiosk.sim.hardware import simulated_kiosk
from tests.e2e.conftest import FEVER_FOREHEAD_C, NORMAL_FOREHEAD_C

DESK = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
ADMIN = ("chief", "chief-password-1")


@dataclasses.dataclass
class Demo:
    kiosk: object
    committee: object
    passes: list

    @property
    def url(self) -> str:
        return self.committee.pages_url

    def token(self, expect: str = "GRANTED") -> str:
        return next(p.token for p in self.passes if p.expect == expect)

    def db(self):
        return self.committee.server.db


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    data = tmp_path_factory.mktemp("committee-demo")
    cfg = config_mod.load(config_mod.DEMO_CONFIG)
    cfg = dataclasses.replace(
        cfg,
        gate=dataclasses.replace(cfg.gate, data_dir=str(data)),
        voice=dataclasses.replace(cfg.voice, output="sim"),
    )
    demo_kit.ensure_keys(cfg.keys_dir)
    committee, cfg = demo_kit.start_committee(cfg)
    try:
        kiosk = simulated_kiosk(cfg)
        passes, _ = demo_kit.seed(kiosk, user="", password="", passes=committee.passes)
        with committee.server.db.transaction() as session:
            accounts.add(session, ADMIN[0], "admin", ADMIN[1], [], committee.server.now())
        kiosk.start()
    except BaseException:
        committee.stop()
        raise
    try:
        yield Demo(kiosk, committee, passes)
    finally:
        kiosk.stop()
        committee.stop()


def _page(browser, demo, viewport, user=None):
    context = browser.new_context(viewport=viewport, accept_downloads=True)
    context.set_default_timeout(20000)
    page = context.new_page()
    name, password = user or demo.committee.login
    page.goto(demo.url + "/login")
    page.fill('input[name="user"]', name)
    page.fill('input[name="password"]', password)
    page.click('button[type="submit"]')
    page.wait_for_selector('body[data-stream="open"]')
    return page


def _uploaded(demo, timeout_s: float = 20.0) -> bool:
    """Nudge the gate's uplink and wait until the committee stored every event the gate has
    journaled so far (the committee tells its listeners after each stored batch)."""
    seq = demo.kiosk.journal.last_seq()
    done = threading.Event()

    def listener(gate_id: str, acked_seq: int) -> None:
        if gate_id == demo.kiosk.config.gate.gate_id and acked_seq >= seq:
            done.set()

    server = demo.committee.server
    server.listeners.append(listener)
    try:
        with server.db.transaction() as session:
            if sites.get_gate(session, demo.kiosk.config.gate.gate_id).acked_seq >= seq:
                return True
        demo.kiosk.uplink.nudge()
        return done.wait(timeout_s)
    finally:
        server.listeners.remove(listener)


def _decided(demo, lane: str, before: int, timeout_s: float = 15.0) -> None:
    """Wait until *lane* journaled a decision after *before* decisions (the journal tells
    its listeners of every event it writes)."""
    done = threading.Event()
    types = ("access.granted", "access.denied")

    def listener(event) -> None:
        if event.type in types and event.lane == lane:
            done.set()

    demo.kiosk.journal.add_listener(listener)  # stays, harmless: it only sets this event
    if len(demo.kiosk.journal.recent(1000, types=types)) > before:
        return
    assert done.wait(timeout_s), f"lane {lane} decided nothing"


def test_fever_alarm_arrives_live_from_the_gate_and_is_acknowledged(browser, demo):
    page = _page(browser, demo, DESK)
    assert page.locator(".alarm-alert-fever").count() == 0
    lane = demo.kiosk.world.lanes["main"]
    lane.step_in(FEVER_FOREHEAD_C, demo.token())
    alarm = page.locator(".alarm-alert-fever").first
    alarm.wait_for()  # the gate's uplink pushed it at once; the stream brought it here
    lane.leave()
    assert alarm.get_attribute("open") is not None  # the newest alarm is ready to record
    assert "7-1201" in alarm.inner_text() and "°C" in alarm.inner_text()
    page.locator("#events .ev-alert-fever").first.wait_for()
    alarm.locator('input[value="remeasured"]').check()
    alarm.locator('input[name="value_c"]').fill("37.6")
    alarm.locator('button[type="submit"]').click()
    assert "复测仍发热" in alarm.locator(".error").inner_text()
    alarm.locator('input[value="clinic"]').check()
    alarm.locator('input[name="note"]').fill("送区中心医院")
    alarm.locator('button[type="submit"]').click()
    page.wait_for_selector(".alarm-alert-fever", state="detached")
    with demo.db().transaction() as session:
        handled = session.scalars(select(Alert).where(Alert.kind == "alert.fever")).all()
        assert [(a.outcome, a.ack_by, a.note) for a in handled][-1] == (
            "clinic",
            "committee",
            "送区中心医院",
        )
        assert all(a.kind != "alert.fever" for a in alarms.open_alarms(session))
    # a second page, opened after, shows no banner: the alarm is handled for everyone
    other = _page(browser, demo, DESK)
    assert other.locator(".alarm-alert-fever").count() == 0
    assert other.locator('#gates tr[data-gate="demo-gate-1"]').count() == 1
    other.context.close()
    page.context.close()


def test_phone_width_the_now_page_and_an_alarm_fit(browser, demo):
    page = _page(browser, demo, PHONE)
    lane = demo.kiosk.world.lanes["main"]
    lane.step_in(FEVER_FOREHEAD_C, demo.token())
    alarm = page.locator(".alarm-alert-fever").first
    alarm.wait_for()
    lane.leave()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"]  # nothing runs off the side of a phone
    box = alarm.locator('button[type="submit"]').bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    alarm.locator('input[value="reported"]').check()
    alarm.locator('button[type="submit"]').click()
    page.wait_for_selector(".alarm-alert-fever", state="detached")
    page.click("#nav-report")
    page.wait_for_selector("#hour-chart")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.context.close()


def test_households_search_import_suspend_and_print(browser, demo, tmp_path):
    page = _page(browser, demo, DESK)
    page.click("#nav-households")
    page.fill("#hh-search", "7-12")
    page.click("form.filters button[type=submit]")
    rows = page.locator("#households tbody tr")
    assert sorted(rows.evaluate_all("rs => rs.map(r => r.dataset.household)")) == [
        "7-1201",
        "7-1202",
    ]
    register = tmp_path / "居民名册.csv"
    register.write_text(
        "户号,人数,每日外出次数\n7-1201,3,2\n7-1202,2,\n8-0301,4,\n9-0502,1,\n10-0101,2,1\n",
        encoding="utf-8",
    )
    page.set_input_files('#import-form input[type="file"]', str(register))
    page.click("#import-form button[type=submit]")
    page.wait_for_selector("#preview")
    assert "新增 1" in page.inner_text("#summary") and "修改 1" in page.inner_text("#summary")
    page.click("#apply")
    page.wait_for_selector("#flash")
    assert page.locator('#households tr[data-household="10-0101"]').count() == 1
    suspend = page.locator('[data-pass="P0008030101"] button:has-text("暂停")')
    suspend.click()
    page.wait_for_selector('[data-pass="P0008030101"] .pill.suspended')
    page.locator('#households tr[data-household="10-0101"] button:has-text("发放新出入证")').click()
    page.wait_for_selector("#cards-link")
    with page.expect_download() as download:
        page.click("#cards-link")
    assert Path(download.value.path()).read_bytes()[:4] == b"%PDF"
    with demo.db().transaction() as session:
        statuses = {p.code: p.status for p in session.scalars(select(Pass))}
        assert statuses["P0008030101"] == "suspended" and statuses["P0010010101"] == "active"
    page.context.close()


def test_registrations_from_the_gate_filtered_masked_and_exported(browser, demo):
    form = {
        "kind": "visitor",
        "name": "王小明",
        "phone": "139 1234 5678",
        "id_number": "110101199003074514",
        "household": "8-0301",
        "from_province": "浙江",
        "from_city": "温州",
        "arrival_date": datetime.now().date().isoformat(),
        "key_area": "no",
        "contact": "no",
        "symptoms": [],
        "temperature_c": "36.5",
        "sensor_c": "36.5",
        "outcome": "admitted",
    }
    registration, errors = validate(form, today=datetime.now().date())
    assert not errors
    demo.kiosk.facade.register(registration, by="guard", lane="main")
    assert _uploaded(demo)
    page = _page(browser, demo, DESK)
    page.click("#nav-registrations")
    page.select_option('select[name="kind"]', "visitor")
    page.click("#filters button[type=submit]")
    row = page.locator("#registrations tbody tr").first
    row.wait_for()
    text = row.inner_text()
    assert "王**" in text and "4514" in text and "王小明" not in text and "访客" in text
    with page.expect_download() as download:
        page.click("#export-xlsx")
    assert download.value.suggested_filename.endswith(".xlsx")
    page.context.close()


def test_report_who_is_out_and_anomalies_show_the_gates_day(browser, demo):
    lane = demo.kiosk.world.lanes["exit"]
    token = next(p.token for p in demo.passes if p.pass_id == "P0008030101")
    before = len(demo.kiosk.journal.recent(1000, types=("access.granted", "access.denied")))
    lane.step_in(NORMAL_FOREHEAD_C, token)
    _decided(demo, "exit", before)
    lane.leave()
    assert _uploaded(demo)
    page = _page(browser, demo, DESK)
    page.click("#nav-outings")
    assert page.locator('#out tr[data-pass="P0008030101"]').count() == 1
    page.click("#nav-report")
    page.wait_for_selector("#hour-chart")
    exits = int(page.locator('[data-figure="report.exits"] b').inner_text())
    assert exits >= 1
    with page.expect_download() as download:
        page.click("#report-pdf")
    assert Path(download.value.path()).read_bytes()[:4] == b"%PDF"
    with page.expect_download() as download:
        page.click("#report-xlsx")
    assert download.value.suggested_filename.endswith(".xlsx")
    page.click("#nav-anomalies")
    for section in ("#shared", "#foreign", "#exits", "#clock"):
        assert page.locator(section).count() == 1
    page.click("#lang-switch")
    page.wait_for_selector("#nav-anomalies:has-text('Anomalies')")
    page.context.close()


def test_admin_reads_and_exports_the_audit_list(browser, demo):
    page = _page(browser, demo, DESK, ADMIN)
    page.click("#nav-audit")
    actions = page.locator("#audit code").all_inner_texts()
    assert "pass.issue" in actions
    with page.expect_download() as download:
        page.click("#audit-export")
    assert "audit-" in download.value.suggested_filename
    with demo.db().transaction() as session:
        assert session.scalar(select(AuditEntry).where(AuditEntry.actor == "demo")) is not None
    committee = _page(browser, demo, DESK)
    assert committee.locator("#nav-audit").count() == 0
    committee.context.close()
    page.context.close()
