"""SIGKILL the busy daemon at random moments; the journal must come back whole every time.

The child is the real daemon (lanes, relay timers, the guard screen's server, sim hardware)
kept busy by a driver thread that puts guard actions and readings into the lanes as fast as
they are taken. A journal listener appends ``seq id`` to a report file for each event *after* its
commit returned: that is "reported written". After each kill the parent checks that
``PRAGMA integrity_check`` is ok, that ``seq`` runs 1..N without a gap, and that every
reported event is there with its id. The next child opens the same database (the restart).

To keep 30 restarts quick, a parent process imports kiosk once and forks one fresh daemon
per run (no threads exist before the fork); everything from ``Kiosk(cfg)`` on is a cold
start on the same files.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading

from tests.integration.daemon_child import ROOT, free_port, write_config

KILLS = 30

FORKER = """
import os, sys, threading
from kiosk import config
from kiosk.sim.hardware import simulated_kiosk
from kiosk.events import ManualOpen, TemperatureRead
from kiosk.service import build_app, serve_forever
import kiosk.ui.auth, kiosk.ui.guard, kiosk.ui.sim, kiosk.ui.server

def daemon(report):
    cfg = config.load({config!r})
    kiosk = simulated_kiosk(cfg)
    fd = os.open(report, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def reported(event):  # called after the commit returned
        if event.seq is not None:
            os.write(fd, f"{{event.seq}} {{event.id}}\\n".encode())

    kiosk.journal.add_listener(reported)
    runner = kiosk.units["main"].runner

    def drive():
        pace = threading.Event()
        n = 0
        while True:
            if runner.inputs.qsize() < 20:
                t = kiosk.clock.monotonic()
                runner.put(TemperatureRead("main", t, "manual", 36.0 + n % 20 / 10, by="crash"))
                if n % 5 == 0:
                    runner.put(ManualOpen("main", t, "crash test", "crash"))
                n += 1
            pace.wait(0.001)

    threading.Thread(target=drive, daemon=True).start()
    serve_forever(kiosk, "127.0.0.1", cfg.ui.port)

for line in sys.stdin:
    pid = os.fork()
    if pid == 0:
        try:
            daemon(line.strip())
        finally:
            os._exit(1)
    print("pid", pid, flush=True)
    _, status = os.waitpid(pid, 0)
    print("exit", os.waitstatus_to_exitcode(status), flush=True)
"""


def check(db_path, reported: dict[int, str]) -> int:
    db = sqlite3.connect(db_path)  # opening recovers the WAL like a restart does
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        migrated = db.execute("PRAGMA user_version").fetchone()[0] > 0
        # killed before its first migration committed: a valid, empty file the next start migrates
        rows = dict(db.execute("SELECT seq, id FROM events ORDER BY seq")) if migrated else {}
    finally:
        db.close()
    seqs = list(rows)
    assert seqs == list(range(1, len(seqs) + 1)), "seq has a gap"
    missing = sorted(s for s, i in reported.items() if rows.get(s) != i)
    assert not missing, f"reported written but not in the journal: {missing[:10]}"
    return len(seqs)


def read_report(path) -> dict[int, str]:
    out = {}
    if path.exists():
        for line in path.read_text().splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0].isdigit():  # a torn last line is not a report
                out[int(parts[0])] = parts[1]
    return out


def wait_for_reports(path, count: int, timeout_s: float = 30.0) -> int:
    """Poll the report file until it has *count* lines (bounded)."""
    pause = threading.Event()
    for _ in range(int(timeout_s / 0.002)):
        if path.exists() and path.read_bytes().count(b"\n") >= count:
            return count
        pause.wait(0.002)
    raise AssertionError(f"the daemon reported fewer than {count} events in {timeout_s} s")


def test_crash_sigkill_at_random_moments_loses_nothing_reported(tmp_path):
    rng = random.Random(20200204)
    config = write_config(tmp_path, free_port())
    db_path = tmp_path / "data" / "journal.db"
    reported: dict[int, str] = {}
    total = mid_write = 0
    with open(tmp_path / "forker.err", "w") as err:
        forker = subprocess.Popen(
            [sys.executable, "-c", FORKER.format(config=str(config))],
            cwd=ROOT,
            env=dict(os.environ, PYTHONPATH=str(ROOT)),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
    try:
        for run in range(KILLS):
            report = tmp_path / f"report-{run}"
            forker.stdin.write(f"{report}\n")
            forker.stdin.flush()
            word, pid = forker.stdout.readline().split()
            assert word == "pid", (tmp_path / "forker.err").read_text()
            if rng.random() < 0.2:  # now and then during start-up (migration, kiosk.started)
                threading.Event().wait(rng.uniform(0.0, 0.5))  # a random moment, not a sync
            else:  # mostly in the middle of a stream of commits
                wait_for_reports(report, rng.randint(1, 120))
                mid_write += 1
            os.kill(int(pid), signal.SIGKILL)
            word, code = forker.stdout.readline().split()
            assert (word, int(code)) == ("exit", -signal.SIGKILL)
            reported.update(read_report(report))
            if db_path.exists():
                count = check(db_path, reported)
                assert count >= total  # nothing that was there went away
                total = count
    finally:
        forker.stdin.close()
        try:
            forker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            forker.kill()
            forker.wait()
        forker.stdout.close()
    assert mid_write >= KILLS // 2
    assert len(reported) > KILLS * 10  # the daemon was busy
