"""The health information form (健康状况信息登记表) at the gate.

Thin: the rules are in :mod:`kiosk.registrations`; this view parses the form, shows each
error next to its field in the guard's language, keeps everything typed when a field is
wrong, and records the form through :meth:`kiosk.facade.Facade.register`.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, current_app, g, redirect, render_template, request, session, url_for

from kiosk import registrations as rules
from kiosk.errors import KioskError
from kiosk.ui.auth import login_required

bp = Blueprint("registration", __name__, url_prefix="/register")


def _facade():
    return current_app.extensions["kiosk"]


def _defaults(facade, lane: str, kind: str) -> dict:
    today = facade.today()
    reading = facade.last_temperature(lane) if lane else None
    sensor = "" if reading is None else f"{reading['temperature_c']:.1f}"
    return {
        "kind": kind if kind in rules.KINDS else "returning",
        "lane": lane,
        "arrival_date": today.isoformat(),
        "key_area": "no",
        "contact": "no",
        "symptoms": [],
        "temperature_c": sensor,
        "sensor_c": sensor,
        "outcome": "courier" if kind == "courier" else "admitted",
    }


def _render(form: dict, errors: dict, status: int = 200):
    facade = _facade()
    today = facade.today()
    return (
        render_template(
            "register.html",
            form=form,
            errors=errors,
            kinds=rules.KINDS,
            outcomes=rules.OUTCOMES,
            symptoms=rules.SYMPTOMS,
            lanes=facade.entry_lanes(),
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
    form = {k: v for k, v in request.form.items() if k != "csrf_token"}
    form["symptoms"] = request.form.getlist("symptoms")
    lane = form.get("lane") if form.get("lane") in facade.lanes() else None
    registration, errors = rules.validate(
        form,
        today=facade.today(),
        threshold_c=facade.threshold_c,
        households=facade.households() or None,
    )
    if errors:
        return _render(form, errors, 400)
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
