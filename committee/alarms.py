"""Alarms the committee's pages show until someone records what was done.

Four kinds: ``alert.fever``, ``alert.sensor_fault`` (``state`` "fault") and ``door.forced``
come from the gates' events (one alarm per event, made in the transaction that stores it),
and ``gate.silent`` is raised here by the sweep (:mod:`committee.heartbeats`). The condition
can end by itself (``cleared_at``: the sensor recovered, the door shut, the heartbeat came
back); the alarm stays on the banner until it is acknowledged with an outcome:

- a fever: the gate's own outcomes (:data:`kiosk.fevers.FEVER_OUTCOMES`): re-measured by hand
  and normal, with the value (below the threshold), sent to the fever clinic, or reported;
  the gate guard's ``alert.fever_ack`` records it too;
- the others: someone went to look, maintenance was called, or it was a false alarm.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from committee import audit
from committee.errors import NotFound, Refused
from committee.heartbeats import SILENT
from committee.models import Alert, Event, Gate
from kiosk.fevers import FEVER_OUTCOMES

FEVER = "alert.fever"
SENSOR = "alert.sensor_fault"
DOOR = "door.forced"
KINDS = (FEVER, SENSOR, DOOR, SILENT)
#: What can be recorded for an alarm that is not a fever.
OTHER_OUTCOMES = ("checked", "maintenance", "false_alarm")
#: Event types ingest hands to :func:`from_events`.
EVENT_TYPES = frozenset({FEVER, SENSOR, DOOR, "door.closed", "alert.fever_ack"})
#: The body temperature range (°C) a value measured by hand must lie in.
BODY_RANGE_C = (34.0, 43.0)


def outcomes(kind: str) -> tuple[str, ...]:
    return FEVER_OUTCOMES if kind == FEVER else OTHER_OUTCOMES


@dataclass(frozen=True)
class Stored:
    """An event just inserted, as ingest knows it: its row id, event id, lane, type, data."""

    row_id: int
    event_id: str
    lane: str | None
    type: str
    data: dict[str, Any]
    at: datetime


def from_events(session: Session, gate: Gate, events: list[Stored], now: datetime) -> int:
    """Raise, clear and acknowledge alarms for the events of one batch; returns how many
    alarms changed."""
    changed = 0
    for e in events:
        data = e.data if isinstance(e.data, dict) else {}
        if e.type in (FEVER, DOOR) or (e.type == SENSOR and data.get("state") == "fault"):
            session.add(
                Alert(
                    gate_id=gate.id,
                    kind=e.type,
                    raised_at=e.at,
                    detail=data,
                    count=1,
                    event_id=e.row_id,
                    lane=e.lane,
                )
            )
            changed += 1
        elif e.type == SENSOR:
            changed += _clear(session, gate, SENSOR, e, now, source=data.get("source"))
        elif e.type == "door.closed" and data.get("alarm") == DOOR:
            changed += _clear(session, gate, DOOR, e, now)
        elif e.type == "alert.fever_ack":
            changed += _gate_ack(session, gate, e, data)
    if changed:
        session.flush()
    return changed


def _clear(session, gate, kind, e: Stored, now, *, source=None) -> int:
    count = 0
    for alarm in session.scalars(
        select(Alert).where(
            Alert.gate_id == gate.id,
            Alert.kind == kind,
            Alert.lane == e.lane if e.lane is not None else Alert.lane.is_(None),
            Alert.cleared_at.is_(None),
        )
    ):
        if source is not None and alarm.detail.get("source") != source:
            continue
        alarm.cleared_at = e.at
        count += 1
    return count


def _gate_ack(session, gate, e: Stored, data) -> int:
    fever_id = data.get("fever_id")
    if not isinstance(fever_id, str):
        return 0
    alarm = session.scalar(
        select(Alert)
        .join(Event, Alert.event_id == Event.id)
        .where(Event.gate_id == gate.id, Event.type == FEVER)
        .where(Event.event_id == _uuid(fever_id))
    )
    if alarm is None or alarm.ack_at is not None:
        return 0
    value = data.get("temperature_c")
    outcome = data.get("outcome")
    alarm.ack_at = e.at
    alarm.ack_by = f"gate:{str(data.get('by') or '')[:70]}"
    alarm.outcome = outcome if outcome in FEVER_OUTCOMES else None
    alarm.value_c = float(value) if isinstance(value, int | float) else None
    note = data.get("note")
    alarm.note = note[:500] if isinstance(note, str) else None
    alarm.cleared_at = alarm.cleared_at or e.at
    return 1


def _uuid(text: str):
    import uuid

    try:
        return uuid.UUID(text)
    except ValueError:
        return uuid.UUID(int=0)


def open_alarms(session: Session, site_ids=None) -> list[Alert]:
    """Alarms nobody has acknowledged, oldest first, of the sites *site_ids* (None: all)."""
    stmt = (
        select(Alert)
        .join(Gate, Alert.gate_id == Gate.id)
        .where(Alert.ack_at.is_(None), Alert.kind.in_(KINDS))
        .order_by(Alert.raised_at, Alert.id)
    )
    if site_ids is not None:
        stmt = stmt.where(Gate.site_id.in_(sorted(site_ids)))
    return list(session.scalars(stmt))


def acknowledge(
    session: Session,
    alarm_id: int,
    outcome: str,
    *,
    by: str,
    now: datetime,
    value_c: float | None = None,
    note: str = "",
    threshold_c: float = 37.3,
    site_ids=None,
) -> Alert:
    """Record what was done about alarm *alarm_id*.

    :raises NotFound: no such alarm (or not of the sites *site_ids*).
    :raises Refused: acknowledged already; an outcome this kind does not have; a fever
        re-measured without a value in the body range, or at or above *threshold_c* (then
        it is still a fever: the clinic, or report it).
    """
    alarm = session.get(Alert, alarm_id, with_for_update=True)
    if alarm is None or (site_ids is not None and alarm.gate.site_id not in site_ids):
        raise NotFound(f"no alarm {alarm_id}")
    if alarm.ack_at is not None:
        raise Refused(f"alarm {alarm_id} was acknowledged already by {alarm.ack_by}")
    if outcome not in outcomes(alarm.kind):
        raise Refused(f"outcome must be one of {', '.join(outcomes(alarm.kind))}")
    if alarm.kind == FEVER and outcome == "remeasured":
        low, high = BODY_RANGE_C
        if value_c is None or not low <= value_c <= high:
            raise Refused(f"a temperature measured by hand from {low} to {high} °C is needed")
        if value_c >= threshold_c:
            raise Refused("still a fever: send to the fever clinic, or report it")
    else:
        value_c = None
    alarm.ack_at, alarm.ack_by, alarm.outcome = now, by, outcome
    alarm.value_c = round(value_c, 1) if value_c is not None else None
    alarm.note = note.strip()[:500] or None
    alarm.cleared_at = alarm.cleared_at or now
    audit.record(
        session,
        by,
        "alarm.ack",
        now,
        site_id=alarm.gate.site_id,
        target=f"{alarm.kind} #{alarm.id} ({alarm.gate.code})",
        detail={"outcome": outcome, "value_c": alarm.value_c, "note": alarm.note},
    )
    return alarm


SENSOR_SOURCES = ("thermometer", "camera", "shelf_camera")
"""The parts whose ``alert.sensor_fault`` the pages name (the gate's ``data.source``); a
fault of another part is named as a sensor fault."""


def what(kind: str, source: object = None) -> str:
    """The catalogue key that names an alarm: ``alarm.<kind>``, and for a sensor fault of a
    known part ``alarm.alert.sensor_fault.<source>`` (a thermometer, a lane's camera and the
    pickup shelf's camera are different jobs for whoever goes to look)."""
    if kind == SENSOR and source in SENSOR_SOURCES:
        return f"alarm.{kind}.{source}"
    return f"alarm.{kind}"


def view(alarm: Alert) -> dict[str, Any]:
    """What the pages show of an alarm (no more personal data than the household)."""
    detail = alarm.detail or {}
    return {
        "id": alarm.id,
        "kind": alarm.kind,
        "what": what(alarm.kind, detail.get("source")),
        "gate": alarm.gate.code,
        "site": alarm.gate.site.code,
        "site_name": alarm.gate.site.name,
        "lane": alarm.lane,
        "raised_at": alarm.raised_at.isoformat(timespec="seconds"),
        "cleared_at": alarm.cleared_at.isoformat(timespec="seconds") if alarm.cleared_at else None,
        "temperature_c": detail.get("temperature_c"),
        "household": detail.get("household"),
        "source": detail.get("source"),
        "message": detail.get("message"),
        "silent_s": detail.get("silent_s"),
        "outcomes": list(outcomes(alarm.kind)),
    }
