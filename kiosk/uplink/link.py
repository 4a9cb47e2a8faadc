"""What the uplink's rooms share: the token, alerts for maintenance, and one request path.

:class:`Link` sends a request with the contract's headers and turns every failure into a
decision: a refused token stops everything for 10 minutes (or until the token changes), a
busy or failing server starts the room's :class:`~kiosk.uplink.backoff.Backoff`, and a reply
that breaks the contract is a server fault. The token never appears in logs, errors, alerts
or :meth:`Link.status`.
"""

from __future__ import annotations

import logging
import os
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kiosk import __version__, contract
from kiosk.errors import UplinkError
from kiosk.journal import format_ts
from kiosk.uplink.backoff import Backoff, retry_after
from kiosk.uplink.transport import Reply, Transport

log = logging.getLogger("kiosk.uplink")

AUTH_RETRY_S = 600.0
"""After 401/403, retry only when the token changes or after this many seconds."""
UNREACHABLE_ALERT_S = 300.0
"""Alert when the server has been failing for this long."""
USER_AGENT = f"kiosk/{__version__}"


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


class Link:
    """The shared state of one gate's uplink (thread-safe).

    :param on_alert: called with ``(code, detail)`` once per episode of each code.
    """

    def __init__(
        self,
        transport: Transport | None,
        clock,
        *,
        gate_id: str,
        token: str | None,
        token_file: str | os.PathLike | None,
        on_alert: Callable[[str, dict[str, Any]], None] | None,
    ) -> None:
        self.transport = transport
        self.clock = clock
        self.gate_id = gate_id
        self._lock = threading.RLock()
        self._on_alert = on_alert
        self._alerted: set[str] = set()
        self.token: str | None = token
        self.token_file = Path(token_file) if token_file else None
        self.token_problem: str | None = None
        self.auth_retry_at: float | None = None
        self._refused_token: str | None = None
        self.last_error: str | None = None
        self.last_success: str | None = None
        self.last_success_mono: float | None = None
        if transport is not None and token is None:
            if self.token_file is None:
                raise UplinkError("uplink needs token_file (or a token) when url is set")
            self._load_token()

    # -- token -------------------------------------------------------------------------------

    def _load_token(self) -> None:
        try:
            token = read_token_file(self.token_file)
        except UplinkError as exc:
            self.token = None
            if self.token_problem != str(exc):
                self.token_problem = str(exc)
                self.error(str(exc))
                self.alert("token_file", {"message": str(exc)}, once=False)
            return
        if self.token_problem:
            log.info("uplink: token file %s is usable again", self.token_file)
        self.token_problem = None
        self.token = token

    def ensure_token(self) -> bool:
        """True when there is a usable token; a token file is read again while it is
        refused (by us or by the server) so that fixing it resumes the uplink."""
        with self._lock:
            if self.token_file is not None and (self.token is None or self.auth_retry_at):
                self._load_token()
            return self.token is not None

    def set_token(self, token: str) -> None:
        with self._lock:
            self.token = token
            self.token_problem = None
            self.token_file = None
            self.auth_retry_at = None

    def blocked_for(self, now: float, *, interval_s: float) -> float:
        """Seconds during which nothing may be sent because the token was refused."""
        with self._lock:
            if self.auth_retry_at is None:
                return 0.0
            if self.token is not None and self.token != self._refused_token:
                log.info("uplink: the token changed; retrying")
                self.auth_retry_at = None
                return 0.0
            if now < self.auth_retry_at:
                remaining = self.auth_retry_at - now
                # a token file is read again at each step, so look at it regularly
                return min(remaining, interval_s) if self.token_file else remaining
            self.auth_retry_at = None
            return 0.0

    # -- requests ----------------------------------------------------------------------------

    def request(
        self,
        method: str,
        what: str,
        body: bytes | None = None,
        *,
        gzip_body: bool = False,
        extra: dict[str, str] | None = None,
        limit: int = contract.MAX_REPLY_BYTES,
    ) -> Reply:
        """One request to ``/gates/{gate_id}/{what}``. :raises Unreachable: no reply."""
        headers = {
            "Authorization": f"Bearer {self.token}",
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
        }
        if body is not None:
            headers["Content-Type"] = "application/json"
            if gzip_body:
                headers["Content-Encoding"] = "gzip"
        headers.update(extra or {})
        return self.transport.request(
            method, f"gates/{self.gate_id}/{what}", body=body, headers=headers, limit=limit
        )

    def failed(self, backoff: Backoff, reply: Reply, what: str) -> None:
        """401/403, 429/503, 5xx and anything unexpected."""
        status = reply.status
        detail = self.server_error(reply)
        if status in (401, 403):
            with self._lock:
                self.auth_retry_at = self.clock.monotonic() + AUTH_RETRY_S
                self._refused_token = self.token
            self.error(f"{what}: token refused ({status} {detail}); retry in 10 min")
            log.error("uplink: %s", self.last_error)
            self.alert("auth_refused", {"status": status, "message": self.last_error})
        elif status in (429, 503):
            wait = retry_after(reply.header("Retry-After"))
            self.down(backoff, f"{what}: server busy ({status})", retry_after=wait)
        elif 500 <= status < 600:
            self.down(backoff, f"{what}: server error {status} {detail}".rstrip())
        else:
            self.fault(backoff, f"{what}: unexpected {status} {detail}".rstrip())

    def down(self, backoff: Backoff, message: str, *, retry_after: float | None = None) -> None:
        if self.transport is not None and self.transport.stopping:
            log.debug("uplink: %s (stopping)", message)  # ended by stop(), not the server
            return
        delay = backoff.failed(retry_after)
        self.error(message)
        log.warning("uplink: %s; next try in %.1f s", message, delay)
        down_for = backoff.down_for()
        if down_for >= UNREACHABLE_ALERT_S:
            self.alert(
                "unreachable",
                {"message": f"committee server failing for {down_for / 60:.0f} min: {message}"},
            )

    def fault(self, backoff: Backoff, message: str) -> None:
        """The server broke the contract: back off as for an outage, alert once."""
        self.alert("server_fault", {"message": message})
        self.down(backoff, f"server fault: {message}")

    def succeeded(self, backoff: Backoff, *, keep_error: bool = False) -> None:
        if backoff.succeeded():
            log.info("uplink: committee server answers again")
        with self._lock:
            self.auth_retry_at = None
            self._alerted -= {"unreachable", "server_fault", "auth_refused"}
            self.last_success = format_ts(self.clock.now())
            self.last_success_mono = self.clock.monotonic()
            if not keep_error:
                self.last_error = None

    def server_error(self, reply: Reply) -> str:
        """The ``error`` text of a reply, short and with the token masked."""
        return self.mask(contract.parse_refusal(reply.body).error[:200])

    # -- what maintenance hears ------------------------------------------------------------

    def error(self, message: str) -> None:
        with self._lock:
            self.last_error = self.mask(message)

    def alert(self, code: str, detail: dict[str, Any], *, once: bool = True) -> None:
        with self._lock:
            if once and code in self._alerted:
                return
            self._alerted.add(code)
        if self._on_alert is None:
            return
        detail = {k: self.mask(v) if isinstance(v, str) else v for k, v in detail.items()}
        try:
            self._on_alert(code, detail)
        except Exception:
            log.exception("uplink: on_alert failed")

    def alert_over(self, code: str) -> None:
        """The episode of *code* is over: the next one alerts again."""
        with self._lock:
            self._alerted.discard(code)

    def mask(self, text: str) -> str:
        token = self.token
        if token and token in text:
            text = text.replace(token, "***")
        return text


class Room:
    """A room of the uplink that is due every *every_s* seconds of the injected clock and
    backs off on *backoff* (shared by the rooms of one thread)."""

    def __init__(self, link: Link, journal, clock, backoff: Backoff, *, every_s: float) -> None:
        self.link = link
        self.journal = journal
        self.clock = clock
        self.backoff = backoff
        self.every_s = float(every_s)
        self.next_at = clock.monotonic()
