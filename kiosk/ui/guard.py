"""The guard screen: live lanes, recent events, manual opening."""

from __future__ import annotations

import json
import math

from flask import Blueprint, Response, current_app, g, jsonify, render_template, request

from kiosk.errors import KioskError
from kiosk.ui import i18n
from kiosk.ui.auth import login_required

bp = Blueprint("guard", __name__)

#: Seconds between keep-alive comments on the event stream.
KEEPALIVE_S = 15.0
OPEN_REASONS = ("ambulance", "elderly", "resident_known", "other")


def _kiosk():
    return current_app.extensions["kiosk"]


@bp.get("/")
@login_required()
def index():
    kiosk = _kiosk()
    return render_template(
        "guard.html",
        state=kiosk.state(),
        words=json.dumps(i18n.bundle(g.lang), ensure_ascii=False),
        reasons=OPEN_REASONS,
        simulated=getattr(kiosk, "world", None) is not None,
        user=g.user,
    )


@bp.get("/api/state")
@login_required()
def state():
    return jsonify(_kiosk().state())


@bp.get("/api/events")
@login_required()
def events():
    limit = min(max(request.args.get("limit", 30, type=int) or 30, 1), 200)
    recent = _kiosk().journal.recent(limit)
    return jsonify([e.to_api() for e in recent])


@bp.get("/stream")
@login_required()
def stream():
    """Server-sent events: ``lane``, ``event`` and ``roster`` messages, reconnecting itself."""
    kiosk = _kiosk()
    sub = kiosk.subscribe()
    first = json.dumps(kiosk.state(), ensure_ascii=False)

    def generate():
        try:
            yield f"retry: 2000\nevent: state\ndata: {first}\n\n"
            while True:
                item = sub.get(KEEPALIVE_S)
                if item is None:
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
        return _bad("reason: choose one of " + ", ".join(OPEN_REASONS))
    if reason == "other" and not note:
        return _bad("note: say why the gate is opened")
    text = reason if not note else f"{reason}: {note}"
    try:
        _kiosk().open_gate(lane, text, g.user)
    except KioskError as exc:
        return _bad(str(exc), 404)
    return jsonify(ok=True)


@bp.post("/api/lanes/<lane>/temperature")
@login_required()
def manual_temperature(lane: str):
    body = request.get_json(silent=True) or {}
    try:
        value = float(body.get("temperature_c"))
    except (TypeError, ValueError):
        return _bad("temperature_c: a number in °C")
    if not math.isfinite(value) or not 34.0 <= value <= 43.0:
        return _bad("temperature_c: between 34.0 and 43.0 °C")
    try:
        _kiosk().manual_temperature(lane, value, g.user)
    except KioskError as exc:
        return _bad(str(exc), 404)
    return jsonify(ok=True)
