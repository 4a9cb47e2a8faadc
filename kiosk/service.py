"""Serving the running kiosk: the guard screen on waitress, signals, a clean stop.

SIGTERM and SIGINT take the same path as a normal stop; the handler turns the relays off at
once, before anything else is torn down.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import threading
from pathlib import Path

from kiosk.errors import ConfigError
from kiosk.ui import create_app, serve

log = logging.getLogger(__name__)


def load_secret(path: Path) -> bytes:
    """The session-signing secret in *path*, created with mode 0600 when missing."""
    try:
        return bytes.fromhex(path.read_text().strip())
    except FileNotFoundError:
        pass
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: not a usable secret file ({exc}); delete it to renew") from None
    secret = secrets.token_bytes(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret.hex())
    return secret


def build_app(kiosk, extras: dict | None = None):
    cfg = kiosk.config
    app = create_app(
        kiosk,
        secret_key=load_secret(cfg.resolve(cfg.ui.secret_file, cfg.data_dir)),
        session_idle_min=cfg.ui.session_idle_min,
    )
    app.extensions.update(extras or {})
    return app


class Service:
    """The guard screen bound to its port, ready to run the kiosk.

    :raises ConfigError: the port cannot be bound (the kiosk is closed then).
    """

    def __init__(self, kiosk, host: str, port: int, *, extras: dict | None = None) -> None:
        self.kiosk = kiosk
        self.host = host
        self.port = port
        try:
            self.app = build_app(kiosk, extras)
            self.server = serve(self.app, host, port)
        except (OSError, ConfigError) as exc:
            kiosk.close()
            if isinstance(exc, ConfigError):
                raise
            raise ConfigError(f"cannot listen on {host}:{port}: {exc}") from None

    def run(self) -> None:
        """Start the kiosk; return after SIGTERM / SIGINT with everything stopped."""
        kiosk, server = self.kiosk, self.server
        stop = threading.Event()

        def on_signal(signum, frame):
            kiosk.relays_off()
            stop.set()

        previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        http = threading.Thread(target=server.run, name="http", daemon=True)
        try:
            kiosk.start()
            http.start()
            log.info("serving the guard screen on http://%s:%d", self.host, self.port)
            while not stop.wait(1.0):
                pass
        finally:
            kiosk.stop()
            server.close()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            log.info("stopped")


def serve_forever(kiosk, host: str, port: int, *, extras: dict | None = None) -> None:
    """Bind, start *kiosk* and its guard screen; return after SIGTERM / SIGINT."""
    Service(kiosk, host, port, extras=extras).run()
