"""Demo only: the "simulate" panel drives the simulated world (never real hardware), through
:meth:`kiosk.facade.Facade.simulate` (a lane) and :meth:`kiosk.facade.Facade.simulate_shelf`
(the pickup shelf's camera)."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from kiosk.errors import KioskError
from kiosk.ui import bodies
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
    body = bodies.parse(bodies.StepIn)
    return _simulate(lane, object_c=body.object_c, text=body.text or None)


@bp.post("/<lane>/leave")
@login_required()
def leave(lane: str):
    return _simulate(lane)


@bp.post("/<lane>/part")
@login_required()
def part(lane: str):
    """Unplug (``{"part": "thermometer"|"camera", "plugged": false}``) or plug back a lane's
    simulated thermometer or camera, to show the guard's manual steps."""
    body = bodies.parse(bodies.SimPart)
    try:
        state = current_app.extensions["kiosk"].simulate_part(lane, body.part, plugged=body.plugged)
    except KioskError:
        return jsonify(error="no such lane"), 404
    return jsonify(ok=True, lane=state)


@bp.post("/shelf")
@login_required()
def shelf():
    """Hold ``text`` up to the pickup shelf's camera; no ``text`` (or null) takes it away."""
    text = bodies.parse(bodies.ShelfShow).text or None
    try:
        scene = current_app.extensions["kiosk"].simulate_shelf(text)
    except KioskError:
        return jsonify(error="no simulated shelf camera"), 404
    return jsonify(ok=True, shelf=scene)
