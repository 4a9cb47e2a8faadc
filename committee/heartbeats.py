"""Heartbeats kept per gate, and the ``gate.silent`` alert of a gate that stopped sending them.

A gate sends a heartbeat every 60 s. :func:`record` keeps the last one (and when it arrived)
and clears an open ``gate.silent`` alert of that gate. :func:`sweep_silent`, which
``committee serve`` runs every ``[gates] sweep_s``, raises ``gate.silent`` for each gate whose
last heartbeat is older than ``silent_after_s`` (3 minutes by default), once per silence.
Gates that never sent a heartbeat are not counted as silent: they were never started.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from committee.models import Alert, Heartbeat

SILENT = "gate.silent"


def record(session: Session, gate_id: int, beat: dict[str, Any], now: datetime) -> None:
    """Keep *beat* (the heartbeat body's fields) as the gate's last heartbeat."""
    row = session.get(Heartbeat, gate_id)
    if row is None:
        row = Heartbeat(gate_id=gate_id)
        session.add(row)
    row.received_at = now
    row.ts = beat["ts"]
    row.version = beat["version"]
    row.uptime_s = int(beat["uptime_s"])
    row.last_seq = beat["last_seq"]
    row.unsent = beat["unsent"]
    row.lanes = beat["lanes"]
    for alert in session.scalars(
        select(Alert).where(
            Alert.gate_id == gate_id, Alert.kind == SILENT, Alert.cleared_at.is_(None)
        )
    ):
        alert.cleared_at = now


def sweep_silent(session: Session, now: datetime, silent_after_s: float) -> list[Alert]:
    """Raise ``gate.silent`` for every gate silent for *silent_after_s*; returns the new ones."""
    cutoff = now - timedelta(seconds=silent_after_s)
    open_alert = (
        select(Alert.id)
        .where(Alert.gate_id == Heartbeat.gate_id, Alert.kind == SILENT, Alert.cleared_at.is_(None))
        .exists()
    )
    rows = session.execute(
        select(Heartbeat.gate_id, Heartbeat.received_at)
        .where(and_(Heartbeat.received_at < cutoff, ~open_alert))
        .order_by(Heartbeat.gate_id)
    ).all()
    raised = []
    for gate_id, last_seen in rows:
        alert = Alert(
            gate_id=gate_id,
            kind=SILENT,
            raised_at=now,
            detail={
                "last_heartbeat": last_seen.isoformat(timespec="seconds"),
                "silent_s": int((now - last_seen).total_seconds()),
            },
        )
        session.add(alert)
        raised.append(alert)
    session.flush()
    return raised


def open_alerts(session: Session, kind: str | None = None) -> list[Alert]:
    stmt = select(Alert).where(Alert.cleared_at.is_(None)).order_by(Alert.raised_at)
    if kind:
        stmt = stmt.where(Alert.kind == kind)
    return list(session.scalars(stmt))
