"""The journal: an SQLite store of everything that happened at the gate.

- Events are append-only, with a per-gate strictly increasing ``seq`` (no gaps, never reused),
  a UUID, wall-clock time with offset, and monotonic time, shaped as in committee-api.md.
- The roster received from the committee is kept here and replaced atomically.
- The upload cursor (the highest ``seq`` the committee server acknowledged) is kept here.

Durability: WAL mode with ``synchronous=FULL``, so an event that :meth:`Journal.append`
returned with a ``seq`` is on disk (the WAL is fsynced at every commit) and survives a power
cut; a crash at any instant leaves a valid database (SQLite rolls back a half-written
transaction when it next opens the file). ``NORMAL`` would be faster but may lose the last
commits on power loss, which the committee contract forbids. Each thread gets its own
connection; writes are serialised by one lock, readers never block the writer.

When the disk cannot be written (full, read-only, I/O errors), :meth:`Journal.append` does
not fail: the event waits in a bounded memory queue (``buffer_events``), in order, and is
written (with its ``seq``) at the next append or :meth:`Journal.flush` that succeeds.
:attr:`Journal.problem` says what is wrong, for the guard's alert. Events still queued when
the process dies are lost; they were never reported as written. When the queue overflows,
the oldest waiting events are dropped and counted, and ``alert.journal_overflow`` records
how many once the disk takes writes again.

Retention (personal data purged once uploaded, the size cap) is :mod:`kiosk.retention`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from kiosk.errors import JournalError

log = logging.getLogger(__name__)


#: Errors that mean "the disk cannot take writes now" (full, read-only, I/O, locked).
_UNWRITABLE = (sqlite3.OperationalError, sqlite3.DatabaseError)
_NOT_UNWRITABLE = (sqlite3.IntegrityError, sqlite3.ProgrammingError, sqlite3.InterfaceError)


@dataclass(frozen=True)
class Event:
    """One journal row, in the committee API's shape (see :meth:`to_api`).

    ``seq`` is None for an event :meth:`Journal.append` had to hold in memory (disk full).
    """

    seq: int | None
    id: str
    ts: str
    mono: float
    lane: str | None
    type: str
    data: dict[str, Any]

    def to_api(self) -> dict[str, Any]:
        """The event as committee-api.md puts it in ``events``."""
        return {
            "id": self.id,
            "seq": self.seq,
            "ts": self.ts,
            "lane": self.lane,
            "type": self.type,
            "data": self.data,
        }


_MIGRATIONS: list[str] = [
    # 1: events, key/value state, roster
    """
    CREATE TABLE events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        ts TEXT NOT NULL,
        mono REAL NOT NULL,
        lane TEXT,
        type TEXT NOT NULL,
        data TEXT NOT NULL
    );
    CREATE INDEX events_type ON events(type, seq);
    CREATE TABLE state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE roster (
        one INTEGER PRIMARY KEY CHECK (one = 1),
        version TEXT NOT NULL,
        received_at TEXT NOT NULL,
        body TEXT NOT NULL
    );
    CREATE TABLE users (
        name TEXT PRIMARY KEY,
        role TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    """,
    # 2: health information registrations (personal data: purged after retention_days once
    # their registration.created event is uploaded, i.e. event_seq <= the upload cursor),
    # and home observation flagged at the gate (merged into the committee's roster list)
    """
    CREATE TABLE registrations (
        id TEXT PRIMARY KEY,
        created_at TEXT NOT NULL,
        event_seq INTEGER,
        household TEXT,
        outcome TEXT NOT NULL,
        data TEXT NOT NULL
    );
    CREATE INDEX registrations_created ON registrations(created_at);
    CREATE TABLE local_observation (
        household TEXT PRIMARY KEY,
        until TEXT NOT NULL,
        flagged_by TEXT NOT NULL,
        flagged_at TEXT NOT NULL
    );
    """,
    # 3: parcels at the pickup point, the gate's index of its parcel.received and
    # parcel.collected events (applied_seq: the last event applied to the row)
    """
    CREATE TABLE parcels (
        id TEXT PRIMARY KEY,
        household TEXT NOT NULL,
        count INTEGER NOT NULL,
        slot TEXT NOT NULL,
        kind TEXT NOT NULL,
        courier TEXT NOT NULL DEFAULT '',
        received_at TEXT NOT NULL,
        received_seq INTEGER,
        collected_at TEXT,
        collected_seq INTEGER,
        applied_seq INTEGER NOT NULL
    );
    CREATE INDEX parcels_waiting ON parcels(household) WHERE collected_at IS NULL;
    """,
]


def format_ts(dt: datetime) -> str:
    """RFC 3339 with milliseconds and offset, e.g. ``2020-02-04T08:15:02.123+08:00``."""
    if dt.tzinfo is None:
        raise ValueError("journal times must be timezone-aware")
    return dt.isoformat(timespec="milliseconds")


class Journal:
    """The gate's SQLite journal.

    :param path: database file; its folder is created when missing.
    :param clock: a clock (``now()`` aware datetime, ``monotonic()`` seconds).
    :param buffer_events: how many events wait in memory while the disk cannot be written.
    :param when_unwritable: ``"decide"`` or ``"deny"``: see :attr:`refuse_grants`.
    """

    def __init__(
        self,
        path: str | Path,
        clock,
        *,
        buffer_events: int = 20000,
        when_unwritable: str = "decide",
    ) -> None:
        self.path = Path(path)
        self.clock = clock
        self.buffer_events = buffer_events
        self.when_unwritable = when_unwritable
        self._pending: deque[tuple] = deque()
        self.problem: str | None = None  # why the last write failed, until one succeeds
        self.lost = 0  # events dropped from a full memory queue, not yet reported
        #: Fault hook for tests and the simulation: when set, every write fails with
        #: ``sqlite3.OperationalError(fail_writes)`` as if the disk said so.
        self.fail_writes: str | None = None
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._listeners: list[Callable[[Event], None]] = []
        self._connections: list[sqlite3.Connection] = []
        self._conn_lock = threading.Lock()
        self._closed = False
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._migrate()
        except (OSError, sqlite3.Error) as exc:
            raise JournalError(f"{self.path}: cannot open the journal: {exc}") from None

    # -- connections -----------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            if self._closed:
                raise JournalError(f"{self.path}: journal is closed")
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
            with self._conn_lock:
                self._connections.append(conn)
        return conn

    def close(self) -> None:
        """Close every connection (safe to call twice)."""
        self._closed = True
        with self._conn_lock:
            for conn in self._connections:
                with contextlib.suppress(sqlite3.Error):
                    conn.close()
            self._connections.clear()
        self._local = threading.local()

    def _migrate(self) -> None:
        conn = self._conn()
        with self._write_lock:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > len(_MIGRATIONS):
                raise JournalError(
                    f"{self.path}: schema version {version} is newer than this kiosk knows "
                    f"({len(_MIGRATIONS)}); upgrade kiosk"
                )
            for number in range(version, len(_MIGRATIONS)):
                conn.execute("BEGIN IMMEDIATE")
                try:
                    for statement in sql_statements(_MIGRATIONS[number]):
                        conn.execute(statement)
                    conn.execute(f"PRAGMA user_version = {number + 1}")
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise

    # -- events ----------------------------------------------------------------------------

    def add_listener(self, listener: Callable[[Event], None]) -> None:
        """Call *listener* with every event after it is committed. It must not block."""
        self._listeners.append(listener)

    def append(self, type: str, data: dict[str, Any] | None = None, lane: str | None = None):
        """Write one event durably and return it (with its ``seq``).

        When the disk cannot be written the event is held in memory and written later; the
        returned event then has ``seq`` None (listeners hear of it once it is written).

        :raises JournalError: *data* is not JSON, or the journal is closed.
        """
        data = dict(data or {})
        try:
            body = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise JournalError(f"event {type}: data is not JSON: {exc}") from None
        if self._closed:
            raise JournalError(f"{self.path}: journal is closed")
        item = (str(uuid.uuid4()), format_ts(self.clock.now()), self.clock.monotonic(), lane, type)
        with self._write_lock:
            if len(self._pending) >= self.buffer_events:
                self._pending.popleft()
                self.lost += 1
            self._pending.append((*item, body, data))
            written = self._flush_locked()
        self._tell(written)
        for event in written:
            if event.id == item[0]:
                return event
        return Event(None, item[0], item[1], item[2], lane, type, data)

    def flush(self) -> int:
        """Write the events held in memory, if the disk takes them now; returns how many."""
        with self._write_lock:
            if not self._pending and not self.lost:
                return 0
            written = self._flush_locked()
        self._tell(written)
        return len(written)

    def _tell(self, events: list[Event]) -> None:
        for event in events:
            for listener in self._listeners:
                try:
                    listener(event)
                except Exception:  # a listener never breaks the journal
                    log.exception("journal listener failed")

    def _flush_locked(self) -> list[Event]:
        if self._closed:
            return []
        try:
            conn = self._conn()
            if self.fail_writes:
                raise sqlite3.OperationalError(self.fail_writes)
            own = not conn.in_transaction  # a caller's open transaction commits for us
            if own:
                conn.execute("BEGIN IMMEDIATE")
            try:
                rows = list(self._pending)
                if self.lost:
                    note = {"lost": self.lost}
                    rows.append(
                        (
                            str(uuid.uuid4()),
                            format_ts(self.clock.now()),
                            self.clock.monotonic(),
                            None,
                            "alert.journal_overflow",
                            json.dumps(note),
                            note,
                        )
                    )
                written = []
                for event_id, ts, mono, lane, type_, body, data in rows:
                    cur = conn.execute(
                        "INSERT INTO events (id, ts, mono, lane, type, data) VALUES (?,?,?,?,?,?)",
                        (event_id, ts, mono, lane, type_, body),
                    )
                    written.append(Event(cur.lastrowid, event_id, ts, mono, lane, type_, data))
                if own:
                    conn.execute("COMMIT")
            except BaseException:
                if own and conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                raise
        except _NOT_UNWRITABLE:
            raise
        except (*_UNWRITABLE, JournalError) as exc:
            if self.problem != str(exc):
                log.error("journal cannot be written (%s); %d events wait", exc, len(self._pending))
            self.problem = str(exc)
            return []
        if self.problem is not None:
            log.warning("journal writable again; %d waiting events written", len(written))
        self.problem = None
        self.lost = 0
        self._pending.clear()
        return written

    @property
    def pending(self) -> int:
        """Events waiting in memory for the disk."""
        return len(self._pending)

    @property
    def degraded(self) -> bool:
        """True while the disk does not take writes or events wait in memory."""
        return self.problem is not None or bool(self._pending)

    @property
    def refuse_grants(self) -> bool:
        """True when the gate must refuse grants: nothing can be recorded and the
        configuration says ``when_unwritable = "deny"``."""
        return self.when_unwritable == "deny" and self.degraded

    def status(self) -> dict[str, Any]:
        """Health of the journal for the guard screen and the self-test."""
        return {
            "ok": not self.degraded,
            "problem": self.problem,
            "pending": len(self._pending),
            "lost": self.lost,
            "size_bytes": self.size_bytes(),
        }

    def ping(self) -> bool:
        """True when the database answers a read (for the watchdog)."""
        try:
            self._conn().execute("SELECT 1 FROM events LIMIT 1").fetchall()
        except (sqlite3.Error, JournalError):
            return False
        return True

    # -- size and retention ----------------------------------------------------------------

    def size_bytes(self) -> int:
        """Bytes of the database, its WAL and shared-memory files on disk."""
        total = 0
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(OSError):
                total += self.path.with_name(self.path.name + suffix).stat().st_size
        return total

    def used_bytes(self) -> int:
        """Bytes of the database in use (free pages, which new events reuse, not counted)."""
        conn = self._conn()
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
        size = conn.execute("PRAGMA page_size").fetchone()[0]
        return (pages - free) * size

    @contextlib.contextmanager
    def writing(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection with the write lock held (for retention, which writes in
        its own transactions)."""
        with self._write_lock:
            yield self._conn()

    def events_after(self, seq: int, limit: int = 500) -> list[Event]:
        """Events with ``seq > seq`` in order, at most *limit*."""
        rows = self._conn().execute(
            "SELECT seq, id, ts, mono, lane, type, data FROM events WHERE seq > ? "
            "ORDER BY seq LIMIT ?",
            (seq, limit),
        )
        return [_row_event(r) for r in rows]

    def recent(
        self,
        limit: int = 50,
        *,
        before: int | None = None,
        types: tuple[str, ...] = (),
        lane: str | None = None,
        household: str | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> list[Event]:
        """The latest events, newest first, optionally filtered.

        :param household: only events whose ``data.household`` is this.
        :param since: only events with ``ts >= since`` (e.g. ``"2020-02-04"``).
        :param until: only events with ``ts < until`` (e.g. the next day, ``"2020-02-05"``).
        """
        filters = (
            ("seq < ?", before),
            (f"type IN ({','.join('?' * len(types))})", list(types) or None),
            ("lane = ?", lane or None),
            ("json_extract(data, '$.household') = ?", household or None),
            ("ts >= ?", since or None),
            ("ts < ?", until or None),
        )
        sql = "SELECT seq, id, ts, mono, lane, type, data FROM events WHERE 1=1"
        args: list[Any] = []
        for condition, value in filters:
            if value is not None:
                sql += f" AND {condition}"
                args.extend(value if isinstance(value, list) else [value])
        sql += " ORDER BY seq DESC LIMIT ?"
        args.append(limit)
        return [_row_event(r) for r in self._conn().execute(sql, args)]

    def iter_events(self, after: int = 0, batch: int = 1000) -> Iterator[Event]:
        """Every event after *after*, in order, read in batches."""
        while True:
            chunk = self.events_after(after, batch)
            if not chunk:
                return
            yield from chunk
            after = chunk[-1].seq

    def last_seq(self) -> int:
        row = self._conn().execute("SELECT MAX(seq) FROM events").fetchone()
        return row[0] or 0

    def count_by_lane(self, types: tuple[str, ...], *, since: str) -> list[tuple[str, str, int]]:
        """How many events of each of *types* each lane has since *since* (a ``ts`` prefix such
        as a date): ``(type, lane, count)`` rows, lane ``None`` for gate-wide events."""
        rows = self._conn().execute(
            f"SELECT type, lane, COUNT(*) FROM events WHERE ts >= ? "
            f"AND type IN ({','.join('?' * len(types))}) GROUP BY type, lane",
            (since, *types),
        )
        return rows.fetchall()

    # -- key/value state -------------------------------------------------------------------

    def get_state(self, key: str, default: str | None = None) -> str | None:
        row = self._conn().execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_state(self, key: str, value: str) -> None:
        with self._write_lock, _writing(self.path):
            self._conn().execute(
                "INSERT INTO state (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    @property
    def acked_seq(self) -> int:
        """Highest seq the committee server acknowledged (the upload cursor)."""
        return int(self.get_state("uplink.acked_seq", "0"))

    def set_acked_seq(self, seq: int) -> None:
        self.set_state("uplink.acked_seq", str(int(seq)))

    # -- roster ----------------------------------------------------------------------------

    def save_roster(self, body: dict[str, Any]) -> None:
        """Replace the roster atomically with *body* (the committee roster shape)."""
        version = str(body.get("version", ""))
        self.save_roster_json(version, json.dumps(body, ensure_ascii=False, separators=(",", ":")))

    def save_roster_json(self, version: str, text: str) -> None:
        """Replace the roster atomically with *text*, a roster body as JSON already checked
        (:func:`kiosk.contract.parse_roster`), of version *version*."""
        with self._write_lock, _writing(self.path):
            self._conn().execute(
                "INSERT INTO roster (one, version, received_at, body) VALUES (1, ?, ?, ?) "
                "ON CONFLICT(one) DO UPDATE SET version = excluded.version, "
                "received_at = excluded.received_at, body = excluded.body",
                (version, format_ts(self.clock.now()), text),
            )

    def roster_stamp(self) -> tuple[str, str] | None:
        """``(version, received_at)`` of the stored roster, or None; cheap to poll."""
        row = self._conn().execute("SELECT version, received_at FROM roster").fetchone()
        return (row[0], row[1]) if row else None

    def load_roster_json(self) -> tuple[str | None, str | None]:
        """The stored roster body as JSON text and when it was received, or ``(None, None)``."""
        row = self._conn().execute("SELECT body, received_at FROM roster").fetchone()
        return (row[0], row[1]) if row else (None, None)

    def load_roster(self) -> tuple[dict[str, Any] | None, str | None]:
        """The stored roster body and when it was received, or ``(None, None)``."""
        row = self._conn().execute("SELECT body, received_at FROM roster").fetchone()
        if row is None:
            return None, None
        return json.loads(row[0]), row[1]

    # -- users (the guard screen's accounts) -----------------------------------------------

    def get_user(self, name: str) -> tuple[str, str] | None:
        """``(role, password_hash)`` of *name*, or None."""
        row = (
            self._conn()
            .execute("SELECT role, password_hash FROM users WHERE name = ?", (name,))
            .fetchone()
        )
        return (row[0], row[1]) if row else None

    def put_user(self, name: str, role: str, password_hash: str) -> None:
        with self._write_lock, _writing(self.path):
            self._conn().execute(
                "INSERT INTO users (name, role, password_hash, created_at) VALUES (?,?,?,?) "
                "ON CONFLICT(name) DO UPDATE SET role = excluded.role, "
                "password_hash = excluded.password_hash",
                (name, role, password_hash, format_ts(self.clock.now())),
            )

    def remove_user(self, name: str) -> bool:
        with self._write_lock:
            cur = self._conn().execute("DELETE FROM users WHERE name = ?", (name,))
            return cur.rowcount > 0

    def list_users(self) -> list[tuple[str, str]]:
        return list(self._conn().execute("SELECT name, role FROM users ORDER BY name"))

    # -- tables kept by other stores (kiosk.registrations) ---------------------------------

    def read(self, sql: str, args: tuple | list = ()) -> list[tuple]:
        """Rows of one read-only query on this thread's connection."""
        try:
            return self._conn().execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise JournalError(f"{self.path}: cannot read: {exc}") from None

    def write(self, sql: str, args: tuple | list = ()) -> int:
        """Run one writing statement under the write lock; returns the rows changed."""
        with self._write_lock:
            try:
                return self._conn().execute(sql, args).rowcount
            except sqlite3.Error as exc:
                raise JournalError(f"{self.path}: cannot write: {exc}") from None

    def integrity_check(self) -> str:
        return self._conn().execute("PRAGMA integrity_check").fetchone()[0]


@contextlib.contextmanager
def _writing(path: Path):
    """Turn a failed write of state, roster or accounts into a :class:`JournalError`."""
    try:
        yield
    except _NOT_UNWRITABLE:
        raise
    except _UNWRITABLE as exc:
        raise JournalError(f"{path}: cannot write: {exc}") from None


def sql_statements(script: str) -> Iterator[str]:
    """The statements of an SQL *script*, each whole: a statement ends where SQLite says it is
    complete (:func:`sqlite3.complete_statement`), so a trigger's body keeps its semicolons.

    :raises JournalError: the script ends inside a statement.
    """
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            if statement.strip(" \n;"):
                yield statement.strip()
            statement = ""
    if statement.strip():
        raise JournalError(f"an SQL statement is not complete: {statement.strip()[:60]!r}")


def _row_event(row) -> Event:
    seq, event_id, ts, mono, lane, type_, data = row
    return Event(seq, event_id, ts, mono, lane, type_, json.loads(data))
