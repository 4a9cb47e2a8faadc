"""The HTTP side of the fake committee server (:mod:`kiosk.sim.committee`): requests as
it records them, and the handler that answers them, faults included."""

from __future__ import annotations

import json
import random
import re
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from kiosk import contract
from kiosk.errors import ContractError

if TYPE_CHECKING:
    from kiosk.sim.committee import CommitteeServer

#: The longest a "trickle" or "endless" reply goes on, whatever the client does (seconds).
SLOW_REPLY_MAX_S = 120.0
_PATH = re.compile(r"^/gates/(?P<gate>[^/]+)/(?P<endpoint>events|heartbeat|roster)$")


@dataclass
class Request:
    """One request as the server saw it. ``auth`` is "ok", "missing" or "wrong", never the token."""

    method: str
    path: str
    endpoint: str
    auth: str
    headers: dict[str, str]
    status: int | None = None
    fault: str | None = None
    n_events: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    raw_bytes: int = 0
    json_bytes: int = 0
    reply_bytes: int = 0
    """Bytes of the reply body written (a "trickle" or "endless" reply: before the client
    hung up)."""
    done: bool = False
    """The handler has finished with this request (replied, or the client went away)."""
    t: float = field(default_factory=time.monotonic)


@dataclass
class Fault:
    kind: str
    count: int
    endpoint: str
    params: dict[str, Any]


class Dropped(Exception):
    """The handler must close the connection without a reply."""


class Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request, client_address) -> None:
        """A client that went away (timeout, reset) is normal here: stay quiet."""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes
    committee: CommitteeServer

    def log_message(self, format, *args) -> None:
        """Requests are recorded in :attr:`CommitteeServer.requests`, not printed."""

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def _handle(self, method: str) -> None:
        self._record: Request | None = None
        try:
            self._serve(method)
        except Dropped:
            self.close_connection = True
        except OSError:  # the client went away mid-reply
            self.close_connection = True
        finally:
            with self.committee._lock:
                if self._record is not None:
                    self._record.done = True
                self.committee._lock.notify_all()

    def _serve(self, method: str) -> None:
        server = self.committee
        raw = self._read_body()
        path = self.path.split("?", 1)[0]
        match = None
        if path.startswith(server.base_path + "/"):
            match = _PATH.match(path[len(server.base_path) :])
        endpoint = match["endpoint"] if match else "unknown"
        auth_header = self.headers.get("Authorization")
        with server._lock:
            token = server.token
        if auth_header is None:
            auth = "missing"
        elif auth_header == f"Bearer {token}":
            auth = "ok"
        else:
            auth = "wrong"
        headers = {k: v for k, v in self.headers.items() if k.lower() != "authorization"}
        record = Request(method, self.path, endpoint, auth, headers, raw_bytes=len(raw))
        self._record = record
        with server._lock:
            server.requests.append(record)

        if match is None:
            return self._reply(record, 404, {"error": "no such endpoint"})
        expected = "GET" if endpoint == "roster" else "POST"
        if method != expected:
            return self._reply(record, 405, {"error": f"use {expected}"})
        if auth != "ok":
            return self._reply(record, 401, {"error": "token refused"})
        if match["gate"] != server.gate_id:
            return self._reply(record, 403, {"error": "token not valid for this gate"})
        if not self.headers.get("User-Agent", "").startswith("kiosk/"):
            return self._reply(record, 400, {"error": "User-Agent must be kiosk/<version>"})

        with server._lock:
            fault = server._take_fault(endpoint)
        record.fault = fault.kind if fault else None
        if fault is not None:
            early = self._early_fault(fault, record)
            if early:
                return

        if endpoint == "roster":
            status, body, extra = self._roster(fault)
            return self._after(record, fault, status, body, extra)

        status, text, payload = self._decode(raw, record)
        if status != 200:
            return self._after(record, fault, status, payload)
        if fault is not None and fault.kind == "overclaim" and endpoint == "events":
            return self._overclaim(record, fault, payload)
        with server._lock:
            if endpoint == "events":
                status, body = server._events(match["gate"], text, payload, record)
            else:
                status, body = server._heartbeat(match["gate"], text, payload)
        self._after(record, fault, status, body)

    def _overclaim(self, record: Request, fault: Fault, payload: Any) -> None:
        """409 with an ``acked_seq`` above the batch's last seq: what a server says when
        another gate with the same gate_id (or an older journal) got further."""
        events = payload.get("events") if isinstance(payload, dict) else None
        last = events[-1].get("seq") if events and isinstance(events[-1], dict) else None
        with self.committee._lock:
            base = max(self.committee.acked_seq, last if is_int(last) else 0)
        self._reply(record, 409, {"acked_seq": base + fault.params.get("n", 200)})

    def _early_fault(self, fault: Fault, record: Request) -> bool:
        """Faults that replace processing; returns True when the reply was sent."""
        kind, params = fault.kind, fault.params
        if kind == "error":
            self._reply(record, params.get("status", 500), {"error": "internal error"})
        elif kind == "refuse":
            self._reply(record, params.get("status", 401), {"error": "token refused"})
        elif kind == "busy":
            extra = {}
            if params.get("retry_after") is not None:
                extra["Retry-After"] = str(params["retry_after"])
            self._reply(record, params.get("status", 503), {"error": "busy"}, extra)
        elif kind == "garbage":
            self._send(record, 200, b"<html><body>Bad Gateway</body></html>", "text/html")
        elif kind == "too_large":
            self._reply(record, 413, {"error": "batch too large"})
        elif kind == "bad_request":
            self._reply(record, 400, {"error": "request refused"})
        elif kind == "endless":
            self._endless(record, fault.params.get("interval_s", 0.0))
        elif kind == "lose_acks":
            with self.committee._lock:
                self.committee._rollback(params.get("n", 1), params.get("keep_events", False))
            return False
        else:
            return False
        return True

    def _after(self, record, fault, status, body, extra=None) -> None:
        """Faults that act once the request was processed, then the reply."""
        kind = fault.kind if fault else None
        if kind == "bad_seq" and status == 200 and record.first_seq is not None:
            # answered as if the committee had refused one event of the batch; undo the store
            seq = fault.params.get("seq")
            if seq is None or not record.first_seq <= seq <= record.last_seq:
                seq = random.Random(record.first_seq).randint(record.first_seq, record.last_seq)
            with self.committee._lock:
                self.committee._rollback(record.last_seq - record.first_seq + 1, False)
            return self._reply(record, 400, {"error": "event refused", "bad_seq": seq})
        if kind == "overack" and status == 200:
            body = {"acked_seq": body["acked_seq"] + fault.params.get("n", 7)}
        if kind == "drop":
            record.status = None
            raise Dropped
        if kind == "slow":
            self.committee._closing.wait(fault.params.get("delay_s", 1.0))
        trickle = fault.params.get("interval_s", 1.0) if kind == "trickle" else None
        self._reply(record, status, body, extra, trickle=trickle)

    def _roster(self, fault) -> tuple[int, Any, dict[str, str]]:
        with self.committee._lock:
            roster = self.committee.roster
        if fault is not None and fault.kind == "bad_roster":
            return 200, {"version": "broken", "keys": "none"}, {"ETag": '"broken"'}
        etag = f'"{roster["version"]}"'
        if self.headers.get("If-None-Match") == etag:
            return 304, None, {"ETag": etag}
        return 200, roster, {"ETag": etag}

    def _read_body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        return self.rfile.read(int(length))

    def _decode(self, raw: bytes, record: Request) -> tuple[int, bytes, Any]:
        """(200, JSON text, its data), or (status, b"", error body)."""
        server = self.committee
        if self.headers.get("Content-Length") is None:
            return 411, b"", {"error": "Content-Length required"}
        ctype = self.headers.get("Content-Type", "")
        if ctype.split(";")[0].strip() != "application/json":
            return 415, b"", {"error": "Content-Type must be application/json"}
        encoding = self.headers.get("Content-Encoding", "identity").strip().lower()
        if encoding == "gzip":
            try:
                text = contract.inflate(raw, server.max_bytes)
            except contract.BatchTooLarge:
                record.json_bytes = server.max_bytes + 1
                return 413, b"", {"error": f"at most {server.max_bytes} bytes of JSON"}
            except ContractError:
                return 400, b"", {"error": "body is not valid gzip"}
        elif encoding == "identity":
            text = raw
        else:
            return 415, b"", {"error": f"Content-Encoding {encoding} not supported"}
        record.json_bytes = len(text)
        if len(text) > server.max_bytes:
            return 413, b"", {"error": f"at most {server.max_bytes} bytes of JSON per request"}
        try:
            return 200, text, json.loads(text.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            return 400, b"", {"error": "body is not UTF-8 JSON"}

    def _reply(
        self, record: Request, status: int, body: Any, extra=None, *, trickle: float | None = None
    ) -> None:
        data = b"" if body is None else json.dumps(body).encode("utf-8")
        self._send(record, status, data, "application/json", extra, trickle=trickle)

    def _send(
        self, record, status, data: bytes, ctype: str, extra=None, *, trickle: float | None = None
    ) -> None:
        record.status = status
        self.send_response(status)
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        if status != 304:
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if status == 304:
            return
        if trickle is None:
            self.wfile.write(data)
            record.reply_bytes = len(data)
            return
        closing, until = self.committee._closing, time.monotonic() + SLOW_REPLY_MAX_S
        for index in range(len(data)):  # a byte at a time, until done or the client hangs up
            self.wfile.write(data[index : index + 1])
            self.wfile.flush()
            with self.committee._lock:
                record.reply_bytes = index + 1
                self.committee._lock.notify_all()
            if closing.wait(trickle) or time.monotonic() > until:
                self.close_connection = True
                return

    def _endless(self, record: Request, interval_s: float) -> None:
        """A 200 whose chunked body never ends, until the client hangs up (or the server
        stops, or :data:`SLOW_REPLY_MAX_S` passes)."""
        record.status = 200
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        chunk = b'{"pad":"' + b"x" * 16384
        closing, until = self.committee._closing, time.monotonic() + SLOW_REPLY_MAX_S
        while not closing.wait(interval_s) and time.monotonic() < until:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.flush()
            record.reply_bytes += len(chunk)
            chunk = b"x" * 16384
        self.close_connection = True


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
