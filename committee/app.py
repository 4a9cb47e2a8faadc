"""The committee server's Flask application: ``create_app(server)``.

:class:`Server` is the one object the views reach (``current_app.extensions["committee"]``):
the configuration, the database and the clock. The gate API is the blueprint of
:mod:`committee.api` under ``/api/v1``; the committee's own pages are :mod:`committee.web`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from flask import Flask, render_template, request
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

from committee import api
from committee.config import Config
from committee.db import Database

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Server:
    """What the views work with. *clock* returns the current moment (timezone-aware).

    :attr:`listeners` are told ``(gate_id, acked_seq)`` after each batch is committed (the
    committee's live pages subscribe here); a listener must not block, and one that raises
    is logged and skipped.
    """

    config: Config
    db: Database
    clock: Callable[[], datetime] = field(default=utc_now)
    listeners: list[Callable[[str, int], None]] = field(default_factory=list)

    def now(self) -> datetime:
        return self.clock()

    def stored(self, gate_id: str, acked_seq: int) -> None:
        """Tell every listener that *gate_id*'s events up to *acked_seq* are stored."""
        for listener in list(self.listeners):
            try:
                listener(gate_id, acked_seq)
            except Exception:
                log.exception("a listener of stored events failed")

    def today(self) -> date:
        """Today in the compounds' time zone (``[sites] timezone``)."""
        return self.clock().astimezone(self.config.tz).date()


def create_app(server: Server) -> Flask:
    """The gate API under ``/api/v1`` and the committee's pages (:mod:`committee.web`)."""
    from committee import web

    app = Flask("committee", static_folder="web/static", template_folder="web/templates")
    app.config["MAX_CONTENT_LENGTH"] = api.MAX_BODY_BYTES
    app.extensions["committee"] = server
    app.register_blueprint(api.bp, url_prefix="/api/v1")
    web.setup(app, server, csrf_exempt=(api.bp,))

    @app.get("/healthz")
    def healthz():
        return api.reply(200, {"ok": True})

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if request.path.startswith("/api/"):
            return api.reply(exc.code or 500, {"error": exc.description or exc.name})
        return exc

    @app.errorhandler(SQLAlchemyError)
    def database_error(exc: SQLAlchemyError):
        if not request.path.startswith("/api/"):
            log.error("database: %s", exc)
            return render_template("error.html", message_key="error.database"), 503
        return api.database_unavailable(exc)

    @app.errorhandler(Exception)
    def internal_error(exc: Exception):
        log.exception("internal error on %s %s", request.method, request.path)
        if not request.path.startswith("/api/"):
            return render_template("error.html", message_key="error.internal"), 500
        return api.reply(500, {"error": "internal error"})

    return app
