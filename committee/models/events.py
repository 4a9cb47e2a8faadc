"""Every event a gate uploaded, stored once: unique by ``(gate, seq)`` and by event id."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from committee.models.base import Base, BigKey, Document, Moment


class Event(Base):
    """One gate event in the contract's shape (``ts`` kept as the gate wrote it, and as a
    UTC moment for queries)."""

    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("gate_id", "seq"),
        UniqueConstraint("event_id"),
        Index("ix_events_type_at", "type", "occurred_at"),
        Index("ix_events_gate_at", "gate_id", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(BigKey, primary_key=True)
    gate_id: Mapped[int] = mapped_column(ForeignKey("gates.id"))
    seq: Mapped[int] = mapped_column(BigInteger)
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    ts: Mapped[str] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(Moment)
    lane: Mapped[str | None] = mapped_column(Text, nullable=True)
    type: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(Document)
    received_at: Mapped[datetime] = mapped_column(Moment)
