"""The resident screen: a display facing the person at the gate, one page per lane.

No sign-in, and served to the kiosk itself only: any client that is not the kiosk's own
loopback (or that comes through a proxy) is refused, so the page cannot be watched from the
compound's network. It follows the lane live over server-sent events; every message is
built by :meth:`kiosk.facade.Facade.resident_view`, which passes on no personal data of
anyone.
"""

from __future__ import annotations

import json

from flask import (
    Blueprint,
    Response,
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
#: Seconds between keep-alive comments on the stream.
KEEPALIVE_S = 15.0


def _kiosk():
    return current_app.extensions["kiosk"]


@bp.before_request
def _kiosk_only():
    if request.remote_addr not in LOOPBACK or any(h in request.headers for h in FORWARDED):
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


@bp.get("/<lane>/stream")
def stream(lane: str):
    """Server-sent events: a ``view`` message at every change of the lane."""
    kiosk = _kiosk()
    first = json.dumps(_view(lane), ensure_ascii=False)
    sub = kiosk.subscribe()

    def generate():
        try:
            yield f"retry: 2000\nevent: view\ndata: {first}\n\n"
            while True:
                item = sub.get(KEEPALIVE_S)
                if item is None:
                    yield ": keep-alive\n\n"
                    continue
                kind, payload = item
                if kind == "bye":
                    return
                if kind != "lane" or payload.get("name") != lane:
                    continue
                shown = kiosk.resident_view(lane, payload)
                yield f"event: view\ndata: {json.dumps(shown, ensure_ascii=False)}\n\n"
        finally:
            sub.close()

    return Response(
        generate(),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
