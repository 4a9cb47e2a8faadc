"""Journal write rate with the durability settings in use (WAL, synchronous=FULL): every
event is committed, and so fsynced, on its own, as the lane writes them.

``python -m bench.journal [--quick]``
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from bench.stats import summary
from kiosk.clock import SystemClock
from kiosk.journal import Journal

DATA = {
    "reason": "GRANTED",
    "pass_id": "P0007120101",
    "household": "7-1201",
    "kind": "resident",
    "temperature_c": 36.42,
    "direction": "in",
}


def rate(folder: Path, events: int) -> float:
    journal = Journal(folder / "journal.db", SystemClock())
    try:
        start = time.perf_counter()
        for _ in range(events):
            journal.append("access.granted", DATA, lane="main")
        return events / (time.perf_counter() - start)
    finally:
        journal.close()


def run(quick: bool = False) -> dict:
    events, repeats = (500, 3) if quick else (2000, 5)
    root = Path(__file__).resolve().parent / "out"
    root.mkdir(exist_ok=True)
    rates = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory(dir=root) as tmp:
            rates.append(rate(Path(tmp), events))
    figures = summary(rates, 0)
    return {
        "events_per_s": figures,
        "events_per_run": events,
        "settings": "WAL, synchronous=FULL, one transaction per event",
        "where": "bench/out (the project's own disk)",
        "target": ">= 500 durable events/s",
        "met": figures["median"] >= 500,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.journal", description=__doc__)
    parser.add_argument("--quick", action="store_true")
    print(json.dumps(run(parser.parse_args().quick), indent=2))


if __name__ == "__main__":
    main()
