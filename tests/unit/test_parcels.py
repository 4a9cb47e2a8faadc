"""The pickup point: the guard's form, one household's notice, overdue parcels, and the store
on a real journal (events first, the table caught up after a crash, retention)."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.errors import KioskError
from kiosk.journal import Journal
from kiosk.parcels import ParcelForm, ParcelStore, notice, overdue, validate
from kiosk.retention import purge_personal


@pytest.fixture
def store(journal, clock):  # the journal fixture: tests/unit/conftest.py
    return ParcelStore(journal, clock)


def form(household="7-1201", count=2, slot="A3", kind="parcel", courier=""):
    return ParcelForm(household, count, slot, kind, courier)


# -- the form ------------------------------------------------------------------------------


def test_parcels_validate_accepts_two_taps_and_a_slot():
    assert validate({"household": " 7-1201 ", "count": "2", "slot": "a3"}) == form()
    got = validate(
        {
            "household": "8-0301",
            "count": 1,
            "slot": "B-12",
            "kind": "takeaway",
            "courier": "  美团   外卖 ",
        }
    )
    assert got == ParcelForm("8-0301", 1, "B-12", "takeaway", "美团 外卖")


def test_parcels_validate_names_every_bad_field():
    bad = validate(
        {"household": "", "count": "0", "slot": "", "kind": "pizza", "courier": "x" * 21}
    )
    assert bad == {"household", "count", "slot", "kind", "courier"}
    assert validate({"household": "7-1201", "count": True, "slot": "A1"}) == {"count"}
    assert validate({"household": "7-1201", "count": "51", "slot": "A1"}) == {"count"}
    assert validate({"household": "7-1201", "count": "2", "slot": "A 1"}) == {"slot"}


@given(
    st.dictionaries(
        st.sampled_from(["household", "count", "slot", "kind", "courier"]),
        st.one_of(
            st.text(max_size=30), st.integers(), st.none(), st.booleans(), st.floats(allow_nan=True)
        ),
    )
)
def test_parcels_validate_never_raises(raw):
    result = validate(raw)
    assert isinstance(result, ParcelForm | set)


# -- notice and overdue --------------------------------------------------------------------


def test_parcels_notice_words_for_the_guard(store, clock):
    assert store.notice("7-1201") is None
    store.receive(form(slot="A3"), by="guard")
    clock.advance(60)
    store.receive(form(count=1, slot="A1"), by="guard")
    store.receive(form(household="8-0301", count=1, slot="C2"), by="guard")
    summary = store.notice("7-1201")
    assert summary.text() == "7-1201 有 3 件快递 · A1 A3"
    assert summary.count == 3 and not summary.urgent
    assert summary.to_dict()["slots"] == ["A1", "A3"]
    assert store.notice(None) is None
    assert store.waiting_items() == 4


def test_parcels_takeaway_is_urgent_and_listed_first(store, clock):
    store.receive(form(), by="guard")
    clock.advance(30)
    store.receive(form(count=1, slot="T1", kind="takeaway"), by="guard")
    first = store.waiting("7-1201")[0]
    assert first.kind == "takeaway" and first.urgent
    clock.advance(600)
    assert first.view(clock.now())["waited_s"] == 600
    assert store.notice("7-1201").urgent
    only = notice([first])
    assert only.text() == "7-1201 有 1 件外卖 · T1"


def test_parcels_overdue_after_n_days(store, clock):
    old = store.receive(form(household="9-0502", slot="D1"), by="guard")
    clock.advance(2 * 86400)
    store.receive(form(), by="guard")
    clock.advance(1.5 * 86400)
    assert [p.id for p in store.overdue(3)] == [old.id]
    assert overdue(store.waiting(), clock.now(), 1) == [old, store.waiting("7-1201")[0]]


# -- collecting ----------------------------------------------------------------------------


def test_parcels_collect_journals_how_long_it_waited(store, journal, clock):
    parcel = store.receive(form(courier="顺丰"), by="guard1")
    clock.advance(3600)
    store.collect(parcel.id, by="guard2")
    assert store.notice("7-1201") is None
    received, collected = [e for e in journal.iter_events()]
    assert received.type == "parcel.received"
    assert received.data == {
        "parcel_id": parcel.id,
        "household": "7-1201",
        "count": 2,
        "slot": "A3",
        "kind": "parcel",
        "by": "guard1",
        "courier": "顺丰",
    }
    assert collected.type == "parcel.collected"
    assert collected.data["waited_s"] == 3600 and collected.data["how"] == "guard"
    with pytest.raises(KioskError, match="no parcel"):
        store.collect(parcel.id, by="guard2")


def test_parcels_collect_household_in_one_tap(store):
    store.receive(form(), by="guard")
    store.receive(form(count=1, slot="B1"), by="guard")
    other = store.receive(form(household="8-0301"), by="guard")
    done = store.collect_household("7-1201", by="guard")
    assert len(done) == 2
    assert [p.id for p in store.waiting()] == [other.id]


# -- storage -------------------------------------------------------------------------------


def test_parcels_survive_a_restart(tmp_path, clock):
    journal = Journal(tmp_path / "j.db", clock)
    store = ParcelStore(journal, clock)
    kept = store.receive(form(), by="guard")
    gone = store.receive(form(household="8-0301"), by="guard")
    store.collect(gone.id, by="guard")
    journal.close()
    journal = Journal(tmp_path / "j.db", clock)
    again = ParcelStore(journal, clock)
    assert [p.id for p in again.waiting()] == [kept.id]
    assert again.waiting()[0].received_at == kept.received_at
    journal.close()


def test_parcels_table_caught_up_from_events_after_a_crash(tmp_path, clock):
    journal = Journal(tmp_path / "j.db", clock)
    # the events were written, the process died before the listener updated the table
    journal.append(
        "parcel.received",
        {
            "parcel_id": "p1",
            "household": "7-1201",
            "count": 1,
            "slot": "A1",
            "kind": "parcel",
            "by": "g",
        },
    )
    journal.append(
        "parcel.received",
        {
            "parcel_id": "p2",
            "household": "7-1201",
            "count": 1,
            "slot": "A2",
            "kind": "parcel",
            "by": "g",
        },
    )
    journal.append("parcel.collected", {"parcel_id": "p1", "household": "7-1201", "by": "g"})
    journal.append("parcel.received", {"parcel_id": "bad", "count": "many"})
    store = ParcelStore(journal, clock)
    assert [p.id for p in store.waiting()] == ["p2"]
    rows = journal.read("SELECT id, collected_at IS NOT NULL FROM parcels ORDER BY id")
    assert rows == [("p1", 1), ("p2", 0)]
    ParcelStore(journal, clock)  # applying again changes nothing
    assert journal.read("SELECT COUNT(*) FROM parcels") == [(2,)]
    journal.close()


def test_parcels_retention_removes_collected_rows_only(tmp_path, clock):
    journal = Journal(tmp_path / "j.db", clock)
    store = ParcelStore(journal, clock)
    waiting = store.receive(form(), by="guard")
    done = store.receive(form(household="8-0301"), by="guard")
    store.collect(done.id, by="guard")
    journal.set_acked_seq(journal.last_seq())
    clock.advance(40 * 86400)
    purge_personal(journal, 28)
    assert journal.read("SELECT id FROM parcels") == [(waiting.id,)]
    assert [p.id for p in store.waiting()] == [waiting.id]  # still on the shelf
    journal.close()
    with sqlite3.connect(tmp_path / "j.db") as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] >= 3


def test_parcels_disk_full_keeps_the_parcel_on_the_list(tmp_path, clock):
    journal = Journal(tmp_path / "j.db", clock)
    store = ParcelStore(journal, clock)
    journal.fail_writes = "disk I/O error"
    parcel = store.receive(form(), by="guard")
    assert parcel.received_seq is None
    assert store.notice("7-1201").count == 2
    journal.fail_writes = None
    journal.flush()
    assert journal.read("SELECT id FROM parcels") == [(parcel.id,)]
    assert clock.now() - parcel.received_at < timedelta(seconds=1)
    journal.close()


def test_parcels_collected_today_say_how(store, clock):
    at_shelf = store.receive(form(), by="guard")
    by_guard = store.receive(form(household="8-0301", count=1, slot="B1"), by="guard")
    store.collect_household("7-1201", by="shelf", how="shelf", pass_id="P0007120101")
    store.collect(by_guard.id, by="guard1")
    today = clock.now().date().isoformat()
    listed = store.collected(since=today)
    assert [(p["id"], p["how"]) for p in listed] == [(by_guard.id, "guard"), (at_shelf.id, "shelf")]
    assert listed[1]["household"] == "7-1201" and listed[1]["slot"] == "A3"
    tomorrow = (clock.now().date() + timedelta(days=1)).isoformat()
    assert store.collected(since=tomorrow) == []


def test_parcels_collect_household_records_the_pass_shown(store, journal):
    store.receive(form(), by="guard")
    store.collect_household("7-1201", by="shelf", how="shelf", pass_id="P0007120101")
    (event,) = journal.recent(1, types=("parcel.collected",))
    assert event.data["pass_id"] == "P0007120101"
    assert event.data["by"] == "shelf" and event.data["how"] == "shelf"
