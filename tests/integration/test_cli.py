"""The kiosk command as a newcomer uses it: simulate, demo, exit codes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

from kiosk.clock import SystemClock
from kiosk.journal import Journal

ROOT = Path(__file__).resolve().parents[2]


def kiosk_cmd(*args, **kw):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "kiosk.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        **kw,
    )


def test_cli_simulate_basic_scenario_prints_the_expected_decisions():
    result = kiosk_cmd("simulate", "config/scenarios/basic.toml", "--json")
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    decisions = [
        (e["data"]["reason"], e["data"]["pass_id"])
        for e in events
        if e["type"] in ("access.granted", "access.denied")
    ]
    assert decisions == [
        ("GRANTED", "P0007120101"),
        ("FEVER", "P0008030101"),
        ("PASS_EXPIRED", "P0007120102"),
        ("PASS_NOT_YET_VALID", "P0008030102"),
        ("PASS_REVOKED", "P0007120103"),
        ("PASS_BAD_SIGNATURE", None),
        ("PASS_MALFORMED", None),
    ]
    assert [e["data"]["pass_id"] for e in events if e["type"] == "alert.fever"] == ["P0008030101"]
    assert all(
        isinstance(e["data"]["temperature_c"], float)
        for e in events
        if e["type"] in ("access.granted", "access.denied")
    )
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert all(e["ts"].endswith("+08:00") for e in events)
    # the last person (no pass) was measured and nothing opened for them
    assert events[-2]["type"] == "temperature.measured"
    assert sum(e["type"] == "access.granted" for e in events) == 1


def test_cli_config_errors_exit_2_naming_file_and_key(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[gate]\nhardwar = 'sim'\n")
    result = kiosk_cmd("demo", "--config", str(bad))
    assert result.returncode == 2
    assert str(bad) in result.stderr
    assert "did you mean 'hardware'" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_scenario_errors_exit_2(tmp_path):
    scenario = tmp_path / "s.toml"
    scenario.write_text(f'config = "{ROOT}/config/demo.toml"\n[[person]]\nat = 1\npas_id = "x"\n')
    result = kiosk_cmd("simulate", str(scenario))
    assert result.returncode == 2
    assert "person #1" in result.stderr and "did you mean 'pass_id'" in result.stderr
    missing = kiosk_cmd("simulate", str(tmp_path / "none.toml"))
    assert missing.returncode == 2 and "no such scenario file" in missing.stderr
    # a scenario's [roster] is read by the contract, as a pulled or imported one is
    roster = tmp_path / "r.toml"
    roster.write_text(
        f'config = "{ROOT}/config/demo.toml"\n[roster]\n'
        'passes = [{id = "P1", household = "7-1201", status = "lost"}]\n'
    )
    bad = kiosk_cmd("simulate", str(roster))
    assert bad.returncode == 2
    assert "r.toml: [roster] roster: passes[0].status" in bad.stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_cli_demo_serves_and_stops_cleanly_on_sigterm(tmp_path):
    cfg = tmp_path / "demo.toml"
    cfg.write_text(
        (ROOT / "config" / "demo.toml")
        .read_text()
        .replace('data_dir = "../var/demo"', f'data_dir = "{tmp_path / "data"}"')
    )
    port = free_port()
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)  # systemd's, as the unit has it
    notify.bind(str(tmp_path / "notify.sock"))
    notify.settimeout(30.0)  # bounded: a demo that never gets ready fails the test
    env = dict(os.environ, PYTHONPATH=str(ROOT), NOTIFY_SOCKET=str(tmp_path / "notify.sock"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "kiosk.cli", "demo", "--config", str(cfg), "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        while not notify.recv(4096).decode().startswith("READY=1"):
            pass  # the demo says READY=1 once the guard screen listens
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
            assert r.status == 200 and json.loads(r.read())["ok"]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as r:
            assert r.url.endswith("/login?next=/")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
    finally:
        notify.close()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert f"http://127.0.0.1:{port}" in out
    assert "guard / demo-guard-2020" in out
    assert "Maintenance:   maint / demo-maint-2020" in out  # the maintenance pages' account
    assert "demo-passes" in out
    assert len(list((tmp_path / "data" / "demo-passes").glob("*.png"))) >= 5
    journal = Journal(tmp_path / "data" / "journal.db", SystemClock())
    last = list(journal.iter_events())[-1]
    journal.close()
    assert last.type == "kiosk.stopped"
    assert last.data["relays"] == {"main": "off", "exit": "off"}


def test_cli_calibrate_refuses_beside_a_daemon_on_another_port_and_saves_nothing(tmp_path):
    from tests.integration.daemon_child import free_port, ready_daemon, write_config

    daemon_port, other_port = free_port(), free_port()
    daemon_cfg = write_config(tmp_path, daemon_port)
    # the same gate's file, with the guard screen's port changed (or the daemon started with
    # another --port): the calibration would go to the same data folder
    mine = tmp_path / "mine.toml"
    mine.write_text(daemon_cfg.read_text().replace(f"port = {daemon_port}", f"port = {other_port}"))
    calibration = tmp_path / "data" / "calibration-main.json"
    args = ["calibrate", "--config", str(mine), "--by", "t", "--point", "35:35.2"]
    with ready_daemon(tmp_path, "run", "--config", str(daemon_cfg)) as daemon:
        refused = kiosk_cmd(*args)
        assert refused.returncode == 1, refused.stderr
        assert "daemon is running" in refused.stderr
        assert f"http://127.0.0.1:{daemon_port}" in refused.stderr  # where to calibrate
        assert not calibration.exists()
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(15) == 0
    saved = kiosk_cmd(*args)  # the daemon stopped: its mark is gone with it
    assert saved.returncode == 0, saved.stderr
    assert calibration.exists()


def test_cli_second_daemon_on_one_data_folder_is_refused(tmp_path):
    from tests.integration.daemon_child import free_port, ready_daemon, write_config

    first_port, second_port = free_port(), free_port()
    first_cfg = write_config(tmp_path, first_port)
    second = tmp_path / "second.toml"
    second.write_text(
        first_cfg.read_text().replace(f"port = {first_port}", f"port = {second_port}")
    )
    with ready_daemon(tmp_path, "run", "--config", str(first_cfg)):
        other = kiosk_cmd("run", "--config", str(second))
    assert other.returncode == 2
    assert "another kiosk daemon runs on this data folder" in other.stderr
