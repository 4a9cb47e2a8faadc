"""Serving the running kiosk: the guard screen (:mod:`kiosk.ui.server`), signals, systemd,
a clean stop.

SIGTERM and SIGINT take the same path as a normal stop; the handler turns the relays off at
once, before anything else is torn down (measured by ``python -m bench sigterm``).

Under systemd (``Type=notify``) the daemon sends ``READY=1`` once the guard screen listens,
and ``WATCHDOG=1`` at half the ``WatchdogSec=`` interval *only while* :meth:`Kiosk.alive`
says the lane threads, the relay timers and the journal are alive; a hung lane therefore stops
the pings and systemd restarts the daemon (the relay timer has long closed the gate by then).
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import signal
import sys
import threading
import time
from pathlib import Path

from kiosk.errors import ConfigError
from kiosk.sdnotify import Notifier
from kiosk.ui import create_app, serve

log = logging.getLogger(__name__)

#: How often the main loop runs maintenance (journal flush, alerts, retention) when systemd
#: asks for no watchdog, in seconds.
MAINTENANCE_S = 1.0

# A pass token or anything shaped like one never reaches the logs (no personal data in logs).
_TOKEN = re.compile(r"KP\d:[0-9A-Z $%*+\-./:]{8,}")


def redact(text: str) -> str:
    """*text* with pass tokens replaced by ``<pass>``."""
    return _TOKEN.sub("<pass>", text)


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for journald: ``level``, ``logger``, ``msg`` (+ ``exc``).

    Messages are passed through :func:`redact`; the code logs ids and reasons, never names,
    households' people or tokens.
    """

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "thread": record.threadName,
            "msg": redact(record.getMessage()),
        }
        if record.exc_info:
            out["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(out, ensure_ascii=False)


def configure_logging(*, verbose: bool = False, json_lines: bool | None = None) -> None:
    """Log to stdout; JSON lines when under journald (``$JOURNAL_STREAM``) or not a terminal."""
    if json_lines is None:
        json_lines = bool(os.environ.get("JOURNAL_STREAM")) or not sys.stdout.isatty()
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        JsonFormatter()
        if json_lines
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)


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
        kiosk.facade,
        secret_key=load_secret(cfg.resolve(cfg.ui.secret_file, cfg.data_dir)),
        session_idle_min=cfg.ui.session_idle_min,
        https=cfg.ui.https,
    )
    app.extensions.update(extras or {})
    return app


def screen_server(app, cfg, host: str, port: int, **options):
    """The guard screen's server for *app* on *host*:*port*, over HTTPS when the
    configuration names a certificate; warns when the LAN would reach it over plain HTTP.

    :raises ConfigError: the port cannot be bound, or the certificate or key is unusable.
    """
    ui = cfg.ui
    tls = (cfg.resolve(ui.tls_cert_file), cfg.resolve(ui.tls_key_file)) if ui.https else None
    try:
        server = serve(app, host, port, tls=tls, **options)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc}") from None
    except ConfigError as exc:
        raise ConfigError(f"{cfg.path or 'configuration'}: {exc}") from None
    if tls is None and not (host in ("localhost", "::1") or host.startswith("127.")):
        log.warning(
            "the guard screen is served to the LAN on %s:%d over plain HTTP: passwords and "
            "session cookies cross the network readable; set [ui] tls_cert_file and "
            "tls_key_file (docs/operations.md, HTTPS on the compound LAN)",
            host or "0.0.0.0",
            port,
        )
    return server


class Watchdog:
    """Pings systemd while the kiosk is alive; says why when it stops pinging.

    :param kiosk: anything with ``alive() -> (ok, problems)``.
    :param notifier: a :class:`kiosk.sdnotify.Notifier`.
    """

    def __init__(self, kiosk, notifier: Notifier) -> None:
        self.kiosk = kiosk
        self.notifier = notifier
        self.withheld: list[str] = []

    def step(self) -> bool:
        """Send ``WATCHDOG=1`` if the kiosk is alive; return whether it was sent."""
        try:
            ok, problems = self.kiosk.alive()
        except Exception as exc:  # a check that fails is a dead kiosk
            ok, problems = False, [f"health check failed: {type(exc).__name__}"]
        if not ok:
            if problems != self.withheld:
                log.error("watchdog ping withheld: %s", "; ".join(problems))
                self.notifier.notify("STATUS=unhealthy: " + "; ".join(problems)[:200])
            self.withheld = problems
            return False
        if self.withheld:
            log.info("watchdog: healthy again")
            self.withheld = []
        return self.notifier.notify("WATCHDOG=1")


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
            self.server = screen_server(self.app, kiosk.config, host, port)
        except ConfigError:
            kiosk.close()
            raise

    def run(self, notifier: Notifier | None = None) -> None:
        """Start the kiosk; return after SIGTERM / SIGINT with everything stopped."""
        kiosk, server, host, port = self.kiosk, self.server, self.host, self.port
        notifier = notifier or Notifier()
        stop = threading.Event()
        received: list[tuple[int, float]] = []

        def on_signal(signum, frame):
            kiosk.relays_off()  # first, before anything else
            received.append((signum, time.monotonic()))
            stop.set()

        previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        watchdog = Watchdog(kiosk, notifier)
        interval = min(MAINTENANCE_S, notifier.watchdog_interval() or MAINTENANCE_S)
        try:
            kiosk.start()
            server.start()
            log.info("serving the guard screen on %s", server.url)
            notifier.notify("READY=1", f"STATUS=serving on {host}:{port}", f"MAINPID={os.getpid()}")
            watchdog.step()
            while not stop.wait(interval):
                kiosk.maintain()
                watchdog.step()
        finally:
            if received:
                signum, at = received[0]
                log.info(
                    "%s: relays turned off at monotonic %.6f",
                    signal.Signals(signum).name,
                    at,
                )
            notifier.notify("STOPPING=1")
            kiosk.stop()
            server.close()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            log.info("stopped")


def serve_forever(
    kiosk, host: str, port: int, *, extras: dict | None = None, notifier: Notifier | None = None
) -> None:
    """Bind, start *kiosk* and its guard screen; return after SIGTERM / SIGINT."""
    Service(kiosk, host, port, extras=extras).run(notifier)
