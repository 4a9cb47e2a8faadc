"""Guard screen response times with live event-stream clients connected: the main page, the
events page and API with 10 streams, and ``/healthz`` and sign-in with 200.

``python -m bench.screen [--quick]``: the real daemon (``kiosk run``) in a child process;
signed-in clients hold ``/stream`` open (4 per session, the most one session may hold) while
one client times the pages. A stream costs the server no thread, so the 200 do not queue
the pages behind them.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from bench.daemon import Daemon, free_port, write_config
from bench.stats import summary
from kiosk.accounts import Accounts
from kiosk.clock import SystemClock
from kiosk.journal import Journal
from kiosk.sim.screen_client import ScreenClient
from kiosk.ui.stream import PER_SESSION

USER, PASSWORD = "bench-guard", "bench-password-1"
#: Target: /healthz p95 with 200 open streams, in ms.
HEALTHZ_P95_MS = 50.0


def signed_in(base: str) -> ScreenClient:
    client = ScreenClient(base)
    if client.sign_in(USER, PASSWORD) != 302:
        raise RuntimeError("sign-in failed")
    return client


def open_streams(base: str, count: int) -> list:
    """*count* open streams, each past its first message, from count / 4 sessions."""
    streams = []
    sessions = [signed_in(base) for _ in range(-(-count // PER_SESSION))]
    for n in range(count):
        live = sessions[n // PER_SESSION].open_stream(timeout=30)
        if live.status != 200 or b"event: state" not in live.next():
            raise RuntimeError("a stream did not open")
        streams.append(live)
    return streams


def timed(client: ScreenClient, path: str, n: int) -> list[float]:
    out = []
    for _ in range(n):
        start = time.perf_counter()
        status, _, _ = client.request("GET", path)
        out.append((time.perf_counter() - start) * 1000.0)
        if status >= 500 and path != "/healthz":
            raise RuntimeError(f"{path}: {status}")
    return out


def timed_sign_ins(base: str, n: int) -> list[float]:
    out = []
    for _ in range(n):
        start = time.perf_counter()
        signed_in(base)  # the page and the form: two requests and one scrypt check
        out.append((time.perf_counter() - start) * 1000.0)
    return out


def run(quick: bool = False) -> dict:
    n = 50 if quick else 300
    many = 40 if quick else 200
    with tempfile.TemporaryDirectory(prefix="bench-screen-") as tmp:
        port = free_port()
        config = write_config(Path(tmp), port)
        journal = Journal(Path(tmp) / "data" / "journal.db", SystemClock())
        Accounts(journal).add(USER, PASSWORD, "guard")
        journal.close()
        daemon = Daemon(config, port)
        streams = []
        try:
            base = daemon.url
            streams = open_streams(base, 10)
            timer = signed_in(base)
            main_page = summary(timed(timer, "/", n), 1)
            events = summary(timed(timer, "/api/events?limit=50", n), 1)
            records = summary(timed(timer, "/records/", n), 1)
            streams += open_streams(base, many - len(streams))
            healthz = summary(timed(timer, "/healthz", n), 1)
            sign_in = summary(timed_sign_ins(base, 10 if quick else 30), 1)
            rss = round(daemon.rss_mb(), 1)
        finally:
            for live in streams:
                live.close()
            daemon.stop()
    return {
        "main_page_ms": main_page,
        "events_api_ms": events,
        "records_ms": records,
        "stream_clients": 10,
        "requests_each": n,
        "healthz_ms": healthz,
        "sign_in_ms": sign_in,
        "many_streams": many,
        "rss_mb_with_many_streams": rss,
        "healthz_target_p95_ms": HEALTHZ_P95_MS,
        "met": healthz.get("p95", 1e9) <= HEALTHZ_P95_MS,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.screen", description=__doc__)
    parser.add_argument("--quick", action="store_true")
    print(json.dumps(run(parser.parse_args().quick), indent=2))


if __name__ == "__main__":
    main()
