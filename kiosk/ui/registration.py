"""The health information form (健康状况信息登记表) at the gate.

Thin: the rules are in :mod:`kiosk.registrations`; this view parses the form, shows each
error next to its field in the guard's language, keeps everything typed when a field is
wrong, and records the form through :meth:`kiosk.facade.Facade.register`.

The temperature is never filled in by itself: the form offers the lanes' readings of the last
minutes (time, lane, value) and the guard picks the one of the person in front of them, or
measures by hand. The reading is looked up again on the gate when the form comes back, so a
value sent by the browser never passes for the sensor's.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from flask import Blueprint, current_app, g, redirect, render_template, request, session, url_for

from kiosk import registrations as rules
from kiosk.errors import KioskError
from kiosk.ui import describe
from kiosk.ui.auth import login_required

bp = Blueprint("registration", __name__, url_prefix="/register")


def _facade():
    return current_app.extensions["kiosk"]


def _defaults(facade, lane: str, kind: str) -> dict:
    return {
        "kind": kind if kind in rules.KINDS else "returning",
        "lane": lane,
        "arrival_date": facade.today().isoformat(),
        "key_area": "no",
        "contact": "no",
        "symptoms": [],
        "temperature_c": "",
        "reading_seq": "",
        "outcome": "courier" if kind == "courier" else "admitted",
    }


def _picked(facade, form: dict) -> dict | None:
    """The reading the form names (``reading_seq``), looked up on the gate; None if none."""
    try:
        seq = int(form.get("reading_seq") or 0)
    except (TypeError, ValueError):
        return None
    return facade.reading(seq) if seq > 0 else None


def _render(form: dict, errors: dict, status: int = 200):
    facade = _facade()
    today = facade.today()
    tz = facade.tz
    readings = facade.recent_readings()
    picked = _picked(facade, form)
    if picked is not None and all(r["seq"] != picked["seq"] for r in readings):
        readings.insert(0, picked)
    for reading in readings:
        reading["time"] = describe.local_time(reading["ts"], tz)[11:]
    return (
        render_template(
            "register.html",
            form=form,
            errors=errors,
            kinds=rules.KINDS,
            outcomes=rules.OUTCOMES,
            symptoms=rules.SYMPTOMS,
            lanes=facade.entry_lanes(),
            readings=readings,
            site_name=facade.site_name,
            picked=picked["seq"] if picked else None,
            today=today.isoformat(),
            observation_days=rules.OBSERVATION_DAYS,
            threshold_c=facade.threshold_c,
            done=session.pop("registered", None) if request.method == "GET" else None,
            min_date=(today - timedelta(days=rules.MAX_ARRIVAL_AGE_DAYS)).isoformat(),
        ),
        status,
    )


@bp.get("/")
@login_required()
def form():
    facade = _facade()
    lanes = facade.entry_lanes()
    lane = request.args.get("lane") or lanes[0]
    if lane not in lanes:
        lane = lanes[0]
    return _render(_defaults(facade, lane, request.args.get("kind", "returning")), {})


@bp.post("/")
@login_required()
def submit():
    facade = _facade()
    form = {k: v for k, v in request.form.items() if k not in ("csrf_token", "sensor_c")}
    form["symptoms"] = request.form.getlist("symptoms")
    picked = _picked(facade, form)
    if picked is not None:
        form["sensor_c"] = f"{picked['temperature_c']:.1f}"
        form["lane"] = picked["lane"]
    else:
        form["reading_seq"] = ""
    lane = form.get("lane") if form.get("lane") in facade.lanes() else None
    registration, errors = rules.validate(
        form,
        today=facade.today(),
        threshold_c=facade.threshold_c,
        households=facade.households() or None,
    )
    if errors:
        return _render(form, errors, 400)
    if picked is not None:
        registration = dataclasses.replace(registration, reading_seq=picked["seq"])
    try:
        event = facade.register(registration, g.user, lane)
    except KioskError:
        current_app.logger.exception("registration could not be stored")
        return _render(form, {"_form": "store"}, 503)
    session["registered"] = {
        "seq": event.seq,
        "household": registration.household,
        "outcome": registration.outcome,
        "until": (
            registration.observation_until.isoformat() if registration.observation_until else ""
        ),
        # the one id of this registration: in its event, its row and a temporary pass
        "registration_id": event.data["registration_id"],
    }
    return redirect(url_for("registration.form", lane=lane or "", kind=registration.kind))
