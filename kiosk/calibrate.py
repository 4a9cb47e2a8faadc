"""``kiosk calibrate``: calibrate a lane's thermometer against a reference from the shell.

Meant for when the daemon is stopped (on the bench, or right after installing a sensor). A
running daemon owns the lane's calibration in memory and would not see a file changed under
it until its next start, so the session refuses when the daemon answers on its port: the
maintenance page calibrates a running kiosk and applies it at once. A daemon on another port
is found by the mark it holds in the data folder (:mod:`kiosk.running`). Talking to the daemon
over HTTP instead would need a maintenance login from the shell, which the page already gives.

The command line parses the options and hands in the hardware (:func:`run`); this module
holds the session: live raw readings, points, the fit, the confirmation, the journal.
"""

from __future__ import annotations

import json
import sys

import click

from kiosk.errors import KioskError


def parse_point(text: str) -> tuple[float, float]:
    raw, sep, ref = text.partition(":")
    try:
        if not sep:
            raise ValueError
        return float(raw), float(ref)
    except ValueError:
        raise click.BadParameter(f"{text!r}: expected RAW:REF in °C, e.g. 35.2:35.0") from None


def daemon_url(cfg) -> str | None:
    """The guard screen's address if a kiosk daemon answers there, else None."""
    import urllib.error
    import urllib.request

    host = cfg.ui.host if cfg.ui.host not in ("0.0.0.0", "", "::") else "127.0.0.1"
    url = f"http://{host}:{cfg.ui.port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=0.5) as response:
            body = response.read(65536)
    except urllib.error.HTTPError as exc:
        body = exc.read(65536)
    except (OSError, ValueError):
        return None
    try:
        return url if "lanes" in json.loads(body) else None
    except (ValueError, TypeError):
        return None


def _daemon_on_data(cfg) -> str | None:
    """The address of a kiosk daemon running on this configuration's data folder, on
    whatever port it listens (:mod:`kiosk.running`), else None."""
    from kiosk.running import running

    found = running(cfg.data_dir)
    if found is None:
        return None
    return str(found.get("url") or f"process {found.get('pid', '?')}")


def _take_raw(sensor, samples: int, pause_s: float = 0.1, spread_c: float = 0.3) -> float:
    """The median of the first *samples* consecutive raw object reads that agree within
    *spread_c* °C (or of the last ones, with a warning, when they never do), echoing each."""
    import statistics
    import time

    from kiosk.errors import SensorError

    values: list[float] = []
    last_error = ""
    good = 0
    for _ in range(samples * 4):
        try:
            reading = sensor.read()
        except SensorError as exc:
            last_error = str(exc)
        else:
            good += 1
            values = (
                [*values[-(samples - 1) :], reading.object_c] if samples > 1 else [reading.object_c]
            )
            click.echo(
                f"  raw object {reading.object_c:6.2f} °C   ambient {reading.ambient_c:6.2f} °C"
            )
            if len(values) == samples and max(values) - min(values) <= spread_c:
                break
        time.sleep(pause_s)
    if len(values) < samples:
        raise SensorError(f"the sensor does not answer: {last_error}")
    spread = max(values) - min(values)
    median = statistics.median(values)
    click.echo(f"  -> raw {median:.2f} °C (median of {samples}, spread {spread:.2f} °C)")
    if spread > spread_c:
        click.echo("  warning: the readings are not steady; hold the sensor still", err=True)
    return round(median, 2)


def _watch_live(sensor) -> None:
    """Show live raw readings on one line until Enter is pressed (terminals only)."""
    import select

    from kiosk.errors import SensorError

    click.echo("  live readings; press Enter when they are steady")
    while True:
        try:
            r = sensor.read()
            line = f"  raw object {r.object_c:6.2f} °C   ambient {r.ambient_c:6.2f} °C   "
        except SensorError as exc:
            line = f"  sensor: {exc}"[:78]
        click.echo("\r" + line, nl=False)
        ready, _, _ = select.select([sys.stdin], [], [], 0.3)
        if ready:
            sys.stdin.readline()
            click.echo()
            return


def _describe_calibration(cal) -> str:
    if cal.is_identity and not cal.points:
        return "none (raw readings used as they are)"
    return (
        f"gain {cal.gain:.4f}, offset {cal.offset_c:+.2f} °C, "
        f"moves 36.5 °C by {cal.correction_at():+.2f} °C"
        + (f" ({cal.at}, {cal.by})" if cal.at else "")
    )


def run(cfg, lane: str, pairs: list, *, by, samples: int, yes: bool, sim_target_c, hardware):
    """Calibrate *lane* of *cfg*: from *pairs* (``(raw_c, reference_c)``), or, with none,
    from one or two points read live from the sensor; then save and journal it.

    :param hardware: ``() -> provider`` (:mod:`kiosk.hardware`), opened only to read points
        live and closed afterwards.
    :param sim_target_c: on simulated hardware, the black body the emulated sensor looks at
        for each point, in °C.
    :raises KioskError: the daemon runs, or the calibration is refused.
    """
    from kiosk.clock import SystemClock
    from kiosk.errors import CalibrationError
    from kiosk.journal import Journal
    from kiosk.sensors import calibration as cal_mod

    running = daemon_url(cfg) or _daemon_on_data(cfg)
    if running:
        raise KioskError(
            f"the kiosk daemon is running ({running}); calibrate on its maintenance page, "
            "which applies the calibration at once, or stop the daemon first"
        )
    tcfg = cfg.lanes[lane].thermometer
    store = cal_mod.CalibrationStore(cfg.data_dir / f"calibration-{lane}.json")
    try:
        current = store.load()
    except CalibrationError as exc:
        click.echo(f"warning: {exc}; it will be replaced", err=True)
        current = cal_mod.Calibration()
    click.echo(f"Lane {lane}, thermometer at 0x{tcfg.address:02X} on I2C bus {tcfg.bus}")
    click.echo(f"Current calibration: {_describe_calibration(current)}")
    interactive = not pairs
    if interactive:
        pairs = _read_points(tcfg, lane, hardware(), samples, sim_target_c)
    if not by:
        by = click.prompt("Your name (recorded in the journal)")
    try:
        preview = cal_mod.fit(pairs, max_correction_c=tcfg.max_correction_c)
    except CalibrationError as exc:
        raise KioskError(f"calibration refused: {exc}") from None
    click.echo(f"New calibration:     {_describe_calibration(preview)}")
    if interactive and not yes and not click.confirm("Save it?", default=True):
        click.echo("nothing changed")
        return
    clock = SystemClock()
    journal = Journal(cfg.data_dir / "journal.db", clock)
    try:
        cal_mod.change(
            store,
            journal,
            lane,
            pairs,
            by=by,
            now=clock.now(),
            max_correction_c=tcfg.max_correction_c,
        )
    except CalibrationError as exc:
        raise KioskError(f"calibration refused: {exc}") from None
    finally:
        journal.close()
    click.echo(f"saved to {store.path}; journaled as calibration.changed")
    click.echo("The daemon uses it from its next start.")


def _read_points(tcfg, lane: str, hardware, samples: int, sim_target_c) -> list:
    """One or two ``(raw_c, reference_c)`` points: raw from the sensor on *hardware* (closed
    afterwards), the reference asked for."""
    from kiosk.sensors.mlx90614 import MLX90614

    pairs: list[tuple[float, float]] = []
    try:
        bus, lock = hardware.i2c(tcfg.bus)
        sensor = MLX90614(bus, tcfg.address, lock=lock)
        while True:
            n = len(pairs) + 1
            if hardware.world is not None:
                target = sim_target_c[min(n, len(sim_target_c)) - 1]
                hardware.world.lane(lane).set_forehead(target)
                click.echo(f"  (simulated black body at {target:.2f} °C)")
            click.echo(f"Point {n}: aim the sensor at the reference, 3-5 cm away.")
            if sys.stdin.isatty():
                _watch_live(sensor)
            raw = _take_raw(sensor, samples)
            ref = click.prompt(f"Reference temperature for point {n} (°C)", type=float)
            pairs.append((raw, ref))
            if n == 2 or not click.confirm(
                "Add a second point for a two-point calibration (gain and offset)?",
                default=False,
            ):
                return pairs
    finally:
        hardware.close()
