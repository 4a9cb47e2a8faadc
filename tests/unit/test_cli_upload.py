"""kiosk upload: plain, --status, and --send-refused, against the fake committee server."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from kiosk.cli import main
from kiosk.clock import SystemClock
from kiosk.journal import Journal
from kiosk.sim.committee import CommitteeServer

TOKEN = "gate-token-cli-upload-2Wq"


@pytest.fixture
def server():
    with CommitteeServer(gate_id="cli-gate", token=TOKEN) as s:
        yield s


@pytest.fixture
def gate(tmp_path, server):
    (tmp_path / "token").write_text(TOKEN + "\n")
    (tmp_path / "token").chmod(0o600)
    (tmp_path / "kiosk.toml").write_text(
        f'[gate]\ngate_id = "cli-gate"\nsite = "xdm-jinwaitan"\nhardware = "sim"\n'
        f'data_dir = "{tmp_path / "data"}"\n'
        f'[uplink]\nurl = "{server.url}"\ntoken_file = "token"\n'
    )
    journal = Journal(tmp_path / "data" / "journal.db", SystemClock())
    for i in range(5):
        journal.append("pass.scanned", {"n": i}, lane="main")
    journal.close()
    return tmp_path / "kiosk.toml"


def upload(config, *args):
    return CliRunner().invoke(main, ["upload", *args, "--config", str(config)])


def test_cli_upload_without_once_pushes_everything_and_says_so(gate, server):
    result = upload(gate)
    assert result.exit_code == 0, result.output
    assert "Missing option" not in result.output
    assert "sent: 5" in result.output and "unsent: 0" in result.output
    assert server.stored_seqs() == [1, 2, 3, 4, 5]
    assert upload(gate, "--once").exit_code == 0  # still accepted


def test_cli_upload_help_says_what_it_does():
    text = " ".join(CliRunner().invoke(main, ["upload", "--help"]).output.split())
    assert "Upload the journal's unsent events to the committee server now, then exit" in text
    assert "--send-refused SEQ" in text


def test_cli_upload_status_sends_nothing(gate, server):
    result = upload(gate, "--status", "--json")
    assert result.exit_code == 1  # five unsent
    summary = json.loads(result.output)
    assert (summary["unsent"], summary["held_event"]) == (5, None)
    assert server.requests_to("events") == []


def test_cli_upload_send_refused_lets_the_rest_follow(gate, server):
    server.reject_seq(3)
    held = upload(gate)
    assert held.exit_code == 1
    assert "kiosk upload --send-refused 3" in held.output
    assert server.stored_seqs() == [1, 2]
    status = json.loads(upload(gate, "--status", "--json").output)
    assert status["held_event"]["event"]["seq"] == 3
    assert status["held_event"]["reason"] == "rejected by the committee"

    wrong = upload(gate, "--send-refused", "4")
    assert wrong.exit_code == 2
    assert "event 4 is not held" in wrong.output

    done = upload(gate, "--send-refused", "3", "--by", "maint")
    assert done.exit_code == 0, done.output
    assert "event 3 (pass.scanned) goes as kiosk.event_refused" in done.output
    assert server.stored_seqs() == list(range(1, 7))  # and uplink.event_replaced, seq 6
    assert server.events[2]["type"] == "kiosk.event_refused"
    assert server.events[5]["type"] == "uplink.event_replaced"
