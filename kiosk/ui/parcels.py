"""The pickup point (取件处) on the guard screen: record a parcel in two taps and the shelf
slot, mark it collected in one, list what waits and what is overdue.

Thin: the rules are in :mod:`kiosk.parcels`; the kiosk's facade records and collects.
"""

from __future__ import annotations

import msgspec
from flask import Blueprint, current_app, g, jsonify

from kiosk import parcels as rules
from kiosk.errors import KioskError
from kiosk.ui import bodies, i18n
from kiosk.ui.auth import login_required

bp = Blueprint("parcels", __name__, url_prefix="/api/parcels")


def _kiosk():
    return current_app.extensions["kiosk"]


@bp.get("")
@login_required()
def listing():
    return jsonify(_kiosk().parcels_state())


@bp.post("")
@login_required()
def receive():
    form = rules.validate(msgspec.structs.asdict(bodies.parse(bodies.ParcelReceived)))
    if isinstance(form, set):
        fields = sorted(form)
        message = "；".join(i18n.translate(f"parcel.error.{f}", g.lang) for f in fields)
        return jsonify(error="bad_input", fields=fields, message=message), 400
    kiosk = _kiosk()
    parcel = kiosk.receive_parcel(form, g.user)
    return jsonify(ok=True, parcel=parcel, items=kiosk.parcels_state()["items"])


@bp.post("/collect")
@login_required()
def collect():
    body = bodies.parse(bodies.ParcelCollected)
    parcel_id, household = body.id.strip(), body.household.strip()
    if not parcel_id and not household:
        return jsonify(error="bad_input", message=i18n.translate("parcel.error.which", g.lang)), 400
    kiosk = _kiosk()
    try:
        done = kiosk.collect_parcels(g.user, household=household, parcel_id=parcel_id or None)
    except KioskError:
        return jsonify(error="gone", message=i18n.translate("parcel.error.gone", g.lang)), 404
    return jsonify(ok=True, collected=done, items=kiosk.parcels_state()["items"])
