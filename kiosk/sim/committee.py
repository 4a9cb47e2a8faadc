"""A strict fake committee server on loopback, for tests, the benchmark and the demo.

It is a real HTTP server (:class:`http.server.ThreadingHTTPServer` on ``127.0.0.1``, port 0
unless told otherwise) that keeps the contract of ``shared/committee-api.md`` to the letter and
refuses whatever breaks it:

- ``Authorization: Bearer <token>`` must match (401), and the token is valid for one gate
  only (403 for another gate's path); ``User-Agent`` must be ``kiosk/<version>`` (400).
- ``POST /gates/{gate_id}/events``: JSON (optionally ``Content-Encoding: gzip``), at most
  ``max_events`` events and ``max_bytes`` of JSON before compression (else 413), every event
  well formed and the batch contiguous (else 400 with ``bad_seq``), starting at ``acked + 1``
  (else 409 with ``acked_seq``). An event whose ``id`` is already stored is ignored. The
  batch is stored whole or not at all.
- ``POST /gates/{gate_id}/heartbeat``: the heartbeat shape, replied ``{}``.
- ``GET /gates/{gate_id}/roster``: the roster with ``ETag: "<version>"``, 304 when
  ``If-None-Match`` names the current version.

Faults can be switched on while it runs (see :meth:`CommitteeServer.inject` and
:meth:`CommitteeServer.chaos`), in the spirit of a virtual printer that misbehaves on demand:
a reply lost after the batch was stored, bursts of 5xx, replies slower than the client's
timeout, a server that lost its last N acks, 401/403, 429/503 with ``Retry-After``, garbage
bodies, 400 ``bad_seq`` for a chosen seq, acknowledgements (200 or 409) of more than the gate
sent, a reply trickled a byte at a time, and a reply that never ends. Every request is
recorded in :attr:`CommitteeServer.requests` (the bearer token itself is never recorded), and
:meth:`CommitteeServer.wait_for` lets a test wait for what the server saw without sleeping.

Bodies are checked by :mod:`kiosk.contract`, the module the real committee server uses; on
top of it this fake insists that the gate sends exactly the contract's fields, no more.
"""

from __future__ import annotations

import base64
import json
import random
import re
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from kiosk import contract
from kiosk.errors import ContractError

#: What one injected fault can be (see :meth:`CommitteeServer.inject`).
FAULT_KINDS = (
    "drop",  # process the request (store the batch), then close the connection unanswered
    "error",  # reply a 5xx (param ``status``, default 500) without processing
    "slow",  # process, then wait ``delay_s`` before replying (beyond the client's timeout)
    "lose_acks",  # forget the last ``n`` acks before processing (``keep_events`` or not)
    "refuse",  # reply 401 or 403 (param ``status``)
    "busy",  # reply 429 or 503 (param ``status``) with optional ``retry_after`` seconds
    "garbage",  # reply 200 with a body that is not JSON (nothing processed)
    "overack",  # process, then reply 200 with an ``acked_seq`` beyond what was sent (``n``)
    "overclaim",  # reply 409 with an ``acked_seq`` beyond what was sent (``n``), unprocessed
    "too_large",  # reply 413 without processing
    "bad_seq",  # reply 400 with ``bad_seq`` = a seq of the batch (param ``seq`` or random)
    "bad_request",  # reply 400 without ``bad_seq`` (nothing processed)
    "bad_roster",  # reply a roster that is not a roster (200 with an ETag)
    "trickle",  # process, then send the reply one byte every ``interval_s`` (default 1 s)
    "endless",  # reply 200 with a chunked body that never ends (until the client hangs up)
)

#: Faults :meth:`CommitteeServer.chaos` draws from by default.
CHAOS_KINDS = (
    "drop",
    "error",
    "slow",
    "lose_acks",
    "refuse",
    "busy",
    "garbage",
    "overack",
    "too_large",
    "bad_seq",
    "bad_roster",
)

_ENDPOINT_FAULTS = {
    "events": set(FAULT_KINDS) - {"bad_roster"},
    "heartbeat": {
        "drop",
        "error",
        "slow",
        "refuse",
        "busy",
        "garbage",
        "bad_request",
        "trickle",
        "endless",
    },
    "roster": {
        "drop",
        "error",
        "slow",
        "refuse",
        "busy",
        "garbage",
        "bad_roster",
        "trickle",
        "endless",
    },
}
#: The longest a "trickle" or "endless" reply goes on, whatever the client does (seconds).
SLOW_REPLY_MAX_S = 120.0

_PATH = re.compile(r"^/gates/(?P<gate>[^/]+)/(?P<endpoint>events|heartbeat|roster)$")
_BATCH_KEYS = set(contract.Batch.__struct_fields__)
_EVENT_KEYS = set(contract.Event.__struct_fields__)
_HEARTBEAT_KEYS = set(contract.Heartbeat.__struct_fields__)


def sample_roster(version: str = "2020-02-04T08:00:00+08:00#17", site: str = "xdm-jinwaitan"):
    """A small, valid roster body in the contract's shape (plain data)."""
    return {
        "version": version,
        "site": site,
        "keys": [
            {
                "kid": 1,
                "ed25519_public": base64.b64encode(bytes(range(32))).decode("ascii"),
                "use": "resident",
            }
        ],
        "households": [
            {"id": "7-1201", "members": 3, "exit_quota_per_day": None},
            {"id": "7-1202", "members": 2, "exit_quota_per_day": 1},
        ],
        "passes": [
            {"id": "P0007120101", "household": "7-1201", "status": "active"},
            {"id": "P0007120103", "household": "7-1201", "status": "revoked"},
        ],
        "revoked": ["P0007120103"],
        "home_observation": [{"household": "7-1202", "until": "2020-02-18"}],
    }


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
class _Fault:
    kind: str
    count: int
    endpoint: str
    params: dict[str, Any]


class _Dropped(Exception):
    """The handler must close the connection without a reply."""


class CommitteeServer:
    """The fake committee server.

    :param gate_id: the one gate this server knows.
    :param token: the bearer token that gate must present.
    :param roster: the roster body served (default :func:`sample_roster`).
    :param max_events: most events accepted in one request (the contract says 500).
    :param max_bytes: most bytes of JSON, before compression, in one request (1 MiB).
    :param base_path: the API prefix, so that :attr:`url` ends in ``/api/v1``.
    :param ssl_context: a server-side TLS context to serve HTTPS instead of HTTP.
    :param port: 0 picks a free port.
    """

    def __init__(
        self,
        *,
        gate_id: str = "gate-1",
        token: str = "committee-test-token",
        roster: dict[str, Any] | None = None,
        max_events: int = 500,
        max_bytes: int = 1 << 20,
        base_path: str = "/api/v1",
        ssl_context: ssl.SSLContext | None = None,
        port: int = 0,
    ) -> None:
        self.gate_id = gate_id
        self.token = token
        self.max_events = max_events
        self.max_bytes = max_bytes
        self.base_path = base_path.rstrip("/")
        self._ssl_context = ssl_context
        self._port = port
        self._lock = threading.Condition()  # notified whenever a request is finished
        self._closing = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        # stored state
        self.events: list[dict[str, Any]] = []
        self._ids: dict[str, int] = {}
        self.acked_seq = 0
        self.heartbeats: list[dict[str, Any]] = []
        self.requests: list[Request] = []
        self.roster = roster if roster is not None else sample_roster()
        # faults
        self._faults: list[_Fault] = []
        self._rejected: set[int] = set()
        self._chaos_rate = 0.0
        self._chaos_kinds: tuple[str, ...] = ()
        self._chaos_params: dict[str, Any] = {}
        self._rng = random.Random(0)

    # -- life ------------------------------------------------------------------------------

    def start(self) -> CommitteeServer:
        self._closing.clear()
        handler = type("Handler", (_Handler,), {"committee": self})
        httpd = _Server(("127.0.0.1", self._port), handler)
        if self._ssl_context is not None:
            httpd.socket = self._ssl_context.wrap_socket(httpd.socket, server_side=True)
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket (safe to call twice)."""
        httpd, self._httpd = self._httpd, None
        self._closing.set()  # ends trickling and endless replies
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def __enter__(self) -> CommitteeServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the committee server is not running")
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        """The base URL a gate is configured with, e.g. ``http://127.0.0.1:PORT/api/v1``."""
        scheme = "https" if self._ssl_context is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}{self.base_path}"

    # -- what it holds ---------------------------------------------------------------------

    def stored_seqs(self) -> list[int]:
        with self._lock:
            return [e["seq"] for e in self.events]

    def stored_ids(self) -> list[str]:
        with self._lock:
            return [e["id"] for e in self.events]

    def requests_to(self, endpoint: str) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.endpoint == endpoint]

    def set_roster(self, body: dict[str, Any]) -> None:
        """Serve *body* from now on (plain data; not checked, so a test can serve a bad
        one)."""
        with self._lock:
            self.roster = body

    def wait_for(self, predicate, timeout: float = 10.0) -> bool:
        """Wait until ``predicate(server)`` is true, re-checked each time a request is
        finished; False when *timeout* seconds (real time) pass first."""
        with self._lock:
            return self._lock.wait_for(lambda: predicate(self), timeout)

    def set_token(self, token: str) -> None:
        with self._lock:
            self.token = token

    # -- faults ----------------------------------------------------------------------------

    def inject(self, kind: str, count: int = 1, *, endpoint: str = "any", **params) -> None:
        """Answer the next *count* requests to *endpoint* ("events", "heartbeat", "roster" or
        "any") with the fault *kind* (one of :data:`FAULT_KINDS`). Parameters: ``status`` for
        "error", "refuse" and "busy"; ``retry_after`` (seconds, or a raw header string) for
        "busy"; ``delay_s`` for "slow"; ``n`` and ``keep_events`` for "lose_acks"; ``seq`` for
        "bad_seq"."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; one of {', '.join(FAULT_KINDS)}")
        with self._lock:
            self._faults.append(_Fault(kind, count, endpoint, params))

    def reject_seq(self, seq: int) -> None:
        """Answer 400 ``bad_seq`` for every batch holding *seq*, until :meth:`accept_seq`."""
        with self._lock:
            self._rejected.add(seq)

    def accept_seq(self, seq: int) -> None:
        with self._lock:
            self._rejected.discard(seq)

    def lose_acks(self, n: int, *, keep_events: bool = False) -> None:
        """Forget the last *n* acks now, as a server restored from an old backup would.
        With ``keep_events`` the events stay stored (a resend is absorbed by the id check)."""
        with self._lock:
            self._rollback(n, keep_events)

    def chaos(
        self,
        rate: float,
        *,
        seed: int = 0,
        kinds: tuple[str, ...] = CHAOS_KINDS,
        **params,
    ) -> None:
        """Inject a fault drawn from *kinds* into each request with probability *rate*
        (seeded, so a run can be replayed). ``rate=0`` stops it. *params* as for
        :meth:`inject` (e.g. ``delay_s`` for slow replies)."""
        with self._lock:
            self._chaos_rate = rate
            self._chaos_kinds = tuple(kinds)
            self._chaos_params = params
            self._rng = random.Random(seed)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()
            self._rejected.clear()
            self._chaos_rate = 0.0

    def _take_fault(self, endpoint: str) -> _Fault | None:
        """The fault for this request, if any (called under the lock)."""
        allowed = _ENDPOINT_FAULTS[endpoint]
        for fault in self._faults:
            if fault.endpoint in ("any", endpoint) and fault.kind in allowed:
                fault.count -= 1
                if fault.count <= 0:
                    self._faults.remove(fault)
                return fault
        if self._chaos_rate and self._rng.random() < self._chaos_rate:
            kinds = [k for k in self._chaos_kinds if k in allowed]
            if kinds:
                kind = self._rng.choice(kinds)
                params = dict(self._chaos_params)
                if kind in ("error", "refuse", "busy"):
                    params["status"] = self._rng.choice(
                        {"error": (500, 502, 504), "refuse": (401, 403), "busy": (429, 503)}[kind]
                    )
                if kind == "busy":
                    params["retry_after"] = self._rng.choice((None, 0, 1, 5, 30))
                if kind == "lose_acks":
                    params["n"] = self._rng.randint(1, 50)
                    params["keep_events"] = self._rng.random() < 0.5
                return _Fault(kind, 1, endpoint, params)
        return None

    def _rollback(self, n: int, keep_events: bool) -> None:
        self.acked_seq = max(0, self.acked_seq - n)
        if not keep_events:
            while self.events and self.events[-1]["seq"] > self.acked_seq:
                gone = self.events.pop()
                del self._ids[gone["id"]]

    # -- the contract ----------------------------------------------------------------------

    def _events(
        self, gate: str, text: bytes, payload: Any, record: Request
    ) -> tuple[int, dict[str, Any]]:
        """Check and store one batch (called under the lock). Returns (status, body)."""
        if not isinstance(payload, dict) or set(payload) != _BATCH_KEYS:
            return 400, {"error": f"body must have exactly {sorted(_BATCH_KEYS)}"}
        events = payload["events"]
        if isinstance(events, list) and events:
            first = events[0].get("seq") if isinstance(events[0], dict) else None
            last = events[-1].get("seq") if isinstance(events[-1], dict) else None
            record.n_events = len(events)
            record.first_seq = first if _is_int(first) else None
            record.last_seq = last if _is_int(last) else None
            if len(events) > self.max_events:
                return 413, {"error": f"at most {self.max_events} events per request"}
        try:
            batch = contract.parse_batch(text, gate_id=gate)
        except contract.BatchTooLarge as exc:
            return 413, {"error": str(exc)}
        except ContractError as exc:
            return 400, _refusal(str(exc), exc.seq)
        for event, sent in zip(batch.events, events, strict=True):
            if set(sent) != _EVENT_KEYS:  # the gate sends exactly the contract's fields
                return 400, _refusal(
                    f"an event has exactly the keys {sorted(_EVENT_KEYS)}", event.seq
                )
            if event.seq in self._rejected:
                return 400, _refusal("rejected by the committee", event.seq)
        if batch.first_seq != self.acked_seq + 1:
            return 409, {"acked_seq": self.acked_seq}
        for event in batch.events:
            known = self._ids.get(event.id)
            if known is not None:
                if known != event.seq:
                    return 400, _refusal("id already stored with another seq", known)
                continue
            if self.events and event.seq <= self.events[-1]["seq"]:
                # a seq already stored with another id: the gate's journal was replaced
                return 400, _refusal("seq already stored with another id", batch.first_seq)
        for event in events:
            if event["id"] not in self._ids:
                self._ids[event["id"]] = event["seq"]
                self.events.append(event)
        self.acked_seq = batch.last_seq
        return 200, {"acked_seq": self.acked_seq}

    def _heartbeat(self, gate: str, text: bytes, payload: Any) -> tuple[int, dict[str, Any]]:
        if not isinstance(payload, dict) or set(payload) != _HEARTBEAT_KEYS:
            return 400, {"error": f"heartbeat must have exactly {sorted(_HEARTBEAT_KEYS)}"}
        try:
            contract.parse_heartbeat(text, gate_id=gate)
        except ContractError as exc:
            return 400, {"error": str(exc)}
        self.heartbeats.append(payload)
        return 200, {}


def _refusal(error: str, seq: int | None) -> dict[str, Any]:
    return {"error": error} if seq is None else {"error": error, "bad_seq": seq}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request, client_address) -> None:
        """A client that went away (timeout, reset) is normal here: stay quiet."""


class _Handler(BaseHTTPRequestHandler):
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
        except _Dropped:
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

    def _overclaim(self, record: Request, fault: _Fault, payload: Any) -> None:
        """409 with an ``acked_seq`` above the batch's last seq: what a server says when
        another gate with the same gate_id (or an older journal) got further."""
        events = payload.get("events") if isinstance(payload, dict) else None
        last = events[-1].get("seq") if events and isinstance(events[-1], dict) else None
        with self.committee._lock:
            base = max(self.committee.acked_seq, last if _is_int(last) else 0)
        self._reply(record, 409, {"acked_seq": base + fault.params.get("n", 200)})

    def _early_fault(self, fault: _Fault, record: Request) -> bool:
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
            raise _Dropped
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
            record.reply_bytes = index + 1
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


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


__all__ = [
    "CHAOS_KINDS",
    "FAULT_KINDS",
    "SLOW_REPLY_MAX_S",
    "CommitteeServer",
    "Request",
    "sample_roster",
]
