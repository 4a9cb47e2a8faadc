"""Serving the guard screen: uvicorn (an asyncio HTTP server), the Flask app in a2wsgi's
thread pool, the live streams (:mod:`kiosk.ui.stream`: the guard screen's and the resident
screen's) native on the event loop.

A page or an API call takes a pool thread for as long as it runs; an open guard screen's
stream takes none, so any number of open screens leaves ``/healthz`` and sign-in answering.
The listening socket is bound when the server is made (a port in use is a configuration error
at once), and :meth:`ScreenServer.close` stops it from any thread: the streams end, the
connections close, the loop and its thread finish, with nothing left to print.

HTTPS: given a certificate and its key, the server speaks TLS itself (Python's ``ssl``), so
the client addresses the sign-in throttle counts are the real ones.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import threading
from pathlib import Path

import uvicorn
from a2wsgi import WSGIMiddleware
from flask import Flask

from kiosk.errors import ConfigError
from kiosk.ui import SECURITY_HEADERS, auth, resident, stream

log = logging.getLogger(__name__)

#: The resident screen's live stream, served on the loop too.
RESIDENT_STREAM = re.compile(r"/resident/([^/]+)/stream")
#: Threads running the Flask app (pages, API calls, sign-ins).
WORKERS = 16
#: Seconds the server waits for requests in flight when it stops.
GRACE_S = 3.0


class ScreenServer:
    """The guard screen on *host*:*port* (bound now, served by :meth:`run`).

    :param app: the Flask app of :func:`kiosk.ui.create_app`.
    :param tls: ``(certificate file, key file)`` to serve HTTPS, or None for HTTP.
    :param workers: threads running the Flask app.
    :param keepalive_s: seconds between a stream's keep-alives and session checks.
    :raises OSError: the address cannot be bound.
    :raises ConfigError: the certificate or its key cannot be used.
    """

    def __init__(
        self,
        app: Flask,
        host: str,
        port: int,
        *,
        tls: tuple[Path, Path] | None = None,
        workers: int = WORKERS,
        keepalive_s: float = stream.KEEPALIVE_S,
    ) -> None:
        self.app = app
        facade = app.extensions["kiosk"]
        sessions = app.extensions["kiosk.sessions"]
        self.streams = stream.Streams(
            who=lambda cookie: auth.session_id(app, cookie),
            alive=lambda sid: sessions.get(sid, touch=False) is not None,
            state=facade.state,
            listen=facade.listen,
            resident_view=facade.resident_view,
            kiosk_only=resident.kiosk_only,
            headers={**SECURITY_HEADERS, "Cache-Control": "no-store"},
            keepalive_s=keepalive_s,
        )
        self.wsgi = WSGIMiddleware(app, workers=workers)
        self.https = tls is not None
        config = uvicorn.Config(
            self._asgi,
            http="h11",
            ws="none",
            interface="asgi3",
            lifespan="off",
            log_config=None,
            log_level="warning",
            access_log=False,
            proxy_headers=False,
            server_header=False,
            timeout_graceful_shutdown=GRACE_S,
            ssl_certfile=str(tls[0]) if tls else None,
            ssl_keyfile=str(tls[1]) if tls else None,
        )
        try:
            config.load()  # reads the certificate and key
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"[ui] tls_cert_file / tls_key_file: cannot use {tls[0]} with {tls[1]}: {exc}"
            ) from None
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.socket = socket.socket(family, socket.SOCK_STREAM)
        try:
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.socket.bind((host, port))
            self.socket.listen(128)
        except OSError:
            self.socket.close()
            raise
        self.host = host
        self.port = self.socket.getsockname()[1]
        self._server = uvicorn.Server(config)
        self._done = threading.Event()
        self._running = False

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"{'https' if self.https else 'http'}://{host}:{self.port}"

    async def _asgi(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            if scope["path"] == stream.PATH:
                await self.streams(scope, receive, send)
                return
            lane = RESIDENT_STREAM.fullmatch(scope["path"])
            if lane:
                await self.streams.resident(scope, receive, send, lane.group(1))
                return
        await self.wsgi(scope, receive, send)

    def start(self) -> threading.Thread:
        """Serve in a thread of its own (``http``) until :meth:`close`."""
        self._running = True
        thread = threading.Thread(target=self.run, name="http", daemon=True)
        thread.start()
        return thread

    def run(self) -> None:
        """Serve until :meth:`close` (in this thread, on its own event loop)."""
        self._running = True
        try:
            asyncio.run(self._serve())
        finally:
            self.wsgi.executor.shutdown(wait=False, cancel_futures=True)
            self._done.set()

    async def _serve(self) -> None:
        self.streams.bind(asyncio.get_running_loop())
        try:
            await self._server.serve(sockets=[self.socket])
        finally:
            self.streams.unbind()

    def close(self, timeout: float = GRACE_S + 2.0) -> None:
        """Stop serving (from any thread); returns once the server has stopped, or after
        *timeout* seconds. Safe to call twice, and before :meth:`run`."""
        self.streams.close()
        self._server.should_exit = True
        if self._running and not self._done.wait(timeout):
            log.error("the guard screen's server did not stop within %.0f s", timeout)
        self.socket.close()
