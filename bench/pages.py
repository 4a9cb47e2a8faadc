"""Benchmark: the committee's pages for a street of 55 gates with 30 days of events.

``python -m bench.pages [--quick] [--gates 55] [--days 30] [--json]``

A throwaway PostgreSQL (``fsync`` on) is filled with a synthetic street
(:mod:`committee.devdata`: 11 compounds of 5 gates, 30 days of some 1,800 events a gate a
day: about 3 million events, written with COPY), its alarms made as ingest makes them; then
``committee serve`` runs in its own process, as in production, and the figures are the
times a browser waits for whole answers on loopback (HTTP/1.1, keep-alive):

- the Now page (HTML with its state) and its state as JSON (``/now/state``), for the street
  office (every gate) and for a committee of one compound;
- the first message of a live stream (its snapshot) once the stream is open;
- the daily report of a day in the middle of the month, for the whole street and for one
  compound, as the page and as its PDF and XLSX;
- the gate API's time to ack a one-event batch while 150 live pages are open (8 request
  threads: the streams hold none of them).

Targets: the Now page and the daily report within 1 s at p95. ``--quick`` fills 5 gates
with 3 days.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import socket
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bench.committee import _free_port, _memory_kib, start_server, stop_server
from bench.stats import summary

ROOT = Path(__file__).resolve().parents[1]
TZ = "Asia/Shanghai"
TARGET_P95_MS = 1000.0
PASSWORD = "bench-password-1"
#: People through one gate a day: with the scans, temperatures and the rest, some 1,800
#: events a gate a day, 3 million for 55 gates over 30 days.
PASSAGES = 590
STREAMS = 150


def fill(url: str, gates: int, days: int, last_day: date) -> dict:
    """The street, its accounts and *days* of events up to *last_day*; returns counts."""
    from sqlalchemy import text

    from committee import accounts, devdata, sites
    from committee.db import open_database

    per_site = 5
    street = devdata.street(max(1, gates // per_site), min(per_site, gates), 200)[:gates]
    db = open_database(url)
    now = datetime.now(UTC)
    ids = {}
    with db.transaction() as session:
        for code in sorted({g.site for g in street}):
            sites.add_site(session, code, f"第{code[1:]}小区", now)
        for gate in street:
            ids[gate.code] = sites.add_gate(session, gate.code, gate.site, now)[0].id
        accounts.add(session, "street", "street", PASSWORD, [], now)
        accounts.add(session, "one", "committee", PASSWORD, [street[0].site], now)
    rng = random.Random(20200204)
    zone = ZoneInfo(TZ)
    total = 0
    last_seq: dict[str, int] = {}
    started = time.perf_counter()
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        with cursor.copy(
            "COPY events (gate_id, seq, event_id, ts, occurred_at, lane, type, data, "
            "received_at) FROM STDIN"
        ) as copy:
            for gate in street:
                seq = 1
                for offset in range(days - 1, -1, -1):
                    day = last_day - timedelta(days=offset)
                    for e in devdata.day_events(
                        gate, day, rng, passages=PASSAGES, tz=zone, first_seq=seq
                    ):
                        at = datetime.fromisoformat(e["ts"])
                        copy.write_row(
                            (
                                ids[gate.code],
                                e["seq"],
                                uuid.UUID(e["id"]),
                                e["ts"],
                                at,
                                e["lane"],
                                e["type"],
                                json.dumps(e["data"], ensure_ascii=False),
                                at + timedelta(seconds=2),
                            )
                        )
                        seq += 1
                total += seq - 1
                last_seq[gate.code] = seq - 1
        for code, seq in last_seq.items():
            cursor.execute("UPDATE gates SET acked_seq = %s WHERE id = %s", (seq, ids[code]))
        raw.commit()
    finally:
        raw.close()
    with db.engine.begin() as conn:
        # the alarms ingest makes for the alarm events; all but the last day's handled
        conn.execute(
            text(
                "INSERT INTO alerts (gate_id, kind, raised_at, detail, count, event_id, lane, "
                "ack_at, ack_by, outcome, cleared_at) "
                "SELECT gate_id, type, occurred_at, data, 1, id, lane, "
                "CASE WHEN occurred_at < :cut THEN occurred_at END, "
                "CASE WHEN occurred_at < :cut THEN 'bench' END, "
                "CASE WHEN occurred_at < :cut THEN 'clinic' END, "
                "CASE WHEN occurred_at < :cut THEN occurred_at END "
                "FROM events WHERE type = 'alert.fever'"
            ),
            {"cut": datetime.combine(last_day, datetime.min.time(), tzinfo=zone)},
        )
        conn.execute(text("ANALYZE"))
        for gate in street:
            conn.execute(
                text(
                    "INSERT INTO heartbeats (gate_id, received_at, ts, version, uptime_s, "
                    "last_seq, unsent, lanes) VALUES (:g, :t, :ts, '0.1.0', 3600, 0, 0, :lanes)"
                ),
                {
                    "g": ids[gate.code],
                    "t": now,
                    "ts": now.isoformat(),
                    "lanes": json.dumps(
                        {
                            "main": {
                                "state": "idle",
                                "thermometer": "ok",
                                "camera": "ok",
                                "relay": "ok",
                            }
                        }
                    ),
                },
            )
    db.dispose()
    return {
        "events": total,
        "gates": len(street),
        "sites": len({g.site for g in street}),
        "days": days,
        "fill_s": round(time.perf_counter() - started, 1),
        "gate_ids": ids,
    }


class Browser:
    """A signed-in client: one keep-alive connection, timing whole answers."""

    def __init__(self, port: int, user: str) -> None:
        import httpx

        self.client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)
        page = self.client.get("/login").text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        reply = self.client.post(
            "/login", data={"user": user, "password": PASSWORD, "csrf_token": csrf}
        )
        assert reply.status_code == 302, reply.text
        self.cookie = f"committee_session={self.client.cookies['committee_session']}"

    def time(self, path: str, repeats: int) -> dict:
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            reply = self.client.get(path)
            body = reply.content
            times.append((time.perf_counter() - start) * 1000)
            assert reply.status_code == 200, (path, reply.status_code, body[:200])
        return summary(times, 1)

    def close(self) -> None:
        self.client.close()


def _stream(port: int, cookie: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    sock.sendall(
        f"GET /live/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\n"
        "Accept: text/event-stream\r\n\r\n".encode()
    )
    return sock


def _until(sock: socket.socket, marker: bytes, after: bytes = b"") -> None:
    """Read until *marker* arrived, and then *after* behind it."""
    data = b""
    while marker not in data or after not in data.split(marker, 1)[1]:
        chunk = sock.recv(1 << 20)
        if not chunk:
            raise RuntimeError("stream closed")
        data += chunk


def _snapshot_ms(port: int, cookie: str, repeats: int) -> dict:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        sock = _stream(port, cookie)
        try:
            _until(sock, b"event: snapshot", b"\n\n")  # the whole snapshot
        finally:
            sock.close()
        times.append((time.perf_counter() - start) * 1000)
    return summary(times, 1)


def _acks_with_streams(port: int, cookie: str, token: str, gate: str, first_seq: int) -> dict:
    import httpx

    streams = [_stream(port, cookie) for _ in range(STREAMS)]
    try:
        for sock in streams:
            _until(sock, b"event: snapshot")
        times = []
        with httpx.Client(base_url=f"http://127.0.0.1:{port}/api/v1", timeout=30) as client:
            for seq in range(first_seq, first_seq + 100):
                body = {
                    "gate_id": gate,
                    "events": [
                        {
                            "id": str(uuid.uuid4()),
                            "seq": seq,
                            "ts": datetime.now(UTC).isoformat(),
                            "lane": "main",
                            "type": "access.granted",
                            "data": {"direction": "in", "household": "1-0101"},
                        }
                    ],
                }
                start = time.perf_counter()
                reply = client.post(
                    f"/gates/{gate}/events",
                    json=body,
                    headers={"Authorization": f"Bearer {token}"},
                )
                times.append((time.perf_counter() - start) * 1000)
                assert reply.status_code == 200, reply.text
        return {"streams": len(streams), **summary(times, 1)}
    finally:
        for sock in streams:
            sock.close()


def run(quick: bool = False, gates: int | None = None, days: int | None = None) -> dict:
    from committee import sites
    from committee.db import open_database
    from committee.devdb import TempPostgres

    gates = gates or (5 if quick else 55)
    days = days or (3 if quick else 30)
    repeats = 5 if quick else 20
    last_day = datetime.now(ZoneInfo(TZ)).date()
    day = last_day - timedelta(days=days // 2)
    pg = TempPostgres(durable=True, max_connections=300).start()
    try:
        url = pg.create_database("bench_pages")
        print(f"   pages: filling {gates} gates x {days} days", file=sys.stderr, flush=True)
        filled = fill(url, gates, days, last_day)
        db = open_database(url)
        with db.transaction() as session:
            gate = sorted(filled["gate_ids"])[0]
            token = sites.replace_token(session, gate, datetime.now(UTC))
            first_seq = sites.get_gate(session, gate).acked_seq + 1
        db.dispose()
        with tempfile.TemporaryDirectory(prefix="bench-pages-") as tmp:
            folder = Path(tmp)
            config = folder / "committee.toml"
            config.write_text(
                "[server]\nthreads = 8\nconnection_limit = 1000\n"
                f'[database]\nurl = "{url}"\npool_size = 10\n'
                f'[storage]\ndata_dir = "{folder}"\n[sites]\ntimezone = "{TZ}"\n'
                f"[web]\nmax_streams = {STREAMS + 50}\n",
                encoding="utf-8",
            )
            port = _free_port()
            proc, log = start_server(config, port, folder / "server.log")
            try:
                street = Browser(port, "street")
                one = Browser(port, "one")
                site = sorted({g.split("-")[0] for g in filled["gate_ids"]})[0]
                figures = {
                    "now_page_street_ms": street.time("/now", repeats),
                    "now_state_street_ms": street.time("/now/state", repeats),
                    "now_page_one_site_ms": one.time("/now", repeats),
                    "stream_snapshot_street_ms": _snapshot_ms(port, street.cookie, repeats),
                    "report_street_ms": street.time(f"/report?site=all&day={day}", repeats),
                    "report_one_site_ms": one.time(f"/report?site={site}&day={day}", repeats),
                    "report_pdf_street_ms": street.time(
                        f"/report.pdf?site=all&day={day}", max(3, repeats // 4)
                    ),
                    "report_xlsx_street_ms": street.time(
                        f"/report.xlsx?site=all&day={day}", max(3, repeats // 4)
                    ),
                    "gate_ack_with_streams_ms": _acks_with_streams(
                        port, street.cookie, token, gate, first_seq
                    ),
                }
                street.close()
                one.close()
                rss, hwm = _memory_kib(proc.pid)
            finally:
                stop_server(proc, log)
    finally:
        pg.stop()
    checked = (
        "now_page_street_ms",
        "now_page_one_site_ms",
        "report_street_ms",
        "report_one_site_ms",
    )
    met = {name: figures[name]["p95"] <= TARGET_P95_MS for name in checked}
    filled.pop("gate_ids")
    return {
        **filled,
        "day": day.isoformat(),
        "figures": figures,
        "server_rss_mib": round(rss / 1024, 1),
        "server_peak_mib": round(hwm / 1024, 1),
        "met": met,
        "target_p95_ms": TARGET_P95_MS,
        "quick": quick,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pages", description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--gates", type=int)
    parser.add_argument("--days", type=int)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = run(args.quick, args.gates, args.days)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(
            f"{result['events']:,} events, {result['gates']} gates, {result['days']} days "
            f"(filled in {result['fill_s']} s); day {result['day']}"
        )
        for name, stats in result["figures"].items():
            print(f"  {name:32} p50 {stats['median']:>8} ms  p95 {stats['p95']:>8} ms")
        print(f"  met: {result['met']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
