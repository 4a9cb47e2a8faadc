"""Nothing lost, nothing duplicated: the uplink through a misbehaving server and a killed gate.

The committee server here is the strict fake on loopback; it refuses any batch that does not
start right after what it acked, so "stored exactly 1..N in order" is checked by it on every
request and once more at the end.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from kiosk.clock import FakeClock
from kiosk.journal import Journal
from kiosk.sim.committee import CHAOS_KINDS, CommitteeServer
from kiosk.uplink import Uplink

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "gate-token-integration-5Rk"
GATE = "xdm-jinwaitan-1"
TYPES = ["pass.scanned", "temperature.measured", "access.granted", "access.denied"]


def append_burst(journal, rng, n):
    """*n* events in one transaction (one fsync), an alert now and then."""
    conn = journal._conn()  # this thread's connection
    conn.execute("BEGIN IMMEDIATE")
    for _ in range(n):
        kind = "alert.fever" if rng.random() < 0.02 else rng.choice(TYPES)
        journal.append(kind, {"temperature_c": round(rng.uniform(35.5, 38.5), 1)}, "main")
    conn.execute("COMMIT")


def test_uplink_delivers_every_event_once_in_order_through_random_faults(tmp_path):
    clock = FakeClock()
    journal = Journal(tmp_path / "journal.db", clock)
    rng = random.Random(20200204)
    target = 3000
    alerts = Counter()
    releases = 0

    def on_alert(code, detail):  # as the daemon does: the alert is journaled, and pushed
        alerts[code] += 1
        journal.append("alert.uplink", {"code": code, "message": detail.get("message", "")})

    with CommitteeServer(gate_id=GATE, token=TOKEN) as server:
        server.chaos(0.3, seed=7, delay_s=0.12)
        uplink = Uplink(
            journal,
            clock,
            gate_id=GATE,
            url=server.url,
            token=TOKEN,
            timeout_s=0.04,
            on_alert=on_alert,
            rng=random.Random(11),
        )
        journal.add_listener(uplink.journal_listener)
        while journal.last_seq() < target:
            append_burst(journal, rng, min(rng.randint(1, 12), target - journal.last_seq()))
            wait = uplink.step()
            # maintenance looks, and releases a held event or asks again after a conflict
            if uplink.status()["state"] in ("quarantined", "conflict"):
                assert uplink.release_quarantine() is not None
                releases += 1
            clock.advance(min(wait, rng.uniform(0, 15)))

        # the committee fixes its server; a few more events show it whatever it lost
        server.chaos(0)
        append_burst(journal, rng, 20)
        for _ in range(2000):
            wait = uplink.step()
            if uplink.status()["state"] in ("quarantined", "conflict"):
                uplink.release_quarantine()
                releases += 1
            if journal.acked_seq == journal.last_seq() and server.acked_seq == journal.acked_seq:
                break
            clock.advance(wait)
        uplink.stop()

        total = journal.last_seq()
        assert total >= target + 20
        assert server.stored_seqs() == list(range(1, total + 1))
        assert server.stored_ids() == [e.id for e in journal.iter_events()]
        assert journal.acked_seq == total
        # and the faults did happen, every kind of them, with the gate's answers
        faults = Counter(r.fault for r in server.requests if r.fault)
        assert set(faults) == set(CHAOS_KINDS), faults
        statuses = Counter(r.status for r in server.requests_to("events"))
        assert {200, 400, 401, 409, 413} <= set(statuses) and statuses[200] > 50, statuses
        assert releases >= 1
        assert alerts["quarantined"] >= 1 and alerts["auth_refused"] >= 1
        assert alerts["conflict"] >= 1  # the over-acks: never taken, always asked again
    journal.close()


CHILD = """
import json, random, sys, time
from kiosk.clock import SystemClock
from kiosk.journal import Journal
from kiosk.uplink import Uplink

db, url, token, gate, total, seed = sys.argv[1:]
total, rng = int(total), random.Random(int(seed))
clock = SystemClock()
journal = Journal(db, clock)
uplink = Uplink(journal, clock, gate_id=gate, url=url, token=token, interval_s=0.02,
                heartbeat_s=0.3, roster_s=1, timeout_s=5, rng=rng)
while journal.last_seq() < total:
    for _ in range(min(rng.randint(1, 15), total - journal.last_seq())):
        journal.append("pass.scanned", {"pass_id": "P%06d" % rng.randrange(10**6)}, "main")
    uplink.step()
for _ in range(100):
    summary = uplink.upload_once()
    if summary["ok"] and summary["unsent"] == 0:
        break
    time.sleep(0.05)
print(json.dumps(summary))
"""


def test_uplink_killed_mid_upload_loses_and_duplicates_nothing(tmp_path):
    total = 1200
    rng = random.Random(4)
    db = tmp_path / "journal.db"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    with CommitteeServer(gate_id=GATE, token=TOKEN) as server:
        args = [sys.executable, "-c", CHILD, str(db), server.url, TOKEN, GATE, str(total)]
        kills = 0
        for attempt in range(6):
            child = subprocess.Popen(
                [*args, str(attempt)], cwd=ROOT, env=env, stdout=subprocess.PIPE
            )
            seen = len(server.requests_to("events"))
            server.wait_for(lambda s, seen=seen: len(s.requests_to("events")) > seen)
            time.sleep(rng.uniform(0.0, 0.2))  # then kill it at a random moment of the upload
            child.send_signal(signal.SIGKILL)
            child.communicate(timeout=10)
            if child.returncode == -signal.SIGKILL:
                kills += 1
        final = subprocess.run(
            [*args, "99"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
        )
        assert final.returncode == 0, final.stderr
        summary = json.loads(final.stdout)
        assert summary["ok"] and summary["unsent"] == 0
        assert kills >= 4
        assert server.stored_seqs() == list(range(1, total + 1))
        journal = Journal(db, FakeClock())
        try:
            assert server.stored_ids() == [e.id for e in journal.iter_events()]
            assert journal.acked_seq == total
        finally:
            journal.close()
