"""`kiosk calibrate`: the thermometer calibration from the command line, on the demo config."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from click.testing import CliRunner

from kiosk import config as config_mod
from kiosk.cli import main
from kiosk.clock import FakeClock
from kiosk.journal import Journal


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def demo_config(tmp_path):
    """config/demo.toml with its data in tmp_path and the UI on a free port."""
    text = config_mod.DEMO_CONFIG.read_text(encoding="utf-8")
    assert 'data_dir = "../var/demo"' in text and "port = 8080" in text
    text = text.replace('data_dir = "../var/demo"', f'data_dir = "{tmp_path / "data"}"')
    text = text.replace("port = 8080", f"port = {free_port()}")
    path = tmp_path / "demo.toml"
    path.write_text(text, encoding="utf-8")
    return path


def calibration_events(cfg):
    journal = Journal(cfg.data_dir / "journal.db", FakeClock())
    try:
        return [e for e in journal.iter_events() if e.type == "calibration.changed"]
    finally:
        journal.close()


def test_calibrate_cli_round_trip_on_demo_config_visible_in_journal_and_daemon(demo_config):
    from kiosk.sim.hardware import simulated_kiosk

    args = ["calibrate", "--config", str(demo_config), "--lane", "main", "--by", "tech-1"]
    args += ["--point", "35.10:35.00", "--point", "39.30:39.00"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    cfg = config_mod.load(demo_config)
    [event] = calibration_events(cfg)
    assert event.lane == "main"
    assert event.data["kind"] == "two_point"
    assert event.data["by"] == "tech-1"
    assert event.data["points"] == [
        {"raw_c": 35.1, "reference_c": 35.0},
        {"raw_c": 39.3, "reference_c": 39.0},
    ]
    assert event.data["before"] == {"gain": 1.0, "offset_c": 0.0, "at": None}
    assert event.data["after"]["gain"] == pytest.approx(4.0 / 4.2)
    assert event.data["at"]
    # The daemon starts with it.
    kiosk = simulated_kiosk(cfg, FakeClock())
    try:
        cal = kiosk.units["main"].thermometer.calibration
        assert cal.gain == pytest.approx(4.0 / 4.2)
        assert cal.by == "tech-1"
        assert kiosk.units["exit"].thermometer.calibration.is_identity
    finally:
        kiosk.close()


def test_calibrate_cli_raw_and_reference_flags_make_an_offset(demo_config):
    args = ["calibrate", "--config", str(demo_config), "--lane", "exit", "--by", "tech-2"]
    result = CliRunner().invoke(main, [*args, "--raw", "36.2", "--reference", "36.6"])
    assert result.exit_code == 0, result.output
    [event] = calibration_events(config_mod.load(demo_config))
    assert event.lane == "exit"
    assert event.data["kind"] == "offset"
    assert event.data["after"]["offset_c"] == pytest.approx(0.4)


def test_calibrate_cli_prompts_with_live_raw_readings_of_the_emulated_sensor(demo_config):
    answers = "35.2\ny\n39.1\n"  # reference 1, a second point, reference 2
    args = ["calibrate", "--config", str(demo_config), "--by", "tech-3", "--yes"]
    args += ["--sim-target-c", "35.0", "--sim-target-c", "39.0"]
    result = CliRunner().invoke(main, args, input=answers)
    assert result.exit_code == 0, result.output
    assert "raw object" in result.output and "ambient" in result.output
    [event] = calibration_events(config_mod.load(demo_config))
    raw1, raw2 = (p["raw_c"] for p in event.data["points"])
    assert raw1 == pytest.approx(35.0, abs=0.2)  # what the emulated sensor read
    assert raw2 == pytest.approx(39.0, abs=0.2)
    assert [p["reference_c"] for p in event.data["points"]] == [35.2, 39.1]


def test_calibrate_cli_refuses_a_correction_beyond_the_limit_and_changes_nothing(demo_config):
    args = ["calibrate", "--config", str(demo_config), "--by", "tech", "--point", "32.0:36.5"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    assert "calibration refused" in result.stderr and "3.0 °C" in result.stderr
    assert "Traceback" not in result.output
    cfg = config_mod.load(demo_config)
    assert not (cfg.data_dir / "calibration-main.json").exists()
    assert calibration_events(cfg) == []


@pytest.mark.parametrize(
    "extra",
    [
        ["--point", "35"],
        ["--point", "a:b"],
        ["--raw", "35.0"],
        ["--point", "35:35", "--point", "36:36", "--point", "37:37"],
        ["--lane", "nowhere", "--point", "35:35"],
    ],
)
def test_calibrate_cli_bad_flags_are_usage_errors(demo_config, extra):
    result = CliRunner().invoke(
        main, ["calibrate", "--config", str(demo_config), "--by", "x", *extra]
    )
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output


class _Health(BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"ok": True, "lanes": {"main": {}}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_calibrate_cli_refuses_while_the_daemon_answers_on_its_port(demo_config):
    port = config_mod.load(demo_config).ui.port
    server = ThreadingHTTPServer(("127.0.0.1", port), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        args = ["calibrate", "--config", str(demo_config), "--by", "t", "--point", "35:35.2"]
        result = CliRunner().invoke(main, args)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    assert result.exit_code == 1
    assert "daemon is running" in result.stderr and "maintenance page" in result.stderr
    assert not (config_mod.load(demo_config).data_dir / "calibration-main.json").exists()
