"""Maintenance index (maintenance and admin roles): the effective configuration with secrets
hidden, health, uplink status, accounts and recent log lines.

The thermometer, camera and relay pages live in their own blueprint under
``/maintenance/<lane>/...``; this one owns ``/maintenance/`` only.
"""

from __future__ import annotations

import collections
import logging
import threading

from flask import Blueprint, current_app, render_template

from kiosk.ui.auth import login_required

bp = Blueprint("admin", __name__, url_prefix="/maintenance")


class LogRing(logging.Handler):
    """Keeps the last *size* formatted log lines in memory for the maintenance page."""

    def __init__(self, size: int = 200) -> None:
        super().__init__(logging.INFO)
        self.lines: collections.deque[str] = collections.deque(maxlen=size)
        self._ring_lock = threading.Lock()
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:  # pragma: no cover - a bad log call never breaks the caller
            return
        with self._ring_lock:
            self.lines.append(line)

    def tail(self, n: int = 100) -> list[str]:
        with self._ring_lock:
            return list(self.lines)[-n:]


def setup(app) -> None:
    """Attach one :class:`LogRing` to the root logger (shared by every app in the process)."""
    root = logging.getLogger()
    ring = next((h for h in root.handlers if isinstance(h, LogRing)), None)
    if ring is None:
        ring = LogRing()
        root.addHandler(ring)
    app.extensions["kiosk.log_ring"] = ring


@bp.get("/")
@login_required("maintenance")
def index():
    facade = current_app.extensions["kiosk"]
    uplink = facade.uplink_status()
    return render_template(
        "admin.html",
        config_lines=facade.config_lines(),
        config_path=facade.config_path,
        health=facade.health(),
        badges=facade.badges(),
        uplink=None if uplink["state"] == "disabled" else uplink,
        accounts=facade.accounts(),
        log_lines=current_app.extensions["kiosk.log_ring"].tail(100),
    )
