"""Temporary passes (临时通行证) for the guard: a JSON API the guard screen's form calls.

``POST /api/passes/temporary`` with ``{"registration_id", "household", "hours"?, "until"?,
"single_reentry"?}`` returns the token and the QR code as a PNG data URL to show on screen,
photograph or print. Bad input gets a 400 with a message, never a traceback.
"""

from __future__ import annotations

import base64
import math
from datetime import datetime

from flask import Blueprint, current_app, g, jsonify, request

from kiosk.errors import KioskError
from kiosk.ui.auth import login_required

bp = Blueprint("passes", __name__)


def _bad(message: str, status: int = 400):
    return jsonify(error="bad_input", message=message), status


@bp.post("/api/passes/temporary")
@login_required("guard")
def issue_temporary():
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return _bad("send a JSON object")
    registration_id = body.get("registration_id")
    household = body.get("household")
    if not isinstance(registration_id, str) or not registration_id.strip():
        return _bad("registration_id: the registration this pass is for")
    if not isinstance(household, str) or not household.strip():
        return _bad("household: e.g. 7-1201")
    hours = body.get("hours")
    if hours is not None and (
        isinstance(hours, bool) or not isinstance(hours, int | float) or not math.isfinite(hours)
    ):
        return _bad("hours: a number")
    until = body.get("until")
    if until is not None:
        try:
            until = datetime.fromisoformat(str(until))
        except ValueError:
            return _bad("until: a time like 2020-02-04T20:00+08:00")
    single = body.get("single_reentry", True)
    if not isinstance(single, bool):
        return _bad("single_reentry: true or false")
    try:
        issued = current_app.extensions["kiosk"].issue_temporary_pass(
            registration_id.strip(),
            household.strip(),
            hours=hours,
            until=until,
            single_reentry=single,
            guard=g.user,
        )
    except KioskError as exc:
        return _bad(str(exc))
    png = issued.pop("png")
    issued["qr_png"] = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    return jsonify(issued)
