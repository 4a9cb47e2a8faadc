"""Retention: personal data leaves the journal once the committee has it and it is old, and
the journal stays under its size cap.

:func:`purge_personal` strips personal fields from events that the committee acknowledged
and that are older than ``retention_days`` (an event of the health form loses all its data),
and runs the hooks (:data:`HOOKS`: the registrations and parcels tables) in the same
transaction.
:func:`enforce_size` keeps the database under its cap by deleting the oldest events that are
both uploaded and purged; an unsent event is never deleted.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
from collections.abc import Callable
from datetime import datetime, timedelta

from kiosk.errors import JournalError
from kiosk.journal import format_ts

log = logging.getLogger(__name__)

#: Event data fields that identify or describe a person; removed after retention_days.
PERSONAL_FIELDS = frozenset(
    {
        "pass_id",
        "household",
        "temperature_c",
        "forehead_c",
        "raw_object_c",
        "token_sha256",
        "guard",
        "by",
        "name",
        "phone",
        "id_number",
        "address",
        "detail",
        "user",
    }
)
#: Event types whose whole data is personal (the health information form).
PERSONAL_TYPES = ("registration.",)
#: State key of the highest seq whose event was purged.
PURGED_SEQ = "retention.purged_seq"


def purge_registrations(conn: sqlite3.Connection, cutoff: datetime, purged_seq: int) -> int:
    """Retention hook for the ``registrations`` table (journal migration 2).

    A registration goes when its ``registration.created`` event (``event_seq``) is uploaded
    and past retention. A row whose event never reached the disk (the process ended while it
    waited in memory, so ``event_seq`` stayed empty) goes once it is older than retention: the
    personal data is not kept for ever for want of a record.
    """
    return conn.execute(
        "DELETE FROM registrations WHERE event_seq <= ? OR (event_seq IS NULL AND created_at < ?)",
        (purged_seq, format_ts(cutoff)),
    ).rowcount


def purge_collected_parcels(conn: sqlite3.Connection, cutoff: datetime, purged_seq: int) -> int:
    """Retention hook for the ``parcels`` table (journal migration 3): a collected parcel
    goes once its ``parcel.collected`` event is purged; one still waiting stays, whatever its
    age, since it is still on the shelf."""
    return conn.execute(
        "DELETE FROM parcels WHERE collected_seq IS NOT NULL AND collected_seq <= ?",
        (purged_seq,),
    ).rowcount


#: ``hook(conn, cutoff, purged_seq) -> rows changed``, run inside each purge's transaction;
#: *purged_seq* is the highest seq whose event is purged.
HOOKS: list[Callable[[sqlite3.Connection, datetime, int], int]] = [
    purge_registrations,
    purge_collected_parcels,
]


def _kept(type_: str, data: dict) -> dict:
    """What of an event's *data* stays after retention."""
    if type_.startswith(PERSONAL_TYPES):
        return {"purged": True}
    kept = {k: v for k, v in data.items() if k not in PERSONAL_FIELDS}
    if len(kept) != len(data):
        kept["purged"] = True
    return kept


def purge_personal(journal, retention_days: int, *, batch: int = 1000) -> int:
    """Remove personal data from *journal*'s events older than *retention_days* that the
    committee acknowledged; returns how many events were purged (and runs the hooks).

    :raises JournalError: the database refused the change (nothing of that batch changed).
    """
    cutoff = journal.clock.now() - timedelta(days=retention_days)
    purged = 0
    with journal.writing() as conn:
        done = int(journal.get_state(PURGED_SEQ, "0") or 0)
        acked = journal.acked_seq
        while done < acked:
            rows = conn.execute(
                "SELECT seq, ts, type, data FROM events WHERE seq > ? AND seq <= ? "
                "ORDER BY seq LIMIT ?",
                (done, acked, batch),
            ).fetchall()
            updates, last, newer = [], done, False
            for seq, ts, type_, body in rows:
                if datetime.fromisoformat(ts) >= cutoff:
                    newer = True
                    break
                last = seq
                data = json.loads(body)
                kept = _kept(type_, data)
                if kept != data:
                    updates.append((json.dumps(kept, ensure_ascii=False), seq))
            if last == done:
                break
            try:
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany("UPDATE events SET data = ? WHERE seq = ?", updates)
                for hook in HOOKS:
                    hook(conn, cutoff, last)
                conn.execute(
                    "INSERT INTO state (key, value) VALUES (?, ?) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    (PURGED_SEQ, str(last)),
                )
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise JournalError(f"{journal.path}: retention failed: {exc}") from None
            purged += len(updates)
            done = last
            if newer:
                break
    if purged:
        log.info("retention: personal data removed from %d events up to seq %d", purged, done)
    return purged


def enforce_size(journal, max_bytes: int, *, batch: int = 5000) -> bool:
    """Delete *journal*'s oldest uploaded and purged events while the database uses more than
    *max_bytes*; returns True when it is (now) under the cap. Unsent events are never
    deleted: if they alone exceed the cap, this returns False (the guard is alerted)."""
    with journal.writing() as conn:
        limit = min(journal.acked_seq, int(journal.get_state(PURGED_SEQ, "0") or 0))
        while journal.used_bytes() > max_bytes:
            first = conn.execute("SELECT MIN(seq) FROM events").fetchone()[0]
            if first is None or first > limit:
                return False
            upto = min(limit, first + batch - 1)
            try:
                conn.execute("DELETE FROM events WHERE seq <= ?", (upto,))
            except sqlite3.Error as exc:
                raise JournalError(f"{journal.path}: cannot trim: {exc}") from None
            log.warning("journal over its size cap: deleted uploaded events up to %d", upto)
    return True
