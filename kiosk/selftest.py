"""``kiosk selftest``: check every part a gate needs before trusting it, and print a table.

Checks, per lane where it applies: the MLX90614 answers on I2C with a valid PEC and a valid
temperature; the camera opens and delivers frames; the relay pin can be claimed (and is left
off); the door contact and exit button can be read; the pickup shelf's camera delivers frames
(with ``[parcels] shelf_camera``); then the data folder's free space and
that it takes writes, the system clock's synchronisation (the check ``[rules] clock_check``
names, as the daemon asks it), and the committee server with the gate's token (through
:mod:`kiosk.uplink`; skipped when no ``url`` is configured).

On a real Pi run it with the daemon stopped, since the daemon holds the pins. The checks run
on the hardware provider they are handed (:mod:`kiosk.hardware`); on the simulated world the
command line can switch on emulated MLX90614 faults first (``--sim-fault LANE:FAULT``, e.g.
``main:bad_pec``), which is how the tests show a failing self-test names its fault.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from kiosk.clock import SystemClock
from kiosk.errors import KioskError
from kiosk.timesync import PROBES

OK, FAIL, SKIP = "ok", "FAIL", "skip"
#: Frames the camera must deliver, and how many reads it gets to do so.
FRAMES, FRAME_TRIES = 3, 30


@dataclass(frozen=True)
class Check:
    name: str
    lane: str
    result: str
    detail: str = ""


def run(cfg, hardware, *, clock=None) -> list[Check]:
    """Run every check against *cfg* on *hardware* (a provider, see :mod:`kiosk.hardware`),
    which is closed afterwards; never raises for a failing part."""
    clock = clock or SystemClock()
    checks: list[Check] = []
    try:
        for name, lane in cfg.lanes.items():
            checks.append(_thermometer(name, lane, hardware))
            checks.append(_camera(name, lane.camera, partial(hardware.camera, name, lane.camera)))
            checks.append(_relay(name, lane, clock, hardware))
            checks.append(_inputs(name, lane, clock, hardware))
        shelf = cfg.parcels.shelf
        if shelf is not None:
            checks.append(_camera("shelf", shelf, partial(hardware.shelf_camera, shelf)))
        checks.extend(_disk(cfg))
        checks.append(_clock(cfg, hardware))
        checks.append(_committee(cfg, clock))
    finally:
        hardware.close()
    return checks


def _thermometer(name, lane, hardware) -> Check:
    from kiosk.sensors.mlx90614 import MLX90614

    t = lane.thermometer
    what = f"bus {t.bus} address {t.address:#04x}"
    try:
        bus, lock = hardware.i2c(t.bus)
        reading = MLX90614(bus, t.address, retries=1, lock=lock).read()
    except (KioskError, OSError) as exc:
        hint = ""
        if "Errno 121" in str(exc) or "Remote I/O" in str(exc):
            hint = " (the sensor does not answer: check wiring, address, pull-ups, bus speed)"
        return Check("thermometer (I2C, PEC)", name, FAIL, f"{what}: {exc}{hint}")
    detail = f"{what}: ambient {reading.ambient_c:.1f} °C, object {reading.object_c:.1f} °C"
    return Check("thermometer (I2C, PEC)", name, OK, detail)


def _camera(name, settings, open_source) -> Check:
    """*open_source()* (a lane's camera, or the pickup shelf's) delivers frames."""
    try:
        source = open_source()
    except KioskError as exc:
        return Check("camera", name, FAIL, str(exc))
    frames, shape = 0, None
    try:
        for _ in range(FRAME_TRIES):
            frame = source.read()
            if frame is not None:
                frames, shape = frames + 1, frame.shape
                if frames >= FRAMES:
                    break
    except (KioskError, OSError) as exc:
        return Check("camera", name, FAIL, f"{settings.source}: {exc}")
    finally:
        with contextlib.suppress(Exception):
            source.close()
    if frames < FRAMES:
        return Check("camera", name, FAIL, f"{settings.source}: {frames} frames delivered")
    return Check("camera", name, OK, f"{settings.source}: {frames} frames {shape[1]}x{shape[0]}")


def _relay(name, lane, clock, hardware) -> Check:
    from kiosk.actuators import Relay

    r = lane.relay
    try:
        relay = Relay(
            r.pin,
            active_high=r.active_high,
            max_open_s=r.max_open_s,
            clock=clock,
            pin_factory=hardware.pin_factory,
        )
    except Exception as exc:  # gpiozero: pin in use (the daemon runs?), no such pin, ...
        return Check("relay pin", name, FAIL, f"GPIO{r.pin}: {type(exc).__name__}: {exc}")
    try:
        off = not relay.is_open
    finally:
        relay.close()
    return Check("relay pin", name, OK if off else FAIL, f"GPIO{r.pin} claimed, left off")


def _inputs(name, lane, clock, hardware) -> Check:
    from kiosk.sensors.inputs import DoorInputs

    door = lane.door
    if door.contact_pin is None and door.exit_pin is None:
        return Check("door inputs", name, SKIP, "no door contact or exit button fitted")
    try:
        inputs = DoorInputs(
            name, door, clock=clock, sink=lambda e: None, pin_factory=hardware.pin_factory
        )
    except Exception as exc:
        return Check("door inputs", name, FAIL, f"{type(exc).__name__}: {exc}")
    try:
        hardware.inputs_claimed(name)
        state = inputs.door_open()
        parts = []
        if door.contact_pin is not None:
            parts.append(f"door GPIO{door.contact_pin} {'OPEN' if state else 'shut'}")
        if door.exit_pin is not None:
            pressed = inputs.exit_button.is_pressed
            parts.append(f"exit GPIO{door.exit_pin} {'PRESSED' if pressed else 'released'}")
    finally:
        inputs.close()
    return Check("door inputs", name, OK, ", ".join(parts))


def _disk(cfg) -> list[Check]:
    folder = cfg.data_dir
    try:
        folder.mkdir(parents=True, exist_ok=True)
        free_mb = shutil.disk_usage(folder).free >> 20
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".selftest-") as handle:
            handle.write(b"x" * 4096)
            handle.flush()
    except OSError as exc:
        return [Check("data folder writable", "-", FAIL, f"{folder}: {exc}")]
    need = cfg.journal.min_free_mb
    return [
        Check("data folder writable", "-", OK, str(folder)),
        Check(
            "disk space", "-", OK if free_mb >= need else FAIL, f"{free_mb} MiB free (>= {need})"
        ),
    ]


def _clock(cfg, hardware) -> Check:
    """The clock check ``[rules] clock_check`` names, as the running daemon asks it."""
    name = "clock synchronised"
    if hardware.clock_trusted:
        return Check(name, "-", SKIP, "simulated hardware")
    check = cfg.rules.clock_check
    if check == "off":
        return Check(name, "-", SKIP, "[rules] clock_check = 'off'")
    answer = PROBES[check]()
    if answer is None:
        return Check(name, "-", FAIL, f"cannot ask ({check})")
    if answer:
        return Check(name, "-", OK, check)
    return Check(name, "-", FAIL, f"not synchronised ({check})")


def _committee(cfg, clock) -> Check:
    if not cfg.uplink.url:
        return Check("committee server", "-", SKIP, "no [uplink] url configured")
    from kiosk.journal import Journal
    from kiosk.uplink import Uplink

    with tempfile.TemporaryDirectory(prefix="kiosk-selftest-") as tmp:
        journal = Journal(Path(tmp) / "selftest.db", clock)  # the real journal is not touched
        try:
            uplink = Uplink.from_config(cfg, journal, clock)
            try:
                uplink.step()  # heartbeat and roster pull, nothing to push
                status = uplink.status()
            finally:
                uplink.close()
        except KioskError as exc:
            return Check("committee server", "-", FAIL, str(exc))
        finally:
            journal.close()
    if status["last_success"] and not status["last_error"]:
        return Check("committee server", "-", OK, f"{cfg.uplink.url}: token accepted")
    return Check("committee server", "-", FAIL, f"{cfg.uplink.url}: {status['last_error']}")


def table(checks: list[Check]) -> str:
    """The checks as a plain-text table."""
    rows = [("check", "lane", "result", "detail")] + [
        (c.name, c.lane, c.result, c.detail) for c in checks
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}" for r in rows]
    lines.insert(1, "-" * max(len(line) for line in lines))
    return "\n".join(lines)


def failed(checks: list[Check]) -> bool:
    return any(c.result == FAIL for c in checks)
