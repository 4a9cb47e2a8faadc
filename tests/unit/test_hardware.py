"""Hardware providers: the Pi's (one bus per I2C bus behind one shared lock, cameras, pins) and
the simulated world's, chosen once and handed in to the daemon."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from gpiozero.pins.mock import MockFactory

from kiosk import config as config_mod
from kiosk.daemon import Kiosk
from kiosk.errors import ConfigError, SensorError
from kiosk.hardware import PiHardware
from kiosk.sim.hardware import SimHardware
from kiosk.sim.mlx90614 import EmulatedMLX90614
from kiosk.sim.smbus import FakeSMBus


class Buses:
    """A bus factory for :class:`PiHardware`: fake buses with an emulated MLX90614 at 0x5A and
    0x5B, counting how often each bus number is opened."""

    def __init__(self, clock) -> None:
        self.clock = clock
        self.opened: list[int] = []
        self.closed: list[int] = []

    def __call__(self, number: int):
        if number == 9:
            raise FileNotFoundError(2, "No such file or directory")
        self.opened.append(number)
        bus = FakeSMBus()
        for address in (0x5A, 0x5B):
            sensor = EmulatedMLX90614(address, clock=self.clock)
            sensor.ambient_c = sensor.object_c = 22.0
            bus.attach(sensor)
        closed = self.closed

        class Closing:
            def __getattr__(self, name):
                return getattr(bus, name)

            def close(self):
                closed.append(number)

        return Closing()


def test_pi_hardware_opens_each_bus_once_and_shares_its_lock(clock):
    buses = Buses(clock)
    hardware = PiHardware(bus_factory=buses)
    first, lock = hardware.i2c(1)
    again, same_lock = hardware.i2c(1)
    other, other_lock = hardware.i2c(3)
    assert first is again and lock is same_lock
    assert other is not first and other_lock is not lock
    assert buses.opened == [1, 3]
    hardware.close()
    hardware.close()
    assert sorted(buses.closed) == [1, 3]


def test_pi_hardware_names_a_bus_it_cannot_open(clock):
    with pytest.raises(SensorError, match="cannot open I2C bus 9"):
        PiHardware(bus_factory=Buses(clock)).i2c(9)


def test_pi_hardware_has_no_simulated_camera():
    from kiosk.config import CameraSettings

    with pytest.raises(ConfigError, match=r"lanes\.exit\.camera: source 'sim' needs"):
        PiHardware().camera("exit", CameraSettings(source="sim"))


def pi_config(tmp_path, frames) -> config_mod.Config:
    camera = {"source": str(frames)}
    return config_mod.from_dict(
        {
            "gate": {"data_dir": str(tmp_path / "data"), "hardware": "pi"},
            "lanes": {
                "main": {"camera": camera, "relay": {"pin": 17}},
                "exit": {
                    "direction": "out",
                    "camera": camera,
                    "relay": {"pin": 27},
                    "thermometer": {"address": 0x5B},
                },
            },
        }
    )


def test_daemon_on_pi_hardware_shares_one_bus_and_lock_between_lanes(tmp_path, clock):
    frames = tmp_path / "frames"
    frames.mkdir()
    cv2.imwrite(str(frames / "a.png"), np.zeros((48, 64, 3), np.uint8))
    buses, pins = Buses(clock), MockFactory()
    kiosk = Kiosk(
        pi_config(tmp_path, frames), PiHardware(pin_factory=pins, bus_factory=buses), clock=clock
    )
    try:
        main, exit_ = (kiosk.units[n].sensor for n in ("main", "exit"))
        assert main._bus is exit_._bus and main._lock is exit_._lock
        assert buses.opened == [1]
        assert kiosk.world is None and kiosk.simulated is False
        assert main.read().ambient_c == pytest.approx(22.0, abs=0.1)
        assert pins.pin(17).state is False and pins.pin(27).state is False
    finally:
        kiosk.close()
    assert buses.closed == [1]


def test_daemon_refuses_hardware_the_configuration_does_not_name(tmp_path, clock):
    cfg = pi_config(tmp_path, tmp_path)
    with pytest.raises(ConfigError, match="hardware = 'pi', but SimHardware was handed in"):
        Kiosk(cfg, SimHardware(clock, cfg.lanes), clock=clock)


def test_sim_hardware_switches_faults_and_refuses_unknown_ones(clock):
    lanes = {"main": config_mod.LaneSettings()}
    hardware = SimHardware(clock, lanes)
    hardware.switch_faults(["main:bad_pec", "main:oserror_rate"])
    sensor = hardware.world.lane("main").sensor
    assert sensor.bad_pec is True and sensor.oserror_rate == 0.5
    with pytest.raises(ConfigError, match="LANE:FAULT"):
        hardware.switch_faults(["exit:bad_pec"])


def test_daemon_on_pi_hardware_reads_the_shelf_camera_it_names(tmp_path, clock):
    import dataclasses

    from kiosk.camera.capture import FileSource

    frames = tmp_path / "frames"
    frames.mkdir()
    cv2.imwrite(str(frames / "a.png"), np.zeros((48, 64, 3), np.uint8))
    shelf = tmp_path / "shelf"
    shelf.mkdir()
    cv2.imwrite(str(shelf / "b.png"), np.zeros((48, 64, 3), np.uint8))
    cfg = pi_config(tmp_path, frames)
    with_shelf = dataclasses.replace(
        cfg, parcels=config_mod.ParcelSettings(shelf_camera=str(shelf))
    )
    kiosk = Kiosk(
        with_shelf, PiHardware(pin_factory=MockFactory(), bus_factory=Buses(clock)), clock=clock
    )
    try:
        assert isinstance(kiosk.shelf_reader.source, FileSource)
        assert kiosk.shelf_reader.source is not kiosk.units["main"].reader.source
    finally:
        kiosk.close()
    missing = dataclasses.replace(
        cfg, parcels=config_mod.ParcelSettings(shelf_camera=str(tmp_path / "nowhere"))
    )
    with pytest.raises(ConfigError, match=r"\[parcels\] shelf_camera: .*no such file"):
        Kiosk(missing, PiHardware(pin_factory=MockFactory(), bus_factory=Buses(clock)), clock=clock)


def test_sim_hardware_gives_the_shelf_its_own_rendering_camera(clock):
    from kiosk.config import CameraSettings

    cfg = config_mod.from_dict({"gate": {"hardware": "sim"}})
    hardware = SimHardware(clock, cfg.lanes)
    camera = hardware.shelf_camera(CameraSettings(source="sim"))
    assert camera is hardware.world.shelf.camera
    assert camera is not hardware.camera("main", cfg.lanes["main"].camera)
    hardware.world.shelf.show("P-TEXT")
    assert camera.text == "P-TEXT" and camera.corners is not None
