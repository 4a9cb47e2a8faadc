import sqlite3

import pytest

from kiosk.errors import JournalError
from kiosk.journal import Journal, sql_statements


@pytest.fixture
def journal(tmp_path, clock):
    j = Journal(tmp_path / "journal.db", clock)
    yield j
    j.close()


def test_journal_append_assigns_contiguous_seq_from_one(journal):
    seqs = [journal.append("pass.scanned", {"n": i}, lane="main").seq for i in range(5)]
    assert seqs == [1, 2, 3, 4, 5]
    assert journal.last_seq() == 5


def test_journal_event_has_api_shape(journal, clock):
    clock.advance(1.5)
    event = journal.append("access.granted", {"reason": "GRANTED", "temperature_c": 36.4}, "main")
    api = event.to_api()
    assert api["seq"] == 1
    assert api["ts"] == "2020-02-04T07:30:01.500+08:00"
    assert api["lane"] == "main"
    assert api["data"] == {"reason": "GRANTED", "temperature_c": 36.4}
    assert len(api["id"]) == 36


def test_journal_events_after_reads_in_order_with_limit(journal):
    for i in range(10):
        journal.append("t", {"i": i})
    got = journal.events_after(3, limit=4)
    assert [e.seq for e in got] == [4, 5, 6, 7]
    assert [e.data["i"] for e in got] == [3, 4, 5, 6]


def test_journal_survives_reopen_and_keeps_seq(tmp_path, clock):
    j = Journal(tmp_path / "j.db", clock)
    j.append("a")
    j.append("b")
    j.close()
    j2 = Journal(tmp_path / "j.db", clock)
    assert j2.append("c").seq == 3
    assert j2.integrity_check() == "ok"
    j2.close()


def test_journal_uses_wal_and_full_sync(journal):
    conn = journal._conn()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2


def test_journal_rejects_data_that_is_not_json(journal):
    with pytest.raises(JournalError):
        journal.append("t", {"x": float("nan")})
    assert journal.append("t").seq == 1


def test_journal_refuses_newer_schema(tmp_path, clock):
    path = tmp_path / "j.db"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(JournalError, match="newer"):
        Journal(path, clock)


def test_journal_cursor_and_roster_round_trip(journal):
    assert journal.acked_seq == 0
    journal.set_acked_seq(7)
    assert journal.acked_seq == 7
    assert journal.load_roster() == (None, None)
    journal.save_roster({"version": "v1", "passes": []})
    journal.save_roster({"version": "v2", "passes": [{"id": "P1"}]})
    body, received = journal.load_roster()
    assert body["version"] == "v2"
    assert received.startswith("2020-02-04T07:30")


def test_journal_listener_sees_committed_events_and_failures_do_not_break_it(journal):
    seen = []
    journal.add_listener(lambda e: seen.append(e.seq))
    journal.add_listener(lambda e: 1 / 0)
    journal.append("t")
    assert seen == [1]


def test_journal_migration_statements_keep_a_trigger_whole(tmp_path):
    script = """
    CREATE TABLE seen (seq INTEGER);
    CREATE TRIGGER remember AFTER INSERT ON events BEGIN
        INSERT INTO seen (seq) VALUES (new.seq);
        UPDATE state SET value = new.seq WHERE key = 'last; seen';
    END;
    ;
    CREATE INDEX seen_seq ON seen(seq);
    """
    statements = list(sql_statements(script))
    assert len(statements) == 3
    assert statements[1].startswith("CREATE TRIGGER") and statements[1].endswith("END;")

    db = sqlite3.connect(tmp_path / "t.db")
    db.executescript("CREATE TABLE events (seq INTEGER); CREATE TABLE state (key, value);")
    for statement in statements:
        db.execute(statement)
    db.execute("INSERT INTO events VALUES (7)")
    assert db.execute("SELECT seq FROM seen").fetchall() == [(7,)]
    db.close()
    with pytest.raises(JournalError, match="not complete"):
        list(sql_statements("CREATE TABLE broken (a INTEGER"))
