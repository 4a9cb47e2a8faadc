"""Fever alarms: open from ``alert.fever`` until the guard records what was done.

An alarm is closed only by ``alert.fever_ack`` with one of :data:`FEVER_OUTCOMES`; alarms still
open at a restart are read back from the journal, so they sound again.
"""

from __future__ import annotations

import threading

from kiosk.errors import KioskError

#: How a guard can close a fever alarm: re-measured by hand (with the value), sent to the
#: fever clinic, or reported to the committee.
FEVER_OUTCOMES = ("remeasured", "clinic", "reported")
#: Events read back at start to find the alarms still open.
RELOAD_EVENTS = 500


class FeverAlarms:
    """The open fever alarms of a gate, fed by every journal event (:meth:`on_event`).

    :param journal: a :class:`kiosk.journal.Journal`; read at start, and written by
        :meth:`acknowledge`. Thread-safe.
    """

    def __init__(self, journal) -> None:
        self.journal = journal
        self._lock = threading.Lock()
        self._open: dict[int, dict] = {}  # seq of alert.fever -> what the screen shows
        acked = set()
        for event in journal.recent(RELOAD_EVENTS, types=("alert.fever", "alert.fever_ack")):
            if event.type == "alert.fever_ack":
                acked.add(event.data.get("fever_seq"))
            elif event.seq not in acked:
                self._open[event.seq] = _view(event)

    def open(self) -> list[dict]:
        """The alarms the guard has not acknowledged yet, oldest first: ``seq``, ``id``,
        ``ts``, ``lane``, ``temperature_c`` (°C) and ``household``."""
        with self._lock:
            return [self._open[k] for k in sorted(self._open)]

    def lanes(self) -> set[str]:
        """The lanes with an open alarm (their buzzers sound)."""
        return {fever["lane"] for fever in self.open()}

    def acknowledge(
        self,
        seq: int,
        outcome: str,
        by: str,
        *,
        temperature_c: float | None = None,
        note: str = "",
    ):
        """Close the alarm journaled as *seq* with *outcome* (``alert.fever_ack``); returns
        the event. The alarm leaves :meth:`open` when the event is written.

        :param outcome: one of :data:`FEVER_OUTCOMES`; ``remeasured`` with *temperature_c*.
        :raises KioskError: no open alarm *seq*, or an outcome it does not know.
        """
        if outcome not in FEVER_OUTCOMES:
            raise KioskError(f"outcome must be one of {', '.join(FEVER_OUTCOMES)}")
        with self._lock:
            fever = self._open.get(seq)
        if fever is None:
            raise KioskError(f"no open fever alarm {seq}")
        data = {
            "fever_seq": seq,
            "fever_id": fever["id"],
            "outcome": outcome,
            "temperature_c": temperature_c,
            "household": fever.get("household"),
            "by": by,
        }
        if note:
            data["note"] = note
        return self.journal.append("alert.fever_ack", data, lane=fever["lane"])

    def on_event(self, event) -> bool:
        """Take one written journal event; True when the open alarms changed."""
        with self._lock:
            if event.type == "alert.fever":
                self._open[event.seq] = _view(event)
                return True
            if event.type == "alert.fever_ack":
                return self._open.pop(event.data.get("fever_seq"), None) is not None
        return False


def _view(event) -> dict:
    return {
        "seq": event.seq,
        "id": event.id,
        "ts": event.ts,
        "lane": event.lane,
        "temperature_c": event.data.get("temperature_c"),
        "household": event.data.get("household"),
    }
