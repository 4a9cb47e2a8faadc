"""The resident screen: a display facing the person at the gate, one page per lane.

No sign-in, and served to the kiosk itself only: any client that is not the kiosk's own
loopback (or that comes through a proxy) is refused, so the page cannot be watched from the
compound's network. It follows the lane live over server-sent events (``/resident/<lane>/
stream``, served on the event loop by :mod:`kiosk.ui.stream`); every message is built by
:meth:`kiosk.facade.Facade.resident_view`, which passes on no personal data of anyone.
"""

from __future__ import annotations

import json

from flask import (
    Blueprint,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)

from kiosk.errors import KioskError

bp = Blueprint("resident", __name__, url_prefix="/resident")

#: The kiosk's own addresses: the only clients the resident screen is served to.
LOOPBACK = frozenset({"127.0.0.1", "::1", "::ffff:127.0.0.1"})
#: Headers a proxy adds: a request that came through one is not the kiosk's own display.
FORWARDED = ("Forwarded", "X-Forwarded-For", "X-Real-IP")


def _kiosk():
    return current_app.extensions["kiosk"]


def kiosk_only(client: str | None, header_names) -> bool:
    """Whether a request from *client* with these headers comes from the kiosk's own display
    (the live stream, :mod:`kiosk.ui.stream`, asks too)."""
    names = {name.lower() for name in header_names}
    return client in LOOPBACK and not any(h.lower() in names for h in FORWARDED)


@bp.before_request
def _kiosk_only():
    if not kiosk_only(request.remote_addr, request.headers.keys()):
        abort(403)


def _view(lane: str, snapshot: dict | None = None) -> dict:
    try:
        return _kiosk().resident_view(lane, snapshot)
    except KioskError:
        abort(404)


@bp.get("/")
def first():
    lanes = _kiosk().lanes()
    if not lanes:
        abort(404)
    return redirect(url_for("resident.page", lane=lanes[0]))


@bp.get("/<lane>")
def page(lane: str):
    view = _view(lane)
    idle = _view(lane, {"name": lane, "state": "idle", "faults": {}})
    return render_template(
        "resident.html",
        view=view,
        view_json=json.dumps(view, ensure_ascii=False),
        idle_json=json.dumps(idle, ensure_ascii=False),
    )


@bp.get("/<lane>/view")
def view(lane: str):
    return current_app.json.response(_view(lane))
