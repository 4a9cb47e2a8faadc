"""Sign-in and sign-out; every page but the sign-in page needs a session.

Sessions are signed cookies that also carry a server-side id: signing out (or an idle timeout)
removes the id, so a copied cookie stops working.
"""

from __future__ import annotations

import functools
import secrets
import threading
import time

from flask import (
    Blueprint,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from kiosk.accounts import Accounts

bp = Blueprint("auth", __name__)


class Sessions:
    """Server-side session ids with their last use (monotonic seconds)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids: dict[str, tuple[str, str, float]] = {}

    def new(self, user: str, role: str) -> str:
        sid = secrets.token_urlsafe(24)
        with self._lock:
            self._ids[sid] = (user, role, time.monotonic())
        return sid

    def get(self, sid: str | None, idle_s: float) -> tuple[str, str] | None:
        if not sid:
            return None
        with self._lock:
            entry = self._ids.get(sid)
            if entry is None:
                return None
            user, role, last = entry
            now = time.monotonic()
            if now - last > idle_s:
                del self._ids[sid]
                return None
            self._ids[sid] = (user, role, now)
            return user, role

    def end(self, sid: str | None) -> None:
        with self._lock:
            self._ids.pop(sid or "", None)


def _sessions() -> Sessions:
    return current_app.extensions.setdefault("kiosk.sessions", Sessions())


def _kiosk():
    return current_app.extensions["kiosk"]


def current_user() -> tuple[str, str] | None:
    idle = current_app.permanent_session_lifetime.total_seconds()
    return _sessions().get(session.get("sid"), idle)


def login_required(*roles: str):
    """Views need a session; with *roles*, one of those roles."""

    def wrap(view):
        @functools.wraps(view)
        def inner(*args, **kwargs):
            user = current_user()
            if user is None:
                if request.path.startswith("/api/") or request.accept_mimetypes.best == (
                    "text/event-stream"
                ):
                    return jsonify(error="login required"), 401
                return redirect(url_for("auth.login", next=request.path))
            g.user, g.role = user
            if roles and g.role not in roles and g.role != "admin":
                return jsonify(error="forbidden"), 403
            return view(*args, **kwargs)

        return inner

    return wrap


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    if request.method == "POST":
        name = (request.form.get("user") or "").strip()[:64]
        password = request.form.get("password") or ""
        role = Accounts(_kiosk().journal).check(name, password)
        client = request.remote_addr
        if role is None:
            _kiosk().journal.append("auth.login_failed", {"user": name, "client": client})
            error = "login.failed"
        else:
            _sessions().end(session.get("sid"))
            session.clear()
            session.permanent = True
            session["sid"] = _sessions().new(name, role)
            session["lang"] = request.form.get("lang") or "zh"
            _kiosk().journal.append("auth.login", {"user": name, "role": role, "client": client})
            target = request.args.get("next") or "/"
            if not target.startswith("/") or target.startswith("//"):
                target = "/"
            return redirect(target)
    return render_template("login.html", error=error), (401 if error else 200)


@bp.post("/logout")
def logout():
    _sessions().end(session.get("sid"))
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    return redirect(url_for("auth.login"))


@bp.post("/lang")
def switch_language():
    session["lang"] = "en" if g.lang == "zh" else "zh"
    return redirect(request.referrer if _same_origin(request.referrer) else "/")


def _same_origin(url: str | None) -> bool:
    return bool(url) and url.startswith(request.host_url)
