"""Sign-in and sign-out; every page but the sign-in page needs a session.

Sessions are signed cookies that also carry a server-side id: signing out (or an idle timeout)
removes the id, so a copied cookie stops working. Maintenance and admin sessions time out
sooner than a guard's. Failed sign-ins are throttled per account and per client.
"""

from __future__ import annotations

import functools
import secrets
import threading

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

from kiosk.ui import i18n

bp = Blueprint("auth", __name__)


#: Failures in a row (per account, per client) before sign-in is refused for a while.
THROTTLE_AFTER = 5
#: Seconds of the first refusal; doubled at each further failure, up to THROTTLE_MAX_S.
THROTTLE_FIRST_S = 60.0
THROTTLE_MAX_S = 3600.0


class Sessions:
    """Server-side session ids with their last use (monotonic seconds of *clock*).

    :param idle_s: role -> seconds of inactivity after which a session ends.
    """

    def __init__(self, clock, idle_s: dict[str, float]) -> None:
        self.clock = clock
        self.idle_s = idle_s
        self._lock = threading.Lock()
        self._ids: dict[str, tuple[str, str, float]] = {}

    def new(self, user: str, role: str) -> str:
        sid = secrets.token_urlsafe(24)
        with self._lock:
            self._ids[sid] = (user, role, self.clock.monotonic())
        return sid

    def get(self, sid: str | None, *, touch: bool = True) -> tuple[str, str] | None:
        """``(user, role)`` of a live session; *touch* counts this as activity."""
        if not sid:
            return None
        with self._lock:
            entry = self._ids.get(sid)
            if entry is None:
                return None
            user, role, last = entry
            now = self.clock.monotonic()
            if now - last > self.idle_s.get(role, min(self.idle_s.values())):
                del self._ids[sid]
                return None
            if touch:
                self._ids[sid] = (user, role, now)
            return user, role

    def end_user(self, user: str) -> None:
        """End every session of *user* (their password changed or they were removed)."""
        with self._lock:
            for sid in [k for k, v in self._ids.items() if v[0] == user]:
                del self._ids[sid]

    def end(self, sid: str | None) -> None:
        with self._lock:
            self._ids.pop(sid or "", None)


class Throttle:
    """Counts failed sign-ins per key (an account or a client address).

    After :data:`THROTTLE_AFTER` failures in a row a key is refused for
    :data:`THROTTLE_FIRST_S` seconds, doubling with each further failure. A success clears
    the key. The table is bounded: the oldest keys go first.
    """

    def __init__(self, clock, *, limit: int = 10000) -> None:
        self.clock = clock
        self.limit = limit
        self._lock = threading.Lock()
        self._keys: dict[str, tuple[int, float]] = {}  # key -> (failures, blocked until)

    def wait_s(self, *keys: str) -> float:
        """Seconds until any of *keys* may try again (0: now)."""
        now = self.clock.monotonic()
        with self._lock:
            until = max((self._keys.get(k, (0, 0.0))[1] for k in keys), default=0.0)
        return max(0.0, until - now)

    def failed(self, *keys: str) -> float:
        """Count a failure for each of *keys*; returns the seconds they are now refused."""
        now = self.clock.monotonic()
        longest = 0.0
        with self._lock:
            for key in keys:
                failures, _ = self._keys.pop(key, (0, 0.0))
                failures += 1
                block = 0.0
                if failures >= THROTTLE_AFTER:
                    block = min(THROTTLE_FIRST_S * 2 ** (failures - THROTTLE_AFTER), THROTTLE_MAX_S)
                self._keys[key] = (failures, now + block)
                longest = max(longest, block)
            while len(self._keys) > self.limit:
                del self._keys[next(iter(self._keys))]
        return longest

    def succeeded(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._keys.pop(key, None)


def _sessions() -> Sessions:
    return current_app.extensions["kiosk.sessions"]


def _throttle() -> Throttle:
    return current_app.extensions["kiosk.throttle"]


def _facade():
    return current_app.extensions["kiosk"]


def current_user(*, touch: bool = True) -> tuple[str, str] | None:
    """``(user, role)`` of this request's live session, or None."""
    return _sessions().get(session.get("sid"), touch=touch)


def setup(app, clock, *, guard_idle_min: float, maintenance_idle_min: float) -> None:
    """Give *app* its session table and sign-in throttle."""
    guard_s = guard_idle_min * 60.0
    other_s = min(maintenance_idle_min, guard_idle_min) * 60.0
    app.extensions["kiosk.sessions"] = Sessions(
        clock, {"guard": guard_s, "maintenance": other_s, "admin": other_s}
    )
    app.extensions["kiosk.throttle"] = Throttle(clock)


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
                if request.path.startswith("/api/"):
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
        client = request.remote_addr or "?"
        keys = ("user:" + name.lower(), "client:" + client)
        wait = _throttle().wait_s(*keys)
        if wait > 0:
            # Refused without looking at the password; not journaled again (no flooding).
            error, status = "login.throttled", 429
        else:
            role = _facade().check_password(name, password)
            if role is None:
                blocked = _throttle().failed(*keys)
                data = {"user": name, "client": client}
                if blocked:
                    data["throttled_s"] = blocked
                _facade().record("auth.login_failed", data)
                error, status = "login.failed", 401
            else:
                _throttle().succeeded(*keys)
                _sessions().end(session.get("sid"))
                lang = request.form.get("lang")
                session.clear()  # a new session at every sign-in
                session.permanent = True
                session["sid"] = _sessions().new(name, role)
                session["lang"] = lang if lang in i18n.LANGUAGES else "zh"
                data = {"user": name, "role": role, "client": client}
                _facade().record("auth.login", data)
                target = request.args.get("next") or "/"
                if not target.startswith("/") or target.startswith("//"):
                    target = "/"
                return redirect(target)
    response = make_response(render_template("login.html", error=error, wait=round(wait)), status)
    if wait:
        response.headers["Retry-After"] = str(max(1, round(wait)))
    return response


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
