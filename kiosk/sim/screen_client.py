"""A scripted browser for the guard screen's real server, for tests and benchmarks: sign in
(from a chosen loopback address), call pages and JSON endpoints with the CSRF token, hold live
streams open without a thread each."""

from __future__ import annotations

import http.client
import json
import re
import ssl
from urllib.parse import urlencode, urlsplit


class ScreenClient:
    """One browser's worth of cookies against *base* (``http://127.0.0.1:PORT``).

    :param source: the loopback address to connect from (``127.0.0.5``), or None.
    :param tls: an :class:`ssl.SSLContext` for an ``https`` base.
    """

    def __init__(self, base: str, *, source: str | None = None, tls=None, timeout=10.0):
        parts = urlsplit(base)
        self.https = parts.scheme == "https"
        self.host, self.port = parts.hostname, parts.port
        self.source, self.tls, self.timeout = source, tls, timeout
        self.cookies: dict[str, str] = {}
        self.set_cookie: list[str] = []
        self.csrf = ""

    def connection(self, timeout: float | None = None) -> http.client.HTTPConnection:
        options = {"timeout": timeout or self.timeout}
        if self.source:
            options["source_address"] = (self.source, 0)
        if self.https:
            return http.client.HTTPSConnection(
                self.host, self.port, context=self.tls or ssl.create_default_context(), **options
            )
        return http.client.HTTPConnection(self.host, self.port, **options)

    def _headers(self, extra=None) -> dict:
        headers = {"Connection": "close"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        return {**headers, **(extra or {})}

    def _keep(self, response) -> None:
        for value in response.headers.get_all("Set-Cookie") or []:
            self.set_cookie.append(value)
            name, _, rest = value.partition("=")
            self.cookies[name] = rest.split(";", 1)[0]

    def request(self, method: str, path: str, body=None, headers=None):
        """``(status, headers, body bytes)``."""
        conn = self.connection()
        try:
            conn.request(method, path, body=body, headers=self._headers(headers))
            response = conn.getresponse()
            data = response.read()
            self._keep(response)
            return response.status, response.headers, data
        finally:
            conn.close()

    def get(self, path: str):
        status, headers, data = self.request("GET", path)
        token = re.search(rb'name="csrf-token" content="([^"]+)"', data)
        if token:
            self.csrf = token.group(1).decode()
        return status, headers, data

    def sign_in(self, user: str, password: str) -> int:
        """The sign-in's status (302 when it worked)."""
        _, _, page = self.get("/login")
        token = re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()
        form = urlencode({"csrf_token": token, "user": user, "password": password})
        status, _, _ = self.request(
            "POST", "/login", form, {"Content-Type": "application/x-www-form-urlencoded"}
        )
        if status == 302:
            self.get("/")  # the CSRF token of the signed-in session
        return status

    def post_json(self, path: str, body) -> tuple[int, dict]:
        status, _, data = self.request(
            "POST",
            path,
            json.dumps(body),
            {"Content-Type": "application/json", "X-CSRFToken": self.csrf},
        )
        return status, json.loads(data or b"{}")

    def open_stream(self, timeout: float = 10.0) -> Stream:
        """``GET /stream``, its headers read; the stream stays open."""
        return self.open_stream_at("/stream", timeout)

    def open_stream_at(self, path: str, timeout: float = 10.0) -> Stream:
        """``GET path`` of a live stream, its headers read; the stream stays open."""
        conn = self.connection(timeout)
        conn.request("GET", path, headers=self._headers({"Accept": "text/event-stream"}))
        return Stream(conn, conn.getresponse())


class Stream:
    """An open ``/stream`` response, read message by message."""

    def __init__(self, conn, response) -> None:
        self.conn, self.response = conn, response
        self.status = response.status

    def next(self) -> bytes:
        """The next message (up to its blank line); b"" once the stream has ended."""
        lines = []
        while True:
            line = self.response.readline()
            if not line:
                return b"".join(lines)
            lines.append(line)
            if line == b"\n":
                return b"".join(lines)

    def close(self) -> None:
        """Close the connection, as a browser tab that goes away does."""
        self.response.close()  # the socket closes only once its file is closed too
        self.conn.close()
