"""Gates, their tokens (only a hash is kept), their last heartbeat and their alerts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from committee.models.base import Base, BigKey, Document, Moment, utcnow
from committee.models.sites import Site


class Gate(Base):
    """A gate kiosk. ``code`` is its ``gate_id``; ``acked_seq`` the highest seq stored, with
    every seq from 1 to it stored (ingest locks this row while it stores a batch)."""

    __tablename__ = "gates"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    #: SHA-256 (hex) of the bearer token; the token itself is shown once and never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_changed_at: Mapped[datetime] = mapped_column(Moment, default=utcnow)
    acked_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(Moment, default=utcnow)
    #: The roster version this gate holds, as far as the server knows: the one it last sent
    #: it (200) or that the gate showed it holds (304), and when.
    roster_version: Mapped[str | None] = mapped_column(String(80), nullable=True)
    roster_pulled_at: Mapped[datetime | None] = mapped_column(Moment, nullable=True)

    site: Mapped[Site] = relationship()


class Heartbeat(Base):
    """The last heartbeat of a gate, as it sent it, and when it arrived."""

    __tablename__ = "heartbeats"

    gate_id: Mapped[int] = mapped_column(ForeignKey("gates.id"), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(Moment)
    ts: Mapped[str] = mapped_column(Text)
    version: Mapped[str] = mapped_column(Text)
    uptime_s: Mapped[int] = mapped_column(BigInteger)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    unsent: Mapped[int] = mapped_column(BigInteger)
    lanes: Mapped[dict[str, Any]] = mapped_column(Document)


class Alert(Base):
    """An alarm of a gate: ``gate.silent`` raised here, or an ``alert.fever``,
    ``alert.sensor_fault`` or ``door.forced`` event a gate uploaded (``event_id``).

    ``cleared_at`` is when the condition ended (the next heartbeat, the sensor recovered,
    the door shut, the alarm acknowledged); the committee's banner shows it until
    ``ack_at``: someone recorded what was done (``outcome``, for a fever re-measured by hand
    with ``value_c``), on the committee's pages or at the gate (``alert.fever_ack``).
    """

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    gate_id: Mapped[int] = mapped_column(ForeignKey("gates.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    raised_at: Mapped[datetime] = mapped_column(Moment)
    cleared_at: Mapped[datetime | None] = mapped_column(Moment, nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(Document, default=dict)
    #: Kept for the committee's pages (who acknowledged, and what was done).
    count: Mapped[int] = mapped_column(Integer, default=1)
    event_id: Mapped[int | None] = mapped_column(
        BigKey, ForeignKey("events.id"), nullable=True, unique=True
    )
    lane: Mapped[str | None] = mapped_column(Text, nullable=True)
    ack_at: Mapped[datetime | None] = mapped_column(Moment, nullable=True)
    #: Who recorded it: an account's name, or ``gate:<guard>`` for the gate's own record.
    ack_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(20), nullable=True)
    value_c: Mapped[float | None] = mapped_column(Float, nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)

    gate: Mapped[Gate] = relationship()
