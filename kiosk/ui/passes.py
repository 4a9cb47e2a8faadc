"""Temporary passes (临时通行证) for the guard: a JSON API the guard screen's form calls.

``POST /api/passes/temporary`` with ``{"registration_id", "household", "hours"?, "until"?,
"single_reentry"?}`` returns the token and the QR code as a PNG data URL to show on screen,
photograph or print. Bad input gets a 400 with a message, never a traceback.
"""

from __future__ import annotations

import base64
from datetime import datetime

from flask import Blueprint, current_app, g, jsonify

from kiosk.errors import KioskError
from kiosk.ui import bodies, i18n
from kiosk.ui.auth import login_required

bp = Blueprint("passes", __name__)


def _bad(message: str, status: int = 400):
    return jsonify(error="bad_input", message=message), status


@bp.post("/api/passes/temporary")
@login_required("guard")
def issue_temporary():
    body = bodies.parse(bodies.TemporaryPass)
    lang = g.lang
    if not body.registration_id.strip():
        return _bad(i18n.translate("temporary.error.registration", lang))
    if not body.household.strip():
        return _bad(i18n.translate("reg.error.household_format", lang))
    until = None
    if body.until is not None:
        try:
            until = datetime.fromisoformat(body.until)
        except ValueError:
            return _bad(i18n.translate("temporary.error.until", lang))
    try:
        issued = current_app.extensions["kiosk"].issue_temporary_pass(
            body.registration_id.strip(),
            body.household.strip(),
            hours=body.hours,
            until=until,
            single_reentry=body.single_reentry,
            guard=g.user,
        )
    except KioskError as exc:
        return _bad(str(exc))
    png = issued.pop("png")
    issued["qr_png"] = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    return jsonify(issued)
