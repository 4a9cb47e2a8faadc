"""How fast the relay goes off after SIGTERM: the real daemon, held open, signalled N times.

    python -m bench.sigterm [N]

Latency is from just before ``kill()`` in this process to the moment the child's handler had
turned the relays off (both read CLOCK_MONOTONIC, which is system-wide on Linux). Target:
under 100 ms.
"""

from __future__ import annotations

import signal
import statistics
import sys
import tempfile
from pathlib import Path

from tests.integration.test_sigterm import run_and_signal


def measure(runs: int) -> list[float]:
    """ms from SIGTERM sent to relays off, one daemon per run."""
    latencies = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="kiosk-bench-") as tmp:
            got = run_and_signal(Path(tmp), signal.SIGTERM)
            if got["pin_states"] != [False, True, False] or got["off_at"] is None:
                raise RuntimeError(f"relay not turned off: {got['pin_states']}")
            latencies.append((got["off_at"] - got["sent_at"]) * 1000)
    return latencies


def run(quick: bool = False) -> dict:
    from bench.stats import summary

    figures = summary(measure(5 if quick else 10), 2)
    return {"sigterm_to_relay_off_ms": figures, "target": "< 100 ms", "met": figures["max"] < 100}


def main(runs: int = 10) -> int:
    try:
        latencies = sorted(measure(runs))
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(
        f"SIGTERM -> relays off over {runs} runs: median {statistics.median(latencies):.2f} ms, "
        f"max {latencies[-1]:.2f} ms (target < 100 ms)"
    )
    return 0 if latencies[-1] < 100 else 1


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 10))
