"""SIGTERM and SIGINT: the real daemon in a child process, held open, stopped by a signal.

The child tells systemd's notify socket (a real one, bound here) when it is READY; the test
then signals it and reads from its JSON log when the relays were turned off. The latency is
measured by ``python -m bench.sigterm``, not asserted here.
"""

from __future__ import annotations

import json
import signal
import socket
import sqlite3
import time
from pathlib import Path

import pytest

from tests.integration.daemon_child import free_port, spawn, write_config

CHILD = """
import json, sys
from kiosk import config
from kiosk.sim.hardware import simulated_kiosk
from kiosk.service import configure_logging, serve_forever

configure_logging(json_lines=True)
cfg = config.load(sys.argv[1] if len(sys.argv) > 1 else {config!r})
kiosk = simulated_kiosk(cfg)
relay = kiosk.units["main"].relay
relay.pulse(60.0)  # the gate is open when the signal comes
serve_forever(kiosk, "127.0.0.1", cfg.ui.port)
print(json.dumps({{"pin_states": [s.state for s in relay.pin.states]}}), flush=True)
"""


def run_and_signal(folder: Path, signum: int) -> dict:
    """Start the daemon, wait for READY=1, send *signum*; returns what was observed."""
    config = write_config(folder, free_port())
    address = str(folder / "notify.sock")
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(address)
    notify.settimeout(30.0)  # bounded: a child that never gets ready fails the test
    proc = spawn(CHILD.format(config=str(config)), env={"NOTIFY_SOCKET": address})
    try:
        messages = []
        while not any(m.startswith("READY=1") for m in messages):
            messages.append(notify.recv(4096).decode())
        sent = time.monotonic()
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=30)
    finally:
        notify.close()
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    off = [line for line in lines if "relays turned off at monotonic" in line.get("msg", "")]
    result = next(line for line in lines if "pin_states" in line)
    return {
        "returncode": proc.returncode,
        "messages": messages,
        "off_at": float(off[0]["msg"].rsplit(" ", 1)[1]) if off else None,
        "sent_at": sent,
        "pin_states": result["pin_states"],
        "log": lines,
        "stderr": err,
        "journal": folder / "data" / "journal.db",
    }


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_turns_the_relay_off_and_stops_cleanly(tmp_path, signum):
    got = run_and_signal(tmp_path, signum)
    assert got["returncode"] == 0, got["stderr"]
    assert any("READY=1" in m and "STATUS=serving" in m for m in got["messages"])
    assert got["pin_states"] == [False, True, False]  # off at start, held open, off
    assert got["off_at"] is not None and got["off_at"] >= got["sent_at"]
    names = [signal.Signals(signum).name in line.get("msg", "") for line in got["log"]]
    assert any(names)
    with sqlite3.connect(got["journal"]) as db:
        last = db.execute("SELECT type, data FROM events ORDER BY seq DESC LIMIT 1").fetchone()
    assert last[0] == "kiosk.stopped"
    assert json.loads(last[1])["relays"] == {"main": "off"}
