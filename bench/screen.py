"""Guard screen response times (main page, events page, events API) with 10 live
event-stream clients connected.

``python -m bench.screen [--quick]``: the real daemon in a child process; 10 signed-in
clients hold ``/stream`` open while one client times the main page and the events API.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import re
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

from bench.daemon import Daemon, free_port, write_config
from bench.stats import summary
from kiosk.accounts import Accounts
from kiosk.clock import SystemClock
from kiosk.journal import Journal

USER, PASSWORD = "bench-guard", "bench-password-1"


def login(base: str) -> urllib.request.OpenerDirector:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(base + "/login", timeout=10).read().decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode({"csrf_token": token, "user": USER, "password": PASSWORD})
    reply = opener.open(base + "/login", data=form.encode(), timeout=10)
    if reply.url.rstrip("/") != base:
        raise RuntimeError("sign-in failed")
    return opener


def hold_stream(opener, base: str, stop: threading.Event, got: list) -> None:
    with opener.open(base + "/stream", timeout=30) as stream:
        while not stop.is_set():
            line = stream.readline()
            if not line:
                return
            if line.startswith(b"event:"):
                got.append(line)


def timed(opener, url: str, n: int) -> list[float]:
    out = []
    for _ in range(n):
        start = time.perf_counter()
        with opener.open(url, timeout=10) as reply:
            reply.read()
        out.append((time.perf_counter() - start) * 1000.0)
    return out


def run(quick: bool = False) -> dict:
    n = 50 if quick else 300
    with tempfile.TemporaryDirectory(prefix="bench-screen-") as tmp:
        port = free_port()
        config = write_config(Path(tmp), port)
        journal = Journal(Path(tmp) / "data" / "journal.db", SystemClock())
        Accounts(journal).add(USER, PASSWORD, "guard")
        journal.close()
        daemon = Daemon(config, port)
        stop = threading.Event()
        streams: list[bytes] = []
        try:
            base = daemon.url
            clients = [login(base) for _ in range(10)]
            threads = [
                threading.Thread(target=hold_stream, args=(c, base, stop, streams), daemon=True)
                for c in clients
            ]
            for thread in threads:
                thread.start()
            end = time.monotonic() + 10
            while len(streams) < 10 and time.monotonic() < end:
                stop.wait(0.05)
            if len(streams) < 10:
                raise RuntimeError("not every stream connected")
            timer = login(base)
            main_page = summary(timed(timer, base + "/", n), 1)
            events = summary(timed(timer, base + "/api/events?limit=50", n), 1)
            records = summary(timed(timer, base + "/records/", n), 1)
        finally:
            stop.set()
            daemon.stop()
    return {
        "main_page_ms": main_page,
        "events_api_ms": events,
        "records_ms": records,
        "stream_clients": 10,
        "requests_each": n,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.screen", description=__doc__)
    parser.add_argument("--quick", action="store_true")
    print(json.dumps(run(parser.parse_args().quick), indent=2))


if __name__ == "__main__":
    main()
