"""The committee server client: push the journal, send heartbeats, pull the roster.

The contract is ``shared/committee-api.md``; this module follows it to the letter.

Driving it
    :meth:`Uplink.step` does whatever is due now (push, heartbeat, roster pull) and returns the
    seconds until it next needs to run; all timers and back-off run on the injected clock, so a
    test drives a day of outages in milliseconds. :meth:`Uplink.start` / :meth:`Uplink.stop` run
    ``step()`` in a daemon thread. :meth:`Uplink.nudge` (thread-safe, never blocks) asks for a
    push at once; the daemon calls it for every ``alert.*`` event (see
    :meth:`Uplink.journal_listener`). :meth:`Uplink.upload_once` pushes everything unsent,
    ignoring timers (``kiosk upload --once``).

Pushing
    Events after the upload cursor (``journal.acked_seq``) are read one batch at a time (at most
    500 events and 1 MiB of JSON before gzip), so memory stays flat on any backlog. The cursor
    moves only to the ``acked_seq`` of a 200 (never beyond what was sent) or of a 409 (which
    may move it back when the server lost acks, or forward when the reply to an earlier push
    was lost). 413 halves the batch, down to one event.

Quarantine (400 ``bad_seq``)
    The server wants the stream without gaps: it accepts a batch only when it starts right
    after the highest seq it acked. So an event it refuses cannot be skipped: every later
    batch would be answered 409. The gate therefore pushes up to ``bad_seq - 1`` and then
    *holds*: the refused seq is recorded in the journal state (``uplink.quarantined_seq``, so
    the hold survives a restart), maintenance is alerted once, and the event is offered again
    alone only once an hour (``quarantine_retry_s``; the committee may fix its side) or at
    once when maintenance calls :meth:`Uplink.release_quarantine`. Heartbeats keep flowing, so
    the committee sees ``unsent`` grow. An event too large to ever be sent (over 1 MiB on its
    own, or 413 at one event) is held the same way.

Back-off
    Other 5xx, timeouts and connection errors: exponential back-off with full jitter between
    1 s and 5 min. 429/503: at least ``Retry-After`` seconds, else the same back-off. 401/403:
    nothing is sent until the token changes or 10 minutes pass. One back-off covers all three
    requests, since they go to the same server.

Roster
    Pulled every ``roster_s`` with ``If-None-Match``. A 200 is checked (its ``ETag`` names the
    body's version, every field has the contract's shape, ``site`` matches when given); a
    good one is stored with :meth:`Journal.save_roster` (one row, replaced in one statement, so
    atomically) and then handed to ``on_roster`` so the daemon can swap its lookups. A bad one
    raises an alert and never replaces the stored roster; while the server cannot be reached
    the stored roster stays as it is.

Secrets
    The token is read from a file that only its owner may read (refused otherwise) and never
    appears in logs, exceptions, :meth:`Uplink.status` or alerts; server texts quoted in
    errors have it masked.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import http.client
import ipaddress
import json
import logging
import math
import os
import random
import socket
import ssl
import stat
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from email.message import Message
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from kiosk import __version__
from kiosk.errors import JournalError, UplinkError
from kiosk.journal import Event, Journal, format_ts

log = logging.getLogger(__name__)

MAX_BATCH_EVENTS = 500
"""Most events in one push (the contract's limit)."""
MAX_BATCH_BYTES = 1 << 20
"""Most bytes of JSON, before compression, in one push (the contract's 1 MiB)."""
BACKOFF_MIN_S = 1.0
BACKOFF_MAX_S = 300.0
AUTH_RETRY_S = 600.0
"""After 401/403, retry only when the token changes or after this many seconds."""
QUARANTINE_RETRY_S = 3600.0
"""How often a held (refused) event is offered again on its own."""
UNREACHABLE_ALERT_S = 300.0
"""Alert when the server has been failing for this long."""
MAX_WAIT_S = 3600.0
_IDLE_WAIT_S = 60.0
_KEEPALIVE_S = 5.0
_MAX_REPLY_BYTES = 1 << 20
_MAX_ROSTER_BYTES = 32 << 20
_MAX_409_IN_A_ROW = 3
_UPLOAD_ONCE_STALLS = 20
_BATCH_GROW_AFTER = 20

STATE_QUARANTINED = "uplink.quarantined_seq"
STATE_QUARANTINE_REASON = "uplink.quarantine_reason"

USER_AGENT = f"kiosk/{__version__}"


# -- configuration checks --------------------------------------------------------------------


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


def read_token_file(path: str | os.PathLike) -> str:
    """The gate token from *path*, which only its owner may read or write (mode 0600).

    :raises UplinkError: missing, readable or writable by group or others, empty, or not a
        single line of printable ASCII. The message never contains the token.
    """
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            mode = os.fstat(handle.fileno()).st_mode
            if mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise UplinkError(
                    f"token file {path} is open to group or others (mode "
                    f"{stat.S_IMODE(mode):04o}); refused: run chmod 600 {path}"
                )
            raw = handle.read(4097)
    except OSError as exc:
        raise UplinkError(f"token file {path} cannot be read: {exc.strerror}") from None
    try:
        token = raw.decode("ascii").strip()
    except UnicodeDecodeError:
        token = ""
    if not token or len(raw) > 4096 or not all(33 <= ord(c) < 127 for c in token):
        raise UplinkError(f"token file {path} must hold one token of printable ASCII")
    return token


# -- roster shape ------------------------------------------------------------------------------


def roster_problem(body: Any, *, site: str | None = None) -> str | None:
    """Why *body* is not a roster in the contract's shape, or None when it is one."""
    if not isinstance(body, dict):
        return "the roster is not a JSON object"
    for key in ("version", "site"):
        if not isinstance(body.get(key), str) or not body[key]:
            return f"{key} must be a non-empty string"
    if site is not None and body["site"] != site:
        return f"the roster is for site {body['site']!r}, this gate is at {site!r}"
    checks: dict[str, Callable[[Any], str | None]] = {
        "keys": _key_problem,
        "households": _household_problem,
        "passes": _pass_problem,
        "revoked": lambda v: None if isinstance(v, str) and v else "must be a pass id",
        "home_observation": _observation_problem,
    }
    for key, check in checks.items():
        items = body.get(key)
        if not isinstance(items, list):
            return f"{key} must be a list"
        for index, item in enumerate(items):
            problem = check(item)
            if problem:
                return f"{key}[{index}]: {problem}"
    return None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _key_problem(item: Any) -> str | None:
    if not isinstance(item, dict):
        return "must be an object"
    if not _is_int(item.get("kid")):
        return "kid must be an integer"
    if not isinstance(item.get("use"), str):
        return "use must be a string"
    try:
        raw = base64.b64decode(item.get("ed25519_public", ""), validate=True)
    except (binascii.Error, TypeError, ValueError):
        return "ed25519_public must be base64"
    return None if len(raw) == 32 else "ed25519_public must be 32 bytes"


def _household_problem(item: Any) -> str | None:
    if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"]:
        return "must be an object with an id"
    if not _is_int(item.get("members")) or item["members"] < 0:
        return "members must be an integer >= 0"
    quota = item.get("exit_quota_per_day")
    if quota is not None and (not _is_int(quota) or quota < 0):
        return "exit_quota_per_day must be null or an integer >= 0"
    return None


def _pass_problem(item: Any) -> str | None:
    if not isinstance(item, dict):
        return "must be an object"
    for key in ("id", "household", "status"):
        if not isinstance(item.get(key), str) or not item[key]:
            return f"{key} must be a non-empty string"
    return None


def _observation_problem(item: Any) -> str | None:
    if not isinstance(item, dict) or not isinstance(item.get("household"), str):
        return "must be an object with a household"
    try:
        date.fromisoformat(item.get("until"))
    except (TypeError, ValueError):
        return "until must be a date (YYYY-MM-DD)"
    return None


# -- HTTP ------------------------------------------------------------------------------------


class _Unreachable(Exception):
    """No HTTP reply: connection refused or reset, timeout, TLS failure."""


@dataclass
class _Reply:
    status: int
    headers: Message
    body: bytes
    truncated: bool = False

    def json(self) -> Any:
        """The body as JSON, or None when it is not JSON."""
        if self.truncated:
            return None
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return None


class _Http:
    """One persistent connection to the committee server, reopened after any error."""

    def __init__(self, url: str, timeout_s: float, ca_file: str) -> None:
        parts = check_url(url)
        self.https = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port
        self.base = parts.path.rstrip("/")
        self.timeout_s = timeout_s
        self.context: ssl.SSLContext | None = None
        if self.https:
            try:
                self.context = ssl.create_default_context(cafile=ca_file or None)
            except (OSError, ssl.SSLError) as exc:
                raise UplinkError(f"uplink ca_file {ca_file}: cannot be loaded: {exc}") from None
        self._conn: http.client.HTTPConnection | None = None
        self._used_at = 0.0

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def request(
        self, method: str, path: str, body: bytes | None, headers: dict[str, str], limit: int
    ) -> _Reply:
        # Socket keep-alive is about the real world, not the injected clock.
        if self._conn is not None and time.monotonic() - self._used_at > _KEEPALIVE_S:
            self.close()
        if self._conn is None:
            if self.https:
                self._conn = http.client.HTTPSConnection(
                    self.host, self.port, timeout=self.timeout_s, context=self.context
                )
            else:
                self._conn = http.client.HTTPConnection(
                    self.host, self.port, timeout=self.timeout_s
                )
        conn = self._conn
        try:
            if conn.sock is None:
                conn.connect()
                # http.client writes the headers and the body separately: without this,
                # Nagle's algorithm and delayed ACKs add some 40 ms to every request
                conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn.request(method, self.base + path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read(limit + 1)
            truncated = len(data) > limit
            if not truncated and resp.headers.get("Content-Encoding", "").lower() == "gzip":
                data, truncated = _gunzip(data, limit)
            if truncated or resp.will_close or not resp.isclosed():
                self.close()
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise _Unreachable(_describe(exc, self.timeout_s)) from None
        self._used_at = time.monotonic()
        return _Reply(resp.status, resp.headers, data, truncated)


def _gunzip(data: bytes, limit: int) -> tuple[bytes, bool]:
    try:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        out = inflater.decompress(data, limit + 1)
    except zlib.error:
        return b"", True
    return out, len(out) > limit or not inflater.eof


def _describe(exc: BaseException, timeout_s: float) -> str:
    if isinstance(exc, TimeoutError):
        return f"no reply within {timeout_s:g} s"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"certificate verification failed: {exc.verify_message}"
    if isinstance(exc, http.client.RemoteDisconnected):
        return "the connection was closed without a reply"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError):
        return "the connection was reset"
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"


# -- the client ------------------------------------------------------------------------------


class Uplink:
    """Client of the committee server for one gate.

    :param journal: the gate's :class:`~kiosk.journal.Journal` (events, cursor, roster, state).
    :param clock: the clock all timers and back-off run on.
    :param gate_id: this gate's id, as the committee knows it.
    :param url: base URL, e.g. ``https://committee.example.org/api/v1``; "" disables the
        uplink. Plain http only to loopback.
    :param token: the gate token itself, or
    :param token_file: a file holding it, mode 0600 (refused, with an alert, otherwise; read
        again while refused, so fixing the file or changing the token resumes).
    :param ca_file: CA bundle to verify the server against; "" uses the system's CAs.
    :param interval_s: longest time a non-alert event waits before it is pushed, seconds.
    :param heartbeat_s: seconds between heartbeats.
    :param roster_s: seconds between roster pulls.
    :param timeout_s: socket timeout of one request, seconds (real time).
    :param heartbeat_info: returns the heartbeat's ``lanes`` mapping (lane -> state dict).
    :param on_roster: called with a new roster body once it is checked and stored.
    :param on_alert: called with ``(code, detail)`` when maintenance must know; codes are
        ``token_file``, ``auth_refused``, ``quarantined``, ``roster_rejected``,
        ``heartbeat_refused``, ``unreachable`` and ``server_fault``; each is raised once per
        episode (until the next success), and ``detail["message"]`` says what happened.
        Called from the uplink's thread; it must not block and may journal an event (which
        may :meth:`nudge`).
    :param site: when given, a roster for another site is refused.
    :param rng: random source of the back-off jitter (seed it in tests).
    :raises UplinkError: the URL or ``ca_file`` is unusable, or no token source was given.
    """

    def __init__(
        self,
        journal: Journal,
        clock,
        *,
        gate_id: str,
        url: str,
        token: str | None = None,
        token_file: str | os.PathLike | None = None,
        ca_file: str = "",
        interval_s: float = 10.0,
        heartbeat_s: float = 60.0,
        roster_s: float = 300.0,
        timeout_s: float = 15.0,
        heartbeat_info: Callable[[], dict[str, Any]] | None = None,
        on_roster: Callable[[dict[str, Any]], None] | None = None,
        on_alert: Callable[[str, dict[str, Any]], None] | None = None,
        site: str | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.journal = journal
        self.clock = clock
        self.gate_id = gate_id
        self.url = url
        self.interval_s = float(interval_s)
        self.heartbeat_s = float(heartbeat_s)
        self.roster_s = float(roster_s)
        self.timeout_s = float(timeout_s)
        self.site = site
        self._heartbeat_info = heartbeat_info or dict
        self._on_roster = on_roster
        self._on_alert = on_alert
        self._rng = rng or random.Random()
        self._lock = threading.Lock()  # one step / upload at a time
        self._nudged = threading.Event()
        self._release = threading.Event()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

        now = clock.monotonic()
        self._started = now
        self._next_push = now
        self._next_heartbeat = now
        self._next_roster = now
        self._retry_at = 0.0  # back-off: nothing is sent before this
        self._failures = 0
        self._down_since: float | None = None
        self._auth_retry_at: float | None = None
        self._refused_token: str | None = None
        self._batch_max = MAX_BATCH_EVENTS
        self._small_batches = 0  # accepted batches since the last 413
        self._conflicts = 0  # 409s in a row
        self._alerted: set[str] = set()  # alert codes raised in the current episode
        self._last_error: str | None = None
        self._last_success: str | None = None
        self._last_success_mono: float | None = None
        self._quarantined = 0
        self._quarantine_probe_at = 0.0
        self._token: str | None = None
        self._token_problem: str | None = None
        self._token_file = Path(token_file) if token_file else None
        self._http: _Http | None = None

        if not url:
            return
        self._http = _Http(url, self.timeout_s, ca_file)
        if token is None and self._token_file is None:
            raise UplinkError("uplink needs token_file (or a token) when url is set")
        if token is not None:
            self._token = token
        else:
            self._load_token()
        try:
            self._quarantined = int(journal.get_state(STATE_QUARANTINED, "0") or 0)
        except ValueError:
            self._quarantined = 0
        if self._quarantined:
            self._quarantine_probe_at = now + QUARANTINE_RETRY_S

    @classmethod
    def from_settings(cls, journal: Journal, clock, settings, **kwargs) -> Uplink:
        """Build from any object with the config section's attributes (``url``,
        ``token_file``, ``ca_file``, ``interval_s``, ``heartbeat_s``, ``roster_s``,
        ``timeout_s``); *kwargs* give the rest (``gate_id``, callbacks, ...)."""
        names = ("url", "token_file", "ca_file", "interval_s", "heartbeat_s", "roster_s")
        values = {name: getattr(settings, name) for name in (*names, "timeout_s")}
        values["token_file"] = values["token_file"] or None
        return cls(journal, clock, **values, **kwargs)

    def __repr__(self) -> str:
        return f"<Uplink gate={self.gate_id!r} url={self.url!r}>"

    @property
    def enabled(self) -> bool:
        return bool(self.url)

    # -- public API ------------------------------------------------------------------------

    def nudge(self) -> None:
        """Push at once (an ``alert.*`` event was journaled). Thread-safe, never blocks; a
        back-off or a refused token still holds the push back."""
        self._nudged.set()
        self._wake.set()

    def journal_listener(self, event: Event) -> None:
        """A :meth:`Journal.add_listener` callback: nudges for ``alert.*`` events."""
        if event.type.startswith("alert."):
            self.nudge()

    def set_token(self, token: str) -> None:
        """Use a new token (configuration changed); a refused state is lifted at once."""
        with self._lock:
            self._token = token
            self._token_problem = None
            self._token_file = None
            self._auth_retry_at = None
        self.nudge()

    def release_quarantine(self) -> int | None:
        """Maintenance action: offer the held event to the server again at the next step.

        Returns the held seq, or None when nothing is held. If the server refuses it again it
        is held again, with a new alert."""
        held = self._quarantined or None
        if held:
            self._release.set()
            self.nudge()
        return held

    def step(self) -> float:
        """Do whatever is due now; return the seconds until the next call is needed."""
        with self._lock:
            try:
                wait = self._step()
            except JournalError as exc:
                self._set_error(f"journal: {exc}")
                wait = self.interval_s
        return max(0.0, min(wait, MAX_WAIT_S))

    def upload_once(self) -> dict[str, Any]:
        """Push everything unsent now, ignoring timers and back-off; stop at the first
        failure, or where an event is held. Returns a summary for the CLI:
        ``ok``, ``sent`` (events newly acked), ``requests``, ``acked_seq``, ``last_seq``,
        ``unsent``, ``state``, ``error``, ``quarantined_seq``."""
        with self._lock:
            start = self.journal.acked_seq
            requests = 0
            error: str | None = None
            if not self.enabled:
                error = "the uplink is disabled (no url)"
            elif not self._ensure_token():
                error = self._token_problem
            else:
                self._retry_at = 0.0
                self._auth_retry_at = None
                self._take_release()
                stalls = 0
                while True:
                    acked = self.journal.acked_seq
                    if acked >= self._send_limit():
                        break
                    requests += 1
                    if not self._push(self.clock.monotonic(), probe=False):
                        error = self._last_error
                        break
                    stalls = stalls + 1 if self.journal.acked_seq <= acked else 0
                    if stalls > _UPLOAD_ONCE_STALLS:
                        error = f"no progress after {stalls} requests: {self._last_error}"
                        break
            acked, last = self.journal.acked_seq, self.journal.last_seq()
            return {
                "ok": error is None and not self._quarantined,
                "sent": max(0, acked - start),
                "requests": requests,
                "acked_seq": acked,
                "last_seq": last,
                "unsent": max(0, last - acked),
                "state": self._state(self.clock.monotonic()),
                "error": error,
                "quarantined_seq": self._quarantined or None,
            }

    def status(self) -> dict[str, Any]:
        """A snapshot for the maintenance panel (never the token)."""
        now = self.clock.monotonic()
        acked, last = self.journal.acked_seq, self.journal.last_seq()
        reason = self.journal.get_state(STATE_QUARANTINE_REASON) if self._quarantined else None
        return {
            "state": self._state(now),
            "url": self.url,
            "unsent": max(0, last - acked),
            "acked_seq": acked,
            "last_seq": last,
            "last_success": self._last_success,
            "last_success_age_s": (
                None if self._last_success_mono is None else now - self._last_success_mono
            ),
            "last_error": self._last_error,
            "next_attempt_s": self._next_wait(now) if self.enabled else None,
            "quarantined_seq": self._quarantined or None,
            "quarantine_reason": reason,
            "batch_max": self._batch_max,
        }

    def start(self) -> None:
        """Run :meth:`step` in a daemon thread until :meth:`stop`."""
        if self._thread is not None:
            raise RuntimeError("the uplink thread is already running")
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="uplink", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 20.0) -> None:
        """Stop the thread; a request in flight ends within ``timeout_s``.

        :raises RuntimeError: the thread outlived *timeout* seconds."""
        self._stopping.set()
        self._wake.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                raise RuntimeError(f"the uplink thread did not stop within {timeout:g} s")
            self._thread = None
        self.close()

    def close(self) -> None:
        """Close the connection to the server (safe to call twice; the next request reopens
        it). Do not call it while the thread runs; :meth:`stop` closes it too."""
        if self._http is not None:
            self._http.close()

    # -- the thread ------------------------------------------------------------------------

    def _sleep(self, timeout: float) -> bool:
        """Wait up to *timeout* seconds, cut short by :meth:`nudge` or :meth:`stop`; True
        when stopping."""
        self._wake.wait(timeout)
        self._wake.clear()
        return self._stopping.is_set()

    def _run(self) -> None:
        timeout = 0.0
        while not self._sleep(timeout):
            try:
                timeout = self.step()
            except Exception:  # the uplink never dies; the gate keeps working
                log.exception("uplink step failed")
                timeout = self.interval_s

    # -- one step --------------------------------------------------------------------------

    def _step(self) -> float:
        if not self.enabled:
            return _IDLE_WAIT_S
        if not self._ensure_token():
            return self.interval_s
        now = self.clock.monotonic()
        self._take_release()
        blocked = self._blocked_for(now)
        if blocked > 0:
            return blocked
        if self._nudged.is_set() or now >= self._next_push:
            self._nudged.clear()
            if not self._push(now):
                return self._next_wait(self.clock.monotonic())
        if now >= self._next_heartbeat and not self._heartbeat(now):
            return self._next_wait(self.clock.monotonic())
        if now >= self._next_roster:
            self._pull_roster(now)
        return self._next_wait(self.clock.monotonic())

    def _next_wait(self, now: float) -> float:
        blocked = self._blocked_for(now, peek=True)
        if blocked > 0:
            return blocked
        if self._nudged.is_set():
            return 0.0
        due = min(self._next_push, self._next_heartbeat, self._next_roster)
        return max(0.0, due - now)

    def _blocked_for(self, now: float, *, peek: bool = False) -> float:
        """Seconds during which nothing may be sent (refused token, back-off)."""
        if self._auth_retry_at is not None:
            if self._token is not None and self._token != self._refused_token:
                if not peek:
                    log.info("uplink: the token changed; retrying")
                    self._auth_retry_at = None
            elif now < self._auth_retry_at:
                remaining = self._auth_retry_at - now
                # a token file is read again at each step, so look at it regularly
                return min(remaining, self.interval_s) if self._token_file else remaining
            elif not peek:
                self._auth_retry_at = None
        return max(0.0, self._retry_at - now)

    def _state(self, now: float) -> str:
        if not self.enabled or self._token_problem:
            return "disabled"
        if self._auth_retry_at is not None:
            return "auth_refused"
        if self._quarantined:
            return "quarantined"
        if now < self._retry_at:
            return "backing_off"
        return "ok"

    # -- token -----------------------------------------------------------------------------

    def _load_token(self) -> None:
        try:
            token = read_token_file(self._token_file)
        except UplinkError as exc:
            self._token = None
            if self._token_problem != str(exc):
                self._token_problem = str(exc)
                self._set_error(str(exc))
                log.error("uplink: %s", exc)
                self._alert("token_file", {"message": str(exc)}, once=False)
            return
        if self._token_problem:
            log.info("uplink: token file %s is usable again", self._token_file)
        self._token_problem = None
        self._token = token

    def _ensure_token(self) -> bool:
        """True when there is a usable token; a token file is read again while it is
        refused (by us or by the server) so that fixing it resumes the uplink."""
        if self._token_file is not None and (
            self._token is None or self._auth_retry_at is not None
        ):
            self._load_token()
        return self._token is not None

    # -- pushing ---------------------------------------------------------------------------

    def _send_limit(self) -> int:
        """The highest seq that may be sent now (held events excluded)."""
        last = self.journal.last_seq()
        return min(last, self._quarantined - 1) if self._quarantined else last

    def _push(self, now: float, *, probe: bool = True) -> bool:
        """Send one batch. False when the server failed and a back-off started."""
        acked = self.journal.acked_seq
        limit = self.journal.last_seq()
        count = self._batch_max
        if self._quarantined:
            if acked >= self._quarantined:  # acked meanwhile (another process, the server)
                self._clear_quarantine()
            elif acked < self._quarantined - 1:
                limit = self._quarantined - 1
            elif probe and now >= self._quarantine_probe_at:
                limit, count = self._quarantined, 1
                log.info("uplink: offering held event %d again", self._quarantined)
            else:
                self._next_push = now + self.interval_s
                return True
        events = [e for e in self.journal.events_after(acked, count) if e.seq <= limit]
        if not events:
            self._next_push = now + self.interval_s
            return True
        body, sent = self._encode(events)
        if not sent:
            self._quarantine(events[0].seq, "the event is larger than 1 MiB of JSON", now)
            return True
        first, last = sent[0].seq, sent[-1].seq
        try:
            reply = self._request("POST", "events", body, gzip_body=True)
        except _Unreachable as exc:
            return self._down(now, f"push {first}..{last}: {exc}")
        status = reply.status
        data = reply.json()
        if status == 200:
            return self._pushed(now, data, acked, first, last)
        if status == 409:
            return self._conflict(now, data, first)
        if status == 413:
            if len(sent) > 1:
                self._batch_max = max(1, len(sent) // 2)
                self._small_batches = 0
                log.info("uplink: batch too large; now at most %d events", self._batch_max)
                self._next_push = now
                return True
            self._quarantine(first, "the server says the event alone is too large", now)
            return True
        if status == 400:
            bad = data.get("bad_seq") if isinstance(data, dict) else None
            if _is_int(bad) and first <= bad <= last:
                self._quarantine(bad, _server_error(data, self._token), now)
                return True
            detail = _server_error(data, self._token)
            return self._fault(now, f"push {first}..{last}: 400 without a bad_seq: {detail}")
        return self._failed(now, reply, f"push {first}..{last}")

    def _pushed(self, now: float, data: Any, acked: int, first: int, last: int) -> bool:
        acked_now = data.get("acked_seq") if isinstance(data, dict) else None
        if not _is_int(acked_now) or not 0 <= acked_now <= last:
            what = "not JSON" if data is None else f"acked_seq {acked_now!r}"
            return self._fault(now, f"push {first}..{last}: 200 with {what} (sent up to {last})")
        if acked_now < acked:
            log.warning("uplink: server acked %d, below the cursor %d; resending", acked_now, acked)
        self.journal.set_acked_seq(acked_now)
        self._conflicts = 0
        if self._batch_max < MAX_BATCH_EVENTS:
            # after a 413, grow back slowly: double after a run of accepted batches
            self._small_batches += 1
            if self._small_batches >= _BATCH_GROW_AFTER:
                self._small_batches = 0
                self._batch_max = min(MAX_BATCH_EVENTS, self._batch_max * 2)
        if self._quarantined and acked_now >= self._quarantined:
            log.info("uplink: held event %d was accepted", self._quarantined)
            self._clear_quarantine()
        self._success(now)
        more = acked_now > acked and self._send_limit() > acked_now
        self._next_push = now if more else now + self.interval_s
        return True

    def _conflict(self, now: float, data: Any, first: int) -> bool:
        server_acked = data.get("acked_seq") if isinstance(data, dict) else None
        if not _is_int(server_acked) or not 0 <= server_acked <= self.journal.last_seq():
            return self._fault(
                now,
                f"409 with acked_seq {server_acked!r}; this gate wrote up to "
                f"{self.journal.last_seq()} (was the journal replaced?)",
            )
        self._conflicts += 1
        if self._conflicts > _MAX_409_IN_A_ROW:
            self._conflicts = 0
            return self._fault(now, f"409 {_MAX_409_IN_A_ROW + 1} times in a row")
        log.info("uplink: server has up to %d (sent from %d); resending", server_acked, first)
        self.journal.set_acked_seq(server_acked)
        self._success(now, reset_conflicts=False)
        self._next_push = now
        return True

    def _encode(self, events: list[Event]) -> tuple[bytes, list[Event]]:
        """The gzip body for the longest prefix of *events* within 1 MiB of JSON."""
        head = b'{"gate_id":' + _dumps(self.gate_id) + b',"events":['
        size = len(head) + 2
        parts: list[bytes] = []
        for event in events:
            part = _dumps(event.to_api())
            if size + len(part) + (1 if parts else 0) > MAX_BATCH_BYTES:
                break
            size += len(part) + (1 if parts else 0)
            parts.append(part)
        raw = head + b",".join(parts) + b"]}"
        return gzip.compress(raw, compresslevel=5, mtime=0), events[: len(parts)]

    # -- quarantine ------------------------------------------------------------------------

    def _quarantine(self, seq: int, reason: str, now: float) -> None:
        again = seq == self._quarantined
        self.journal.set_state(STATE_QUARANTINED, str(seq))
        self.journal.set_state(STATE_QUARANTINE_REASON, reason)
        self._quarantined = seq
        self._quarantine_probe_at = now + QUARANTINE_RETRY_S
        self._next_push = now
        self._success(now)  # the server answered; it is not down
        self._set_error(f"event {seq} held: {reason}")
        if not again:
            log.error("uplink: event %d refused and held for maintenance: %s", seq, reason)
            self._alert(
                "quarantined",
                {"seq": seq, "reason": reason, "message": f"event {seq} refused: {reason}"},
                once=False,
            )

    def _clear_quarantine(self) -> None:
        self.journal.set_state(STATE_QUARANTINED, "0")
        self.journal.set_state(STATE_QUARANTINE_REASON, "")
        self._quarantined = 0

    def _take_release(self) -> None:
        if self._release.is_set():
            self._release.clear()
            if self._quarantined:
                log.warning("uplink: maintenance released held event %d", self._quarantined)
                self._clear_quarantine()
                self._next_push = self.clock.monotonic()

    # -- heartbeat and roster --------------------------------------------------------------

    def _heartbeat(self, now: float) -> bool:
        try:
            lanes = dict(self._heartbeat_info())
        except Exception:
            log.exception("uplink: heartbeat_info failed")
            lanes = {}
        acked, last = self.journal.acked_seq, self.journal.last_seq()
        body = {
            "gate_id": self.gate_id,
            "ts": format_ts(self.clock.now()),
            "version": __version__,
            "uptime_s": int(now - self._started),
            "last_seq": last,
            "unsent": max(0, last - acked),
            "lanes": lanes,
        }
        try:
            reply = self._request("POST", "heartbeat", _dumps(body))
        except _Unreachable as exc:
            return self._down(now, f"heartbeat: {exc}")
        if reply.status == 200:
            self._next_heartbeat = now + self.heartbeat_s
            self._alerted.discard("heartbeat_refused")
            self._success(now)
            return True
        if reply.status in (401, 403, 429) or reply.status >= 500:
            return self._failed(now, reply, "heartbeat")
        # the server refused our heartbeat; that must not hold the events back
        self._next_heartbeat = now + self.heartbeat_s
        self._set_error(f"heartbeat: {reply.status} {_server_error(reply.json(), self._token)}")
        log.error("uplink: %s", self._last_error)
        self._alert("heartbeat_refused", {"message": self._last_error})
        return True

    def _pull_roster(self, now: float) -> bool:
        stored, _ = self.journal.load_roster()
        version = stored.get("version") if isinstance(stored, dict) else None
        headers = {"If-None-Match": f'"{version}"'} if version else {}
        try:
            reply = self._request("GET", "roster", None, extra=headers, limit=_MAX_ROSTER_BYTES)
        except _Unreachable as exc:
            return self._down(now, f"roster: {exc}")
        if reply.status in (401, 403, 429) or reply.status >= 500:
            return self._failed(now, reply, "roster")
        self._next_roster = now + self.roster_s
        self._success(now)
        if reply.status == 304:
            return True
        if reply.status != 200:
            self._set_error(f"roster: {reply.status} {_server_error(reply.json(), self._token)}")
            return True
        body = reply.json()
        problem = roster_problem(body, site=self.site)
        etag = (reply.headers.get("ETag") or "").removeprefix("W/")
        if problem is None and etag != f'"{body["version"]}"':
            problem = f"ETag {etag or '(none)'} does not name version {body['version']!r}"
        if problem is not None:
            message = f"roster refused, the old one is kept: {problem}"
            self._set_error(message)
            log.error("uplink: %s", message)
            self._alert("roster_rejected", {"message": message})
            return True
        self.journal.save_roster(body)
        self._alerted.discard("roster_rejected")
        log.info("uplink: roster %s stored", body["version"])
        if self._on_roster is not None:
            try:
                self._on_roster(body)
            except Exception:
                log.exception("uplink: on_roster failed")
        return True

    # -- requests and outcomes -------------------------------------------------------------

    def _request(
        self,
        method: str,
        what: str,
        body: bytes | None,
        *,
        gzip_body: bool = False,
        extra: dict[str, str] | None = None,
        limit: int = _MAX_REPLY_BYTES,
    ) -> _Reply:
        headers = {
            "Authorization": f"Bearer {self._token}",
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
        }
        if body is not None:
            headers["Content-Type"] = "application/json"
            if gzip_body:
                headers["Content-Encoding"] = "gzip"
        headers.update(extra or {})
        return self._http.request(method, f"/gates/{self.gate_id}/{what}", body, headers, limit)

    def _failed(self, now: float, reply: _Reply, what: str) -> bool:
        """401/403, 429/503, 5xx and anything unexpected; always False (held back)."""
        status = reply.status
        detail = _server_error(reply.json(), self._token)
        if status in (401, 403):
            self._auth_retry_at = now + AUTH_RETRY_S
            self._refused_token = self._token
            self._set_error(f"{what}: token refused ({status} {detail}); retry in 10 min")
            log.error("uplink: %s", self._last_error)
            self._alert("auth_refused", {"status": status, "message": self._last_error})
            return False
        if status in (429, 503):
            retry_after = _retry_after(reply.headers.get("Retry-After"))
            return self._down(now, f"{what}: server busy ({status})", retry_after=retry_after)
        if 500 <= status < 600:
            return self._down(now, f"{what}: server error {status} {detail}".rstrip())
        return self._fault(now, f"{what}: unexpected {status} {detail}".rstrip())

    def _down(self, now: float, message: str, *, retry_after: float | None = None) -> bool:
        self._failures += 1
        if retry_after is not None:
            delay = max(retry_after, BACKOFF_MIN_S)
        else:
            cap = min(BACKOFF_MAX_S, BACKOFF_MIN_S * 2 ** min(self._failures - 1, 30))
            delay = max(BACKOFF_MIN_S, self._rng.uniform(0.0, cap))
        self._retry_at = now + delay
        if self._down_since is None:
            self._down_since = now
        self._set_error(message)
        log.warning("uplink: %s; next try in %.1f s", message, delay)
        if now - self._down_since >= UNREACHABLE_ALERT_S:
            minutes = (now - self._down_since) / 60
            self._alert(
                "unreachable",
                {"message": f"committee server failing for {minutes:.0f} min: {message}"},
            )
        return False

    def _fault(self, now: float, message: str) -> bool:
        """The server broke the contract: back off as for an outage, alert once."""
        self._alert("server_fault", {"message": message})
        return self._down(now, f"server fault: {message}")

    def _success(self, now: float, *, reset_conflicts: bool = True) -> None:
        if self._failures or self._down_since is not None:
            log.info("uplink: committee server answers again")
        self._failures = 0
        self._retry_at = 0.0
        self._down_since = None
        self._auth_retry_at = None
        if reset_conflicts:
            self._conflicts = 0
        self._alerted -= {"unreachable", "server_fault", "auth_refused"}
        self._last_success = format_ts(self.clock.now())
        self._last_success_mono = now
        if not self._quarantined:
            self._last_error = None

    def _set_error(self, message: str) -> None:
        self._last_error = _mask(message, self._token)

    def _alert(self, code: str, detail: dict[str, Any], *, once: bool = True) -> None:
        if once and code in self._alerted:
            return
        self._alerted.add(code)
        if self._on_alert is None:
            return
        detail = {k: _mask(v, self._token) if isinstance(v, str) else v for k, v in detail.items()}
        try:
            self._on_alert(code, detail)
        except Exception:
            log.exception("uplink: on_alert failed")


def _dumps(value: Any) -> bytes:
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        return text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: fall back to escapes
        return json.dumps(value, separators=(",", ":"), allow_nan=False).encode("ascii")


def _retry_after(value: str | None) -> float | None:
    """Seconds of a ``Retry-After`` header (the contract uses seconds); None when absent or
    unreadable, so that the normal back-off applies."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _server_error(data: Any, token: str | None) -> str:
    """The ``error`` text of a server reply, short and with the token masked."""
    text = data.get("error") if isinstance(data, dict) else None
    if not isinstance(text, str):
        return ""
    return _mask(text[:200], token)


def _mask(text: str, token: str | None) -> str:
    if token and token in text:
        text = text.replace(token, "***")
    return text
