"""``committee events export``: a gate's stored events in the contract's event shape."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import select

from committee.db import Database
from committee.models import Event
from committee.sites import get_gate

#: Rows fetched at a time, so memory stays flat on any number of events.
CHUNK = 2000


def export_events(db: Database, gate_code: str, since_seq: int = 0) -> Iterator[dict[str, Any]]:
    """Yield the events of *gate_code* with seq above *since_seq*, in seq order."""
    with db.transaction() as session:
        gate_id = get_gate(session, gate_code).id
    last = since_seq
    while True:
        with db.transaction() as session:
            rows = session.scalars(
                select(Event)
                .where(Event.gate_id == gate_id, Event.seq > last)
                .order_by(Event.seq)
                .limit(CHUNK)
            ).all()
        for row in rows:
            yield {
                "id": str(row.event_id),
                "seq": row.seq,
                "ts": row.ts,
                "lane": row.lane,
                "type": row.type,
                "data": row.data,
            }
        if len(rows) < CHUNK:
            return
        last = rows[-1].seq
