"""A loopback HTTP proxy that loses replies after the server stored, delays and refuses.

It forwards each request whole to the real server and reads its whole reply before it
decides (seeded, so a run can be replayed) what the client gets: the reply (``ok``), nothing
(``drop``: the connection is closed after the server stored the batch), the reply late
(``delay``), or the connection closed at once without forwarding (``refuse``).
:meth:`Proxy.pause` stops listening altogether (connections are refused by the kernel) and
:meth:`Proxy.resume` listens on the same port again.
"""

from __future__ import annotations

import http.client
import random
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

KINDS = ("drop", "delay", "refuse")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address) -> None:
        """A client that gave up (its timeout) is part of the test."""


class Proxy:
    def __init__(self, upstream: str, *, rate: float = 0.3, delay_s: float = 0.4, seed: int = 0):
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname, parts.port)
        self.path = parts.path
        self.rate = rate
        self.delay_s = delay_s
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.faults: Counter = Counter()
        self.statuses: Counter = Counter()
        self.port = 0
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    def _pick(self) -> str:
        with self.lock:
            faulty = self.rate and self.rng.random() < self.rate
            kind = self.rng.choice(KINDS) if faulty else "ok"
            self.faults[kind] += 1
            return kind

    def start(self) -> Proxy:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format, *args) -> None:
                pass

            def _forward(self) -> None:
                kind = proxy._pick()
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                if kind == "refuse":
                    self.close_connection = True
                    return
                conn = http.client.HTTPConnection(*proxy.upstream, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
                conn.request(self.command, self.path, body=body, headers=headers)
                reply = conn.getresponse()
                data = reply.read()
                conn.close()
                with proxy.lock:
                    proxy.statuses[(self.path.rsplit("/", 1)[-1], reply.status, kind)] += 1
                if kind == "drop":
                    self.close_connection = True
                    return
                if kind == "delay":
                    time.sleep(proxy.delay_s)
                self.send_response(reply.status)
                for key, value in reply.getheaders():
                    if key.lower() not in ("connection", "transfer-encoding", "server", "date"):
                        self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = _forward
            do_POST = _forward

        self._httpd = _Server(("127.0.0.1", self.port), Handler)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def pause(self) -> None:
        """Stop listening: connections are refused until :meth:`resume`."""
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def resume(self) -> None:
        self.start()

    stop = pause
