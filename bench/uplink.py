"""Benchmark: drain a backlog of journal events to the loopback fake committee server.

``python -m bench.uplink`` (``--quick`` for 10,000 events instead of 100,000; ``--json`` for
the raw figures). The backlog is built in one transaction, then a separate process (so that
its memory is the uplink's alone, not the server's) drains it with :meth:`Uplink.step` and
reports the time taken and its memory: resident set size sampled from ``/proc/self/status``
along the way, the high-water mark ``VmHWM`` and ``ru_maxrss``. The server checks every batch
(order, no gaps, shape) and the result is checked at the end: events 1..N, each once.
Target: under 60 s for 100,000 events, with memory flat (the peak does not grow with N).

Then the slow server (real threads, real time): a roster reply trickled a byte a second must
end at the request's deadline (target: within 0.5 s of it), an ``alert.fever`` must reach the
server while that pull trickles (target: under 1 s), and :meth:`Uplink.stop` must not wait for
the trickling request (target: under 3 s).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

GATE = "bench-gate"
TOKEN = "bench-token-not-secret"
ROOT = Path(__file__).resolve().parents[1]


def build_backlog(path: Path, n: int) -> None:
    """A journal with *n* unsent events, written in one transaction."""
    from kiosk.clock import SystemClock
    from kiosk.journal import Journal, format_ts

    journal = Journal(path, SystemClock())  # creates the schema
    journal.close()
    ts = format_ts(SystemClock().now())
    rows = (
        (
            str(uuid.uuid4()),
            ts,
            float(i),
            "main",
            "access.granted" if i % 3 else "temperature.measured",
            json.dumps(
                {
                    "pass_id": f"P{i:010d}",
                    "household": f"{i % 40}-{1000 + i % 600}",
                    "temperature_c": 36.0 + (i % 13) / 10,
                    "reason": "GRANTED",
                },
                separators=(",", ":"),
            ),
        )
        for i in range(n)
    )
    conn = sqlite3.connect(path)
    with conn:
        conn.executemany(
            "INSERT INTO events (id, ts, mono, lane, type, data) VALUES (?,?,?,?,?,?)", rows
        )
    conn.close()


def _memory_kib() -> tuple[int, int]:
    """(VmRSS, VmHWM) of this process in KiB; ru_maxrss for both where /proc is missing."""
    try:
        fields = dict(
            line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines()
        )
        return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])
    except (OSError, KeyError, ValueError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak, peak


def drain(db: str, url: str) -> dict:
    """Run in the child: push the whole backlog, sampling memory. Returns the figures."""
    from kiosk.clock import SystemClock
    from kiosk.journal import Journal
    from kiosk.uplink import Uplink

    clock = SystemClock()
    journal = Journal(db, clock)
    uplink = Uplink(journal, clock, gate_id=GATE, url=url, token=TOKEN)
    last = journal.last_seq()
    rss_before, hwm_before = _memory_kib()
    samples: list[tuple[int, int]] = []
    steps = 0
    started = time.perf_counter()
    while journal.acked_seq < last:
        wait = uplink.step()
        steps += 1
        samples.append((journal.acked_seq, _memory_kib()[0]))
        if wait > 0 and journal.acked_seq < last:
            time.sleep(min(wait, 0.5))  # a back-off: should not happen against this server
    seconds = time.perf_counter() - started
    rss_after, hwm_after = _memory_kib()
    uplink.stop()
    status = uplink.status()
    journal.close()
    tenth = [rss for acked, rss in samples if acked <= last // 10] or [rss_before]
    return {
        "events": last,
        "seconds": round(seconds, 2),
        "events_per_s": round(last / seconds),
        "steps": steps,
        "rss_before_drain_mib": round(rss_before / 1024, 1),
        "rss_after_10pct_mib": round(max(tenth) / 1024, 1),
        "rss_after_drain_mib": round(rss_after / 1024, 1),
        "peak_rss_mib": round(hwm_after / 1024, 1),
        "peak_growth_during_drain_mib": round((hwm_after - hwm_before) / 1024, 1),
        "ru_maxrss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "rss_samples_mib": [
            (acked, round(rss / 1024, 1)) for acked, rss in samples[:: max(1, len(samples) // 10)]
        ],
        "final_state": status["state"],
    }


def run(quick: bool = False, events: int | None = None) -> dict:
    """Build the backlog, drain it in a child process, check the server; return figures."""
    from kiosk.sim.committee import CommitteeServer

    n = events or (10_000 if quick else 100_000)
    with tempfile.TemporaryDirectory(prefix="bench-uplink-") as tmp:
        db = Path(tmp) / "journal.db"
        started = time.perf_counter()
        build_backlog(db, n)
        build_s = time.perf_counter() - started
        with CommitteeServer(gate_id=GATE, token=TOKEN) as server:
            env = dict(os.environ, PYTHONPATH=str(ROOT))
            child = subprocess.run(
                [sys.executable, "-m", "bench.uplink", "--drain", str(db), server.url],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=600,
            )
            if child.returncode != 0:
                raise RuntimeError(f"the draining process failed:\n{child.stderr}")
            result = json.loads(child.stdout)
            seqs = server.stored_seqs()
            result["server_holds_1_to_n_once"] = seqs == list(range(1, n + 1))
            result["requests"] = len(server.requests_to("events"))
            statuses = {r.status for r in server.requests_to("events")}
            result["statuses"] = sorted(s for s in statuses if s is not None)
    result["build_backlog_s"] = round(build_s, 2)
    result["slow_server"] = slow_server()
    result["target_met"] = (
        result["seconds"] < 60
        and result["server_holds_1_to_n_once"]
        and result["slow_server"]["target_met"]
    )
    return result


def slow_server(deadline_s: float = 3.0) -> dict:
    """The deadline, an alert during a trickling roster pull, and a stop, in real time."""
    from kiosk.clock import FakeClock
    from kiosk.journal import Journal
    from kiosk.sim.committee import CommitteeServer
    from kiosk.uplink import Uplink

    with tempfile.TemporaryDirectory(prefix="bench-uplink-slow-") as tmp:
        clock = FakeClock()
        journal = Journal(Path(tmp) / "journal.db", clock)
        with CommitteeServer(gate_id=GATE, token=TOKEN) as server:
            server.inject("trickle", endpoint="roster", interval_s=1.0)
            uplink = Uplink(
                journal, clock, gate_id=GATE, url=server.url, token=TOKEN, timeout_s=deadline_s
            )
            started = time.perf_counter()
            uplink.step_side()  # the heartbeat, then the roster pull that trickles
            pull_s = time.perf_counter() - started
            abandoned = "no reply within" in (uplink.status()["last_error"] or "")

            server.inject("trickle", endpoint="roster", interval_s=0.2)
            threaded = Uplink(
                journal, clock, gate_id=GATE, url=server.url, token=TOKEN, timeout_s=600
            )
            journal.add_listener(threaded.journal_listener)
            threaded.start()
            server.wait_for(lambda s: s.requests_to("roster")[-1].reply_bytes > 0)
            started = time.perf_counter()
            journal.append("alert.fever", {"temperature_c": 38.4}, lane="main")
            pushed = server.wait_for(lambda s: any(e["type"] == "alert.fever" for e in s.events))
            alert_s = time.perf_counter() - started
            trickling = not server.requests_to("roster")[-1].done
            started = time.perf_counter()
            threaded.stop()
            stop_s = time.perf_counter() - started
        journal.close()
    result = {
        "deadline_s": deadline_s,
        "byte_a_second_pull_s": round(pull_s, 2),
        "pull_abandoned_at_deadline": abandoned,
        "alert_while_pull_trickles_s": round(alert_s, 3),
        "alert_pushed": pushed and trickling,
        "stop_during_trickle_s": round(stop_s, 3),
    }
    result["target_met"] = (
        abandoned
        and pull_s <= deadline_s + 0.5
        and result["alert_pushed"]
        and alert_s < 1.0
        and stop_s < 3.0
    )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.uplink", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="10,000 events instead of 100,000")
    parser.add_argument("--events", type=int, help="backlog size (overrides --quick)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--drain", nargs=2, metavar=("DB", "URL"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.drain:
        print(json.dumps(drain(*args.drain)))
        return 0
    result = run(quick=args.quick, events=args.events)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(
            f"uplink drain: {result['events']:,} events in {result['seconds']} s "
            f"({result['events_per_s']:,}/s, {result['requests']} requests); "
            f"peak RSS {result['peak_rss_mib']} MiB (before the drain "
            f"{result['rss_before_drain_mib']}, after 10 % {result['rss_after_10pct_mib']}, "
            f"at the end {result['rss_after_drain_mib']}); server holds 1..N once: "
            f"{result['server_holds_1_to_n_once']}"
        )
        slow = result["slow_server"]
        print(
            f"slow server: a byte-a-second roster reply ends after "
            f"{slow['byte_a_second_pull_s']} s (deadline {slow['deadline_s']} s); an alert while "
            f"it trickles reaches the server in {slow['alert_while_pull_trickles_s']} s; stop "
            f"takes {slow['stop_during_trickle_s']} s"
        )
    return 0 if result["target_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
