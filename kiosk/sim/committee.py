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
import random
import ssl
import threading
from typing import Any

from kiosk import contract
from kiosk.errors import ContractError
from kiosk.sim.committee_http import SLOW_REPLY_MAX_S, Fault, Handler, Request, Server, is_int

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

_ANY_REPLY_FAULTS = {"drop", "error", "slow", "refuse", "busy", "garbage", "trickle", "endless"}
_ENDPOINT_FAULTS = {
    "events": set(FAULT_KINDS) - {"bad_roster"},
    "heartbeat": _ANY_REPLY_FAULTS | {"bad_request"},
    "roster": _ANY_REPLY_FAULTS | {"bad_roster"},
}
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
        self._httpd: Server | None = None
        self._thread: threading.Thread | None = None
        # stored state
        self.events: list[dict[str, Any]] = []
        self._ids: dict[str, int] = {}
        self.acked_seq = 0
        self.heartbeats: list[dict[str, Any]] = []
        self.requests: list[Request] = []
        self.roster = roster if roster is not None else sample_roster()
        # faults
        self._faults: list[Fault] = []
        self._rejected: set[int] = set()
        self._chaos_rate = 0.0
        self._chaos_kinds: tuple[str, ...] = ()
        self._chaos_params: dict[str, Any] = {}
        self._rng = random.Random(0)

    # -- life ------------------------------------------------------------------------------

    def start(self) -> CommitteeServer:
        self._closing.clear()
        handler = type("Handler", (Handler,), {"committee": self})
        httpd = Server(("127.0.0.1", self._port), handler)
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
            self._faults.append(Fault(kind, count, endpoint, params))

    def reject_seq(self, seq: int) -> None:
        """Answer 400 ``bad_seq`` for every batch holding *seq*, until :meth:`accept_seq`;
        except a ``kiosk.event_refused`` sent in its place, which every server must store."""
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

    def _take_fault(self, endpoint: str) -> Fault | None:
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
                return Fault(kind, 1, endpoint, params)
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
            record.first_seq = first if is_int(first) else None
            record.last_seq = last if is_int(last) else None
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
            if event.seq in self._rejected and event.type != contract.EVENT_REFUSED:
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


__all__ = [
    "CHAOS_KINDS",
    "FAULT_KINDS",
    "SLOW_REPLY_MAX_S",
    "CommitteeServer",
    "Request",
    "sample_roster",
]
