"""Benchmark: the committee server under a street (55 gates) and a district (500 gates).

``python -m bench.committee [--quick] [--gates 55,500] [--engines sqlite,postgresql]
[--events 2000] [--batch 50] [--json]``

The server runs as ``committee serve`` in its own process (SQLite in WAL with
``synchronous=FULL``, or a throwaway PostgreSQL with ``fsync`` on: the durable settings a real
server runs with). The simulated gates are concurrent HTTP/1.1 clients on loopback (asyncio
streams in this process, one keep-alive connection each): each pushes its events in contract
batches (gzip, contiguous seqs, the next batch only after the ack), and 10 % of the replies
are dropped after the server stored the batch: the gate never reads them, reconnects and
resends, as a gate whose reply was lost does (the server answers 409 and the gate moves on
from the stored cursor). Figures: stored events per second (first push to last ack), p50/p95
time from sending a batch to its ack, duplicates and gaps found in the database afterwards
(both must be 0), the number of 409s, and the server's peak memory (VmHWM) with its resident
memory sampled as the run goes (flat: the last quarter no higher than the first by more than
16 MiB). ``--quick`` runs 10 and 50 gates of 200 events.

Two ways of pushing. *Drain*: every gate pushes back to back, as gates do after a street-wide
outage; this measures the most the server stores per second (the 500-gate target), and its
ack time is queueing: by Little's law about gates x batch / throughput, whatever the server.
*Steady*: the smaller street again, every gate pushing one batch a second (a real gate pushes
every 10 s; this offers some 200 times a street's busiest minute); this is the ack time a
gate sees at street scale (the p95 target).
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SITE = "bench-street"
DROP_RATE = 0.10
TARGETS = {"pg_events_per_s_500": 2000, "p95_ms_55": 250}
#: Seconds between the pushes of a gate in the steady runs (a real gate pushes every 10 s).
STEADY_PACE_S = 1.0


def key(result: dict) -> str:
    """The name of one scenario in ``met``: engine, gates and mode."""
    mode = "steady" if result["pace_s"] else "drain"
    return f"{result['engine']}-{result['gates']}-{mode}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _memory_kib(pid: int) -> tuple[int, int]:
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


def _setup(url: str, gates: int) -> dict[str, str]:
    """Create the site and the gates; return gate id -> token."""
    from committee import sites
    from committee.db import open_database

    db = open_database(url)
    now = datetime.now(UTC)
    tokens = {}
    with db.transaction() as session:
        sites.add_site(session, SITE, "测试街道", now)
        for number in range(1, gates + 1):
            code = f"gate-{number:03d}"
            tokens[code] = sites.add_gate(session, code, SITE, now)[1]
    db.dispose()
    return tokens


def _check(url: str, gates: int, events: int) -> dict:
    """Duplicates and gaps, from what the database holds."""
    from sqlalchemy import text

    from committee.db import make_engine

    engine = make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT g.code, COUNT(e.id), COUNT(DISTINCT e.event_id), MAX(e.seq), g.acked_seq "
                "FROM gates g LEFT JOIN events e ON e.gate_id = g.id GROUP BY g.code, g.acked_seq"
            )
        ).all()
    engine.dispose()
    stored = sum(r[1] for r in rows)
    duplicates = sum(r[1] - r[2] for r in rows)
    gaps = sum((r[3] or 0) - r[1] for r in rows) + sum(events - (r[3] or 0) for r in rows)
    return {
        "stored": stored,
        "expected": gates * events,
        "duplicates": duplicates,
        "gaps": gaps,
        "cursors_right": all(r[4] == events for r in rows) and len(rows) == gates,
    }


def _body(gate: str, first: int, n: int, rng: random.Random) -> bytes:
    events = []
    for seq in range(first, first + n):
        household = f"{rng.randint(1, 40)}-{rng.randint(101, 2404):04d}"
        events.append(
            {
                "id": str(uuid.uuid4()),
                "seq": seq,
                "ts": "2020-02-04T08:15:02.123+08:00",
                "lane": "main",
                "type": "access.granted",
                "data": {
                    "pass_id": f"P{rng.randrange(10**10):010d}",
                    "household": household,
                    "temperature_c": round(rng.uniform(35.8, 37.1), 1),
                    "reason": "GRANTED",
                    "direction": rng.choice(("in", "out")),
                },
            }
        )
    raw = json.dumps({"gate_id": gate, "events": events}, separators=(",", ":")).encode()
    return gzip.compress(raw, compresslevel=1)


async def _request(reader, writer, head: bytes, body: bytes) -> tuple[int, bytes]:
    writer.write(head + body)
    await writer.drain()
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("closed")
    status = int(status_line.split()[1])
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return status, await reader.readexactly(length)


def _bodies(gate: str, events: int, batch: int, seed: int) -> dict[int, bytes]:
    """The gzip bodies a gate sends, by first seq, built before the clock starts (building
    them is the gates' work, not the server's)."""
    rng = random.Random(seed)
    return {
        first: _body(gate, first, min(batch, events - first + 1), rng)
        for first in range(1, events + 1, batch)
    }


async def _gate(
    gate: str,
    token: str,
    port: int,
    bodies: dict[int, bytes],
    events: int,
    seed: int,
    acks: list,
    counts: dict,
    pace_s: float = 0.0,
) -> None:
    rng = random.Random(seed)
    acked = 0
    reader = writer = None
    if pace_s:  # gates do not all push in the same instant
        await asyncio.sleep(rng.uniform(0, pace_s))
    while acked < events:
        body = bodies[acked + 1]
        batch_started = time.perf_counter()
        head = (
            f"POST /api/v1/gates/{gate}/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {token}\r\nUser-Agent: kiosk/bench\r\n"
            f"Content-Type: application/json\r\nContent-Encoding: gzip\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        while True:
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            started = time.perf_counter()
            try:
                status, reply = await _request(reader, writer, head, body)
            except (ConnectionError, asyncio.IncompleteReadError, OSError):
                counts["reconnects"] += 1
                writer.close()
                writer = None
                await asyncio.sleep(0.05)
                continue
            elapsed = time.perf_counter() - started
            counts[status] = counts.get(status, 0) + 1
            if status in (429, 503):
                await asyncio.sleep(0.5)
                continue
            if status not in (200, 409):
                raise RuntimeError(f"{gate}: {status} {reply[:200]!r}")
            if rng.random() < DROP_RATE:
                # the reply is lost on the way: the gate never sees it, reconnects and resends
                counts["dropped"] += 1
                writer.close()
                writer = None
                continue
            acks.append(elapsed)
            acked = json.loads(reply)["acked_seq"]
            break
        if pace_s:  # a steady gate: its next push one interval after this one began
            await asyncio.sleep(max(0.0, batch_started + pace_s - time.perf_counter()))
    if writer is not None:
        writer.close()


async def _drive(
    tokens: dict[str, str], port: int, events: int, batch: int, pace_s: float
) -> tuple:
    acks: list[float] = []
    counts: dict = {"dropped": 0, "reconnects": 0}
    bodies = {gate: _bodies(gate, events, batch, i) for i, gate in enumerate(tokens)}
    tasks = [
        _gate(gate, token, port, bodies[gate], events, index, acks, counts, pace_s)
        for index, (gate, token) in enumerate(tokens.items())
    ]
    started = time.perf_counter()
    await asyncio.gather(*tasks)
    return time.perf_counter() - started, acks, counts


def _wait_ready(port: int, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"committee serve exited: {log.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("committee serve did not start listening")


def start_server(config: Path, port: int, log: Path):
    """``committee serve --config CONFIG --port PORT`` in its own process, listening when
    this returns; returns the process and its open log file (for :func:`stop_server`).

    The server's log goes to a file: waitress warns of its queue depth under load, and an
    unread pipe would fill up and stop the server.
    """
    log_file = log.open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "committee.cli",
            "serve",
            "--config",
            str(config),
            "--port",
            str(port),
        ],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        stdout=subprocess.DEVNULL,
        stderr=log_file,
        text=True,
    )
    try:
        _wait_ready(port, proc, log)
    except BaseException:
        stop_server(proc, log_file)
        raise
    return proc, log_file


def stop_server(proc: subprocess.Popen, log_file) -> None:
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
    log_file.close()


def scenario(
    engine: str, gates: int, events: int, batch: int, pg=None, pace_s: float = 0.0
) -> dict:
    """One run: a fresh database, the server, *gates* gates of *events* events each, pushing
    back to back (*pace_s* 0: a backlog drained after an outage) or one batch every *pace_s*
    seconds (a steady street)."""
    with tempfile.TemporaryDirectory(prefix="bench-committee-") as tmp:
        folder = Path(tmp)
        if engine == "postgresql":
            name = f"bench_{gates}_{int(time.time() * 1000)}"
            url = pg.create_database(name)
            threads = 8
        else:
            url = f"sqlite:///{folder / 'committee.db'}"
            threads = 4
        tokens = _setup(url, gates)
        port = _free_port()
        config = folder / "committee.toml"
        config.write_text(
            f"[server]\nthreads = {threads}\nconnection_limit = {gates + 100}\n"
            f'[database]\nurl = "{url}"\npool_size = {threads + 2}\n'
            f'[storage]\ndata_dir = "{folder}"\n',
            encoding="utf-8",
        )
        proc, log_file = start_server(config, port, folder / "server.log")
        try:
            rss_start = _memory_kib(proc.pid)[0]
            samples: list[int] = []

            async def sample() -> None:
                while True:
                    samples.append(_memory_kib(proc.pid)[0])
                    await asyncio.sleep(0.5)

            async def main() -> tuple:
                sampler = asyncio.create_task(sample())
                try:
                    return await _drive(tokens, port, events, batch, pace_s)
                finally:
                    sampler.cancel()

            seconds, acks, counts = asyncio.run(main())
            rss_end, hwm = _memory_kib(proc.pid)
        finally:
            stop_server(proc, log_file)
        check = _check(url, gates, events)
        if engine == "postgresql":
            pg.drop_database(name)
    quarter = max(1, len(samples) // 4)
    acks_ms = sorted(a * 1000 for a in acks)
    q = statistics.quantiles(acks_ms, n=20) if len(acks_ms) > 1 else acks_ms * 19
    return {
        "engine": engine,
        "mode": f"steady, a batch every {pace_s:g} s" if pace_s else "drain, back to back",
        "pace_s": pace_s,
        "gates": gates,
        "events_per_gate": events,
        "batch": batch,
        "seconds": round(seconds, 1),
        "events_per_s": round(check["stored"] / seconds),
        "ack_p50_ms": round(statistics.median(acks_ms), 1),
        "ack_p95_ms": round(q[18], 1),
        "batches_acked": len(acks),
        "replies_dropped": counts["dropped"],
        "conflicts_409": counts.get(409, 0),
        "duplicates": check["duplicates"],
        "gaps": check["gaps"],
        "stored": check["stored"],
        "expected": check["expected"],
        "cursors_right": check["cursors_right"],
        "server_rss_start_mib": round(rss_start / 1024, 1),
        "server_rss_first_quarter_mib": round(max(samples[:quarter]) / 1024, 1),
        "server_rss_last_quarter_mib": round(max(samples[-quarter:]) / 1024, 1),
        "server_rss_end_mib": round(rss_end / 1024, 1),
        "server_peak_mib": round(hwm / 1024, 1),
    }


def run(quick: bool = False, gates=None, engines=None, events=None, batch: int = 50) -> dict:
    from committee.devdb import TempPostgres

    gates = gates or ((10, 50) if quick else (55, 500))
    engines = engines or ("sqlite", "postgresql")
    events = events or (200 if quick else 2000)
    load = os.getloadavg()
    results = []
    pg = (
        TempPostgres(durable=True, max_connections=100).start() if "postgresql" in engines else None
    )
    plan = [(count, engine, 0.0) for count in gates for engine in engines]
    plan += [(min(gates), engine, STEADY_PACE_S) for engine in engines]
    try:
        for count, engine, pace in plan:
            what = f"a batch every {pace:g} s" if pace else "back to back"
            print(
                f"   committee: {engine}, {count} gates x {events} events, {what}",
                file=sys.stderr,
                flush=True,
            )
            results.append(scenario(engine, count, events, batch, pg, pace))
    finally:
        if pg is not None:
            pg.stop()
    met = {}
    for r in results:
        lossless = r["duplicates"] == 0 and r["gaps"] == 0 and r["stored"] == r["expected"]
        flat = r["server_rss_last_quarter_mib"] <= r["server_rss_first_quarter_mib"] + 16
        ok = lossless and flat
        if r["engine"] == "postgresql" and r["gates"] == max(gates) and not r["pace_s"]:
            ok = ok and r["events_per_s"] >= TARGETS["pg_events_per_s_500"]
        if r["gates"] == min(gates) and r["pace_s"]:
            ok = ok and r["ack_p95_ms"] <= TARGETS["p95_ms_55"]
        met[key(r)] = ok
    return {
        "scenarios": results,
        "met": met,
        "load_before": [round(x, 2) for x in load],
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "quick": quick,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.committee", description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--gates", help="comma-separated gate counts (default 55,500)")
    parser.add_argument("--engines", help="comma-separated: sqlite,postgresql")
    parser.add_argument("--events", type=int, help="events per gate (default 2000)")
    parser.add_argument("--batch", type=int, default=50, help="events per push (default 50)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = run(
        quick=args.quick,
        gates=tuple(int(g) for g in args.gates.split(",")) if args.gates else None,
        engines=tuple(args.engines.split(",")) if args.engines else None,
        events=args.events,
        batch=args.batch,
    )
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for r in result["scenarios"]:
            print(
                f"{r['engine']:>10} {r['gates']:>4} gates, {r['mode']}: "
                f"{r['events_per_s']:>6}/s stored, "
                f"ack p50 {r['ack_p50_ms']} ms p95 {r['ack_p95_ms']} ms, dropped "
                f"{r['replies_dropped']}, 409 {r['conflicts_409']}, duplicates {r['duplicates']}"
                f", gaps {r['gaps']}, server RSS {r['server_rss_first_quarter_mib']} -> "
                f"{r['server_rss_last_quarter_mib']} MiB (peak {r['server_peak_mib']})"
            )
        print(f"load average before {result['load_before']}, after {result['load_after']}")
    return 0 if all(result["met"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
