"""The health forms the gates uploaded (``registration.created`` events): filtered lists with
the minimum of personal data shown, exports, and the purge after retention.

On screen a name keeps its first character (张**), a phone number its first three and last
four digits, an ID number its last four (the gate sends it masked already; it is masked
again here whatever arrives). An export carries the name and phone number in full for the
street office, with the ID number masked, and is recorded in the audit list.

After ``[retention] registration_days`` the personal fields of a registration are removed
from the stored event (``data.purged`` is set); what the report counts (kind, outcome,
household, dates, temperature) stays.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from committee.models import Event, Gate, Site
from committee.report import day_bounds
from kiosk.registrations import KINDS, OUTCOMES, mask_id

TYPE = "registration.created"
#: Fields removed at the purge.
PERSONAL = ("name", "phone", "id_number", "plate", "from_province", "from_city", "temperature_note")
#: Fields kept after the purge.
KEPT = (
    "kind",
    "outcome",
    "household",
    "arrival_date",
    "observation_until",
    "registration_id",
    "temperature_c",
    "key_area",
    "contact",
    "symptoms",
    "lane",
)
PAGE = 100


def mask_name(name: str) -> str:
    name = (name or "").strip()
    return name[:1] + "*" * max(1, len(name) - 1) if name else ""


def mask_phone(phone: str) -> str:
    digits = (phone or "").strip()
    if len(digits) <= 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


@dataclass(frozen=True)
class Filters:
    start: date
    end: date  # inclusive
    kind: str = ""
    outcome: str = ""

    @classmethod
    def parse(cls, args, today: date) -> Filters:
        def day(name: str, default: date) -> date:
            try:
                return date.fromisoformat(args.get(name, ""))
            except ValueError:
                return default

        start = day("from", today)
        end = day("to", start)
        if end < start:
            start, end = end, start
        end = min(end, start + timedelta(days=366))
        kind = args.get("kind", "")
        outcome = args.get("outcome", "")
        return cls(
            start,
            end,
            kind if kind in KINDS else "",
            outcome if outcome in OUTCOMES else "",
        )


def query(site_ids, filters: Filters, tz):
    start, _ = day_bounds(filters.start, tz)
    _, end = day_bounds(filters.end, tz)
    stmt = (
        select(Event, Gate, Site)
        .join(Gate, Event.gate_id == Gate.id)
        .join(Site, Gate.site_id == Site.id)
        .where(Event.type == TYPE, Event.occurred_at >= start, Event.occurred_at < end)
        .order_by(Event.occurred_at.desc(), Event.id.desc())
    )
    if site_ids is not None:
        stmt = stmt.where(Gate.site_id.in_(sorted(site_ids)))
    if filters.kind:
        stmt = stmt.where(Event.data["kind"].as_string() == filters.kind)
    if filters.outcome:
        stmt = stmt.where(Event.data["outcome"].as_string() == filters.outcome)
    return stmt


def _text(data: dict, key: str) -> str:
    value = data.get(key)
    return str(value) if isinstance(value, str | int | float) else ""


def row(event: Event, gate: Gate, site: Site, *, full: bool = False) -> dict[str, Any]:
    """A registration as a list shows it (*full*: as an export carries it)."""
    data = event.data if isinstance(event.data, dict) else {}
    name, phone = _text(data, "name"), _text(data, "phone")
    symptoms = data.get("symptoms")
    return {
        "at": event.occurred_at,
        "site": site.name,
        "site_code": site.code,
        "gate": gate.code,
        "kind": _text(data, "kind"),
        "outcome": _text(data, "outcome"),
        "household": _text(data, "household"),
        "name": name if full else mask_name(name),
        "phone": phone if full else mask_phone(phone),
        "id_number": mask_id(_text(data, "id_number")),
        "from": " ".join(p for p in (_text(data, "from_province"), _text(data, "from_city")) if p),
        "arrival_date": _text(data, "arrival_date"),
        "temperature_c": data.get("temperature_c"),
        "key_area": bool(data.get("key_area")),
        "contact": bool(data.get("contact")),
        "symptoms": [str(s) for s in symptoms] if isinstance(symptoms, list) else [],
        "observation_until": _text(data, "observation_until"),
        "purged": bool(data.get("purged")),
    }


def page(session: Session, site_ids, filters: Filters, tz, number: int = 1):
    """One page of the list: ``(rows, more)``."""
    rows = session.execute(
        query(site_ids, filters, tz).offset((number - 1) * PAGE).limit(PAGE + 1)
    ).all()
    return [row(*r) for r in rows[:PAGE]], len(rows) > PAGE


EXPORT_COLUMNS = (
    ("at", "time"),
    ("site", "site"),
    ("gate", "gate"),
    ("kind", "reg.kind"),
    ("outcome", "reg.outcome"),
    ("household", "household"),
    ("name", "reg.name"),
    ("phone", "reg.phone"),
    ("id_number", "reg.id_number"),
    ("from", "reg.from"),
    ("arrival_date", "reg.arrival"),
    ("temperature_c", "reg.temperature"),
    ("observation_until", "obs.until"),
)


def export_rows(db, site_ids, filters: Filters, tz) -> Iterator[dict[str, Any]]:
    """Every registration matching *filters*, newest first, fetched in chunks."""
    offset = 0
    while True:
        with db.transaction() as session:
            rows = session.execute(query(site_ids, filters, tz).offset(offset).limit(2000)).all()
            out = [row(*r, full=True) for r in rows]
        yield from out
        if len(rows) < 2000:
            return
        offset += 2000


def _cell(item: dict[str, Any], key: str, translate, tz) -> Any:
    value = item[key]
    if key == "at":
        return value.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")
    if key == "kind" and value:
        return translate(f"reg.kind.{value}")
    if key == "outcome" and value:
        return translate(f"reg.outcome.{value}")
    return "" if value is None else value


def export_csv(items, translate, tz) -> Iterator[str]:
    """CSV text in pieces, with a BOM so that Excel reads it as UTF-8."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([translate(label) for _, label in EXPORT_COLUMNS])
    yield "\ufeff" + buffer.getvalue()
    for item in items:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([_cell(item, key, translate, tz) for key, _ in EXPORT_COLUMNS])
        yield buffer.getvalue()


def export_xlsx(items, translate, tz) -> bytes:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet(translate("reg.title")[:31])
    sheet.append([translate(label) for _, label in EXPORT_COLUMNS])
    for item in items:
        sheet.append([_cell(item, key, translate, tz) for key, _ in EXPORT_COLUMNS])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def purge(session: Session, now: datetime, days: int, *, limit: int = 1000) -> int:
    """Remove the personal fields of registrations older than *days*; returns how many
    (at most *limit* a call; the sweep calls again)."""
    cutoff = now - timedelta(days=days)
    rows = session.scalars(
        select(Event)
        .where(
            Event.type == TYPE,
            Event.occurred_at < cutoff,
            Event.data["purged"].as_string().is_(None),
        )
        .order_by(Event.id)
        .limit(limit)
    ).all()
    for event in rows:
        data = event.data if isinstance(event.data, dict) else {}
        kept = {k: data[k] for k in KEPT if k in data}
        kept["purged"] = True
        session.execute(update(Event).where(Event.id == event.id).values(data=kept))
    return len(rows)
