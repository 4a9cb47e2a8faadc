"""The heartbeat: every ``heartbeat_s``, the gate tells the server it is alive and how it is.

The body is the contract's (:func:`kiosk.contract.heartbeat`): version, uptime, the last seq
written and how many are unsent, and each lane's health. Any failure is handled as for
events; a heartbeat the server refuses (4xx) alerts maintenance once and never holds events
back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from kiosk import __version__, contract
from kiosk.errors import ContractError
from kiosk.journal import Journal, format_ts
from kiosk.uplink.backoff import Backoff
from kiosk.uplink.link import Link, Room
from kiosk.uplink.transport import Unreachable

log = logging.getLogger("kiosk.uplink")


class Heartbeat(Room):
    """The heartbeat room. *info* returns the ``lanes`` mapping (lane -> health dict)."""

    def __init__(
        self,
        link: Link,
        journal: Journal,
        clock,
        backoff: Backoff,
        *,
        every_s: float,
        info: Callable[[], dict[str, Any]] | None,
    ) -> None:
        super().__init__(link, journal, clock, backoff, every_s=every_s)
        self._info = info or dict
        self.started = self.next_at

    def body(self) -> bytes:
        try:
            lanes = dict(self._info())
        except Exception:
            log.exception("uplink: heartbeat_info failed")
            lanes = {}
        acked, last = self.journal.acked_seq, self.journal.last_seq()
        fields = {
            "gate_id": self.link.gate_id,
            "ts": format_ts(self.clock.now()),
            "version": __version__,
            "uptime_s": int(self.clock.monotonic() - self.started),
            "last_seq": last,
            "unsent": max(0, last - acked),
        }
        try:
            return contract.encode(contract.heartbeat(**fields, lanes=lanes))
        except ContractError as exc:
            log.error("uplink: heartbeat lanes not sent: %s", exc)
            return contract.encode(contract.heartbeat(**fields, lanes={}))

    def send(self) -> bool:
        """Send one heartbeat. False when the server failed and a back-off started."""
        now = self.clock.monotonic()
        try:
            reply = self.link.request("POST", "heartbeat", self.body())
        except Unreachable as exc:
            self.link.down(self.backoff, f"heartbeat: {exc}")
            return False
        status = reply.status
        if status == 200:
            self.next_at = now + self.every_s
            self.link.alert_over("heartbeat_refused")
            self.link.succeeded(self.backoff)
            return True
        if status in (401, 403, 429) or status >= 500:
            self.link.failed(self.backoff, reply, "heartbeat")
            return False
        # the server refused our heartbeat; that must not hold the events back
        self.next_at = now + self.every_s
        self.link.error(f"heartbeat: {status} {self.link.server_error(reply)}")
        log.error("uplink: %s", self.link.last_error)
        self.link.alert("heartbeat_refused", {"message": self.link.last_error})
        return True
