"""Storing a gate's batch of events: whole or not at all, idempotent by construction.

One transaction per batch:

1. the gate's row is locked by the caller (:func:`committee.sites.authenticate` with
   ``lock=True`` in the same transaction), so two requests of one gate queue;
2. a batch that does not start at ``acked_seq + 1`` is answered 409 with the stored cursor
   (a resend after a lost reply lands here: nothing is stored twice);
3. the events are inserted with "on conflict do nothing" on the unique keys ``(gate, seq)``
   and ``event_id``; the rows actually inserted are counted (``RETURNING``), and the
   acknowledgement is computed from them, never from what was sent. An event whose id is
   already stored for this gate at the same seq is the same event: ignored. One whose id is
   stored elsewhere (another gate, another seq) makes the batch a 400 naming its seq;
4. what the events mean for the register is applied in the same transaction (a
   ``registration.created`` with 14-day home observation starts it; an alarm event raises,
   clears or acknowledges an alarm of the committee's pages, :mod:`committee.alarms`);
5. the cursor moves to the batch's last seq and the transaction commits; only then is the
   200 sent, so a reply lost after storing is answered 409 on the resend.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from committee import alarms, observation
from committee.models import Event, Gate

REGISTRATION = "registration.created"


@dataclass(frozen=True)
class Outcome:
    """The answer to a push: HTTP *status* and its JSON *body*."""

    status: int
    body: dict[str, Any]


class Rejected(Exception):
    """Raised inside the transaction so that it rolls back; :attr:`outcome` is the answer."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.body.get("error", ""))
        self.outcome = outcome


def parse_ts(text: str) -> datetime:
    """The UTC moment of an RFC 3339 time the contract accepted (fractions past 6 digits cut)."""
    value = text.upper().replace("Z", "+00:00")
    head, dot, rest = value.partition(".")
    if dot:
        digits = rest[: len(rest) - 6]
        value = f"{head}.{digits[:6].ljust(6, '0')}{rest[-6:]}"
    return datetime.fromisoformat(value).astimezone(UTC)


def store(session: Session, gate: Gate, events, now: datetime) -> Outcome:
    """Store *events* (the contract's parsed events of one batch, contiguous) for *gate*,
    whose row the caller locked in this transaction.

    :raises Rejected: the batch must not be stored; roll back and send its outcome.
    """
    first, last = events[0].seq, events[-1].seq
    if first != gate.acked_seq + 1:
        return Outcome(409, {"acked_seq": gate.acked_seq})
    for e in events:  # a text column cannot hold NUL (PostgreSQL); data is JSON text, it can
        for name in ("ts", "lane", "type"):
            if "\x00" in (getattr(e, name) or ""):
                return Outcome(400, {"error": f"{name} holds a NUL character", "bad_seq": e.seq})
    rows = [
        {
            "gate_id": gate.id,
            "seq": e.seq,
            "event_id": uuid.UUID(e.id),
            "ts": e.ts,
            "occurred_at": parse_ts(e.ts),
            "lane": e.lane,
            "type": e.type,
            "data": e.data,
            "received_at": now,
        }
        for e in events
    ]
    table = Event.__table__
    insert = (postgresql if session.bind.dialect.name == "postgresql" else sqlite).insert
    stmt = insert(table).on_conflict_do_nothing().returning(table.c.seq, table.c.id)
    stored = {seq: row_id for seq, row_id in session.connection().execute(stmt, rows)}
    if len(stored) != len(rows):
        raise Rejected(_collision(session, [e for e in events if e.seq not in stored]))
    raised = []
    for e, row in zip(events, rows, strict=True):
        if e.type == REGISTRATION:
            observation.from_registration(session, gate, e.id, e.data, now)
        elif e.type in alarms.EVENT_TYPES:
            raised.append(
                alarms.Stored(stored[e.seq], e.id, e.lane, e.type, e.data, row["occurred_at"])
            )
    if raised:
        alarms.from_events(session, gate, raised, now)
    gate.acked_seq = last
    return Outcome(200, {"acked_seq": last})


def _collision(session: Session, missing) -> Outcome:
    """Some events were not inserted: their id is stored already (elsewhere)."""
    event = missing[0]
    other = session.execute(
        select(Gate.code, Event.seq)
        .join(Gate, Event.gate_id == Gate.id)
        .where(Event.event_id == uuid.UUID(event.id))
    ).first()
    where = f"gate {other[0]} seq {other[1]}" if other else "another event"
    return Outcome(
        400, {"error": f"event id {event.id} is already stored as {where}", "bad_seq": event.seq}
    )
