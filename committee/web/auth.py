"""Sign-in, sign-out, the language switch, and what every other view needs: a live session.

Failed sign-ins are counted per account (:func:`committee.accounts.sign_in`): after five in
a row the account is refused for a minute, doubling with each further failure up to an hour,
without the password being looked at; a good sign-in clears it. A new session id is made at
every sign-in; sign-out removes it from the database, so a copied cookie stops working.
"""

from __future__ import annotations

import functools

from flask import (
    Blueprint,
    current_app,
    g,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from committee import accounts
from committee.web import i18n
from kiosk.weburl import local_path

bp = Blueprint("auth", __name__)


def server():
    return current_app.extensions["committee"]


def idle_s() -> float:
    return server().config.web.session_idle_min * 60.0


def _wants_json() -> bool:
    return (
        request.path.startswith(("/live/", "/now/state"))
        or request.is_json
        or (request.accept_mimetypes.best in ("application/json", "text/event-stream"))
    )


def login_required(*, change: bool = False, admin: bool = False):
    """Views need a live session (:attr:`flask.g.viewer`); *change*: a role that may change
    things (not street); *admin*: the admin role."""

    def wrap(view):
        @functools.wraps(view)
        def inner(*args, **kwargs):
            srv = server()
            with srv.db.transaction() as db:
                viewer = accounts.session_viewer(db, session.get("sid"), srv.now(), idle_s())
            if viewer is None:
                if _wants_json():
                    return jsonify(error="login required"), 401
                return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
            g.viewer = viewer
            if (change and not viewer.can_change) or (admin and not viewer.is_admin):
                if _wants_json():
                    return jsonify(error="forbidden"), 403
                return render_template("error.html", message_key="error.forbidden"), 403
            return view(*args, **kwargs)

        return inner

    return wrap


@bp.route("/login", methods=["GET", "POST"])
def login():
    error, status, wait = None, 200, 0
    if request.method == "POST":
        name = (request.form.get("user") or "").strip()[:64]
        password = request.form.get("password") or ""
        srv = server()
        now = srv.now()
        with srv.db.transaction() as db:
            result = accounts.sign_in(db, name, password, now)
            sid = accounts.new_session(db, result.account, now) if result.account else None
            if sid:
                accounts.end_session(db, session.get("sid"))
        if result.wait_s > 0:
            error, status, wait = "login.throttled", 429, result.wait_s
        elif sid is None:
            error, status = "login.failed", 401
        else:
            lang = request.form.get("lang")
            session.clear()
            session.permanent = True
            session["sid"] = sid
            session["lang"] = lang if lang in i18n.LANGUAGES else "zh"
            return redirect(local_path(request.args.get("next")))
    response = make_response(render_template("login.html", error=error, wait=round(wait)), status)
    if wait:
        response.headers["Retry-After"] = str(max(1, round(wait)))
    return response


@bp.post("/logout")
def logout():
    srv = server()
    with srv.db.transaction() as db:
        accounts.end_session(db, session.get("sid"))
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    return redirect(url_for("auth.login"))


@bp.post("/lang")
def switch_language():
    session["lang"] = "en" if g.lang == "zh" else "zh"
    referrer = request.referrer or ""
    return redirect(referrer if referrer.startswith(request.host_url) else "/")


@bp.get("/session")
def session_state():
    """Whether this browser still has a live session (does not count as activity)."""
    srv = server()
    with srv.db.transaction() as db:
        viewer = accounts.session_viewer(db, session.get("sid"), srv.now(), idle_s(), touch=False)
    return jsonify(live=viewer is not None), (200 if viewer else 401)
