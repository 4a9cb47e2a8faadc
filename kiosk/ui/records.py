"""Records: the journal with filters (type, lane, date, household) and paging, CSV export
for the committee (UTF-8 with a byte order mark, so Excel reads the Chinese), and the recent
health registrations (ID number masked)."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date, timedelta

from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    jsonify,
    render_template,
    request,
    stream_with_context,
    url_for,
)

from kiosk.registrations import mask_id, mask_name, mask_phone
from kiosk.ui import describe, i18n
from kiosk.ui.auth import login_required

bp = Blueprint("records", __name__, url_prefix="/records")

PAGE = 50
#: Registrations in one CSV file at most (the gate keeps them only until they are purged).
REGISTRATIONS_MAX = 20_000
#: The highest seq a journal can hold (SQLite's integers).
MAX_SEQ = 2**63 - 1
#: Rows in one CSV file at most.
CSV_MAX = 200_000
#: Event types offered in the filter (any type can still be asked for by name).
TYPES = (
    "access.granted",
    "access.denied",
    "alert.fever",
    "alert.fever_ack",
    "gate.manual_open",
    "registration.created",
    "temperature.measured",
    "pass.scanned",
    "alert.sensor_fault",
    "auth.login",
    "auth.login_failed",
    "kiosk.started",
    "kiosk.stopped",
)
_TYPE = re.compile(r"^[a-z_]{1,20}(\.[a-z_]{1,30}){0,2}$")
_HOUSEHOLD = re.compile(r"^[0-9A-Za-z-]{1,20}$")


def _facade():
    return current_app.extensions["kiosk"]


def _filters() -> tuple[dict, dict]:
    """The query's filters, checked; and a message key per field that was not usable."""
    args = request.args
    out: dict = {"type": "", "lane": "", "day_from": "", "day_to": "", "household": ""}
    errors: dict[str, str] = {}
    kind = (args.get("type") or "").strip()
    if kind and not _TYPE.match(kind):
        errors["type"] = "records.bad_type"
    elif kind:
        out["type"] = kind
    lane = (args.get("lane") or "").strip()
    if lane and lane not in _facade().lanes():
        errors["lane"] = "records.bad_lane"
    elif lane:
        out["lane"] = lane
    for key in ("day_from", "day_to"):
        text = (args.get(key) or "").strip()
        if text:
            try:
                out[key] = date.fromisoformat(text).isoformat()
            except ValueError:
                errors[key] = "reg.error.date_format"
    household = (args.get("household") or "").strip().upper()
    if household and not _HOUSEHOLD.match(household):
        errors["household"] = "reg.error.household_format"
    elif household:
        out["household"] = household
    return out, errors


def _query(filters: dict, limit: int, before: int | None):
    until = None
    if filters["day_to"] and filters["day_to"] < date.max.isoformat():
        # the last day counts whole; the calendar's last day has no day after it: no limit
        until = (date.fromisoformat(filters["day_to"]) + timedelta(days=1)).isoformat()
    return _facade().records(
        limit,
        before=before,
        types=(filters["type"],) if filters["type"] else (),
        lane=filters["lane"] or None,
        household=filters["household"] or None,
        since=filters["day_from"] or None,
        until=until,
    )


def _before(text: str | None) -> int | None:
    """The ``before`` of a page link: a seq; anything else (a negative number, one beyond
    any seq, not a number) means no limit."""
    try:
        seq = int(text or "")
    except ValueError:
        return None
    return seq if 1 <= seq <= MAX_SEQ else None


@bp.get("/")
@login_required()
def index():
    filters, errors = _filters()
    before = _before(request.args.get("before"))
    events = [] if errors else _query(filters, PAGE + 1, before)
    more = len(events) > PAGE
    events = events[:PAGE]
    query = {k: v for k, v in filters.items() if v}
    return render_template(
        "records.html",
        events=events,
        filters=filters,
        errors=errors,
        types=TYPES,
        lanes=_facade().lanes(),
        words=lambda e: describe.event_words(e, g.lang, _facade().tz),
        older=url_for("records.index", before=events[-1].seq, **query) if more else None,
        newest=url_for("records.index", **query) if before else None,
        csv_url=url_for("records.export", **query),
    ), (400 if errors else 200)


def _cell(value) -> str:
    """A CSV cell that a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not re.match(r"^-?\d+(\.\d+)?$", text):
        return "'" + text
    return text


#: Columns of the events CSV: (header key, value of an event).
EVENT_COLUMNS = (
    ("csv.seq", lambda e, lang, tz: e.seq),
    ("csv.ts", lambda e, lang, tz: describe.local_time(e.ts, tz)),
    ("csv.lane", lambda e, lang, tz: e.lane or ""),
    ("csv.type", lambda e, lang, tz: e.type),
    ("csv.type_name", lambda e, lang, tz: describe.type_name(e.type, lang)),
    ("household", lambda e, lang, tz: e.data.get("household")),
    ("temperature", lambda e, lang, tz: describe.temperature(e.data.get("temperature_c"))),
    ("csv.reason", lambda e, lang, tz: e.data.get("reason")),
    ("csv.summary", lambda e, lang, tz: describe.summary(e.type, e.data, lang, tz)),
    ("csv.data", lambda e, lang, tz: _data_json(e.data)),
    ("csv.id", lambda e, lang, tz: e.id),
    ("csv.ts_iso", lambda e, lang, tz: e.ts),
)
#: Columns of the registrations CSV (the 登记表): header key and the row's field.
REGISTRATION_COLUMNS = (
    ("csv.registered_at", "created_at"),
    ("csv.registration_id", "registration_id"),
    ("reg.kind", "kind"),
    ("reg.name", "name"),
    ("reg.phone", "phone"),
    ("reg.id_number", "id_number"),
    ("household", "household"),
    ("reg.from_province", "from_province"),
    ("reg.from_city", "from_city"),
    ("reg.arrival_date", "arrival_date"),
    ("reg.key_area", "key_area"),
    ("reg.contact", "contact"),
    ("reg.symptoms", "symptoms"),
    ("temperature", "temperature_c"),
    ("csv.temperature_source", "temperature_source"),
    ("reg.temperature_note", "temperature_note"),
    ("reg.plate", "plate"),
    ("reg.outcome", "outcome"),
    ("reg.observation_until", "observation_until"),
    ("csv.by", "by"),
    ("lane", "lane"),
)


def _data_json(data: dict) -> str:
    return json.dumps(_masked(data), ensure_ascii=False, sort_keys=True)


def _masked(data: dict) -> dict:
    """Event data with names, phone numbers and ID numbers masked (a spreadsheet travels;
    the committee receives them in full through the uplink)."""
    out = dict(data)
    for key, mask in (("name", mask_name), ("phone", mask_phone), ("id_number", mask_id)):
        if isinstance(out.get(key), str):
            out[key] = mask(out[key])
    return out


def _csv_response(rows, name: str) -> Response:
    """Stream *rows* (lists of cells) as a CSV that Excel opens: UTF-8 with a byte order mark,
    every cell defused (:func:`_cell`)."""

    def body():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        buffer.write("\ufeff")  # Excel reads UTF-8 only with the byte order mark
        for row in rows:
            writer.writerow(_cell(v) for v in row)
            if buffer.tell() > 64 * 1024:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    stamp = f"{_facade().gate_id}-{_facade().now():%Y%m%d-%H%M}"
    return Response(
        stream_with_context(body()),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{name}-{stamp}.csv"',
            "Cache-Control": "no-store",
        },
    )


@bp.get("/export.csv")
@login_required()
def export():
    filters, errors = _filters()
    if errors:
        return render_template("error.html", message_key=next(iter(errors.values()))), 400
    lang, tz = g.lang, _facade().tz

    def rows():
        yield [i18n.translate(key, lang) for key, _ in EVENT_COLUMNS]
        before, sent = None, 0
        while sent < CSV_MAX:
            chunk = _query(filters, 1000, before)
            if not chunk:
                break
            for e in chunk:
                yield [value(e, lang, tz) for _, value in EVENT_COLUMNS]
            sent += len(chunk)
            before = chunk[-1].seq

    return _csv_response(rows(), "kiosk")


def registration_cell(key: str, value, lang: str, tz) -> str:
    """One field of a registration as a person reads it (words, local time, one decimal)."""
    if value in (None, ""):
        return ""
    if key == "created_at":
        return describe.local_time(value, tz)
    if key == "kind":
        return i18n.translate(f"reg.kind.{value}", lang)
    if key == "outcome":
        return i18n.translate(f"outcome.{value}", lang)
    if key in ("key_area", "contact"):
        return i18n.translate("yes" if value else "no", lang)
    if key == "symptoms":
        return "、".join(i18n.translate(f"symptom.{v}", lang) for v in value) or i18n.translate(
            "reg.no_symptoms", lang
        )
    if key == "temperature_c":
        return describe.temperature(value)
    if key == "temperature_source":
        return i18n.translate(f"reg.source.{value}", lang)
    return str(value)


def _registration_rows(full: bool):
    """The registrations, newest first; names and phone numbers masked unless *full*."""
    rows = _facade().recent_registrations(REGISTRATIONS_MAX)
    if not full:
        for row in rows:
            row["name"] = mask_name(row.get("name") or "")
            row["phone"] = mask_phone(row.get("phone") or "")
    return rows


@bp.get("/registrations")
@login_required()
def registrations():
    lang, tz = g.lang, _facade().tz
    rows = _registration_rows(full=False)[:100]
    return render_template(
        "registrations.html",
        rows=rows,
        cell=lambda key, row: registration_cell(key, row.get(key), lang, tz),
    )


@bp.get("/registrations/<registration_id>/contact")
@login_required()
def registration_contact(registration_id: str):
    """A deliberate tap on one row: its name and phone number in full."""
    for row in _facade().recent_registrations(REGISTRATIONS_MAX):
        if row.get("registration_id") == registration_id:
            return jsonify(name=row.get("name") or "", phone=row.get("phone") or "")
    return jsonify(error="not_found", message=i18n.translate("records.none", g.lang)), 404


@bp.get("/registrations.csv")
@login_required()
def export_registrations():
    """The 登记表 as a spreadsheet: every field in words; names and phone numbers in full
    only for the admin role (the committee's own account), the ID number always masked."""
    lang, tz = g.lang, _facade().tz
    full = g.role == "admin"

    def rows():
        yield [i18n.translate(key, lang) for key, _ in REGISTRATION_COLUMNS]
        for row in _registration_rows(full):
            yield [registration_cell(k, row.get(k), lang, tz) for _, k in REGISTRATION_COLUMNS]

    return _csv_response(rows(), "registrations")
