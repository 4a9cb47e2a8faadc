"""The guard screen: live lanes, today's counts and health, the fever alarm and its
acknowledgement, recent events, manual opening."""

from __future__ import annotations

import json

from flask import Blueprint, Response, current_app, g, jsonify, render_template, request, session

from kiosk.errors import KioskError
from kiosk.fevers import FEVER_OUTCOMES
from kiosk.policy import plausible_body_c
from kiosk.ui import i18n
from kiosk.ui.auth import current_user, login_required

bp = Blueprint("guard", __name__)

#: Seconds between keep-alive comments on the event stream.
KEEPALIVE_S = 15.0
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


@bp.get("/stream")
@login_required()
def stream():
    """Server-sent events: ``state``, ``lane``, ``event``, ``fevers`` and ``roster`` messages.

    The browser reconnects by itself. The stream ends when its session ends (sign-out or idle
    timeout), checked at each keep-alive; the reconnect then gets 401 and the page signs in.
    """
    facade = _facade()
    sub = facade.subscribe()
    first = json.dumps(facade.state(), ensure_ascii=False)
    sessions = current_app.extensions["kiosk.sessions"]
    sid = session.get("sid")

    def generate():
        try:
            yield f"retry: 2000\nevent: state\ndata: {first}\n\n"
            while True:
                item = sub.get(KEEPALIVE_S)
                if item is None:
                    if sessions.get(sid, touch=False) is None:
                        return
                    yield ": keep-alive\n\n"
                    continue
                kind, payload = item
                if kind == "bye":
                    return
                yield f"event: {kind}\ndata: {json.dumps(payload, ensure_ascii=False)}\n\n"
        finally:
            sub.close()

    return Response(
        generate(),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def _bad(message: str, status: int = 400):
    return jsonify(error="bad_input", message=message), status


@bp.post("/api/lanes/<lane>/open")
@login_required()
def open_gate(lane: str):
    body = request.get_json(silent=True) or {}
    reason = str(body.get("reason") or "").strip()
    note = str(body.get("note") or "").strip()[:200]
    if reason not in OPEN_REASONS:
        return _bad(i18n.translate("open.error.reason", g.lang))
    if reason == "other" and not note:
        return _bad(i18n.translate("open.error.note", g.lang))
    text = reason if not note else f"{reason}: {note}"
    return _to_lane(_facade().open_gate, lane, text)


@bp.post("/api/lanes/<lane>/temperature")
@login_required()
def manual_temperature(lane: str):
    body = request.get_json(silent=True) or {}
    try:
        value = float(body.get("temperature_c"))
    except (TypeError, ValueError):
        return _bad(i18n.translate("manual.error", g.lang))
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
    body = request.get_json(silent=True) or {}
    outcome = str(body.get("outcome") or "")
    note = str(body.get("note") or "").strip()[:200]
    if outcome not in FEVER_OUTCOMES:
        return _bad(i18n.translate("fever.error.outcome", g.lang))
    value = None
    if outcome == "remeasured":
        try:
            value = round(float(body.get("temperature_c")), 1)
        except (TypeError, ValueError):
            return _bad(i18n.translate("fever.error.value", g.lang))
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
