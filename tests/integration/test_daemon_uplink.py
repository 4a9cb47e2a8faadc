"""The daemon uploads its journal to a committee server on loopback and takes its roster."""

import dataclasses
import os

import pytest

from kiosk.sim.committee import CommitteeServer
from kiosk.sim.demo import roster
from kiosk.sim.hardware import simulated_kiosk
from tests.integration.conftest import sim_config, wait_for
from tests.integration.test_person_flow import resident_token


@pytest.fixture
def committee():
    server = CommitteeServer(gate_id="test-gate", token="secret-gate-token").start()
    yield server
    server.stop()


def uplinked_kiosk(tmp_path, committee, **uplink):
    cfg = sim_config(tmp_path / "data")
    token_file = tmp_path / "token"
    fd = os.open(token_file, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, b"secret-gate-token\n")
    os.close(fd)
    settings = dataclasses.replace(
        cfg.uplink, url=committee.url, token_file=str(token_file), **uplink
    )
    return simulated_kiosk(dataclasses.replace(cfg, uplink=settings))


def test_daemon_uplink_pushes_every_event_in_order(tmp_path, committee):
    kiosk = uplinked_kiosk(tmp_path, committee, interval_s=0.2)
    kiosk.start()
    try:
        kiosk.world.lanes["main"].step_in(35.5, resident_token(kiosk))
        assert wait_for(lambda: "access.granted" in [e["type"] for e in committee.events])
        assert wait_for(lambda: kiosk.facade.uplink_status()["unsent"] == 0)
        assert committee.stored_seqs() == list(range(1, kiosk.journal.last_seq() + 1))
        assert kiosk.journal.acked_seq == kiosk.journal.last_seq()
        assert wait_for(lambda: committee.heartbeats)
        beat = committee.heartbeats[-1]
        assert beat["lanes"]["main"]["thermometer"] == "ok"
        assert kiosk.facade.uplink_status()["state"] == "ok"
    finally:
        kiosk.stop()


def test_daemon_uplink_pushes_a_fever_alert_at_once(tmp_path, committee):
    kiosk = uplinked_kiosk(tmp_path, committee, interval_s=3600)
    kiosk.start()
    try:
        # the start-up push goes out; after that nothing is due for an hour but alerts
        assert wait_for(lambda: committee.stored_seqs())
        kiosk.world.lanes["main"].step_in(37.4, resident_token(kiosk))
        assert wait_for(lambda: "alert.fever" in [e["type"] for e in committee.events])
    finally:
        kiosk.stop()


def test_daemon_uplink_takes_the_committee_roster(tmp_path, committee):
    committee.set_roster(roster("demo-compound", kiosk_date(), version="committee#2"))
    kiosk = uplinked_kiosk(tmp_path, committee)
    kiosk.start()
    try:
        assert wait_for(lambda: kiosk.rosters.current().version == "committee#2")
        assert kiosk.facade.state()["roster"]["version"] == "committee#2"
        assert kiosk.rosters.current().pass_status("P0007120103") == "revoked"
    finally:
        kiosk.stop()


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
