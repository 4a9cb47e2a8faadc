"""The journal when the disk is full or read-only, retention of personal data, the size cap."""

from __future__ import annotations

import json
import sqlite3

import pytest

from kiosk.journal import Journal, format_ts
from kiosk.retention import enforce_size, purge_personal


@pytest.fixture
def journal(tmp_path, clock):
    j = Journal(tmp_path / "journal.db", clock, buffer_events=100)
    yield j
    j.close()


def fill_disk(journal):
    """Make SQLite itself answer SQLITE_FULL ("database or disk is full") on this thread."""
    conn = journal._conn()
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")
    return conn


def test_journal_settings_are_wal_and_full_sync(journal):
    conn = journal._conn()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_journal_disk_full_holds_events_in_order_and_writes_them_later(journal):
    seen = []
    journal.add_listener(lambda e: seen.append((e.seq, e.type)))
    assert journal.append("kiosk.started").seq == 1
    conn = fill_disk(journal)
    i = 0
    while journal.problem is None and i < 1000:  # the last free page fills up
        event = journal.append("access.granted", {"n": i, "pad": "x" * 200}, "main")
        i += 1
    assert "full" in journal.problem and event.seq is None
    written = journal.last_seq()
    for _ in range(250):
        event = journal.append("access.granted", {"n": i, "pad": "x" * 200}, "main")
        i += 1
    assert event.seq is None
    assert journal.degraded and journal.pending == 100  # bounded
    assert journal.lost == 151
    assert journal.last_seq() == written
    conn.execute("PRAGMA max_page_count = 1073741823")  # space freed
    assert journal.flush() == 101
    assert not journal.degraded and journal.problem is None
    events = list(journal.iter_events())
    assert [e.seq for e in events] == list(range(1, written + 102))
    kept = [e.data["n"] for e in events[written : written + 100]]
    assert kept == list(range(i - 100, i))  # the oldest waiting were dropped
    assert events[-1].type == "alert.journal_overflow"
    assert events[-1].data == {"lost": 151}
    assert seen == [(e.seq, e.type) for e in events]  # listeners hear of each once written
    assert journal.integrity_check() == "ok"


def test_journal_read_only_database_keeps_events_in_memory(journal):
    conn = journal._conn()
    conn.execute("PRAGMA query_only = 1")  # SQLite answers SQLITE_READONLY
    journal.append("access.denied", {"reason": "FEVER"}, "main")
    assert "readonly" in journal.problem
    assert journal.status()["pending"] == 1
    conn.execute("PRAGMA query_only = 0")
    journal.append("access.granted", {}, "main")
    assert [e.type for e in journal.iter_events()] == ["access.denied", "access.granted"]
    assert journal.status()["ok"]


def test_journal_fault_hook_and_refuse_grants(tmp_path, clock):
    j = Journal(tmp_path / "j.db", clock, when_unwritable="deny")
    try:
        assert not j.refuse_grants
        j.fail_writes = "disk I/O error"
        j.append("pass.scanned")
        assert j.refuse_grants
        assert j.problem == "disk I/O error"
        j.fail_writes = None
        assert j.flush() == 1
        assert not j.refuse_grants
    finally:
        j.close()


def test_journal_state_write_failure_is_a_journal_error(journal):
    from kiosk.errors import JournalError

    journal._conn().execute("PRAGMA query_only = 1")
    with pytest.raises(JournalError, match="cannot write"):
        journal.set_acked_seq(5)


def test_journal_ping_answers(journal):
    assert journal.ping()
    journal.close()
    assert not journal.ping()


def personal_day(journal, clock):
    journal.append(
        "access.granted",
        {"reason": "GRANTED", "pass_id": "P1", "household": "7-1201", "temperature_c": 36.4},
        "main",
    )
    journal.append("registration.created", {"name": "张三", "phone": "138", "from_area": "x"})
    journal.append("gate.manual_open", {"reason": "delivery", "guard": "guard1", "open_s": 3.0})


def test_journal_retention_purges_uploaded_personal_data_after_retention_days(journal, clock):
    personal_day(journal, clock)
    clock.advance(20 * 86400)
    personal_day(journal, clock)
    journal.set_acked_seq(6)
    clock.advance(9 * 86400)  # the first day is 29 days old, the second 9
    assert purge_personal(journal, 28) == 3
    events = list(journal.iter_events())
    assert events[0].data == {"reason": "GRANTED", "purged": True}
    assert events[1].data == {"purged": True}
    assert events[2].data == {"reason": "delivery", "open_s": 3.0, "purged": True}
    assert events[3].data["household"] == "7-1201"  # younger: kept
    assert purge_personal(journal, 28) == 0  # idempotent


def test_journal_retention_keeps_what_was_not_uploaded(journal, clock):
    personal_day(journal, clock)
    journal.set_acked_seq(1)
    clock.advance(60 * 86400)
    assert purge_personal(journal, 28) == 1
    assert [e.data.get("purged", False) for e in journal.iter_events()] == [True, False, False]


def test_journal_retention_hook_deletes_registrations(journal, clock):
    conn = journal._conn()
    insert = (
        "INSERT INTO registrations (id, created_at, event_seq, household, outcome, data) "
        "VALUES (?, '2020-02-04', ?, '7-1201', 'admitted', ?)"
    )
    personal_day(journal, clock)
    conn.execute(insert, ("r1", 2, '{"name": "张三"}'))
    clock.advance(10 * 86400)
    personal_day(journal, clock)
    conn.execute(insert, ("r2", 5, '{"name": "李四"}'))
    journal.set_acked_seq(6)
    clock.advance(20 * 86400)
    purge_personal(journal, 28)
    rows = conn.execute("SELECT event_seq, data FROM registrations").fetchall()
    assert rows == [(5, '{"name": "李四"}')]


def test_journal_size_cap_deletes_only_uploaded_purged_events(journal, clock):
    for i in range(400):
        journal.append("temperature.measured", {"pad": "x" * 500, "n": i}, "main")
    cap = journal.used_bytes() // 2
    assert enforce_size(journal, cap) is False  # nothing uploaded: nothing may go
    assert journal.last_seq() == 400
    journal.set_acked_seq(400)
    clock.advance(30 * 86400)
    purge_personal(journal, 28)
    assert enforce_size(journal, cap, batch=50) is True
    assert journal.used_bytes() <= cap
    seqs = [e.seq for e in journal.iter_events()]
    assert seqs == list(range(seqs[0], 401)) and seqs[0] > 1
    journal.append("kiosk.started")
    assert journal.last_seq() == 401  # seq never reused
    assert (
        json.loads(
            sqlite3.connect(journal.path)
            .execute("SELECT data FROM events WHERE seq=401")
            .fetchone()[0]
        )
        == {}
    )


def test_journal_unwritable_raises_a_fault_on_every_lane_and_clears(tmp_path):
    from gpiozero.pins.mock import MockFactory

    from kiosk import config as config_mod
    from kiosk.clock import FakeClock
    from kiosk.sim.hardware import simulated_kiosk

    demo = config_mod.load(config_mod.DEMO_CONFIG)
    cfg = config_mod.from_dict({"gate": {"data_dir": str(tmp_path), "hardware": "sim"}})
    cfg = config_mod.dataclasses.replace(cfg, lanes=demo.lanes)
    factory = MockFactory()
    kiosk = simulated_kiosk(cfg, FakeClock(), pin_factory=factory)

    def drain():
        for unit in kiosk.units.values():
            while not unit.runner.inputs.empty():
                unit.lane.handle(unit.runner.inputs.get())

    try:
        kiosk.journal.fail_writes = "database or disk is full"
        kiosk.facade.open_gate("main", "delivery", "guard1")  # the gate goes on deciding and acting
        drain()
        assert kiosk.units["main"].relay.is_open
        kiosk.maintain()
        drain()
        for lane in kiosk.facade.state()["lanes"].values():
            assert "cannot write" in lane["faults"]["journal"]
        assert kiosk.health()["journal"]["pending"] == 3  # manual open + two alerts wait
        kiosk.journal.fail_writes = None
        kiosk.maintain()
        drain()
        assert all(not lane["faults"] for lane in kiosk.facade.state()["lanes"].values())
        types = [e.type for e in kiosk.journal.iter_events()]
        assert types == ["gate.manual_open"] + ["alert.sensor_fault"] * 4  # in order
    finally:
        kiosk.close()
        factory.reset()


def test_journal_retention_purges_a_registration_whose_event_never_reached_the_disk(journal, clock):
    conn = journal._conn()
    conn.execute(  # its event waited in memory when the process ended: no seq, no record
        "INSERT INTO registrations (id, created_at, event_seq, household, outcome, data) "
        "VALUES ('R0204ORPHAN', ?, NULL, '7-1201', 'admitted', '{\"name\": \"张三\"}')",
        (format_ts(clock.now()),),
    )
    personal_day(journal, clock)
    journal.set_acked_seq(3)
    clock.advance(20 * 86400)
    purge_personal(journal, 28)
    assert conn.execute("SELECT COUNT(*) FROM registrations").fetchone() == (1,)  # too young
    clock.advance(9 * 86400)
    purge_personal(journal, 28)
    assert conn.execute("SELECT COUNT(*) FROM registrations").fetchone() == (0,)
