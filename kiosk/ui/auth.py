"""Sign-in and sign-out; every page but the sign-in page needs a session.

Sessions are signed cookies that also carry a server-side id: signing out (or an idle timeout)
removes the id, so a copied cookie stops working. Maintenance and admin sessions time out
sooner than a guard's. Every request compares the session with its account as stored now, so
``kiosk user remove|passwd`` or a change of role (run in another process) ends the account's
sessions at their next request.

Sign-in is throttled per account and, at a much higher count, per client; an attempt is
counted *before* its password is checked, so guesses sent in parallel get no more checks than
one after the other. The kiosk's own screen (a loopback client) is never walled off: past a
limit it may try again at a slow, even pace.
"""

from __future__ import annotations

import functools
import ipaddress
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass

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
from itsdangerous import BadSignature
from werkzeug.http import parse_cookie

from kiosk.ui import i18n
from kiosk.weburl import local_path

bp = Blueprint("auth", __name__)


#: Failed sign-ins in a row on one account before it is refused for a while.
THROTTLE_AFTER = 5
#: Failed sign-ins in a row from one client (whatever the accounts) before it is refused.
CLIENT_THROTTLE_AFTER = 50
#: Seconds of the first refusal; doubled at each further failure, up to THROTTLE_MAX_S.
THROTTLE_FIRST_S = 60.0
THROTTLE_MAX_S = 3600.0
#: The kiosk's own screen past a limit: one try every this many seconds, never a wall.
LOCAL_PACE_S = 30.0


class Sessions:
    """Server-side session ids with their account's standing and last use (monotonic
    seconds of *clock*).

    :param idle_s: role -> seconds of inactivity after which a session ends.
    :param account: ``name -> Standing | None``, the account as stored now
        (:meth:`kiosk.facade.Facade.account`); a session whose account is gone, has another
        password or another role ends.
    """

    def __init__(self, clock, idle_s: dict[str, float], account: Callable) -> None:
        self.clock = clock
        self.idle_s = idle_s
        self.account = account
        self._lock = threading.Lock()
        self._ids: dict[str, tuple[str, tuple, float]] = {}  # sid -> (user, standing, last)

    def new(self, user: str, standing) -> str:
        """A new session of *user*, signed in with *standing* (``(role, generation)``)."""
        sid = secrets.token_urlsafe(24)
        with self._lock:
            self._ids[sid] = (user, tuple(standing), self.clock.monotonic())
        return sid

    def get(self, sid: str | None, *, touch: bool = True) -> tuple[str, str] | None:
        """``(user, role)`` of a live session; *touch* counts this as activity."""
        if not sid:
            return None
        with self._lock:
            entry = self._ids.get(sid)
        if entry is None:
            return None
        user, standing, last = entry
        now = self.clock.monotonic()
        role = standing[0]
        if now - last > self.idle_s.get(role, min(self.idle_s.values())):
            self.end(sid)
            return None
        now_standing = self.account(user)  # one indexed read of the store
        if now_standing is None or tuple(now_standing) != standing:
            self.end_user(user)
            return None
        if touch:
            with self._lock:
                if sid in self._ids:
                    self._ids[sid] = (user, standing, now)
        return user, role

    def end_user(self, user: str) -> None:
        """End every session of *user* (their password changed or they were removed)."""
        with self._lock:
            for sid in [k for k, v in self._ids.items() if v[0] == user]:
                del self._ids[sid]

    def end(self, sid: str | None) -> None:
        with self._lock:
            self._ids.pop(sid or "", None)


@dataclass(frozen=True)
class Attempt:
    """What the throttle says about one sign-in attempt.

    :ivar wait_s: > 0: refused, try again in this many seconds (nothing was counted).
    :ivar left: failures the account has left before it is refused, should this attempt
        turn out wrong (0: this one pauses it).
    :ivar lock_s: seconds refused from now on should this attempt turn out wrong.
    """

    wait_s: float = 0.0
    left: int = 0
    lock_s: float = 0.0


class Throttle:
    """Counts sign-in attempts per key (an account, a client address).

    An attempt is counted when it is made, before its password is checked, and a success
    clears its keys. After *limit* failures in a row a key is refused for
    :data:`THROTTLE_FIRST_S` seconds, doubling with each further failure up to
    :data:`THROTTLE_MAX_S`; for the kiosk's own screen (*local*) the refusal is
    :data:`LOCAL_PACE_S` seconds after each attempt, never longer. The table is bounded:
    the oldest keys go first.
    """

    def __init__(self, clock, *, size: int = 10000) -> None:
        self.clock = clock
        self.size = size
        self._lock = threading.Lock()
        self._keys: dict[str, tuple[int, float]] = {}  # key -> (failures, last attempt)

    @staticmethod
    def _block_s(failures: int, limit: int, local: bool) -> float:
        if failures < limit:
            return 0.0
        if local:
            return LOCAL_PACE_S
        return min(THROTTLE_FIRST_S * 2 ** (failures - limit), THROTTLE_MAX_S)

    def _wait_s(self, key: str, limit: int, local: bool, now: float) -> float:
        failures, last = self._keys.get(key, (0, now))
        return max(0.0, last + self._block_s(failures, limit, local) - now)

    def attempt(self, keys: list[tuple[str, int]], *, local: bool = False) -> Attempt:
        """Count an attempt on every ``(key, limit)`` of *keys*, unless one of them is
        refused now (then nothing is counted). The first key is the account."""
        now = self.clock.monotonic()
        with self._lock:
            wait = max(self._wait_s(k, limit, local, now) for k, limit in keys)
            if wait > 0:
                return Attempt(wait_s=wait)
            for key, _ in keys:
                failures, _last = self._keys.pop(key, (0, now))
                self._keys[key] = (failures + 1, now)
            while len(self._keys) > self.size:
                del self._keys[next(iter(self._keys))]
            (account, limit), *_ = keys
            lock = max(self._block_s(self._keys[k][0], n, local) for k, n in keys)
            return Attempt(left=max(0, limit - self._keys[account][0]), lock_s=lock)

    def succeeded(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._keys.pop(key, None)


def is_local(address: str | None) -> bool:
    """True for the kiosk's own screen: a loopback address."""
    try:
        return ipaddress.ip_address(address or "").is_loopback
    except ValueError:
        return False


def _sessions() -> Sessions:
    return current_app.extensions["kiosk.sessions"]


def _throttle() -> Throttle:
    return current_app.extensions["kiosk.throttle"]


def _facade():
    return current_app.extensions["kiosk"]


def current_user(*, touch: bool = True) -> tuple[str, str] | None:
    """``(user, role)`` of this request's live session, or None."""
    return _sessions().get(session.get("sid"), touch=touch)


def setup(app, facade, *, guard_idle_min: float, maintenance_idle_min: float) -> None:
    """Give *app* its session table and sign-in throttle."""
    guard_s = guard_idle_min * 60.0
    other_s = min(maintenance_idle_min, guard_idle_min) * 60.0
    app.extensions["kiosk.sessions"] = Sessions(
        facade.clock, {"guard": guard_s, "maintenance": other_s, "admin": other_s}, facade.account
    )
    app.extensions["kiosk.throttle"] = Throttle(facade.clock)


def session_id(app, cookie_header: str) -> str | None:
    """The id of the live session a request with *cookie_header* belongs to, or None; for
    a request Flask does not see (the live stream, :mod:`kiosk.ui.stream`). Counts as the
    session's activity, as any page does."""
    value = parse_cookie(cookie_header).get(app.config["SESSION_COOKIE_NAME"])
    serializer = app.session_interface.get_signing_serializer(app)
    if not value or serializer is None:
        return None
    try:
        data = serializer.loads(value, max_age=int(app.permanent_session_lifetime.total_seconds()))
    except BadSignature:
        return None
    sid = data.get("sid") if isinstance(data, dict) else None
    return sid if app.extensions["kiosk.sessions"].get(sid) else None


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
    if request.method == "GET":
        return render_template("login.html", name="", error=None, wait=0, left=0)
    name = (request.form.get("user") or "").strip()[:64]
    password = request.form.get("password") or ""
    client = request.remote_addr or "?"
    keys = [("user:" + name.lower(), THROTTLE_AFTER), ("client:" + client, CLIENT_THROTTLE_AFTER)]
    attempt = _throttle().attempt(keys, local=is_local(client))
    if attempt.wait_s > 0:
        # Refused without looking at the password; not journaled again (no flooding).
        return _login_page(name, "login.throttled", 429, attempt.wait_s)
    standing = _facade().sign_in(name, password)
    if standing is None:
        data = {"user": name, "client": client}
        if attempt.lock_s:
            data["throttled_s"] = attempt.lock_s
        _facade().record("auth.login_failed", data)
        return _login_page(name, "login.failed", 401, attempt.lock_s, left=attempt.left)
    _throttle().succeeded(*(key for key, _ in keys))
    _sessions().end(session.get("sid"))
    lang = request.form.get("lang")
    session.clear()  # a new session at every sign-in
    session.permanent = True
    session["sid"] = _sessions().new(name, standing)
    session["lang"] = lang if lang in i18n.LANGUAGES else "zh"
    _facade().record("auth.login", {"user": name, "role": standing.role, "client": client})
    return redirect(local_path(request.args.get("next")))


def _login_page(name: str, error: str, status: int, wait: float, left: int = 0):
    """The sign-in page again, the user name kept; with *wait* the seconds until the next
    try (a countdown on the page), with *left* == 1 a warning that one more failure locks."""
    wait_s = max(1, round(wait)) if wait > 0 else 0
    lock_s = LOCAL_PACE_S if is_local(request.remote_addr) else THROTTLE_FIRST_S
    page = render_template(
        "login.html", name=name, error=error, wait=wait_s, left=left, lock_s=round(lock_s)
    )
    response = make_response(page, status)
    if wait_s:
        response.headers["Retry-After"] = str(wait_s)
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
    """Switch the language and come back to the page it was asked from (its ``next`` path,
    sent by the form itself: the pages send no referrer). What was typed on the page is kept
    by the page's script (common.js)."""
    session["lang"] = "en" if g.lang == "zh" else "zh"
    return redirect(local_path(request.form.get("next")))
