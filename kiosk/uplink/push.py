"""Pushing the journal to the committee server, one batch at a time, losing nothing.

Batches
    Events after the upload cursor (``journal.acked_seq``) are read one batch at a time (at
    most 500 events and 1 MiB of JSON before gzip), so memory stays flat on any backlog.
    Before a request goes out, the highest seq in it is recorded (``uplink.sent_seq``), so
    the gate always knows what it has sent, across restarts. 413 halves the batch, down to one
    event, and it grows back slowly after a run of accepted batches.

Acknowledgements
    The cursor moves only to the ``acked_seq`` of a 200 or of a 409 (which may move it back
    when the server lost acks, or forward when the reply to an earlier push was lost), and
    only when that seq is at most what this gate has sent. An ``acked_seq`` above it is a
    **conflict** (two gates with one ``gate_id``, or a journal started afresh): pushing stops,
    every event is kept, maintenance is alerted with both numbers, and the gate asks again
    once an hour (or when maintenance says so) whether the server still says so.

Held events (400 ``bad_seq``)
    The server accepts a batch only when it starts right after the highest seq it acked, so
    an event it refuses cannot be skipped. The gate pushes up to ``bad_seq - 1`` and then
    holds: the refused seq is recorded in the journal (``uplink.quarantined_seq``, so the hold
    survives a restart), maintenance is alerted once, and the event is offered again alone
    once an hour or when maintenance releases it. Maintenance may instead send a
    ``kiosk.event_refused`` event in its place (:meth:`Pusher.send_refused`): same seq and
    id, the original as text and the server's error, which every server must store; the
    refused event itself stays in the journal as it was. An event too large to ever be sent
    (over 1 MiB alone, or 413 at one event) is held the same way.

The state lives in the journal and is read again at each step, so ``kiosk upload`` in another
process and the running daemon act on one state.
"""

from __future__ import annotations

import gzip
import json
import logging
import threading
from typing import Any

from kiosk import contract
from kiosk.errors import ContractError, UplinkError
from kiosk.journal import Event, Journal
from kiosk.uplink.backoff import Backoff
from kiosk.uplink.link import Link
from kiosk.uplink.transport import Unreachable

log = logging.getLogger("kiosk.uplink")

HOLD_RETRY_S = 3600.0
"""How often a held event, or a conflict, is put to the server again on its own."""
QUARANTINE_RETRY_S = HOLD_RETRY_S
MAX_409_IN_A_ROW = 3
BATCH_GROW_AFTER = 20

STATE_QUARANTINED = "uplink.quarantined_seq"
STATE_QUARANTINE_REASON = "uplink.quarantine_reason"
STATE_QUARANTINE_KIND = "uplink.quarantine_kind"  # "refused" or "too_large"
STATE_SENT = "uplink.sent_seq"
STATE_CONFLICT = "uplink.conflict"  # JSON {"server_acked": N, "sent_seq": M} or ""
STATE_REPLACED = "uplink.replaced"  # JSON {"seq": "the server's error"}: sent as event_refused


class Pusher:
    """The push room of one gate's uplink. All times are the injected clock's."""

    def __init__(self, link: Link, journal: Journal, clock, *, interval_s: float, rng) -> None:
        self.link = link
        self.journal = journal
        self.clock = clock
        self.interval_s = float(interval_s)
        self.backoff = Backoff(clock, rng)
        self.lock = threading.Lock()  # one push at a time (the thread, upload_once)
        self.nudged = threading.Event()
        self._release = threading.Event()
        now = clock.monotonic()
        self.next_at = now
        self.batch_max = contract.MAX_BATCH_EVENTS
        self._small_batches = 0
        self._conflicts = 0
        self.held = 0
        self.held_kind = ""
        self.conflict: dict[str, int] | None = None
        self.replaced: dict[int, str] = {}
        self.sent_seq = 0
        self._load()
        # a conflict found at start is put to the server at once (the configuration may
        # have changed), a held event after an hour, as when it was refused
        self._probe_at = now + HOLD_RETRY_S if self.held and not self.conflict else now

    # -- state in the journal ----------------------------------------------------------------

    def _load(self) -> None:
        """Take the state from the journal (under :attr:`lock`: another process may have
        changed it, ``kiosk upload`` while the daemon runs)."""
        self.held, self.held_kind, self.conflict = self._read_hold()
        self.sent_seq = max(_int(self.journal.get_state(STATE_SENT, "0")), self.journal.acked_seq)
        replaced = _json(self.journal.get_state(STATE_REPLACED, "")) or {}
        self.replaced = {_int(k): str(v) for k, v in replaced.items() if _int(k) > 0}

    def _read_hold(self) -> tuple[int, str, dict[str, int] | None]:
        """(held seq, why it is held, conflict) as the journal has them now."""
        j = self.journal
        held = _int(j.get_state(STATE_QUARANTINED, "0"))
        kind = j.get_state(STATE_QUARANTINE_KIND, "") or "refused"
        return held, kind, _json(j.get_state(STATE_CONFLICT, "")) or None

    def held_reason(self) -> str | None:
        return self.journal.get_state(STATE_QUARANTINE_REASON) if self.held else None

    def _hold(self, seq: int, reason: str, kind: str) -> None:
        again = seq == self.held
        self.journal.set_state(STATE_QUARANTINED, str(seq))
        self.journal.set_state(STATE_QUARANTINE_REASON, reason)
        self.journal.set_state(STATE_QUARANTINE_KIND, kind)
        self.held, self.held_kind = seq, kind
        now = self.clock.monotonic()
        self._probe_at = now + HOLD_RETRY_S
        self.next_at = now
        self.link.succeeded(self.backoff, keep_error=True)  # the server answered
        self.link.error(f"event {seq} held: {reason}")
        if not again:
            log.error("uplink: event %d refused and held for maintenance: %s", seq, reason)
            message = f"event {seq} refused: {reason}"
            self.link.alert("quarantined", {"seq": seq, "reason": reason, "message": message})

    def _clear_hold(self) -> None:
        self.journal.set_state(STATE_QUARANTINED, "0")
        self.journal.set_state(STATE_QUARANTINE_REASON, "")
        self.journal.set_state(STATE_QUARANTINE_KIND, "")
        self.held, self.held_kind = 0, ""

    def standing_error(self) -> str | None:
        """What keeps events from going, while it lasts (a conflict, a held event)."""
        if self.conflict is not None:
            return (
                f"conflict: the server says acked_seq {self.conflict['server_acked']}, above "
                f"the highest seq this gate sent ({self.conflict['sent_seq']}): another gate "
                f"with gate_id {self.link.gate_id!r}, or a journal started afresh? Pushing "
                "stopped; every event is kept"
            )
        if self.held:
            return f"event {self.held} held: {self.held_reason()}"
        return None

    def _set_conflict(self, server_acked: int, status: int) -> None:
        sent = self.sent_seq
        self.conflict = {"server_acked": server_acked, "sent_seq": sent}
        self.journal.set_state(STATE_CONFLICT, json.dumps(self.conflict))
        now = self.clock.monotonic()
        self._probe_at = now + HOLD_RETRY_S
        self.next_at = now + self.interval_s
        self.link.succeeded(self.backoff, keep_error=True)
        message = f"{self.standing_error()} ({status})"
        self.link.error(message)
        log.error("uplink: %s", message)
        self.link.alert(
            "conflict", {"server_acked": server_acked, "sent_seq": sent, "message": message}
        )

    def _clear_conflict(self) -> None:
        if self.conflict is not None:
            log.warning("uplink: the server's count is consistent again; pushing resumes")
            self.conflict = None
            self.journal.set_state(STATE_CONFLICT, "")
            self.link.alert_over("conflict")

    def _record_sent(self, last: int) -> None:
        if last > self.sent_seq:
            self.journal.set_state(STATE_SENT, str(last))  # before the request goes out
            self.sent_seq = last

    # -- maintenance -------------------------------------------------------------------------

    def release(self) -> int | None:
        """Offer the held event (or put a conflict) to the server again at the next step.
        Thread-safe, never blocks."""
        held, _, conflict = self._read_hold()
        held = held or (conflict["server_acked"] if conflict else 0)
        if held:
            self._release.set()
            self.nudged.set()
        return held or None

    def _take_release(self) -> None:
        if self._release.is_set():
            self._release.clear()
            if self.held:
                log.warning("uplink: maintenance released held event %d", self.held)
                self._clear_hold()
            self._probe_at = 0.0
            self.next_at = self.clock.monotonic()

    def send_refused(self, seq: int, by: str) -> dict[str, Any]:
        """Maintenance: send a ``kiosk.event_refused`` in place of held event *seq*.

        The refused event stays in the journal as it is; the server gets, under the same
        seq and id, the original as JSON text and its own error, so the sequence goes on.
        Journaled as ``uplink.event_replaced``.

        :raises UplinkError: *seq* is not the event held because the server refused it.
        """
        with self.lock:
            self._load()
            if not self.held or seq != self.held:
                now = f"event {self.held} is held" if self.held else "no event is held"
                raise UplinkError(f"event {seq} is not held for a refusal ({now})")
            if self.held_kind != "refused":
                raise UplinkError(
                    f"event {seq} is held because it is too large, not refused: a "
                    "kiosk.event_refused holding it would be as large"
                )
            event = self._event(seq)
            error = self.held_reason() or "refused (400 bad_seq) without a reason"
            self.replaced[seq] = error
            self.journal.set_state(
                STATE_REPLACED, json.dumps({str(k): v for k, v in self.replaced.items()})
            )
            self._clear_hold()
            self.next_at = self.clock.monotonic()
            self.nudged.set()
        log.warning("uplink: event %d is sent as %s (by %s)", seq, contract.EVENT_REFUSED, by)
        self.journal.append(
            "uplink.event_replaced",
            {"seq": seq, "id": event.id, "type": event.type, "error": error, "by": by},
        )
        return {"seq": seq, "id": event.id, "type": event.type, "error": error}

    def held_event(self) -> dict[str, Any] | None:
        """The held event as it would be sent, with why it is held, or None (read from the
        journal; thread-safe)."""
        held, kind, _ = self._read_hold()
        if not held:
            return None
        event = self._event(held)
        return {
            "seq": held,
            "kind": kind,
            "reason": self.journal.get_state(STATE_QUARANTINE_REASON),
            "event": None if event is None else event.to_api(),
            "replaceable": kind == "refused" and event is not None,
        }

    def _event(self, seq: int) -> Event | None:
        found = self.journal.events_after(seq - 1, 1)
        return found[0] if found and found[0].seq == seq else None

    def _wire(self, event: Event) -> dict[str, Any]:
        """*event* as it goes in a batch (replaced by a ``kiosk.event_refused`` when
        maintenance decided so)."""
        body = event.to_api()
        error = self.replaced.get(event.seq)
        return body if error is None else contract.event_refused(body, error)

    # -- stepping ----------------------------------------------------------------------------

    def send_limit(self) -> int:
        """The highest seq that may be sent now (a held event and all after it excluded)."""
        last = self.journal.last_seq()
        return min(last, self.held - 1) if self.held else last

    def state(self) -> str:
        if self.conflict is not None:
            return "conflict"
        if self.held:
            return "quarantined"
        if self.backoff.wait() > 0:
            return "backing_off"
        return "ok"

    def step(self) -> float:
        """Push if due; the seconds until this room wants to run again."""
        with self.lock:
            self._load()
            self._take_release()
            now = self.clock.monotonic()
            if not self.link.ensure_token():
                return self.interval_s
            blocked = max(self.link.blocked_for(now, interval_s=self.interval_s), 0.0)
            blocked = max(blocked, self.backoff.wait())
            if blocked > 0:
                return blocked
            if self.nudged.is_set() or now >= self.next_at:
                self.nudged.clear()
                self.push()
            return self.next_wait()

    def next_wait(self) -> float:
        now = self.clock.monotonic()
        blocked = max(self.backoff.wait(), self.link.blocked_for(now, interval_s=self.interval_s))
        if blocked > 0:
            return blocked
        if self.nudged.is_set():
            return 0.0
        return max(0.0, self.next_at - now)

    def push(self, *, offer_held: bool = True) -> bool:
        """Send one batch. False when the server failed and a back-off started."""
        now = self.clock.monotonic()
        acked = self.journal.acked_seq
        limit = self.journal.last_seq()
        count = self.batch_max
        if self.conflict is not None:
            if now < self._probe_at:
                self.next_at = now + self.interval_s
                return True
            count = 1  # ask the server again with the smallest batch
            log.info("uplink: asking the server again after a conflict")
        if self.held:
            if acked >= self.held:  # acked meanwhile (another process, the server)
                self._clear_hold()
            elif acked < self.held - 1:
                limit = self.held - 1
            elif offer_held and now >= self._probe_at:
                limit, count = self.held, 1
                log.info("uplink: offering held event %d again", self.held)
            else:
                self.next_at = now + self.interval_s
                return True
        events = [e for e in self.journal.events_after(acked, count) if e.seq <= limit]
        if not events:
            self.next_at = now + self.interval_s
            return True
        raw, n = contract.encode_batch(
            self.link.gate_id, (self._wire(e) for e in events), max_events=count
        )
        if n == 0:
            self._hold(events[0].seq, "the event is larger than 1 MiB of JSON", "too_large")
            return True
        first, last = events[0].seq, events[n - 1].seq
        self._record_sent(last)
        body = gzip.compress(raw, compresslevel=5, mtime=0)
        try:
            reply = self.link.request("POST", "events", body, gzip_body=True)
        except Unreachable as exc:
            self.link.down(self.backoff, f"push {first}..{last}: {exc}")
            return False
        status = reply.status
        if status in (200, 409):
            try:
                server_acked = contract.parse_ack(reply.body).acked_seq
            except ContractError as exc:
                what = "not JSON" if reply.truncated else str(exc)
                self.link.fault(self.backoff, f"push {first}..{last}: {status} with {what}")
                return False
            if server_acked > self.sent_seq:
                self._set_conflict(server_acked, status)
                return True
            self._clear_conflict()
            if status == 200:
                return self._pushed(server_acked, acked)
            return self._resend_from(server_acked, first)
        if status == 413:
            if n > 1:
                self.batch_max = max(1, n // 2)
                self._small_batches = 0
                log.info("uplink: batch too large; now at most %d events", self.batch_max)
                self.next_at = now
                return True
            self._hold(first, "the server says the event alone is too large", "too_large")
            return True
        if status == 400:
            refusal = contract.parse_refusal(reply.body)
            error = self.link.mask(refusal.error[:200])
            if refusal.bad_seq is not None and first <= refusal.bad_seq <= last:
                self._hold(refusal.bad_seq, error, "refused")
                return True
            message = f"push {first}..{last}: 400 without a bad_seq: {error}"
            self.link.fault(self.backoff, message)
            return False
        self.link.failed(self.backoff, reply, f"push {first}..{last}")
        return False

    def _pushed(self, server_acked: int, acked: int) -> bool:
        now = self.clock.monotonic()
        if server_acked < acked:
            log.warning(
                "uplink: server acked %d, below the cursor %d; resending", server_acked, acked
            )
        self.journal.set_acked_seq(server_acked)
        self._conflicts = 0
        if self.batch_max < contract.MAX_BATCH_EVENTS:
            # after a 413, grow back slowly: double after a run of accepted batches
            self._small_batches += 1
            if self._small_batches >= BATCH_GROW_AFTER:
                self._small_batches = 0
                self.batch_max = min(contract.MAX_BATCH_EVENTS, self.batch_max * 2)
        if self.held and server_acked >= self.held:
            log.info("uplink: held event %d was accepted", self.held)
            self._clear_hold()
        self.link.succeeded(self.backoff, keep_error=bool(self.held))
        more = server_acked > acked and self.send_limit() > server_acked
        self.next_at = now if more else now + self.interval_s
        return True

    def _resend_from(self, server_acked: int, first: int) -> bool:
        self._conflicts += 1
        if self._conflicts > MAX_409_IN_A_ROW:
            self._conflicts = 0
            self.link.fault(self.backoff, f"409 {MAX_409_IN_A_ROW + 1} times in a row")
            return False
        log.info("uplink: server has up to %d (sent from %d); resending", server_acked, first)
        self.journal.set_acked_seq(server_acked)
        self.link.succeeded(self.backoff, keep_error=bool(self.held))
        self.next_at = self.clock.monotonic()
        return True

    def upload_once(self, stalls_allowed: int = 20) -> tuple[int, str | None]:
        """Push everything unsent now, ignoring timers and back-off; stop at the first
        failure, a conflict, or where an event is held. Returns (requests, error)."""
        with self.lock:
            self._load()
            self.backoff.retry_at = 0.0
            self._take_release()
            self._probe_at = 0.0 if self.conflict else self._probe_at
            requests, stalls = 0, 0
            while True:
                acked = self.journal.acked_seq
                if acked >= self.send_limit():
                    return requests, None
                requests += 1
                if not self.push(offer_held=False):
                    return requests, self.link.last_error
                if self.conflict is not None:
                    return requests, self.link.last_error
                stalls = stalls + 1 if self.journal.acked_seq <= acked else 0
                if stalls > stalls_allowed:
                    return requests, f"no progress after {stalls} requests: {self.link.last_error}"


def _int(text: str | None) -> int:
    try:
        return int(text or 0)
    except ValueError:
        return 0


def _json(text: str | None) -> Any:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None
