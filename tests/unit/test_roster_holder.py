"""The roster holder: the roster in force, home observation flagged at the gate merged in, and
the roster's keys merged into the gate's keyring (also after a restart)."""

from __future__ import annotations

from datetime import date

from kiosk.journal import Journal
from kiosk.passes import Keyring, issue_token
from kiosk.registrations import RegistrationStore
from kiosk.roster_holder import RosterHolder
from tests.unit.test_passes import COMMITTEE, NOW, SITE, claims, roster_key


def holder(path, clock, changes=None):
    changes = [] if changes is None else changes
    journal = Journal(path / "journal.db", clock)
    rosters = RosterHolder(
        journal,
        RegistrationStore(journal),
        Keyring(),
        site=SITE,
        on_change=lambda version, received: changes.append(version),
    )
    return journal, rosters


def test_roster_holder_verifies_with_roster_keys_and_keeps_them_after_a_restart(tmp_path, clock):
    token = issue_token(claims(), COMMITTEE)
    journal, rosters = holder(tmp_path, clock)
    try:
        assert rosters.verify(token, NOW).reason == "PASS_UNKNOWN_KEY"
        rosters.replace({"version": "v1", "site": SITE, "keys": [roster_key()], "passes": []})
        assert rosters.verify(token, NOW).granted
    finally:
        journal.close()
    journal, restarted = holder(tmp_path, clock)
    try:
        assert restarted.current().version == "v1"
        assert restarted.verify(token, NOW).granted  # the stored roster's keys, at start
    finally:
        journal.close()


def test_roster_holder_takes_a_roster_stored_by_another_process_once(tmp_path, clock):
    changes: list[str] = []
    journal, rosters = holder(tmp_path, clock, changes)
    other = Journal(tmp_path / "journal.db", clock)
    try:
        assert rosters.reload_if_changed() is False
        other.save_roster({"version": "imported#1", "site": SITE, "passes": []})
        assert rosters.reload_if_changed() is True
        assert rosters.reload_if_changed() is False
        assert rosters.current().version == "imported#1"
        assert changes == ["imported#1"]
    finally:
        other.close()
        journal.close()


def test_roster_holder_keeps_local_observation_through_roster_changes(tmp_path, clock):
    journal, rosters = holder(tmp_path, clock)
    try:
        until = rosters.flag_home_observation("7-1201", date(2020, 2, 18), "guard", NOW)
        assert until == date(2020, 2, 18)
        rosters.replace({"version": "v2", "site": SITE, "passes": []})
        assert rosters.current().observation_until("7-1201", NOW.date()) == until
    finally:
        journal.close()
