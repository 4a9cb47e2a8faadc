"""The guard screen: live lanes, today's counts and health, the fever alarm and its
acknowledgement, recent events, manual opening. The live stream itself (``/stream``) is
served on the event loop by :mod:`kiosk.ui.stream`."""

from __future__ import annotations

import json

from flask import Blueprint, current_app, g, jsonify, render_template, request

from kiosk.errors import KioskError
from kiosk.fevers import FEVER_OUTCOMES
from kiosk.policy import plausible_body_c
from kiosk.ui import bodies, i18n
from kiosk.ui.auth import current_user, login_required

bp = Blueprint("guard", __name__)

OPEN_REASONS = ("ambulance", "elderly", "resident_known", "other")


def _facade():
    return current_app.extensions["kiosk"]


@bp.get("/")
@login_required()
def index():
    facade = _facade()
    return render_template(
        "guard.html",
        state=facade.state(),
        words=json.dumps(i18n.bundle(g.lang), ensure_ascii=False),
        reasons=OPEN_REASONS,
        fever_outcomes=FEVER_OUTCOMES,
        simulated=facade.simulated,
    )


@bp.get("/api/state")
@login_required()
def state():
    return jsonify(_facade().state())


@bp.get("/api/events")
@login_required()
def events():
    limit = min(max(request.args.get("limit", 30, type=int) or 30, 1), 200)
    return jsonify(_facade().recent_events(limit))


def _bad(message: str, status: int = 400):
    return jsonify(error="bad_input", message=message), status


@bp.post("/api/lanes/<lane>/open")
@login_required()
def open_gate(lane: str):
    body = bodies.parse(bodies.OpenGate)
    reason = body.reason.strip()
    note = body.note.strip()[:200]
    if reason not in OPEN_REASONS:
        return _bad(i18n.translate("open.error.reason", g.lang))
    if reason == "other" and not note:
        return _bad(i18n.translate("open.error.note", g.lang))
    text = reason if not note else f"{reason}: {note}"
    return _to_lane(_facade().open_gate, lane, text)


@bp.post("/api/lanes/<lane>/temperature")
@login_required()
def manual_temperature(lane: str):
    value = bodies.parse(bodies.ManualTemperature).temperature_c
    if not plausible_body_c(value):
        return _bad(i18n.translate("manual.error", g.lang))
    return _to_lane(_facade().manual_temperature, lane, value)


def _to_lane(command, lane: str, value):
    """Queue *command* for *lane* by the signed-in guard; 404 for a lane that is not there."""
    try:
        command(lane, value, g.user)
    except KioskError as exc:
        return _bad(str(exc), 404)
    return jsonify(ok=True)


@bp.post("/api/fevers/<int:seq>/ack")
@login_required()
def acknowledge_fever(seq: int):
    """Close a fever alarm with an outcome; a re-measured value is required and must be
    below the threshold (otherwise: the fever clinic, or report it)."""
    facade = _facade()
    body = bodies.parse(bodies.FeverAck)
    outcome, note = body.outcome, body.note.strip()[:200]
    value = None
    if outcome == "remeasured":
        if body.temperature_c is None:
            return _bad(i18n.translate("fever.error.value", g.lang))
        value = round(body.temperature_c, 1)
        if not plausible_body_c(value):
            return _bad(i18n.translate("fever.error.value", g.lang))
        if value >= facade.threshold_c:
            return _bad(i18n.translate("fever.error.still_fever", g.lang))
    try:
        facade.acknowledge_fever(seq, outcome, g.user, temperature_c=value, note=note)
    except KioskError:
        return _bad(i18n.translate("fever.error.gone", g.lang), 404)
    return jsonify(ok=True)


@bp.get("/api/session")
def session_state():
    """Whether this browser still has a live session (does not count as activity)."""
    user = current_user(touch=False)
    return jsonify(live=user is not None), (200 if user else 401)
