"""The committee's pages: Now, households and passes, registrations, the daily report, who is
out, anomalies, the audit list; with the guard screen's rules.

Sessions are server-side (:mod:`committee.accounts`: the signed cookie carries a random id,
the database its hash), every change needs a CSRF token (Flask-WTF; the gate API is exempt:
gates authenticate with their bearer token), pages carry a CSP without inline script, and
the words come from one catalogue, Chinese first with English one tap away
(:mod:`committee.web.i18n`). Views parse, call the domain modules and render; they hold no
rules.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

from flask import Flask, g, jsonify, render_template, request, session
from flask_wtf.csrf import CSRFError, CSRFProtect

from committee.web import i18n

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
#: The secret that signs the cookies, in the data folder (0600), made on first use, so
#: that sessions survive a restart and every process of one server shares it.
SECRET_FILE = "web-secret"


def secret_key(data_dir: Path) -> bytes:
    """The cookie-signing key of *data_dir*, made (0600) when there is none."""
    path = data_dir / SECRET_FILE
    try:
        return bytes.fromhex(path.read_text().strip())
    except (FileNotFoundError, ValueError):
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key.hex() + "\n")
    return key


def setup(app: Flask, server, *, csrf_exempt=()) -> None:
    """Give *app* the committee's pages."""
    from committee.live import Publisher
    from committee.web import (
        anomalies,
        audit_view,
        auth,
        households_view,
        now,
        outings,
        registrations_view,
        report_view,
    )

    settings = server.config.web
    app.config.update(
        SECRET_KEY=secret_key(server.config.data_dir),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_NAME="committee_session",
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=settings.session_idle_min),
        SESSION_REFRESH_EACH_REQUEST=True,
        WTF_CSRF_TIME_LIMIT=None,
        JSON_AS_ASCII=False,
    )
    csrf = CSRFProtect(app)
    for blueprint in csrf_exempt:
        csrf.exempt(blueprint)
    app.extensions["committee.live"] = Publisher(server)
    for module in (
        auth,
        now,
        households_view,
        registrations_view,
        report_view,
        outings,
        anomalies,
        audit_view,
    ):
        app.register_blueprint(module.bp)

    @app.before_request
    def _language():
        lang = session.get("lang") or "zh"
        g.lang = lang if lang in i18n.LANGUAGES else "zh"

    @app.context_processor
    def _words():
        lang = getattr(g, "lang", "zh")
        return {
            "t": lambda key, **kw: i18n.translate(key, lang, **kw),
            "lang": lang,
            "viewer": getattr(g, "viewer", None),
        }

    @app.after_request
    def _headers(response):
        if request.path.startswith("/api/"):
            return response
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        if not request.path.startswith("/static/"):
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.errorhandler(CSRFError)
    def _csrf(exc):
        lang = session.get("lang") if session.get("lang") in i18n.LANGUAGES else "zh"
        g.lang = lang
        if request.accept_mimetypes.best == "application/json" or request.is_json:
            return jsonify(error="csrf", message=i18n.translate("error.csrf", lang)), 400
        return render_template("error.html", message_key="error.csrf"), 400
