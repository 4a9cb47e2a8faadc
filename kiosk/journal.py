"""The journal: an SQLite store of everything that happened at the gate.

- Events are append-only, with a per-gate strictly increasing ``seq`` (no gaps, never reused),
  a UUID, wall-clock time with offset, and monotonic time, shaped as in committee-api.md.
- The roster received from the committee is kept here and replaced atomically.
- The upload cursor (the highest ``seq`` the committee server acknowledged) is kept here.

Durability: WAL mode with ``synchronous=FULL``, so an event that :meth:`Journal.append`
returned is on disk (the WAL is fsynced at every commit) and survives a power cut; a crash at
any instant leaves a valid database. Each thread gets its own connection; writes are
serialised by one lock, readers never block the writer.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from kiosk.errors import JournalError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    """One journal row, in the committee API's shape (see :meth:`to_api`)."""

    seq: int
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
    """

    def __init__(self, path: str | Path, clock) -> None:
        self.path = Path(path)
        self.clock = clock
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
                    for statement in _MIGRATIONS[number].split(";"):
                        if statement.strip():
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

        :raises JournalError: the database cannot be written (disk full, read-only, ...).
        """
        data = dict(data or {})
        try:
            body = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise JournalError(f"event {type}: data is not JSON: {exc}") from None
        event_id = str(uuid.uuid4())
        ts = format_ts(self.clock.now())
        mono = self.clock.monotonic()
        with self._write_lock:
            try:
                cur = self._conn().execute(
                    "INSERT INTO events (id, ts, mono, lane, type, data) VALUES (?,?,?,?,?,?)",
                    (event_id, ts, mono, lane, type, body),
                )
            except sqlite3.Error as exc:
                raise JournalError(f"{self.path}: cannot write event {type}: {exc}") from None
            event = Event(cur.lastrowid, event_id, ts, mono, lane, type, data)
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:  # a listener never breaks the journal
                log.exception("journal listener failed")
        return event

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
        sql = "SELECT seq, id, ts, mono, lane, type, data FROM events WHERE 1=1"
        args: list[Any] = []
        if before is not None:
            sql += " AND seq < ?"
            args.append(before)
        if types:
            sql += f" AND type IN ({','.join('?' * len(types))})"
            args.extend(types)
        if lane:
            sql += " AND lane = ?"
            args.append(lane)
        if household:
            sql += " AND json_extract(data, '$.household') = ?"
            args.append(household)
        if since:
            sql += " AND ts >= ?"
            args.append(since)
        if until:
            sql += " AND ts < ?"
            args.append(until)
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

    def count_since(self, ts_prefix: str) -> dict[str, int]:
        """Counts of event types whose ``ts`` starts at or after *ts_prefix* (e.g. a date)."""
        rows = self._conn().execute(
            "SELECT type, COUNT(*) FROM events WHERE ts >= ? GROUP BY type", (ts_prefix,)
        )
        return dict(rows.fetchall())

    # -- key/value state -------------------------------------------------------------------

    def get_state(self, key: str, default: str | None = None) -> str | None:
        row = self._conn().execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_state(self, key: str, value: str) -> None:
        with self._write_lock:
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
        text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        with self._write_lock:
            self._conn().execute(
                "INSERT INTO roster (one, version, received_at, body) VALUES (1, ?, ?, ?) "
                "ON CONFLICT(one) DO UPDATE SET version = excluded.version, "
                "received_at = excluded.received_at, body = excluded.body",
                (version, format_ts(self.clock.now()), text),
            )

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
        with self._write_lock:
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


def _row_event(row) -> Event:
    seq, event_id, ts, mono, lane, type_, data = row
    return Event(seq, event_id, ts, mono, lane, type_, json.loads(data))
