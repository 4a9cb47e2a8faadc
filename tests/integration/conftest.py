"""Fixtures that run the real daemon on simulated hardware."""

from __future__ import annotations

import threading
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


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.02):
    """Poll *predicate* until it is true or *timeout* seconds pass; return its last value."""
    done = threading.Event()
    deadline = timeout / interval
    value = predicate()
    n = 0
    while not value and n < deadline:
        done.wait(interval)
        value = predicate()
        n += 1
    return value


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
