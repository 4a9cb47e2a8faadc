"""The guard screen: a Flask app, served with its live stream by :mod:`kiosk.ui.server`.

:func:`create_app` takes the running kiosk's :class:`kiosk.facade.Facade`, the one narrow
object the screens talk to; no view touches the journal, the configuration, the hardware or the
simulated world.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from flask import Flask, g, jsonify, render_template, request, session
from flask_wtf.csrf import CSRFError, CSRFProtect

from kiosk.policy import BODY_RANGE_C
from kiosk.ui import bodies, i18n

#: Headers on every response of the guard screen, the live stream's included.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "media-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "
        "base-uri 'none'; form-action 'self'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
#: Content types that are never cached.
NO_STORE = ("text/html", "application/json", "text/csv", "text/event-stream")


def create_app(
    facade,
    *,
    secret_key: bytes | None = None,
    session_idle_min: float = 30,
    maintenance_idle_min: float = 10,
    https: bool = False,
) -> Flask:
    """Build the guard-screen app around *facade* (:class:`kiosk.facade.Facade`).

    :param session_idle_min: idle minutes before a guard's session ends.
    :param maintenance_idle_min: the same for maintenance and admin sessions (never longer
        than a guard's).
    :param https: the screen is served over HTTPS: the session cookie is ``Secure``.
    """
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=secret_key or secrets.token_bytes(32),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=https,
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=session_idle_min),
        SESSION_REFRESH_EACH_REQUEST=True,
        WTF_CSRF_TIME_LIMIT=None,
        # Over HTTPS Flask-WTF would also demand a Referer from this host, which the pages'
        # own Referrer-Policy (no-referrer) withholds; the token, tied to the signed
        # server-side session, and the SameSite=Strict cookie are the check.
        WTF_CSRF_SSL_STRICT=False,
        MAX_CONTENT_LENGTH=64 * 1024,
        JSON_AS_ASCII=False,
    )
    app.extensions["kiosk"] = facade
    CSRFProtect(app)

    from kiosk.ui import (
        admin,
        auth,
        guard,
        maintenance,
        parcels,
        passes,
        records,
        registration,
        resident,
        sim,
    )

    auth.setup(
        app,
        facade,
        guard_idle_min=session_idle_min,
        maintenance_idle_min=maintenance_idle_min,
    )
    admin.setup(app)
    app.register_blueprint(auth.bp)
    app.register_blueprint(guard.bp)
    app.register_blueprint(passes.bp)
    app.register_blueprint(maintenance.bp)
    app.register_blueprint(registration.bp)
    app.register_blueprint(records.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(resident.bp)
    app.register_blueprint(parcels.bp)
    if facade.simulated:
        app.register_blueprint(sim.bp)

    @app.before_request
    def _language():
        lang = session.get("lang") or "zh"
        g.lang = lang if lang in i18n.LANGUAGES else "zh"

    @app.context_processor
    def _words():
        lang = getattr(g, "lang", "zh")
        return {
            "t": lambda key: i18n.translate(key, lang),
            "lang": lang,
            "role": getattr(g, "role", None),
            "body_range": BODY_RANGE_C,
            "user": getattr(g, "user", None),
        }

    @app.after_request
    def _headers(response):
        response.headers.update(SECURITY_HEADERS)
        if response.mimetype in NO_STORE:
            response.headers["Cache-Control"] = "no-store"
        return response

    app.register_error_handler(bodies.BadBody, bodies.refusal)

    @app.errorhandler(CSRFError)
    def _csrf(exc):
        if request.accept_mimetypes.best == "application/json" or request.is_json:
            # CSRFProtect checks before the other before_request hooks: no g.lang yet.
            lang = session.get("lang") if session.get("lang") in i18n.LANGUAGES else "zh"
            return jsonify(error="csrf", message=i18n.translate("error.csrf", lang)), 400
        return render_template("error.html", message_key="error.csrf"), 400

    @app.get("/healthz")
    def healthz():
        health = facade.health()
        return jsonify(health), (200 if health["ok"] else 503)

    return app


def serve(app: Flask, host: str, port: int, **options):
    """A :class:`kiosk.ui.server.ScreenServer` for *app* (bound, not started):
    ``server.run()`` serves until ``server.close()``."""
    from kiosk.ui.server import ScreenServer

    return ScreenServer(app, host, port, **options)
