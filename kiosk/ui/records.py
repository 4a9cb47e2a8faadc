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
    render_template,
    request,
    stream_with_context,
    url_for,
)

from kiosk.ui import i18n
from kiosk.ui.auth import login_required

bp = Blueprint("records", __name__, url_prefix="/records")

PAGE = 50
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
#: Event data shown in the summary column, in this order.
SUMMARY = ("household", "temperature_c", "reason", "outcome", "pass_id", "by", "guard", "user")


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


def summary(data: dict, lang: str) -> str:
    """A short line for an event's data: household, temperature, reason, ..."""
    parts = []
    for key in SUMMARY:
        value = data.get(key)
        if value in (None, ""):
            continue
        if key == "temperature_c":
            parts.append(f"{float(value):.1f} °C")
        elif key == "reason":
            parts.append(i18n.translate(f"reason.{value}", lang))
        elif key == "outcome":
            parts.append(i18n.translate(f"outcome.{value}", lang))
        else:
            parts.append(str(value))
    return " · ".join(parts)


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
        summary=lambda data: summary(data, g.lang),
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


@bp.get("/export.csv")
@login_required()
def export():
    filters, errors = _filters()
    if errors:
        return render_template("error.html", message_key=next(iter(errors.values()))), 400
    lang = g.lang
    header = [
        i18n.translate(k, lang)
        for k in (
            "csv.seq",
            "csv.ts",
            "csv.lane",
            "csv.type",
            "csv.type_name",
            "household",
            "temperature",
            "csv.reason",
            "csv.summary",
            "csv.data",
            "csv.id",
        )
    ]

    def rows():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        buffer.write("\ufeff")  # Excel reads UTF-8 only with the byte order mark
        writer.writerow(header)
        before, sent = None, 0
        while sent < CSV_MAX:
            chunk = _query(filters, 1000, before)
            if not chunk:
                break
            for e in chunk:
                d = e.data
                writer.writerow(
                    _cell(v)
                    for v in (
                        e.seq,
                        e.ts,
                        e.lane or "",
                        e.type,
                        i18n.translate(f"event.{e.type}", lang),
                        d.get("household"),
                        d.get("temperature_c"),
                        d.get("reason"),
                        summary(d, lang),
                        json.dumps(d, ensure_ascii=False, sort_keys=True),
                        e.id,
                    )
                )
            sent += len(chunk)
            before = chunk[-1].seq
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
        yield buffer.getvalue()

    name = f"kiosk-{_facade().gate_id}-{_facade().now():%Y%m%d-%H%M}.csv"
    return Response(
        stream_with_context(rows()),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


@bp.get("/registrations")
@login_required()
def registrations():
    return render_template(
        "registrations.html", rows=_facade().recent_registrations(100), lang=g.lang
    )
