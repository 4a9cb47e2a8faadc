"""The guard's pickup point in headless Chromium at 800x480: record a parcel in two taps and
the shelf slot, the notice on the tile at the household's next scan (and the resident's voice),
one tap to mark it collected, today's counts."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.e2e.conftest import NORMAL_FOREHEAD_C


def test_parcel_recorded_noticed_at_the_next_scan_and_collected(page, live):
    kiosk = live.kiosk
    lane = kiosk.world.lanes["main"]
    lane.leave()
    expect(page.locator('#counts [data-count="parcels"]')).to_have_text("0")

    page.click("#parcel-toggle")
    expect(page.locator("#parcel-dialog")).to_be_visible()
    page.fill("#parcel-household", "7-1201")
    page.click('#parcel-form label.tap:has(input[name="count"][value="2"])')  # tap one
    page.fill("#parcel-slot", "a3")
    page.select_option("#parcel-courier", "顺丰")
    page.click("#parcel-record")  # tap two
    expect(page.locator("#parcel-ok")).to_contain_text("7-1201 · A3")
    expect(page.locator("#parcel-waiting li")).to_have_count(1)
    expect(page.locator("#parcel-waiting li").first).to_contain_text(
        "7-1201 · 2 件 · 快递 · A3 · 顺丰"
    )
    expect(page.locator('#counts [data-count="parcels"]')).to_have_text("2")
    (received,) = kiosk.journal.recent(1, types=("parcel.received",))
    assert received.data["household"] == "7-1201" and received.data["count"] == 2
    assert received.data["slot"] == "A3" and received.data["by"] == "guard"

    # a wrong form is refused field by field, nothing recorded
    page.fill("#parcel-household", "")
    page.fill("#parcel-slot", "")
    page.evaluate("document.getElementById('parcel-household').required = false")
    page.evaluate("document.getElementById('parcel-slot').required = false")
    page.click("#parcel-record")
    expect(page.locator("#parcel-error")).to_contain_text("请填写户号")
    expect(page.locator("#parcel-error")).to_contain_text("请填写货架位")
    assert len(kiosk.journal.recent(10, types=("parcel.received",))) == 1
    page.click("#parcel-close")

    heard = len(kiosk.world.audio.played)
    lane.step_in(NORMAL_FOREHEAD_C, live.token("7-1201"))
    tile = page.locator("#lane-main")
    expect(tile).to_have_class(re.compile(r"\bstate-granted\b"))
    notice = tile.locator(".parcel-notice")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("7-1201 有 2 件快递 · A3")
    expect(page.locator("#lane-exit .parcel-notice")).to_be_hidden()
    played = kiosk.world.audio.played  # the voice speaks on its own thread
    for _ in range(100):
        if any(p.prompt == "parcel_waiting" for p in played[heard:]):
            break
        page.wait_for_timeout(50)
    assert [p.prompt for p in played[heard:]][-2:] == ["granted", "parcel_waiting"]

    notice.locator(".parcel-collect").click()  # one tap
    expect(notice).to_be_hidden()
    expect(page.locator('#counts [data-count="parcels"]')).to_have_text("0")
    (collected,) = kiosk.journal.recent(1, types=("parcel.collected",))
    assert collected.data["household"] == "7-1201" and collected.data["how"] == "guard"
    assert kiosk.parcels.waiting() == []
    lane.leave()


def test_parcel_takeaway_first_and_overdue_listed(page, live):
    from kiosk.parcels import ParcelForm

    kiosk = live.kiosk
    kiosk.parcels.receive(ParcelForm("8-0301", 1, "B2"), by="guard")
    kiosk.parcels.receive(ParcelForm("9-0502", 1, "T1", "takeaway", "美团"), by="guard")
    # recorded elsewhere (another guard screen): the count follows the live stream
    expect(page.locator('#counts [data-count="parcels"]')).to_have_text("2")
    expect(page.locator('#parcel-toggle [data-count="parcels"]')).to_have_text("2")
    page.click("#parcel-toggle")
    first = page.locator("#parcel-waiting li").first
    expect(first).to_have_class(re.compile(r"\burgent\b"))
    expect(first).to_contain_text("外卖")
    expect(first).to_contain_text("已等")
    expect(page.locator("#parcel-overdue-title")).to_be_hidden()
    page.locator("#parcel-waiting li").first.locator("button").click()
    expect(page.locator("#parcel-waiting li")).to_have_count(1)
    page.click("#parcel-close")
    kiosk.parcels.collect_household("8-0301", by="guard")


def test_parcel_collected_at_the_shelf_leaves_the_pickup_page(page, live):
    kiosk = live.kiosk
    shelf = kiosk.world.shelf
    shelf.show(None)
    expect(page.locator('[data-badge="shelf"]')).to_have_class(re.compile(r"\bdot-ok\b"))
    page.click("#parcel-toggle")
    page.fill("#parcel-household", "8-0301")
    page.click('#parcel-form label.tap:has(input[name="count"][value="3"])')
    page.fill("#parcel-slot", "C5")
    page.click("#parcel-record")
    waiting = page.locator("#parcel-waiting li")
    expect(waiting).to_have_count(1)
    expect(waiting.first).to_contain_text("8-0301 · 3 件 · 快递 · C5")
    expect(page.locator("#parcel-collected li.how-shelf")).to_have_count(0)

    # the resident holds the pass up to the shelf camera (real frames, the real scanner)
    shelf.show(live.token("8-0301"))
    expect(page.locator("#parcel-waiting li.parcel-empty")).to_have_text("没有待取的快递")
    expect(page.locator("#parcel-collected-title")).to_be_visible()
    done = page.locator("#parcel-collected li.how-shelf")
    expect(done).to_have_count(1)
    expect(done).to_contain_text("8-0301 · 3 件 · 快递 · C5")
    expect(done).to_contain_text("取件架扫码")
    expect(page.locator('#counts [data-count="parcels"]')).to_have_text("0")
    (collected,) = kiosk.journal.recent(1, types=("parcel.collected",))
    assert collected.data["by"] == "shelf" and collected.data["how"] == "shelf"
    assert collected.data["household"] == "8-0301"
    # with parcels waiting and today's collected list shown, closing needs no scrolling
    for household, slot in (("9-0502", "T1"), ("7-1202", "B2")):
        page.fill("#parcel-household", household)
        page.fill("#parcel-slot", slot)
        page.click("#parcel-record")
        expect(page.locator("#parcel-waiting li", has_text=household)).to_have_count(1)
    expect(page.locator("#parcel-close")).to_be_in_viewport(ratio=1)
    for household in ("9-0502", "7-1202"):
        kiosk.parcels.collect_household(household, by="guard")
    page.click("#parcel-close")

    # the demo's simulate panel shows a pass at the shelf and takes it away
    shelf.show(None)
    page.click("#sim-toggle")
    page.select_option("#sim-pass", label="7-1201 出入证 (valid)")
    page.click("#sim-shelf-show")
    for _ in range(100):
        if shelf.camera.text == live.token("7-1201"):
            break
        page.wait_for_timeout(50)
    assert shelf.camera.text == live.token("7-1201")
    page.click("#sim-shelf-away")
    for _ in range(100):
        if shelf.camera.text is None:
            break
        page.wait_for_timeout(50)
    assert shelf.camera.text is None
    page.click("#sim-close")


def test_parcel_shelf_camera_fault_is_shown_to_the_guard_and_no_lane_s(page, live):
    kiosk = live.kiosk
    camera = kiosk.world.shelf.camera
    mark = page.locator("#parcel-shelf-fault")
    expect(mark).to_be_hidden()
    camera.unplug()
    try:
        expect(mark).to_be_visible()  # after no_frame_fault_s without a frame
        expect(mark).to_have_text("取件架摄像故障")
        expect(page.locator('[data-badge="shelf"]')).to_have_class(re.compile(r"\bdot-fault\b"))
        expect(page.locator('[data-badge="camera"]')).to_have_class(re.compile(r"\bdot-ok\b"))
        expect(page.locator("#lane-main .flags")).to_have_text("")
        # the lanes go on deciding
        lane = kiosk.world.lanes["main"]
        lane.step_in(NORMAL_FOREHEAD_C, live.token("7-1201"))
        expect(page.locator("#lane-main")).to_have_class(re.compile(r"\bstate-granted\b"))
        lane.leave()
    finally:
        camera.replug()
    expect(mark).to_be_hidden()
    expect(page.locator('[data-badge="shelf"]')).to_have_class(re.compile(r"\bdot-ok\b"))
