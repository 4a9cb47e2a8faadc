"""Fixtures that run the real daemon on simulated hardware."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk import config
from kiosk.sim import demo


def sim_config(data_dir: Path, **lanes) -> config.Config:
    """A one-lane (or *lanes*) simulated kiosk writing into *data_dir*."""
    raw = {
        "gate": {"gate_id": "test-gate", "site": "demo-compound", "hardware": "sim"},
        "lanes": lanes or {"main": {"direction": "in", "camera": {"source": "sim"}}},
    }
    raw["gate"]["data_dir"] = str(data_dir)
    cfg = config.from_dict(raw)
    demo.ensure_keys(cfg.keys_dir)
    return cfg


THERMO_S = 0.1  # 10 Hz, the default sample rate
CAMERA_S = 1 / 15  # 15 fps, the default frame rate


class Driver:
    """Runs the daemon's step functions on the fake clock, as its threads would."""

    def __init__(self, kiosk, clock) -> None:
        self.kiosk, self.clock = kiosk, clock
        self.unit = kiosk.units["main"]
        self.next_thermo = self.next_camera = clock.monotonic()

    def step(self, seconds: float, until=None) -> float:
        """Advance up to *seconds*; stop early when ``until()`` holds. Returns time spent."""
        unit, start, dt = self.unit, self.clock.monotonic(), 0.01
        while self.clock.monotonic() - start < seconds:
            now = self.clock.monotonic()
            if now >= self.next_thermo:
                for event in unit.thermometer.poll():
                    unit.runner.put(event)
                self.next_thermo += THERMO_S
            if now >= self.next_camera:
                for event in unit.reader.poll():
                    unit.runner.put(event)
                self.next_camera += CAMERA_S
            while not unit.runner.inputs.empty():
                unit.lane.handle(unit.runner.inputs.get_nowait())
            unit.lane.tick()
            unit.relay.tick()
            if until is not None and until():
                break
            self.clock.advance(dt)
        return self.clock.monotonic() - start


@pytest.fixture
def running_kiosk(tmp_path):
    from kiosk.sim.hardware import simulated_kiosk

    kiosk = simulated_kiosk(sim_config(tmp_path / "data"))
    kiosk.start()
    yield kiosk
    kiosk.stop()


def make_config(tmp_path, **camera) -> config.Config:
    """A one-lane simulated kiosk's configuration in *tmp_path* (camera keys as given)."""
    return config.from_dict(
        {
            "gate": {"data_dir": str(tmp_path), "hardware": "sim"},
            "lanes": {"main": {"direction": "in", "camera": {"source": "sim", **camera}}},
        },
        tmp_path / "kiosk.toml",
    )


@pytest.fixture
def kiosk(tmp_path, clock):
    """A simulated kiosk on the fake clock, not started: tests drive its step functions."""
    from kiosk.sim.hardware import simulated_kiosk

    cfg = make_config(tmp_path)
    demo.ensure_keys(cfg.keys_dir)
    k = simulated_kiosk(cfg, clock)
    yield k
    k.close()
