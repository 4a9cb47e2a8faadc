"""The daemon at rest: CPU (% of one core) and RSS at 15 fps on an empty simulated scene.

``python -m bench.rest [--quick]`` (60 s of sampling, 15 s with --quick)
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from pathlib import Path

from bench.daemon import Daemon, free_port, write_config
from bench.stats import summary


def run(quick: bool = False) -> dict:
    seconds = 15.0 if quick else 60.0
    with tempfile.TemporaryDirectory(prefix="bench-rest-") as tmp:
        port = free_port()
        daemon = Daemon(write_config(Path(tmp), port, lanes=1, fps=15.0), port)
        try:
            pause = threading.Event()
            pause.wait(3.0)  # settle after start-up
            cpu, rss = [], []
            last_cpu, last_t = daemon.cpu_seconds(), time.monotonic()
            end = last_t + seconds
            while time.monotonic() < end:
                pause.wait(5.0)
                now_cpu, now_t = daemon.cpu_seconds(), time.monotonic()
                cpu.append(100.0 * (now_cpu - last_cpu) / (now_t - last_t))
                rss.append(daemon.rss_mb())
                last_cpu, last_t = now_cpu, now_t
        finally:
            daemon.stop()
    cpu_s, rss_s = summary(cpu, 1), summary(rss, 1)
    return {
        "cpu_percent_of_one_core": cpu_s,
        "rss_mb": rss_s,
        "window_s": seconds,
        "setup": "kiosk run, one lane, simulated camera at 15 fps, empty scene, sensor at 10 Hz",
        "target": "<= 10 % of one core and <= 150 MB RSS",
        "met": cpu_s["median"] <= 10.0 and rss_s["max"] <= 150.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.rest", description=__doc__)
    parser.add_argument("--quick", action="store_true")
    print(json.dumps(run(parser.parse_args().quick), indent=2))


if __name__ == "__main__":
    main()
