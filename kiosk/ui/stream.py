"""The guard screen's live stream (``GET /stream``, server-sent events) on the server's event
loop: one publisher feeding every open screen, no request thread held by any of them.

The kiosk's hub calls :meth:`Streams.publish` in the publisher's thread; that only schedules
the message on the event loop, where it is encoded once and offered to every open stream's
bounded queue. Each stream is a coroutine: it sends ``state`` first, then each message, and a
keep-alive comment every :data:`KEEPALIVE_S` seconds, at which it also checks that its session
is still alive. A stream ends when its session ends (sign-out, idle timeout, the account
removed or changed), when the kiosk stops, when its client goes away (noticed at once: the
server reports the closed connection), when its client stops reading (its queue overflows, or
a write waits longer than :data:`SEND_TIMEOUT_S`), or when the same session opens more than
:data:`PER_SESSION` streams (the oldest goes). At most :data:`MOST_STREAMS` are open at once;
past that a new one gets 503, and every other page still answers.

This module knows nothing of Flask: the session check, the state and the subscription are
handed in as functions (:mod:`kiosk.ui.server` builds them from the app).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

#: The path of the live stream.
PATH = "/stream"
#: Seconds between keep-alive comments (and session checks) on an idle stream.
KEEPALIVE_S = 15.0
#: Open streams of one session at most; a further one ends the session's oldest.
PER_SESSION = 4
#: Open streams in all at most; a further one gets 503.
MOST_STREAMS = 500
#: Messages waiting for one client at most; a client that falls this far behind is ended
#: (it reconnects and starts again from a fresh ``state``).
QUEUE_SIZE = 256
#: Seconds one write to a client may wait (a client that stopped reading) before the stream
#: is ended.
SEND_TIMEOUT_S = 30.0


def frame(kind: str, payload: Any) -> bytes:
    """One server-sent event."""
    return f"event: {kind}\ndata: {json.dumps(payload, ensure_ascii=False)}\n\n".encode()


class _Stream:
    """One open stream: its session id and its queue of encoded events (None: end)."""

    def __init__(self, sid: str) -> None:
        self.sid = sid
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(QUEUE_SIZE + 1)
        self.ended = False

    def offer(self, data: bytes) -> None:
        if self.ended:
            return
        if self.queue.qsize() >= QUEUE_SIZE:
            self.end()  # this client fell too far behind
            return
        self.queue.put_nowait(data)

    def end(self) -> None:
        if not self.ended:
            self.ended = True
            self.queue.put_nowait(None)  # room is always left for it


class Streams:
    """Every open live stream of one server, and the one publisher feeding them.

    :param who: ``cookie header -> session id | None``: the signed-in session a request
        belongs to (counts as activity), or None.
    :param alive: ``session id -> bool``: whether the session is still live (no activity).
    :param state: ``() -> dict``, the first message of every stream.
    :param listen: ``callback -> stop``, the kiosk's live updates
        (:meth:`kiosk.facade.Facade.listen`).
    :param headers: headers every response carries (the screen's CSP and the rest).
    :param keepalive_s: seconds between keep-alives and session checks.

    ``who``, ``alive`` and ``state`` read the store: they run in the loop's thread pool,
    never on the loop itself.
    """

    def __init__(
        self,
        *,
        who: Callable[[str], str | None],
        alive: Callable[[str], bool],
        state: Callable[[], dict],
        listen: Callable,
        headers: dict[str, str],
        keepalive_s: float = KEEPALIVE_S,
    ) -> None:
        self.who, self.alive, self.state, self.listen = who, alive, state, listen
        self.headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        self.keepalive_s = keepalive_s
        self.loop: asyncio.AbstractEventLoop | None = None
        self._open: dict[int, _Stream] = {}  # in the order they opened
        self._stop_listening: Callable[[], None] | None = None
        self._count = threading.Condition()
        self._opened = 0
        self._ended = False

    # -- the publisher's side (any thread) ---------------------------------------------------

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Serve on *loop* and start taking the kiosk's live updates."""
        self.loop = loop
        self._stop_listening = self.listen(self.publish)

    def unbind(self) -> None:
        if self._stop_listening is not None:
            self._stop_listening()
            self._stop_listening = None
        self.loop = None

    def publish(self, kind: str, payload: Any) -> None:
        """Hand ``(kind, payload)`` to every stream; returns at once, in any thread."""
        loop = self.loop
        if loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop has just closed
            loop.call_soon_threadsafe(self._fan_out, kind, payload)

    def close(self) -> None:
        """End every stream (the server is stopping); from any thread."""
        self.publish("bye", None)

    @property
    def count(self) -> int:
        """Streams open now."""
        with self._count:
            return len(self._open)

    @property
    def opened(self) -> int:
        """Streams opened since start (a stream refused is not counted)."""
        with self._count:
            return self._opened

    def wait_until(self, predicate: Callable[[Streams], bool], timeout: float) -> bool:
        """Wait until ``predicate(self)`` holds after a stream opened or ended (at most
        *timeout* seconds); returns whether it holds."""
        with self._count:
            return self._count.wait_for(lambda: predicate(self), timeout)

    # -- on the loop -------------------------------------------------------------------------

    def _fan_out(self, kind: str, payload: Any) -> None:
        with self._count:
            streams = list(self._open.values())
        if kind == "bye":
            self._ended = True
            for stream in streams:
                stream.end()
            return
        data = frame(kind, payload)  # encoded once for every stream
        for stream in streams:
            stream.offer(data)

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        """The ASGI handler of ``GET /stream``."""
        if scope["method"] not in ("GET", "HEAD"):
            await self._refuse(send, 405, "method not allowed", [(b"allow", b"GET")])
            return
        cookie = b"; ".join(v for k, v in scope.get("headers", []) if k == b"cookie")
        sid = await asyncio.to_thread(self.who, cookie.decode("latin-1"))
        if sid is None:
            await self._refuse(send, 401, "login required")
            return
        if self._ended or len(self._open) >= MOST_STREAMS:
            await self._refuse(send, 503, "too many live streams", [(b"retry-after", b"5")])
            return
        stream = _Stream(sid)
        with self._count:
            self._open[id(stream)] = stream
            self._opened += 1
            mine = [s for s in self._open.values() if s.sid == sid]
            self._count.notify_all()
        for old in mine[: max(0, len(mine) - PER_SESSION)]:
            old.end()
        watcher = asyncio.ensure_future(self._watch(receive, stream))
        try:
            await self._serve(stream, send, sid, scope["method"] == "HEAD")
        finally:
            watcher.cancel()
            with self._count:
                self._open.pop(id(stream), None)
                self._count.notify_all()

    async def _watch(self, receive: Callable, stream: _Stream) -> None:
        """End *stream* as soon as its client goes away."""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                stream.end()
                return

    async def _serve(self, stream: _Stream, send: Callable, sid: str, head: bool) -> None:
        first = await asyncio.to_thread(self.state)
        start = {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"text/event-stream; charset=utf-8"),
                (b"x-accel-buffering", b"no"),
                *self.headers,
            ],
        }
        if not await self._send(send, start):
            return
        if head:
            await self._send(send, {"type": "http.response.body", "body": b""})
            return
        data = b"retry: 2000\n" + frame("state", first)
        while True:
            if not await self._send(
                send, {"type": "http.response.body", "body": data, "more_body": True}
            ):
                return
            try:
                data = await asyncio.wait_for(stream.queue.get(), self.keepalive_s)
            except TimeoutError:
                if stream.ended or not await asyncio.to_thread(self.alive, sid):
                    break
                data = b": keep-alive\n\n"
            if data is None:
                break
        await self._send(send, {"type": "http.response.body", "body": b""})

    @staticmethod
    async def _send(send: Callable, message: dict) -> bool:
        """Send *message*; False when the client did not take it in time."""
        try:
            await asyncio.wait_for(send(message), SEND_TIMEOUT_S)
        except TimeoutError:
            log.info("live stream ended: the client stopped reading")
            return False
        return True

    async def _refuse(self, send: Callable, status: int, error: str, extra=()) -> None:
        body = json.dumps({"error": error}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    *extra,
                    *self.headers,
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
