"""Parcels and takeaway left at the pickup point (取件处) for a household: rules and store.

The pure part: :func:`validate` turns the guard's form (household, how many, shelf slot,
kind, courier company optional) into a :class:`ParcelForm` or error codes (the guard screen
words them through its catalogue, ``parcel.error.<code>``); :func:`notice` sums up one
household's waiting parcels for the guard's tile ("7-1201 有 2 件快递 · A3");
:func:`overdue` lists those uncollected after N days. Nothing personal is kept beyond the
household.

The store: the journal's events ``parcel.received`` and ``parcel.collected`` are the record
(uploaded like every event); the ``parcels`` table (journal migration 3) is the gate's index
of them, kept by a journal listener and caught up from the events at start, so a crash
between the event and the row loses nothing. Waiting parcels are also held in memory by
household, so a lane can ask at every scan without touching the disk.

A parcel is collected by the guard's tap or, at a gate with a shelf camera, by the household's
pass shown there (:mod:`kiosk.shelf`); ``parcel.collected`` says which (``how``).
"""

from __future__ import annotations

import logging
import re
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kiosk.errors import KioskError
from kiosk.registrations import _HOUSEHOLD

log = logging.getLogger(__name__)

KINDS = ("parcel", "takeaway")
#: At most this many items in one record.
MAX_COUNT = 50
#: A shelf slot: a letter or digit, then up to 7 letters, digits or dashes ("A3", "B-12").
_SLOT = re.compile(r"^[A-Z0-9][A-Z0-9-]{0,7}$")
MAX_COURIER = 20
EVENT_TYPES = ("parcel.received", "parcel.collected")


@dataclass(frozen=True)
class ParcelForm:
    """What the guard records: *count* items of *kind* for *household* on shelf *slot*."""

    household: str
    count: int
    slot: str
    kind: str = "parcel"
    courier: str = ""


def validate(form: Mapping[str, Any]) -> ParcelForm | set[str]:
    """Check the guard's form (plain strings or numbers); never raises.

    :return: a :class:`ParcelForm`, or the error codes ``household``, ``count``, ``slot``,
        ``kind``, ``courier``.
    """
    errors: set[str] = set()
    household = str(form.get("household") or "").strip()
    if not _HOUSEHOLD.match(household):
        errors.add("household")
    raw = form.get("count", 1)
    try:
        count = int(str(raw).strip()) if not isinstance(raw, bool) else 0
    except ValueError:
        count = 0
    if not 1 <= count <= MAX_COUNT:
        errors.add("count")
    slot = str(form.get("slot") or "").strip().upper()
    if not _SLOT.match(slot):
        errors.add("slot")
    kind = str(form.get("kind") or "parcel").strip()
    if kind not in KINDS:
        errors.add("kind")
    courier = " ".join(str(form.get("courier") or "").split())
    if len(courier) > MAX_COURIER:
        errors.add("courier")
    if errors:
        return errors
    return ParcelForm(household, count, slot, kind, courier)


@dataclass(frozen=True)
class Parcel:
    """One record at the pickup point. Times are aware datetimes."""

    id: str
    household: str
    count: int
    slot: str
    kind: str
    courier: str
    received_at: datetime
    received_seq: int | None = None

    @property
    def urgent(self) -> bool:
        """Takeaway goes cold: the guard sees it first, with how long it has waited."""
        return self.kind == "takeaway"

    def waited_s(self, now: datetime) -> float:
        return max(0.0, (now - self.received_at).total_seconds())

    def view(self, now: datetime) -> dict[str, Any]:
        """The parcel as the guard screen lists it."""
        return {
            "id": self.id,
            "household": self.household,
            "count": self.count,
            "slot": self.slot,
            "kind": self.kind,
            "courier": self.courier,
            "urgent": self.urgent,
            "received_at": self.received_at.isoformat(timespec="seconds"),
            "waited_s": round(self.waited_s(now)),
        }


@dataclass(frozen=True)
class Notice:
    """One household's waiting parcels, summed up for the guard's tile."""

    household: str
    count: int
    slots: tuple[str, ...]
    urgent: bool
    since: datetime
    all_takeaway: bool = False

    def text(self) -> str:
        """``7-1201 有 2 件快递 · A3`` (``外卖`` when all of it is takeaway)."""
        what = "外卖" if self.urgent and self.all_takeaway else "快递"
        return f"{self.household} 有 {self.count} 件{what} · {' '.join(self.slots)}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "household": self.household,
            "count": self.count,
            "slots": list(self.slots),
            "urgent": self.urgent,
            "since": self.since.isoformat(timespec="seconds"),
            "text": self.text(),
        }


def notice(parcels: list[Parcel]) -> Notice | None:
    """The summary of one household's waiting *parcels*, or ``None`` when there are none."""
    if not parcels:
        return None
    slots = tuple(dict.fromkeys(sorted(p.slot for p in parcels)))
    return Notice(
        household=parcels[0].household,
        count=sum(p.count for p in parcels),
        slots=slots,
        urgent=any(p.urgent for p in parcels),
        since=min(p.received_at for p in parcels),
        all_takeaway=all(p.urgent for p in parcels),
    )


def overdue(parcels: list[Parcel], now: datetime, days: float) -> list[Parcel]:
    """Parcels waiting longer than *days*, oldest first."""
    limit = days * 86400.0
    return sorted((p for p in parcels if p.waited_s(now) > limit), key=lambda p: p.received_at)


def waiting_items(parcels: list[Parcel]) -> int:
    """How many items wait at the pickup point."""
    return sum(p.count for p in parcels)


class ParcelStore:
    """The pickup point in the journal database.

    :param journal: a :class:`kiosk.journal.Journal` (schema version 3 or later).
    :param clock: the clock (for :meth:`receive` and :meth:`collect`).
    """

    def __init__(self, journal, clock) -> None:
        self.journal = journal
        self.clock = clock
        self._lock = threading.Lock()
        self._waiting: dict[str, Parcel] = {}
        self._catch_up()
        for row in journal.read(
            "SELECT id, household, count, slot, kind, courier, received_at, received_seq "
            "FROM parcels WHERE collected_at IS NULL"
        ):
            parcel = Parcel(*row[:6], datetime.fromisoformat(row[6]), row[7])
            self._waiting[parcel.id] = parcel
        journal.add_listener(self._on_event)

    # -- the events are the record; the table follows them ---------------------------------

    def _catch_up(self) -> None:
        """Apply parcel events the table has not seen (written just before a crash)."""
        known = self.journal.read("SELECT COALESCE(MAX(applied_seq), 0) FROM parcels")[0][0]
        before = None
        missed = []
        while True:
            chunk = self.journal.recent(500, before=before, types=EVENT_TYPES)
            chunk = [e for e in chunk if e.seq > known]
            if not chunk:
                break
            missed.extend(chunk)
            before = chunk[-1].seq
        for event in reversed(missed):
            self._apply(event)
        if missed:
            log.info("parcels: %d events applied at start", len(missed))

    def _on_event(self, event) -> None:
        if event.type in EVENT_TYPES:
            self._apply(event)

    def _apply(self, event) -> None:
        data = event.data
        parcel_id = data.get("parcel_id")
        if not isinstance(parcel_id, str):
            return  # purged or malformed: nothing to index
        if event.type == "parcel.received":
            try:
                parcel = Parcel(
                    parcel_id,
                    str(data["household"]),
                    int(data["count"]),
                    str(data["slot"]),
                    str(data.get("kind") or "parcel"),
                    str(data.get("courier") or ""),
                    datetime.fromisoformat(event.ts),
                    event.seq,
                )
            except (KeyError, TypeError, ValueError):
                log.warning("parcels: event %s is incomplete; not indexed", event.seq)
                return
            self.journal.write(
                "INSERT INTO parcels (id, household, count, slot, kind, courier, received_at, "
                "received_seq, applied_seq) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT(id) DO NOTHING",
                (
                    parcel.id,
                    parcel.household,
                    parcel.count,
                    parcel.slot,
                    parcel.kind,
                    parcel.courier,
                    event.ts,
                    event.seq,
                    event.seq,
                ),
            )
            with self._lock:
                self._waiting[parcel.id] = parcel
        else:
            self.journal.write(
                "UPDATE parcels SET collected_at = ?, collected_seq = ?, applied_seq = ? "
                "WHERE id = ? AND collected_at IS NULL",
                (event.ts, event.seq, event.seq, parcel_id),
            )
            with self._lock:
                self._waiting.pop(parcel_id, None)

    # -- what the guard does ---------------------------------------------------------------

    def receive(self, form: ParcelForm, *, by: str, lane: str | None = None):
        """Record *form* at the pickup point: journals ``parcel.received``; returns the
        :class:`Parcel`."""
        parcel_id = uuid.uuid4().hex[:12]
        data = {
            "parcel_id": parcel_id,
            "household": form.household,
            "count": form.count,
            "slot": form.slot,
            "kind": form.kind,
            "by": by,
        }
        if form.courier:
            data["courier"] = form.courier
        event = self.journal.append("parcel.received", data, lane=lane)
        parcel = Parcel(
            parcel_id,
            form.household,
            form.count,
            form.slot,
            form.kind,
            form.courier,
            datetime.fromisoformat(event.ts),
            event.seq,
        )
        with self._lock:  # the listener does it too, unless the disk holds the event back
            self._waiting.setdefault(parcel_id, parcel)
        return parcel

    def collect(
        self, parcel_id: str, *, by: str, how: str = "guard", pass_id: str | None = None
    ) -> Parcel:
        """Mark *parcel_id* collected: journals ``parcel.collected`` with how long it waited.

        :param by: the guard's name, or ``shelf``.
        :param how: ``guard`` (one tap on the guard screen) or ``shelf`` (the household's
            pass shown to the pickup shelf's camera, :mod:`kiosk.shelf`).
        :param pass_id: the pass shown at the shelf (recorded with the event).
        :raises KioskError: no such parcel waiting.
        """
        with self._lock:
            parcel = self._waiting.get(parcel_id)
        if parcel is None:
            raise KioskError(f"no parcel {parcel_id!r} waiting")
        data = {
            "parcel_id": parcel.id,
            "household": parcel.household,
            "count": parcel.count,
            "slot": parcel.slot,
            "kind": parcel.kind,
            "by": by,
            "how": how,
            "waited_s": round(parcel.waited_s(self.clock.now())),
        }
        if pass_id:
            data["pass_id"] = pass_id
        self.journal.append("parcel.collected", data)
        with self._lock:  # the listener has done it, unless the disk held the event back
            self._waiting.pop(parcel_id, None)
        return parcel

    def collect_household(
        self, household: str, *, by: str, how: str = "guard", pass_id: str | None = None
    ) -> list[Parcel]:
        """Mark every parcel waiting for *household* collected (one tap, or one showing of
        its pass at the shelf); returns them. A parcel the guard collected meanwhile is
        skipped."""
        done = []
        for parcel in self.waiting(household):
            try:
                done.append(self.collect(parcel.id, by=by, how=how, pass_id=pass_id))
            except KioskError:
                with self._lock:
                    if parcel.id in self._waiting:
                        raise  # not collected meanwhile: the journal refused
        return done

    # -- what the screens ask --------------------------------------------------------------

    def waiting(self, household: str | None = None) -> list[Parcel]:
        """Waiting parcels (of *household*), takeaway first, then oldest first."""
        with self._lock:
            parcels = [
                p for p in self._waiting.values() if household is None or p.household == household
            ]
        return sorted(parcels, key=lambda p: (not p.urgent, p.received_at))

    def notice(self, household: str | None) -> Notice | None:
        """The summary of *household*'s waiting parcels (``None``: none, or no household).
        Reads memory only: a lane may call it at every scan."""
        if not household:
            return None
        return notice(self.waiting(household))

    def collected(self, since: str, limit: int = 20) -> list[dict[str, Any]]:
        """Parcels collected since *since* (an ISO date or time), newest first, as the guard
        screen lists them: ``how`` they went (``guard``: marked by a guard; ``shelf``: the
        household's pass at the shelf camera) and when."""
        out = []
        for event in self.journal.recent(limit, types=("parcel.collected",), since=since):
            data = event.data
            out.append(
                {
                    "id": data.get("parcel_id"),
                    "household": data.get("household"),
                    "count": data.get("count"),
                    "slot": data.get("slot"),
                    "kind": data.get("kind"),
                    "how": "shelf" if data.get("how") == "shelf" else "guard",
                    "collected_at": event.ts,
                }
            )
        return out

    def overdue(self, days: float) -> list[Parcel]:
        """Parcels uncollected after *days*, oldest first."""
        return overdue(self.waiting(), self.clock.now(), days)

    def waiting_items(self) -> int:
        return waiting_items(self.waiting())
