"""Now (实时): every gate of the viewer's sites, newest events first, live; the alarm banner
until someone records what was done; gate health."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, g, jsonify, redirect, render_template, request
from flask import session as cookie

from committee import accounts, alarms, live
from committee.errors import NotFound, Refused
from committee.web import i18n
from committee.web.auth import login_required, server

bp = Blueprint("now", __name__)


def publisher() -> live.Publisher:
    return current_app.extensions["committee.live"]


@bp.get("/")
def home():
    return redirect("/now")


@bp.get("/now")
@login_required()
def page():
    srv = server()
    with srv.db.transaction() as session:
        state = live.snapshot(session, g.viewer.site_ids, srv.now())
    return render_template(
        "now.html",
        state=state,
        words=i18n.bundle(g.lang, "now."),
        outcomes=alarms.OTHER_OUTCOMES,
        threshold=srv.config.web.fever_threshold_c,
    )


@bp.get("/now/state")
@login_required()
def state():
    """The Now page's whole state as JSON (the page polls it while no stream is free)."""
    srv = server()
    with srv.db.transaction() as session:
        return jsonify(live.snapshot(session, g.viewer.site_ids, srv.now()))


@bp.get("/live/stream")
@login_required()
def stream():
    """Server-sent events: ``snapshot`` first, then ``event``, ``alarms`` and ``gates``.

    The connection is handed to the live publisher (:mod:`committee.live`) once the first
    bytes are out; no request thread waits on it. 503 with Retry-After when the server has
    ``[web] max_streams`` open already.
    """
    hub = publisher()
    if not hub.admit():
        return Response(
            "too many live pages are open; polling instead\n",
            status=503,
            headers={"Retry-After": "15"},
            mimetype="text/plain",
        )
    hub.start()
    request.environ[live.HANDOFF] = hub.handoff(
        g.viewer.site_ids, accounts.digest(cookie.get("sid", ""))
    )

    def first():
        yield live.RETRY

    return Response(
        first(),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@bp.post("/alarms/<int:alarm_id>/ack")
@login_required(change=True)
def acknowledge(alarm_id: int):
    """Record what was done about an alarm (JSON or a form)."""
    body = request.get_json(silent=True) if request.is_json else request.form
    body = body or {}
    outcome = str(body.get("outcome") or "")
    note = str(body.get("note") or "")[:500]
    value = None
    raw = body.get("value_c")
    if raw not in (None, ""):
        try:
            value = float(raw)
        except (TypeError, ValueError):
            return _refused("now.error.value")
    srv = server()
    try:
        with srv.db.transaction() as session:
            alarms.acknowledge(
                session,
                alarm_id,
                outcome,
                by=g.viewer.name,
                now=srv.now(),
                value_c=value,
                note=note,
                threshold_c=srv.config.web.fever_threshold_c,
                site_ids=g.viewer.site_ids,
            )
    except NotFound:
        return _refused("now.error.gone", 404)
    except Refused as exc:
        key = _ack_problem(str(exc))
        return _refused(key, 409 if key == "now.error.gone" else 400)
    publisher().wake.set()
    if request.is_json:
        return jsonify(ok=True)
    return redirect("/now")


def _ack_problem(message: str) -> str:
    if "still a fever" in message:
        return "now.error.still_fever"
    if "measured by hand" in message:
        return "now.error.value"
    if "acknowledged already" in message:
        return "now.error.gone"
    return "now.error.outcome"


def _refused(key: str, status: int = 400):
    text = i18n.translate(key, g.lang)
    if request.is_json:
        return jsonify(error=key, message=text), status
    return render_template("error.html", message_key=key), status
