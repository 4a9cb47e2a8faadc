"""The daemon uploads its journal to a committee server on loopback and takes its roster.

The kiosk runs on the fake clock, its lane and its uplink driven step by step as their threads
would drive them (the uplink's own thread is tested with the uplink)."""

import dataclasses
import os

import pytest

from kiosk.clock import FakeClock
from kiosk.sim.committee import CommitteeServer
from kiosk.sim.demo import roster
from kiosk.sim.hardware import simulated_kiosk
from tests.integration.conftest import Driver, sim_config
from tests.integration.test_person_flow import resident_token


@pytest.fixture
def committee():
    server = CommitteeServer(gate_id="test-gate", token="secret-gate-token").start()
    yield server
    server.stop()


def uplinked_kiosk(tmp_path, committee, clock=None, **uplink):
    cfg = sim_config(tmp_path / "data")
    token_file = tmp_path / "token"
    fd = os.open(token_file, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, b"secret-gate-token\n")
    os.close(fd)
    settings = dataclasses.replace(
        cfg.uplink, url=committee.url, token_file=str(token_file), **uplink
    )
    return simulated_kiosk(dataclasses.replace(cfg, uplink=settings), clock)


def upload(kiosk, clock, until, steps: int = 20) -> bool:
    """Step the uplink as its thread would (each step's wait passed on the fake clock) until
    ``until()`` holds; at most *steps* steps."""
    for _ in range(steps):
        if until():
            return True
        clock.advance(kiosk.uplink.step())
    return until()


def walk_in(kiosk, clock, forehead_c: float, journaled: str) -> bool:
    """A resident with a good pass steps in front of the lane; drive the lane until
    *journaled* is recorded (five seconds at most)."""
    kiosk.world.lanes["main"].step_in(forehead_c, resident_token(kiosk))

    def recorded():
        return bool(kiosk.journal.recent(1, types=(journaled,)))

    Driver(kiosk, clock).step(5.0, until=recorded)
    return recorded()


def test_daemon_uplink_pushes_every_event_in_order(tmp_path, committee):
    clock = FakeClock()
    kiosk = uplinked_kiosk(tmp_path, committee, clock, interval_s=0.2)
    try:
        assert walk_in(kiosk, clock, 35.5, "access.granted")
        assert upload(
            kiosk, clock, lambda: "access.granted" in [e["type"] for e in committee.events]
        )
        assert upload(kiosk, clock, lambda: kiosk.facade.uplink_status()["unsent"] == 0)
        assert committee.stored_seqs() == list(range(1, kiosk.journal.last_seq() + 1))
        assert kiosk.journal.acked_seq == kiosk.journal.last_seq()
        assert upload(kiosk, clock, lambda: committee.heartbeats)
        beat = committee.heartbeats[-1]
        assert beat["lanes"]["main"]["thermometer"] == "ok"
        assert kiosk.facade.uplink_status()["state"] == "ok"
    finally:
        kiosk.close()


def test_daemon_uplink_pushes_a_fever_alert_at_once(tmp_path, committee):
    clock = FakeClock()
    kiosk = uplinked_kiosk(tmp_path, committee, clock, interval_s=3600)
    try:
        # the start-up push goes out; after that nothing is due for an hour but alerts
        kiosk.journal.append("kiosk.started", {"hardware": "sim"})
        assert upload(kiosk, clock, lambda: committee.stored_seqs())
        assert walk_in(kiosk, clock, 37.4, "alert.fever")
        kiosk.uplink.step()  # one step, the clock not moved: the alert goes now, not in an hour
        assert "alert.fever" in [e["type"] for e in committee.events]
    finally:
        kiosk.close()


def test_daemon_uplink_takes_the_committee_roster(tmp_path, committee):
    committee.set_roster(roster("demo-compound", kiosk_date(), version="committee#2"))
    clock = FakeClock()
    kiosk = uplinked_kiosk(tmp_path, committee, clock)
    try:
        assert upload(kiosk, clock, lambda: kiosk.rosters.current().version == "committee#2")
        assert kiosk.facade.state()["roster"]["version"] == "committee#2"
        assert kiosk.rosters.current().pass_status("P0007120103") == "revoked"
    finally:
        kiosk.close()


def kiosk_date():
    from datetime import date

    return date.today()


def test_daemon_takes_a_roster_imported_by_another_process(tmp_path):
    from kiosk.clock import SystemClock
    from kiosk.journal import Journal

    kiosk = simulated_kiosk(sim_config(tmp_path / "data"))
    try:
        assert not kiosk.rosters.current().loaded
        other = Journal(kiosk.config.data_dir / "journal.db", SystemClock())
        other.save_roster(roster("demo-compound", kiosk_date(), version="imported#3"))
        other.close()
        kiosk.maintain()
        assert kiosk.rosters.current().version == "imported#3"
        assert kiosk.rosters.current().pass_status("P0007120103") == "revoked"
    finally:
        kiosk.close()


def test_daemon_kiosk_upload_once_pushes_everything_unsent(tmp_path, committee):
    from click.testing import CliRunner

    from kiosk.cli import main

    kiosk = uplinked_kiosk(tmp_path, committee)
    for i in range(1200):
        kiosk.journal.append("temperature.measured", {"temperature_c": 36.5, "n": i}, "main")
    kiosk.close()
    config = tmp_path / "kiosk.toml"
    config.write_text(
        f'[gate]\ngate_id = "test-gate"\nsite = "demo-compound"\nhardware = "sim"\n'
        f'data_dir = "{tmp_path / "data"}"\n'
        f'[uplink]\nurl = "{committee.url}"\ntoken_file = "{tmp_path / "token"}"\n'
    )
    result = CliRunner().invoke(main, ["upload", "--once", "--config", str(config), "--json"])
    assert result.exit_code == 0, result.output
    assert committee.stored_seqs() == list(range(1, 1201))

    committee.set_token("another-token")  # the committee refuses this gate now
    kiosk = uplinked_kiosk(tmp_path, committee)
    kiosk.journal.append("temperature.measured", {"temperature_c": 36.5}, "main")
    kiosk.close()
    refused = CliRunner().invoke(main, ["upload", "--once", "--config", str(config)])
    assert refused.exit_code == 1
    assert "secret-gate-token" not in refused.output
