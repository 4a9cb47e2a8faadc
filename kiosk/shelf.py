"""The pickup shelf (取件架): a second camera where a household's pass collects its parcels.

A gate with ``[parcels] shelf_camera`` set has a camera at the pickup shelf. The resident holds
a pass up to it; the frames go through the lanes' own reader and scanner
(:class:`kiosk.camera.reader.PassReader`), the pass is checked as a lane checks it (the
signature, site and validity window by the roster holder's verifier, then the roster and the
clock-trust rule by :func:`kiosk.policy.valid_pass`), and a good pass of a household with
parcels waiting marks them collected: one ``parcel.collected`` per parcel, with ``"by":
"shelf"`` and ``"how": "shelf"``.

One showing collects once: the reader reports a pass held in view again every few seconds
(its ``debounce_s``), and reports of the same pass less than :data:`SHOWING_GAP_S` apart are
one showing. The shelf never touches a relay and is no part of a lane: its camera's fault is
journalled as ``alert.sensor_fault`` of the whole gate (``source`` ``shelf_camera``) and shown
as the guard's shelf badge, and the guard's one-tap collect works all the same.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from kiosk import policy
from kiosk.errors import KioskError
from kiosk.events import CodeUnread, PassPresented, SensorStatus
from kiosk.reasons import Reason

log = logging.getLogger(__name__)

#: Reports of one pass less than this many seconds apart are one showing (the reader
#: reports a pass still in view again after its ``debounce_s``, 3 s by default).
SHOWING_GAP_S = 10.0
#: The ``source`` of the shelf camera's ``alert.sensor_fault`` events.
SOURCE = "shelf_camera"
#: What one report of a pass came to (:meth:`PickupShelf.handle`).
COLLECTED, NOTHING_WAITING, REFUSED, SAME_SHOWING = "collected", "nothing", "refused", "same"


class PickupShelf:
    """What the shelf camera's reports do.

    :param parcels: the :class:`kiosk.parcels.ParcelStore`.
    :param journal: where the camera's faults are recorded.
    :param clock: the injected clock (``now()`` for the pass's validity).
    :param verify_pass: ``(text, now) -> passes.PassCheck`` (the lanes' verifier); never
        raises.
    :param roster: ``() -> Roster``, the roster in force.
    :param accept_without_roster: ``[screening] accept_without_roster``.
    :param rules: :class:`kiosk.config.RulesSettings` (its ``untrusted_clock`` applies).
    :param clock_synchronised: ``() -> bool | None``.
    :param fault: ``() -> str | None``: what is wrong with the camera now (the reader's
        :attr:`~kiosk.camera.reader.PassReader.fault`).
    """

    def __init__(
        self,
        parcels,
        journal,
        clock,
        *,
        verify_pass: Callable,
        roster: Callable,
        accept_without_roster: bool = True,
        rules=None,
        clock_synchronised: Callable[[], bool | None] = lambda: None,
        fault: Callable[[], str | None] = lambda: None,
    ) -> None:
        self.parcels = parcels
        self.journal = journal
        self.clock = clock
        self.verify_pass = verify_pass
        self.roster = roster
        self.accept_without_roster = accept_without_roster
        self.rules = rules
        self.clock_synchronised = clock_synchronised
        self.fault = fault
        self._lock = threading.Lock()
        self._seen: dict[str, float] = {}  # pass text -> monotonic time of its last report
        self._outcomes = {COLLECTED: 0, NOTHING_WAITING: 0, REFUSED: 0}

    def handle(self, event) -> str | None:
        """Act on one event of the shelf's reader; never raises.

        :return: for a pass, :data:`COLLECTED`, :data:`NOTHING_WAITING`, :data:`REFUSED` or
            :data:`SAME_SHOWING`; ``None`` for a camera status.
        """
        try:
            if isinstance(event, SensorStatus):
                self._camera_status(event)
                return None
            if isinstance(event, PassPresented):
                return self._on_pass(event)
            if isinstance(event, CodeUnread):
                return None  # nobody at the shelf is asked to come closer
        except Exception:  # the shelf never stops: a bad report is logged and forgotten
            log.exception("pickup shelf: could not handle %r", type(event).__name__)
            return None
        log.warning("pickup shelf: ignoring unknown input %r", event)
        return None

    def _on_pass(self, event: PassPresented) -> str:
        if self._same_showing(event.text, event.t):
            return SAME_SHOWING
        now = self.clock.now()
        check = self.verify_pass(event.text, now)
        reason, detail = policy.valid_pass(
            check,
            self.roster(),
            accept_without_roster=self.accept_without_roster,
            rules=self.rules,
            clock_synchronised=self.clock_synchronised(),
        )
        claims = check.claims
        household = getattr(claims, "household", None)
        if reason != Reason.GRANTED or not household:
            log.info("pickup shelf: pass refused (%s) %s", reason, detail)
            return self._count(REFUSED)
        try:
            collected = self.parcels.collect_household(
                household, by="shelf", how="shelf", pass_id=getattr(claims, "pass_id", None)
            )
        except KioskError:  # the journal refused, or the guard collected them just now
            log.exception("pickup shelf: could not mark the parcels of %s collected", household)
            return self._count(NOTHING_WAITING)
        if not collected:
            log.info("pickup shelf: nothing waiting for the pass shown")
            return self._count(NOTHING_WAITING)
        log.info("pickup shelf: %d parcel records collected", len(collected))
        return self._count(COLLECTED)

    def _same_showing(self, text: str, t: float) -> bool:
        """True when *text* was reported less than :data:`SHOWING_GAP_S` ago; remembers it."""
        with self._lock:
            for old in [k for k, seen in self._seen.items() if t - seen >= SHOWING_GAP_S]:
                del self._seen[old]
            same = text in self._seen
            self._seen[text] = t
        return same

    def _count(self, outcome: str) -> str:
        with self._lock:
            self._outcomes[outcome] += 1
        return outcome

    def _camera_status(self, event: SensorStatus) -> None:
        """Journal the shelf camera's fault or recovery for the whole gate (no lane)."""
        data = {
            "source": SOURCE,
            "state": "recovered" if event.ok else "fault",
            "message": event.message,
        }
        try:
            self.journal.append("alert.sensor_fault", data)
        except KioskError:
            log.exception("pickup shelf: could not journal the camera's state")

    def status(self) -> dict:
        """The shelf for ``/healthz`` and the guard's badge: ``camera`` ``ok`` or ``fault``
        (with ``problem``), and how many showings ``collected``, found ``nothing`` waiting,
        or were ``refused``."""
        problem = self.fault()
        with self._lock:
            outcomes = dict(self._outcomes)
        return {"camera": "fault" if problem else "ok", "problem": problem or "", **outcomes}
