"""The live streams (server-sent events) on the server's event loop: the guard screen's
(``GET /stream``, signed in) and the resident screen's (``GET /resident/<lane>/stream``, the
kiosk's own display only). One publisher feeds every open screen; no request thread is held by
any of them.

The kiosk's hub calls :meth:`Streams.publish` in the publisher's thread; that only schedules
the message on the event loop, where it is encoded once and offered to every open stream's
bounded queue. Each stream is a coroutine: it sends its first message (the guard screen's
``state``), then each message it carries, and a keep-alive comment every :data:`KEEPALIVE_S`
seconds, at which it also checks that its session is still alive. A stream ends when its
session ends (sign-out, idle timeout, the account removed or changed), when the kiosk stops,
when its client goes away (noticed at once: the server reports the closed connection), when
its client stops reading (its queue overflows, or a write waits longer than
:data:`SEND_TIMEOUT_S`), or when the same session opens more than :data:`PER_SESSION` streams
(the oldest goes; a resident lane counts as one session). At most :data:`MOST_STREAMS` are
open at once; past that a new one gets 503, and every other page still answers.

A resident stream sends ``view`` messages only, each built by the facade's resident view
(no personal data of anyone), at each change of its lane.

This module knows nothing of Flask: the session check, the state, the resident view and the
subscription are handed in as functions (:mod:`kiosk.ui.server` builds them from the app).
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


def _everything(kind: str, payload: Any, encoded: dict) -> bytes:
    """The guard screen's choice: every message, encoded once for every stream."""
    if kind not in encoded:
        encoded[kind] = frame(kind, payload)
    return encoded[kind]


class _Stream:
    """One open stream: who holds it (a session id, a resident lane), which messages it
    carries and how (*pick*), and its queue of encoded events (None: end)."""

    def __init__(self, owner: str, pick: Callable[[str, Any, dict], bytes | None]) -> None:
        self.owner = owner
        self.pick = pick
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(QUEUE_SIZE + 1)
        self.ended = False

    def offer(self, kind: str, payload: Any, encoded: dict) -> None:
        if self.ended:
            return
        data = self.pick(kind, payload, encoded)
        if data is None:
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
    :param resident_view: ``(lane, lane message | None) -> dict``, the resident screen's view
        (:meth:`kiosk.facade.Facade.resident_view`; raises for a lane that is not there).
    :param kiosk_only: ``(client address, header names) -> bool``: whether a request comes
        from the kiosk's own display (the resident screen is served to nothing else).
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
        resident_view: Callable[[str, dict | None], dict],
        kiosk_only: Callable[[str, list[str]], bool],
        headers: dict[str, str],
        keepalive_s: float = KEEPALIVE_S,
    ) -> None:
        self.who, self.alive, self.state, self.listen = who, alive, state, listen
        self.resident_view, self.kiosk_only = resident_view, kiosk_only
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
        encoded: dict = {}  # each message encoded once for every stream that carries it
        for stream in streams:
            stream.offer(kind, payload, encoded)

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        """The ASGI handler of ``GET /stream``, the guard screen's."""
        if not await self._method_ok(scope, send):
            return
        cookie = b"; ".join(v for k, v in scope.get("headers", []) if k == b"cookie")
        sid = await asyncio.to_thread(self.who, cookie.decode("latin-1"))
        if sid is None:
            await self._refuse(send, 401, "login required")
            return

        async def alive() -> bool:
            return await asyncio.to_thread(self.alive, sid)

        await self._stream(scope, receive, send, _Stream(sid, _everything), self._state, alive)

    async def resident(self, scope: dict, receive: Callable, send: Callable, lane: str) -> None:
        """The ASGI handler of ``GET /resident/<lane>/stream``: ``view`` messages."""
        if not await self._method_ok(scope, send):
            return
        client = (scope.get("client") or ("", 0))[0]
        names = [k.decode("latin-1") for k, _ in scope.get("headers", [])]
        if not self.kiosk_only(client, names):
            await self._refuse(send, 403, "the resident screen is the kiosk's own display")
            return
        try:
            first = await asyncio.to_thread(self.resident_view, lane, None)
        except Exception:  # no such lane (the facade's KioskError)
            await self._refuse(send, 404, "no such lane")
            return

        def pick(kind: str, payload: Any, encoded: dict) -> bytes | None:
            if kind != "lane" or not isinstance(payload, dict) or payload.get("name") != lane:
                return None
            key = f"view:{lane}"
            if key not in encoded:
                encoded[key] = frame("view", self.resident_view(lane, payload))
            return encoded[key]

        async def first_frame() -> bytes:
            return frame("view", first)

        async def alive() -> bool:
            return True

        stream = _Stream(f"resident:{lane}", pick)
        await self._stream(scope, receive, send, stream, first_frame, alive)

    async def _state(self) -> bytes:
        return frame("state", await asyncio.to_thread(self.state))

    async def _method_ok(self, scope: dict, send: Callable) -> bool:
        if scope["method"] in ("GET", "HEAD"):
            return True
        await self._refuse(send, 405, "method not allowed", [(b"allow", b"GET")])
        return False

    async def _stream(self, scope, receive, send, stream: _Stream, first, alive) -> None:
        """Serve *stream* until it ends: *first* (``async () -> bytes``) the first message,
        *alive* (``async () -> bool``) asked at each keep-alive."""
        if self._ended or self.count >= MOST_STREAMS:
            await self._refuse(send, 503, "too many live streams", [(b"retry-after", b"5")])
            return
        with self._count:
            self._open[id(stream)] = stream
            self._opened += 1
            mine = [s for s in self._open.values() if s.owner == stream.owner]
            self._count.notify_all()
        for old in mine[: max(0, len(mine) - PER_SESSION)]:
            old.end()
        watcher = asyncio.ensure_future(self._watch(receive, stream))
        try:
            await self._serve(stream, send, first, alive, scope["method"] == "HEAD")
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

    async def _serve(self, stream: _Stream, send: Callable, first, alive, head: bool) -> None:
        data = b"retry: 2000\n" + await first()
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
        while True:
            if not await self._send(
                send, {"type": "http.response.body", "body": data, "more_body": True}
            ):
                return
            try:
                data = await asyncio.wait_for(stream.queue.get(), self.keepalive_s)
            except TimeoutError:
                if stream.ended or not await alive():
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
