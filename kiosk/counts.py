"""Today's counts on the guard screen: people in and out, denials, fevers, registrations.

Counted once from the journal when the day starts (or the kiosk does), then kept up to date
from every journal event; "today" is the gate's local date.
"""

from __future__ import annotations

import threading

#: The events counted, and the count each adds to (grants and manual openings count as in or
#: out by their lane's direction).
COUNTED = {
    "access.granted": None,
    "gate.manual_open": None,
    "access.denied": "denied",
    "alert.fever": "fevers",
    "registration.created": "registrations",
}
KEYS = ("in", "out", "denied", "fevers", "registrations")


class TodayCounts:
    """Today's counts of one gate.

    :param journal: a :class:`kiosk.journal.Journal`, read at each new day.
    :param clock: the injected clock (local date of ``now()``).
    :param directions: lane name -> ``"in"`` or ``"out"``.
    """

    def __init__(self, journal, clock, directions: dict[str, str]) -> None:
        self.journal = journal
        self.clock = clock
        self.directions = dict(directions)
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self._day = ""
        self._recount(clock.now().date().isoformat())

    def today(self) -> dict[str, int]:
        """Today's ``in``, ``out``, ``denied``, ``fevers`` and ``registrations``."""
        day = self.clock.now().date().isoformat()
        if day != self._day:
            self._recount(day)
        with self._lock:
            return dict(self._counts)

    def on_event(self, event) -> None:
        """Count one written journal event when it is of today and counted."""
        if event.type not in COUNTED:
            return
        with self._lock:
            if event.ts[:10] == self._day:
                key = self._key(event.type, event.lane)
                self._counts[key] = self._counts.get(key, 0) + 1

    def _recount(self, day: str) -> None:
        counts = dict.fromkeys(KEYS, 0)
        for type_, lane, n in self.journal.count_by_lane(tuple(COUNTED), since=day):
            counts[self._key(type_, lane)] += n
        with self._lock:
            self._counts, self._day = counts, day

    def _key(self, type_: str, lane: str | None) -> str:
        return COUNTED[type_] or ("out" if self.directions.get(lane or "") == "out" else "in")
