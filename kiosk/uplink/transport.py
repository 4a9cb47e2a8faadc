"""HTTP to the committee server: httpx on one keep-alive pool, with a total deadline.

:class:`Transport` sends one request and reads at most a given number of bytes of the reply.
Every request has a **total** deadline (``timeout_s``, real time): connecting, TLS, sending
and every read of the reply share it, so a server that trickles a byte a second, or a reply
that never ends, costs at most ``timeout_s``, not ``timeout_s`` per byte. The deadline is kept
by a network backend under httpcore (httpx's own transport layer), which gives each socket
operation only the time left. :meth:`Transport.abort` (called when the uplink stops) shuts
every open socket, so a request in flight ends at once; opening a TCP connection, which
cannot be interrupted, is bounded by :data:`CONNECT_TIMEOUT_S`.

The base URL is checked by :func:`check_url`: HTTPS anywhere, plain HTTP only to loopback.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

from kiosk.errors import UplinkError

CONNECT_TIMEOUT_S = 5.0
"""Longest wait for a TCP connection (it cannot be cut short, so it bounds a stop)."""
KEEPALIVE_S = 5.0
"""An idle connection is closed after this many seconds (real time) and opened anew."""


class Unreachable(Exception):
    """No complete HTTP reply: refused, reset, timed out, TLS failure, or stopping."""


@dataclass
class Reply:
    """One HTTP reply; ``truncated`` when the body was longer than the limit (not read)."""

    status: int
    headers: httpx.Headers
    body: bytes
    truncated: bool = False

    def header(self, name: str) -> str | None:
        return self.headers.get(name)


def check_url(url: str):
    """Check the committee base URL and return its :func:`urllib.parse.urlsplit` parts.

    HTTPS anywhere; plain HTTP only to this machine (127.0.0.0/8, ::1, localhost), for tests
    and the demo.

    :raises UplinkError: the URL is not usable, with the reason.
    """
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise UplinkError(f"uplink url {url!r} is not a URL: {exc}") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise UplinkError(f"uplink url {url!r} must be https://host/path")
    if parts.username is not None or parts.password is not None:
        raise UplinkError("uplink url must not carry a user or password; use token_file")
    if parts.query or parts.fragment:
        raise UplinkError(f"uplink url {url!r} must not have a query or fragment")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise UplinkError(
            f"uplink url {url!r}: plain http is refused for {parts.hostname}; the committee "
            "server is reached over https (http is allowed only to 127.0.0.1, ::1, localhost)"
        )
    return parts


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Transport:
    """One keep-alive connection pool to the committee server, shared by the uplink's rooms
    (thread-safe).

    :param url: the base URL (checked by :func:`check_url`).
    :param timeout_s: total deadline of one request, seconds of real time.
    :param ca_file: CA bundle to verify the server with; "" uses the system's CAs.
    :raises UplinkError: the URL or the CA file is unusable.
    """

    def __init__(self, url: str, *, timeout_s: float, ca_file: str = "") -> None:
        parts = check_url(url)
        self.url = url
        self.timeout_s = float(timeout_s)
        context = None
        if parts.scheme == "https":
            try:
                context = ssl.create_default_context(cafile=ca_file or None)
            except (OSError, ssl.SSLError) as exc:
                raise UplinkError(f"uplink ca_file {ca_file}: cannot be loaded: {exc}") from None
        self._backend = _DeadlineBackend()
        pool = httpcore.ConnectionPool(
            ssl_context=context,
            max_connections=4,
            max_keepalive_connections=2,
            keepalive_expiry=KEEPALIVE_S,
            network_backend=self._backend,
            # h11 writes the headers and the body separately: without this, Nagle's
            # algorithm and delayed ACKs add some 40 ms to every request
            socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
        )
        self._pool = _PoolTransport(pool)
        self._client = httpx.Client(
            base_url=url.rstrip("/") + "/",
            transport=self._pool,
            timeout=httpx.Timeout(self.timeout_s, connect=min(self.timeout_s, CONNECT_TIMEOUT_S)),
            follow_redirects=False,
            trust_env=False,
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        headers: dict[str, str],
        limit: int,
    ) -> Reply:
        """Send one request and read at most *limit* bytes of the (decoded) reply.

        :raises Unreachable: no complete reply within the deadline, or any network error.
        """
        with self._backend.within(self.timeout_s):
            try:
                with self._client.stream(
                    method, path.lstrip("/"), content=body, headers=headers
                ) as response:
                    data, truncated = _read(response, limit)
            except (httpx.HTTPError, httpcore.NetworkError, httpcore.TimeoutException) as exc:
                raise Unreachable(self._describe(exc)) from None
            except httpcore.ProtocolError as exc:
                raise Unreachable(self._describe(exc)) from None
        return Reply(response.status_code, response.headers, data, truncated)

    def abort(self) -> None:
        """End every request in flight now, and refuse new ones until :meth:`resume`."""
        self._backend.abort()

    def resume(self) -> None:
        self._backend.resume()

    @property
    def stopping(self) -> bool:
        """True between :meth:`abort` and :meth:`resume`."""
        return self._backend.aborted

    def close(self) -> None:
        """Close every connection (safe to call twice; a later request opens a new one)."""
        self._pool.close()

    def _describe(self, exc: BaseException) -> str:
        if self._backend.aborted:
            return "stopped"
        if isinstance(exc, httpx.ConnectTimeout | httpcore.ConnectTimeout):
            return f"no connection within {min(self.timeout_s, CONNECT_TIMEOUT_S):g} s"
        if isinstance(exc, httpx.TimeoutException | httpcore.TimeoutException):
            return f"no reply within {self.timeout_s:g} s"
        cause = exc  # httpcore wraps the original error as its first argument
        while cause.args and isinstance(cause.args[0], BaseException):
            cause = cause.args[0]
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"certificate verification failed: {cause.verify_message}"
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, ConnectionResetError):
            return "the connection was reset"
        if isinstance(exc, httpx.RemoteProtocolError | httpcore.RemoteProtocolError):
            if "without sending a response" in str(exc):
                return "the connection was closed without a reply"
            return f"the reply is not HTTP: {exc}"
        if isinstance(exc, httpx.DecodingError | httpcore.LocalProtocolError):
            return f"the reply cannot be read: {exc}"
        text = str(cause) or type(cause).__name__
        return f"{type(cause).__name__}: {text}"


def _read(response: httpx.Response, limit: int) -> tuple[bytes, bool]:
    """At most *limit* bytes of the decoded body, and whether there was more."""
    parts: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > limit:
            return b"", True
        parts.append(chunk)
    return b"".join(parts), False


class _PoolTransport(httpx.BaseTransport):
    """httpx over an httpcore pool built here (so that it can carry the deadline backend)."""

    def __init__(self, pool: httpcore.ConnectionPool) -> None:
        self._pool = pool

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        core = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        response = self._pool.handle_request(core)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_Body(response),
            extensions=response.extensions,
        )

    def close(self) -> None:
        self._pool.close()


class _Body(httpx.SyncByteStream):
    def __init__(self, response: httpcore.Response) -> None:
        self._response = response

    def __iter__(self) -> Iterator[bytes]:
        yield from self._response.iter_stream()

    def close(self) -> None:
        self._response.close()


class _DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's socket backend, giving every operation only what is left of the request's
    deadline (set per thread by :meth:`within`), and able to shut every socket at once."""

    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()
        self._local = threading.local()
        self._lock = threading.Lock()
        self._streams: set[_DeadlineStream] = set()
        self.aborted = False

    @contextlib.contextmanager
    def within(self, seconds: float) -> Iterator[None]:
        self._local.until = time.monotonic() + seconds
        try:
            yield
        finally:
            self._local.until = None

    def budget(self, timeout: float | None, timeout_error: type[Exception]) -> float | None:
        if self.aborted:
            raise timeout_error("stopped")
        until = getattr(self._local, "until", None)
        if until is None:
            return timeout
        left = until - time.monotonic()
        if left <= 0:
            raise timeout_error("the request's deadline has passed")
        return left if timeout is None else min(timeout, left)

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        budget = self.budget(timeout, httpcore.ConnectTimeout)
        stream = self._inner.connect_tcp(host, port, budget, local_address, socket_options)
        return self._track(stream)

    def connect_unix_socket(self, path, timeout=None, socket_options=None):  # pragma: no cover
        raise httpcore.ConnectError("unix sockets are not used by the uplink")

    def sleep(self, seconds: float) -> None:  # pragma: no cover - used by retries, off here
        self._inner.sleep(seconds)

    def _track(self, inner: httpcore.NetworkStream) -> _DeadlineStream:
        stream = _DeadlineStream(inner, self)
        with self._lock:
            self._streams.add(stream)
            aborted = self.aborted
        if aborted:
            stream.shut()
        return stream

    def forget(self, stream: _DeadlineStream) -> None:
        with self._lock:
            self._streams.discard(stream)

    def abort(self) -> None:
        with self._lock:
            self.aborted = True
            streams = list(self._streams)
        for stream in streams:
            stream.shut()

    def resume(self) -> None:
        with self._lock:
            self.aborted = False


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream, backend: _DeadlineBackend) -> None:
        self._inner = inner
        self._backend = backend

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._backend.budget(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._backend.budget(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._backend.forget(self)
        self._inner.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None):
        budget = self._backend.budget(timeout, httpcore.ConnectTimeout)
        self._backend.forget(self)
        return self._backend._track(self._inner.start_tls(ssl_context, server_hostname, budget))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)

    def shut(self) -> None:
        """Wake a read or write blocked in another thread (it then fails at once)."""
        sock = self._inner.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                # the plain socket's shutdown, not SSLSocket's, which drops its TLS state
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
