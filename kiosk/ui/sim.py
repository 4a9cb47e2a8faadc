"""Demo only: the "simulate" panel drives the simulated world (never real hardware), through
:meth:`kiosk.facade.Facade.simulate`."""

from __future__ import annotations

import math

from flask import Blueprint, current_app, jsonify, request

from kiosk.errors import KioskError
from kiosk.ui.auth import login_required

bp = Blueprint("sim", __name__, url_prefix="/api/sim")


def _simulate(lane: str, **person):
    try:
        scene = current_app.extensions["kiosk"].simulate(lane, **person)
    except KioskError:
        return jsonify(error="no such lane"), 404
    return jsonify(ok=True, lane=scene)


@bp.get("/passes")
@login_required()
def demo_passes():
    kit = current_app.extensions.get("kiosk.demo_passes", [])
    return jsonify(kit)


@bp.post("/<lane>/step_in")
@login_required()
def step_in(lane: str):
    if lane not in current_app.extensions["kiosk"].lanes():
        return jsonify(error="no such lane"), 404
    body = request.get_json(silent=True) or {}
    text = body.get("text")
    if text is not None and (not isinstance(text, str) or len(text) > 4000):
        return jsonify(error="text: at most 4000 characters"), 400
    try:
        object_c = float(body.get("object_c", 36.4))
    except (TypeError, ValueError):
        return jsonify(error="object_c: a number"), 400
    if not math.isfinite(object_c) or not -20.0 <= object_c <= 60.0:
        return jsonify(error="object_c: between -20 and 60 °C"), 400
    return _simulate(lane, object_c=object_c, text=text or None)


@bp.post("/<lane>/leave")
@login_required()
def leave(lane: str):
    return _simulate(lane)
