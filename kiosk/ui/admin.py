"""Maintenance index (maintenance and admin roles): the effective configuration with secrets
hidden, health, uplink status, accounts and recent log lines.

The thermometer, camera and relay pages live in their own blueprint under
``/maintenance/<lane>/...``; this one owns ``/maintenance/`` only.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import threading
from pathlib import Path
from typing import Any

from flask import Blueprint, current_app, render_template

from kiosk.ui.auth import login_required

bp = Blueprint("admin", __name__, url_prefix="/maintenance")

#: Keys whose values are never shown (matched on the key's last part).
SECRET_SUFFIXES = ("password", "secret", "token")
HIDDEN = "（已隐藏 hidden）"


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


def redacted(value: Any, key: str = "") -> Any:
    """*value* (a config dataclass, dict or scalar) as plain data with secrets hidden."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {k: redacted(v, str(k)) for k, v in value.items()}
    if key.lower().endswith(SECRET_SUFFIXES):
        return HIDDEN if value else ""
    if isinstance(value, Path):
        return str(value)
    return value


def config_lines(config) -> list[str]:
    """The effective configuration as TOML-like lines, secrets hidden."""
    lines: list[str] = []

    def walk(table: dict, prefix: str) -> None:
        scalars = {k: v for k, v in table.items() if not isinstance(v, dict)}
        if scalars or not prefix:
            if prefix:
                lines.append(f"[{prefix}]")
            lines.extend(f"{k} = {v!r}" for k, v in scalars.items())
        for k, v in table.items():
            if isinstance(v, dict):
                walk(v, f"{prefix}.{k}" if prefix else k)

    walk(redacted(config), "")
    return lines


@bp.get("/")
@login_required("maintenance")
def index():
    kiosk = current_app.extensions["kiosk"]
    uplink = getattr(kiosk, "uplink", None)
    accounts = kiosk.journal.list_users()
    return render_template(
        "admin.html",
        config_lines=config_lines(kiosk.config),
        config_path=str(kiosk.config.path or ""),
        health=kiosk.health(),
        badges=kiosk.badges(),
        uplink=uplink.status() if uplink is not None else None,
        accounts=accounts,
        log_lines=current_app.extensions["kiosk.log_ring"].tail(100),
    )
