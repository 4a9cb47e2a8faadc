"""The roster the gate decides by right now, and the keys it checks passes with.

The committee's roster is stored in the journal (by the uplink's pull, or ``kiosk roster
import`` from another process) and taken from there; home observation flagged at this gate is
merged into every roster, and the roster's public keys into the gate's own keyring (a roster
key never replaces a local one). Lanes ask :meth:`RosterHolder.current` at each decision and
:meth:`RosterHolder.verify` for each pass.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from datetime import date, datetime

from kiosk import contract, passes
from kiosk.roster import Roster

log = logging.getLogger(__name__)


class RosterHolder:
    """The current roster and keyring of a gate. Thread-safe.

    :param journal: where the roster is stored (:meth:`kiosk.journal.Journal.load_roster`).
    :param registrations: the :class:`kiosk.registrations.RegistrationStore` holding home
        observation flagged at the gate.
    :param keyring: the gate's own public keys (from its key folder).
    :param site: this gate's site; passes of another site are refused.
    :param on_change: called with ``(version, received_at)`` when another roster is taken.
    """

    def __init__(self, journal, registrations, keyring, *, site: str, on_change=None) -> None:
        self.journal = journal
        self.registrations = registrations
        self.site = site
        self.on_change = on_change or (lambda version, received_at: None)
        self._lock = threading.Lock()
        self._keyring = keyring
        self._roster = Roster()
        self._take_stored()

    def _take_stored(self) -> Roster:
        text, received = self.journal.load_roster_json()
        stored = Roster.from_body(text, received)
        if stored.problem:
            log.error("the stored roster is not used: %s", stored.problem)
        roster = self._with_local_observation(stored)
        with self._lock:
            self._roster = roster
            if roster.keys:
                self._keyring = _merge_keyring(self._keyring, roster.keys)
        return roster

    def current(self) -> Roster:
        """The roster in force."""
        with self._lock:
            return self._roster

    @property
    def keyring(self) -> passes.Keyring:
        """The gate's keys and the roster's."""
        with self._lock:
            return self._keyring

    def verify(self, text: str, now: datetime) -> passes.PassCheck:
        """Check a scanned text against the keys and the site; never raises."""
        return passes.verify(text, self.keyring, site=self.site, now=now)

    def replace(self, body: dict) -> Roster:
        """Store a new roster (committee shape) atomically and use it from now on.

        :raises ContractError: *body* is not a roster for this gate's site.
        """
        parsed = contract.parse_roster(body, site=self.site)
        self.journal.save_roster_json(parsed.version, contract.encode(parsed).decode("utf-8"))
        return self.use_stored()

    def use_stored(self) -> Roster:
        """Take the roster stored in the journal (just pulled or imported)."""
        roster = self._take_stored()
        self.on_change(roster.version, roster.received_at)
        return roster

    def reload_if_changed(self) -> bool:
        """Take a roster another process stored (``kiosk roster import``); True if taken."""
        stamp = self.journal.roster_stamp()
        current = self.current()
        if stamp is None or stamp == (current.version, current.received_at):
            return False
        log.info("roster %s stored by another process: using it", stamp[0])
        self.use_stored()
        return True

    def flag_home_observation(self, household: str, until: date, by: str, now: datetime) -> date:
        """Keep *household* in until *until* (inclusive); the rules apply on the way out.

        Survives roster pulls: the flag is merged into every roster the committee sends (the
        committee's own date wins when it is later). Returns the date in force.
        """
        until = self.registrations.flag_observation(household, until, by, now)
        with self._lock:
            self._roster = self._with_local_observation(self._roster)
        return until

    def _with_local_observation(self, roster: Roster) -> Roster:
        """*roster* with the home observation flagged at this gate (the later date wins)."""
        merged = dict(roster.home_observation)
        for household, until in self.registrations.observations().items():
            if household not in merged or merged[household] < until:
                merged[household] = until
        return dataclasses.replace(roster, home_observation=merged)


def _merge_keyring(keyring, roster_keys):
    """The gate's own keys plus the roster's; a roster key never replaces a local one."""
    merged = passes.Keyring(keyring)
    for entry in passes.Keyring.from_roster(list(roster_keys)):
        if entry.kid in merged:
            if merged.get(entry.kid).raw() != entry.raw():
                log.warning("roster key %d differs from the local key: local key kept", entry.kid)
            continue
        merged.add(entry.kid, entry.key, entry.use)
    return merged
