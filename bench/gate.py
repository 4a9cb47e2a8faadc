"""Gate figures on the real daemon with simulated hardware and real decoding.

- gate latency: from the frame that first contains a pass to the relay pin going high, with a
  stable temperature already taken;
- time at the gate: from a person stepping in (pass shown, sensor reading rising) to the relay
  opening, at the Pi's configured sample rate (10 Hz) and camera rate (15 fps);
- a 200-person scenario through ``kiosk simulate`` (fake clock).

``python -m bench.gate [--quick]``
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

from bench.stats import summary
from kiosk import config
from kiosk.sim import demo


def _config(folder: Path, voice: dict | None = None) -> config.Config:
    """The bench's one-lane simulated kiosk; *voice* is its ``[voice]`` table (default: off)."""
    cfg = config.from_dict(
        {
            "gate": {
                "gate_id": "bench",
                "site": "demo-compound",
                "hardware": "sim",
                "data_dir": str(folder),
            },
            "lanes": {
                "main": {
                    "result_hold_s": 0.2,
                    "relay": {"open_s": 0.2},
                    "camera": {"source": "sim", "fps": 15.0, "debounce_s": 0.5},
                    "thermometer": {"sample_hz": 10.0},
                }
            },
            "voice": voice or {"output": "off"},
        }
    )
    demo.ensure_keys(cfg.keys_dir)
    return cfg


def _wait(predicate, timeout=10.0):
    end = time.monotonic() + timeout
    pause = threading.Event()
    while not predicate():
        if time.monotonic() > end:
            raise TimeoutError("the lane did not react in time")
        pause.wait(0.002)


class _Rig:
    """A running kiosk with hooks that time the first frame with a pass and the relay."""

    def __init__(self, folder: Path, voice: dict | None = None) -> None:
        from kiosk.sim.hardware import simulated_kiosk

        self.kiosk = simulated_kiosk(_config(folder, voice))
        self.unit = self.kiosk.units["main"]
        self.world = self.kiosk.world.lanes["main"]
        self.key = demo.committee_key(self.kiosk.config.keys_dir)
        self.marks: dict[str, float] = {}
        camera = self.world.camera
        source = self.unit.reader.source
        read = source.read

        def timed_read():
            frame = read()
            if camera.text is not None:
                self.marks.setdefault("frame", time.perf_counter())
            return frame

        source.read = timed_read
        relay = self.unit.relay
        pulse = relay.pulse

        def timed_pulse(seconds):
            self.marks.setdefault("relay", time.perf_counter())
            return pulse(seconds)

        relay.pulse = timed_pulse
        self.kiosk.start()
        self.n = 0

    def token(self) -> str:
        self.n += 1
        now = self.kiosk.clock.now()
        return demo.mint(
            self.key,
            pass_id=f"P{self.n:010d}",
            household="7-1201",
            site="demo-compound",
            valid_from=now - timedelta(days=1),
            valid_until=now + timedelta(days=1),
        )

    def settle(self) -> None:
        self.world.leave()
        _wait(lambda: not self.unit.relay.is_open and self.unit.lane.state == "idle")
        _wait(lambda: not self.unit.thermometer.snapshot().present)
        self.marks.clear()

    def close(self) -> None:
        self.kiosk.stop()


def gate_latency(rig: _Rig, trials: int) -> list[float]:
    """ms from the first frame showing a pass to the relay, a temperature already taken."""
    out = []
    for _ in range(trials):
        rig.settle()
        rig.world.step_in(35.5, None)
        _wait(lambda: rig.unit.lane._fresh_reading() is not None)
        rig.marks.clear()
        rig.world.present(rig.token())
        _wait(lambda: "relay" in rig.marks)
        out.append((rig.marks["relay"] - rig.marks["frame"]) * 1000.0)
    return out


def time_at_gate(rig: _Rig, trials: int) -> list[float]:
    """s from stepping in (pass shown, forehead in view) to the relay opening."""
    out = []
    for _ in range(trials):
        rig.settle()
        token = rig.token()
        start = time.perf_counter()
        rig.world.step_in(35.5, token)
        _wait(lambda: "relay" in rig.marks)
        out.append(rig.marks["relay"] - start)
    return out


def scenario_200(folder: Path) -> float:
    """Seconds of wall time for ``kiosk simulate`` of 200 people."""
    from kiosk.sim import scenario

    root = Path(__file__).resolve().parent.parent
    lines = [
        'start = "2020-02-04T07:30:00+08:00"',
        f'config = "{root / "config" / "demo.toml"}"',
    ]
    for i in range(200):
        lines += [
            "[[person]]",
            f"at = {4.0 * i + 1.0}",
            'lane = "main"' if i % 4 else 'lane = "exit"',
            f'pass_id = "P{i:010d}"',
            f"object_c = {35.5 if i % 10 else 36.6}",
            "stay_s = 2.5",
        ]
    path = folder / "crowd.toml"
    path.write_text("\n".join(lines) + "\n")
    start = time.perf_counter()
    events = scenario.run(scenario.load(path))
    seconds = time.perf_counter() - start
    decisions = sum(e.type in ("access.granted", "access.denied") for e in events)
    if decisions != 200:
        raise RuntimeError(f"200 people gave {decisions} decisions")
    return seconds


def run(quick: bool = False) -> dict:
    trials = 10 if quick else 30
    with tempfile.TemporaryDirectory(prefix="bench-gate-") as tmp:
        rig = _Rig(Path(tmp) / "data")
        try:
            latency = summary(gate_latency(rig, trials), 1)
            at_gate = summary(time_at_gate(rig, trials), 3)
        finally:
            rig.close()
        runs = [scenario_200(Path(tmp)) for _ in range(1 if quick else 3)]
    return {
        "gate_latency_ms": latency,
        "time_at_gate_s": at_gate,
        "scenario_200_people_s": summary(runs, 2),
        "settings": {"sample_hz": 10.0, "window": 5, "camera_fps": 15.0},
        "targets": {
            "gate_latency_ms": "median <= 50",
            "time_at_gate_s": "median <= 1.0",
            "scenario_200_people_s": "< 30",
        },
        "met": {
            "gate_latency_ms": latency["median"] <= 50,
            "time_at_gate_s": at_gate["median"] <= 1.0,
            "scenario_200_people_s": max(runs) < 30,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.gate", description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    print(json.dumps(run(args.quick), indent=2))


if __name__ == "__main__":
    main()
