"""The uplink of one gate: the push room, the heartbeat and roster rooms, and their threads.

Driving it
    :meth:`Uplink.step` does whatever is due now (push, then heartbeat and roster pull unless
    the server just failed) and returns the seconds until it next needs to run; all timers
    and back-off run on the injected clock, so a test drives a day of outages in
    milliseconds. :meth:`Uplink.start` runs the push room in one thread and the heartbeat and
    roster rooms in another, so an alert never waits behind a roster pull or a heartbeat;
    :meth:`Uplink.stop` ends requests in flight and joins both within a few seconds.
    :meth:`Uplink.nudge` (thread-safe, never blocks) asks for a push at once; the daemon
    calls it for every ``alert.*`` event (see :meth:`Uplink.journal_listener`).
    :meth:`Uplink.upload_once` pushes everything unsent, ignoring timers (``kiosk upload``).

Back-off
    Each thread has its own :class:`~kiosk.uplink.backoff.Backoff` (1 s up to 5 min with full
    jitter, at least ``Retry-After`` after 429/503), so a trickling roster reply does not hold
    an alert back. A refused token (401/403) stops both until the token changes or 10
    minutes pass.

Secrets
    The token is read from a file that only its owner may read (refused otherwise) and never
    appears in logs, exceptions, :meth:`Uplink.status` or alerts; server texts quoted in
    errors have it masked.
"""

from __future__ import annotations

import logging
import os
import random
import threading
from collections.abc import Callable
from typing import Any

from kiosk import contract
from kiosk.errors import ConfigError, JournalError, UplinkError
from kiosk.journal import Event, Journal
from kiosk.threads import StepThread
from kiosk.uplink.backoff import Backoff
from kiosk.uplink.heartbeat import Heartbeat
from kiosk.uplink.link import Link
from kiosk.uplink.push import Pusher
from kiosk.uplink.rosterpull import RosterPull
from kiosk.uplink.transport import Transport

log = logging.getLogger("kiosk.uplink")

MAX_WAIT_S = 3600.0
_IDLE_WAIT_S = 60.0
STOP_TIMEOUT_S = 8.0
"""How long :meth:`Uplink.stop` waits for its threads (a connection being opened, which
cannot be cut short, takes at most 5 s)."""


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
    :param timeout_s: total deadline of one request, seconds (real time).
    :param heartbeat_info: returns the heartbeat's ``lanes`` mapping (lane -> state dict).
    :param on_roster: called with the new :class:`~kiosk.contract.RosterBody` once it is
        checked and stored.
    :param on_alert: called with ``(code, detail)`` when maintenance must know; codes are
        ``token_file``, ``auth_refused``, ``quarantined``, ``conflict``, ``roster_rejected``,
        ``heartbeat_refused``, ``unreachable`` and ``server_fault``; each is raised once per
        episode (until the next success), and ``detail["message"]`` says what happened.
        Called from an uplink thread; it must not block and may journal an event (which may
        :meth:`nudge`).
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
        on_roster: Callable[[contract.RosterBody], None] | None = None,
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
        rng = rng or random.Random()
        transport = Transport(url, timeout_s=self.timeout_s, ca_file=ca_file) if url else None
        self.link = Link(
            transport,
            clock,
            gate_id=gate_id,
            token=token,
            token_file=token_file,
            on_alert=on_alert,
        )
        self.pusher = Pusher(self.link, journal, clock, interval_s=self.interval_s, rng=rng)
        side = Backoff(clock, rng)
        self.heartbeat = Heartbeat(
            self.link, journal, clock, side, every_s=self.heartbeat_s, info=heartbeat_info
        )
        self.roster = RosterPull(
            self.link, journal, clock, side, every_s=self.roster_s, site=site, on_roster=on_roster
        )
        self._side_backoff = side
        self._side_lock = threading.Lock()
        self._threads = (
            StepThread("uplink-push", self.step_push, error_wait=self.interval_s),
            StepThread("uplink-side", self.step_side, error_wait=self.interval_s),
        )

    @classmethod
    def from_config(cls, config, journal: Journal, clock, **kwargs) -> Uplink:
        """The uplink of a loaded configuration (``[gate]`` and ``[uplink]``), with the
        token and CA files resolved against the configuration file's folder. *kwargs* give
        the callbacks (``heartbeat_info``, ``on_roster``, ``on_alert``) and may override.

        :raises ConfigError: the ``[uplink]`` section cannot be used (URL, CA file, token).
        """
        settings = config.uplink
        values: dict[str, Any] = {
            "gate_id": config.gate.gate_id,
            "site": config.gate.site,
            "url": settings.url,
            "token_file": str(config.resolve(settings.token_file)) if settings.token_file else None,
            "ca_file": str(config.resolve(settings.ca_file)) if settings.ca_file else "",
            "interval_s": settings.interval_s,
            "heartbeat_s": settings.heartbeat_s,
            "roster_s": settings.roster_s,
            "timeout_s": settings.timeout_s,
        }
        values.update(kwargs)
        try:
            return cls(journal, clock, **values)
        except UplinkError as exc:
            raise ConfigError(f"{config.path}: [uplink] {exc}") from None

    def __repr__(self) -> str:
        return f"<Uplink gate={self.gate_id!r} url={self.url!r}>"

    @property
    def enabled(self) -> bool:
        return bool(self.url)

    # -- public API ------------------------------------------------------------------------

    def nudge(self) -> None:
        """Push at once (an ``alert.*`` event was journaled). Thread-safe, never blocks; a
        back-off or a refused token still holds the push back."""
        self.pusher.nudged.set()
        self._threads[0].wake()

    def push_now(self) -> None:
        """Maintenance's "upload now": push at once, even during a back-off after failures
        (the link was mended), though never before a server's Retry-After. A refused token,
        a held event or a conflict still hold the push back, as their own panels say."""
        self.pusher.backoff.skip_wait()
        self.nudge()

    def journal_listener(self, event: Event) -> None:
        """A :meth:`Journal.add_listener` callback: nudges for ``alert.*`` events."""
        if event.type.startswith("alert."):
            self.nudge()

    def set_token(self, token: str) -> None:
        """Use a new token (configuration changed); a refused state is lifted at once."""
        self.link.set_token(token)
        self.nudge()
        self._threads[1].wake()

    def release_quarantine(self) -> int | None:
        """Maintenance action: offer the held event (or, after a conflict, the next batch)
        to the server again at the next step. Returns the held seq (or the server's count
        of a conflict), None when nothing is held. If the server refuses it again it is
        held again, with a new alert."""
        held = self.pusher.release()
        if held:
            self._threads[0].wake()
        return held

    def send_refused(self, seq: int, by: str) -> dict[str, Any]:
        """Maintenance action: send a ``kiosk.event_refused`` event in place of the held
        event *seq* (see :meth:`Pusher.send_refused`); pushing goes on after it.

        :raises UplinkError: *seq* is not held because the server refused it.
        """
        done = self.pusher.send_refused(seq, by)
        self._threads[0].wake()
        return done

    def held_event(self) -> dict[str, Any] | None:
        """The held event (as it would be sent) and why it is held, or None."""
        return self.pusher.held_event()

    def step(self) -> float:
        """Do whatever is due now in this thread; the seconds until the next call."""
        wait = self.step_push()
        if self._server_failing():
            return wait  # not the heartbeat and roster too, at a server that just failed
        return min(wait, self.step_side())

    def step_push(self) -> float:
        """The push room's step (the push thread)."""
        if not self.enabled:
            return _IDLE_WAIT_S
        return self._guarded(self.pusher.step)

    def step_side(self) -> float:
        """The heartbeat and roster rooms' step (the other thread)."""
        if not self.enabled:
            return _IDLE_WAIT_S
        return self._guarded(self._side)

    def _guarded(self, step: Callable[[], float]) -> float:
        try:
            wait = step()
        except JournalError as exc:
            self.link.error(f"journal: {exc}")
            wait = self.interval_s
        return max(0.0, min(wait, MAX_WAIT_S))

    def _side(self) -> float:
        with self._side_lock:
            if not self.link.ensure_token():
                return self.interval_s
            now = self.clock.monotonic()
            blocked = self._side_blocked(now)
            if blocked > 0:
                return blocked
            if now >= self.heartbeat.next_at and not self.heartbeat.send():
                return self._side_wait()
            if self.clock.monotonic() >= self.roster.next_at:
                self.roster.pull()
            return self._side_wait()

    def _side_blocked(self, now: float) -> float:
        auth = self.link.blocked_for(now, interval_s=self.interval_s)
        return max(auth, self._side_backoff.wait())

    def _side_wait(self) -> float:
        now = self.clock.monotonic()
        blocked = self._side_blocked(now)
        if blocked > 0:
            return blocked
        return max(0.0, min(self.heartbeat.next_at, self.roster.next_at) - now)

    def _server_failing(self) -> bool:
        now = self.clock.monotonic()
        return self.pusher.backoff.wait() > 0 or (
            self.link.auth_retry_at is not None and now < self.link.auth_retry_at
        )

    def upload_once(self) -> dict[str, Any]:
        """Push everything unsent now, ignoring timers and back-off; stop at the first
        failure, at a conflict, or where an event is held. Returns a summary for the CLI:
        ``ok``, ``sent`` (events newly acked), ``requests``, ``acked_seq``, ``last_seq``,
        ``unsent``, ``state``, ``error``, ``quarantined_seq``, ``conflict``."""
        start = self.journal.acked_seq
        requests, error = 0, None
        if not self.enabled:
            error = "the uplink is disabled (no url)"
        elif not self.link.ensure_token():
            error = self.link.token_problem
        else:
            self.link.auth_retry_at = None
            requests, error = self.pusher.upload_once()
        acked, last = self.journal.acked_seq, self.journal.last_seq()
        return {
            "ok": error is None and not self.pusher.held and self.pusher.conflict is None,
            "sent": max(0, acked - start),
            "requests": requests,
            "acked_seq": acked,
            "last_seq": last,
            "unsent": max(0, last - acked),
            "state": self._state(),
            "error": error,
            "quarantined_seq": self.pusher.held or None,
            "conflict": self.pusher.conflict,
        }

    def status(self) -> dict[str, Any]:
        """A snapshot for the maintenance panel (never the token)."""
        now = self.clock.monotonic()
        acked, last = self.journal.acked_seq, self.journal.last_seq()
        link = self.link
        next_attempt = None
        if self.enabled:
            next_attempt = self.pusher.next_wait()
            if not self._server_failing():
                next_attempt = min(next_attempt, self._side_wait())
        return {
            "state": self._state(),
            "url": self.url,
            "unsent": max(0, last - acked),
            "acked_seq": acked,
            "last_seq": last,
            "sent_seq": self.pusher.sent_seq,
            "last_success": link.last_success,
            "last_success_age_s": (
                None if link.last_success_mono is None else now - link.last_success_mono
            ),
            "last_error": self.pusher.standing_error() or link.last_error,
            "next_attempt_s": next_attempt,
            "quarantined_seq": self.pusher.held or None,
            "quarantine_reason": self.pusher.held_reason(),
            "conflict": self.pusher.conflict,
            "batch_max": self.pusher.batch_max,
        }

    def _state(self) -> str:
        link = self.link
        if not self.enabled or link.token_problem:
            return "disabled"
        if link.auth_retry_at is not None:
            return "auth_refused"
        state = self.pusher.state()
        if state == "ok" and self._side_backoff.wait() > 0:
            return "backing_off"
        return state

    # -- the threads -----------------------------------------------------------------------

    def start(self) -> None:
        """Run the push room and the heartbeat/roster rooms in two daemon threads."""
        if any(thread.alive for thread in self._threads):
            raise UplinkError("the uplink threads are already running")
        if self.link.transport is not None:
            self.link.transport.resume()
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """Stop both threads, ending any request in flight at once, and close.

        :raises StopTimeout: a thread outlived *timeout* seconds."""
        for thread in self._threads:
            thread.stopping.set()
            thread.wake()
        if self.link.transport is not None:
            self.link.transport.abort()
        try:
            for thread in self._threads:
                thread.stop(timeout)
        finally:
            self.close()
            if self.link.transport is not None:
                self.link.transport.resume()  # step() may still be called by hand

    def close(self) -> None:
        """Close the connections to the server (safe to call twice; the next request opens
        one again). Do not call it while the threads run; :meth:`stop` closes too."""
        if self.link.transport is not None:
            self.link.transport.close()
