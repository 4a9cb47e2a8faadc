"""Pulling the roster: every ``roster_s``, with ``If-None-Match`` naming the stored version.

A 200 is read (at most :data:`kiosk.contract.MAX_ROSTER_BYTES`) and checked by
:func:`kiosk.contract.parse_roster`, as ``kiosk roster import`` checks a file: the contract's
shape, this gate's ``site``, valid keys; its ``ETag`` must name the body's version. A good one
is stored in one statement (:meth:`Journal.save_roster_json`, so atomically) and handed to
``on_roster``. A bad one raises an alert and never replaces the stored roster; while the
server cannot be reached the stored roster stays as it is.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from kiosk import contract
from kiosk.errors import ContractError
from kiosk.journal import Journal
from kiosk.uplink.backoff import Backoff
from kiosk.uplink.link import Link, Room
from kiosk.uplink.transport import Unreachable

log = logging.getLogger("kiosk.uplink")


class RosterPull(Room):
    """The roster room. *on_roster* gets the parsed :class:`~kiosk.contract.RosterBody`."""

    def __init__(
        self,
        link: Link,
        journal: Journal,
        clock,
        backoff: Backoff,
        *,
        every_s: float,
        site: str | None,
        on_roster: Callable[[contract.RosterBody], None] | None,
    ) -> None:
        super().__init__(link, journal, clock, backoff, every_s=every_s)
        self.site = site
        self._on_roster = on_roster

    def pull(self) -> bool:
        """Pull once. False when the server failed and a back-off started."""
        now = self.clock.monotonic()
        stamp = self.journal.roster_stamp()
        headers = {"If-None-Match": f'"{stamp[0]}"'} if stamp and stamp[0] else {}
        try:
            reply = self.link.request(
                "GET", "roster", extra=headers, limit=contract.MAX_ROSTER_BYTES
            )
        except Unreachable as exc:
            self.link.down(self.backoff, f"roster: {exc}")
            return False
        if reply.status in (401, 403, 429) or reply.status >= 500:
            self.link.failed(self.backoff, reply, "roster")
            return False
        self.next_at = now + self.every_s
        self.link.succeeded(self.backoff)
        if reply.status == 304:
            return True
        if reply.status != 200:
            self.link.error(f"roster: {reply.status} {self.link.server_error(reply)}")
            return True
        try:
            if reply.truncated:
                raise ContractError(
                    f"roster: more than {contract.MAX_ROSTER_BYTES >> 20} MiB of JSON"
                )
            body = contract.parse_roster(reply.body, site=self.site)
            etag = (reply.header("ETag") or "").removeprefix("W/")
            if etag != f'"{body.version}"':
                raise ContractError(
                    f"ETag {etag or '(none)'} does not name version {body.version!r}"
                )
        except ContractError as exc:
            message = f"roster refused, the old one is kept: {exc}"
            self.link.error(message)
            log.error("uplink: %s", message)
            self.link.alert("roster_rejected", {"message": message})
            return True
        self.journal.save_roster_json(body.version, reply.body.decode("utf-8"))
        self.link.alert_over("roster_rejected")
        log.info("uplink: roster %s stored", body.version)
        if self._on_roster is not None:
            try:
                self._on_roster(body)
            except Exception:
                log.exception("uplink: on_roster failed")
        return True
