"""``kiosk selftest`` on simulated hardware: passes on the demo, fails naming an injected fault."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk import config as config_mod
from kiosk import selftest
from kiosk.clock import SystemClock
from kiosk.config import DoorSettings
from kiosk.errors import ConfigError
from kiosk.sim.hardware import SimHardware

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cfg(tmp_path):
    demo = config_mod.load(config_mod.DEMO_CONFIG)
    return dataclasses.replace(demo, gate=dataclasses.replace(demo.gate, data_dir=str(tmp_path)))


def run(cfg, *, sim_faults=(), pin_factory=None):
    """The self-test on a fresh simulated world, with *sim_faults* switched on first."""
    hardware = SimHardware(SystemClock(), cfg.lanes, pin_factory=pin_factory)
    hardware.switch_faults(sim_faults)
    return selftest.run(cfg, hardware)


def by_name(checks, name, lane="main"):
    return next(c for c in checks if c.name.startswith(name) and c.lane == lane)


def test_selftest_demo_passes(cfg):
    checks = run(cfg)
    assert not selftest.failed(checks), selftest.table(checks)
    assert by_name(checks, "thermometer").result == "ok"
    assert by_name(checks, "camera").result == "ok"
    assert by_name(checks, "relay").result == "ok"
    assert by_name(checks, "committee", "-").result == "skip"
    assert by_name(checks, "camera", "shelf").result == "ok"  # the demo has a shelf camera
    assert {c.lane for c in checks} == {"main", "exit", "shelf", "-"}


def test_selftest_checks_the_shelf_camera_apart_from_the_lanes(cfg):
    hardware = SimHardware(SystemClock(), cfg.lanes)
    hardware.world.shelf.camera.unplug()
    checks = selftest.run(cfg, hardware)
    assert selftest.failed(checks)
    bad = by_name(checks, "camera", "shelf")
    assert bad.result == "FAIL" and "unplugged" in bad.detail
    assert by_name(checks, "camera", "main").result == "ok"
    no_shelf = dataclasses.replace(cfg, parcels=config_mod.ParcelSettings())
    assert "shelf" not in {c.lane for c in run(no_shelf)}


@pytest.mark.parametrize(
    ("fault", "words"),
    [("bad_pec", "PEC"), ("unplugged", "does not answer"), ("error_flag", "error flag")],
)
def test_selftest_faulted_sensor_fails_and_names_the_fault(cfg, fault, words):
    checks = run(cfg, sim_faults=[f"exit:{fault}"])
    assert selftest.failed(checks)
    bad = by_name(checks, "thermometer", "exit")
    assert bad.result == "FAIL"
    assert words.lower() in bad.detail.lower(), bad.detail
    assert by_name(checks, "thermometer", "main").result == "ok"


def test_selftest_relay_pin_in_use_fails(cfg):
    from gpiozero import OutputDevice
    from gpiozero.pins.mock import MockFactory

    factory = MockFactory()
    holder = OutputDevice(17, pin_factory=factory)  # the running daemon holds it
    try:
        checks = run(cfg, pin_factory=factory)
    finally:
        holder.close()
        factory.reset()
    assert by_name(checks, "relay").result == "FAIL"
    assert "GPIO17" in by_name(checks, "relay").detail


def test_selftest_reads_door_inputs(cfg):
    door = DoorSettings(contact_pin=23, exit_pin=24)
    lanes = {"main": dataclasses.replace(cfg.lanes["main"], door=door)}
    checks = run(dataclasses.replace(cfg, lanes=lanes))
    got = by_name(checks, "door")
    assert got.result == "ok" and got.detail == "door GPIO23 shut, exit GPIO24 released"


def test_selftest_refuses_unknown_fault(cfg):
    with pytest.raises(ConfigError, match="LANE:FAULT"):
        run(cfg, sim_faults=["main:on_fire"])


def test_selftest_committee_server_token(cfg, tmp_path):
    from kiosk.sim.committee import CommitteeServer, sample_roster

    token = tmp_path / "token"
    token.write_text("gate-token-selftest-9Qz\n")
    token.chmod(0o600)
    roster = sample_roster(site=cfg.gate.site)
    with CommitteeServer(
        gate_id=cfg.gate.gate_id, token="gate-token-selftest-9Qz", roster=roster
    ) as server:
        up = dataclasses.replace(cfg.uplink, url=server.url, token_file=str(token), timeout_s=5)
        checks = run(dataclasses.replace(cfg, uplink=up))
        assert by_name(checks, "committee", "-").result == "ok"
        # the self-test checks the site as the daemon does: another compound's roster fails
        server.set_roster(sample_roster(site="another-compound"))
        checks = run(dataclasses.replace(cfg, uplink=up))
        got = by_name(checks, "committee", "-")
        assert got.result == "FAIL" and "not this gate's site" in got.detail, got.detail
        token.write_text("wrong-token-0000000000\n")
        checks = run(dataclasses.replace(cfg, uplink=up))
    got = by_name(checks, "committee", "-")
    assert got.result == "FAIL" and ("401" in got.detail or "403" in got.detail), got.detail


def test_selftest_cli_exit_codes(tmp_path):
    def cli(*args):
        return subprocess.run(
            [sys.executable, "-m", "kiosk.cli", "selftest", *args],
            cwd=ROOT,
            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=60,
        )

    ok = cli("--config", str(config_mod.DEMO_CONFIG))
    assert ok.returncode == 0, ok.stderr
    assert "thermometer (I2C, PEC)" in ok.stdout
    bad = cli("--config", str(config_mod.DEMO_CONFIG), "--sim-fault", "main:bad_pec")
    assert bad.returncode == 1
    assert "FAIL" in bad.stdout and "PEC" in bad.stdout
    usage = cli("--config", str(config_mod.DEMO_CONFIG), "--sim-fault", "nope")
    assert usage.returncode == 2 and "LANE:FAULT" in usage.stderr


def test_selftest_asks_the_clock_as_rules_clock_check_says(cfg, monkeypatch):
    from kiosk.hardware import PiHardware
    from kiosk.timesync import PROBES

    pi = PiHardware()  # the real kind of hardware, whose clock needs checking

    def clock_check(check):
        rules = dataclasses.replace(cfg.rules, clock_check=check)
        return selftest._clock(dataclasses.replace(cfg, rules=rules), pi)

    monkeypatch.setitem(PROBES, "adjtimex", lambda: False)
    monkeypatch.setitem(PROBES, "timedatectl", lambda: None)
    assert (clock_check("adjtimex").result, clock_check("adjtimex").detail) == (
        "FAIL",
        "not synchronised (adjtimex)",
    )
    assert clock_check("timedatectl").detail == "cannot ask (timedatectl)"
    assert clock_check("off").result == "skip"
    monkeypatch.setitem(PROBES, "adjtimex", lambda: True)
    assert clock_check("adjtimex").result == "ok"
    simulated = SimHardware(SystemClock(), cfg.lanes)
    assert selftest._clock(cfg, simulated).result == "skip"
