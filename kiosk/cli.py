"""The ``kiosk`` command. Thin: parse, call, print.

Exit codes: 0 ok, 1 failure, 2 usage or configuration error.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from kiosk import __version__
from kiosk import config as config_mod
from kiosk.errors import ConfigError, ContractError, KioskError, ScenarioError

CONFIG_HELP = "Configuration file (default: /etc/kiosk/kiosk.toml; demo: config/demo.toml)."


def _load_config(path: str | None, *, demo: bool = False) -> config_mod.Config:
    if path is None:
        path = config_mod.DEMO_CONFIG if demo else config_mod.SYSTEM_CONFIG
    return config_mod.load(path)


class KioskGroup(click.Group):
    """Turns kiosk's own errors into a message and an exit code, never a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (ConfigError, ScenarioError, ContractError) as exc:
            click.echo(f"kiosk: {exc}", err=True)
            sys.exit(2)
        except KioskError as exc:
            click.echo(f"kiosk: {exc}", err=True)
            sys.exit(1)


@click.group(cls=KioskGroup)
@click.version_option(__version__, prog_name="kiosk")
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages.")
def main(verbose: bool) -> None:
    """The gate kiosk: QR passes, forehead temperature, gate relay, guard screen."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@main.command()
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help=CONFIG_HELP)
def run(config_path: str | None) -> None:
    """Run the kiosk daemon (until SIGTERM or Ctrl-C)."""
    from kiosk.daemon import Kiosk
    from kiosk.service import configure_logging, serve_forever

    configure_logging(verbose=logging.getLogger().level == logging.DEBUG)
    cfg = _load_config(config_path)
    kiosk = Kiosk(cfg)
    serve_forever(kiosk, cfg.ui.host, cfg.ui.port)


@main.command()
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help=CONFIG_HELP)
@click.option("--port", type=click.IntRange(1, 65535), help="Port of the guard screen.")
@click.option("--host", help="Address to listen on (default 127.0.0.1).")
@click.option(
    "--committee/--no-committee",
    "with_committee",
    default=True,
    help="Upload to a simulated committee server on loopback (default on).",
)
def demo(config_path: str | None, port: int | None, host: str | None, with_committee) -> None:
    """Run the kiosk on simulated hardware with a demo compound."""
    from kiosk.daemon import Kiosk
    from kiosk.service import Service
    from kiosk.sim import demo as demo_kit

    cfg = _load_config(config_path, demo=True)
    if cfg.gate.hardware != "sim":
        raise ConfigError(f"{cfg.path}: [gate] hardware: the demo needs 'sim'")
    demo_kit.ensure_keys(cfg.keys_dir)
    committee = None
    if not cfg.uplink.url and with_committee:
        committee, cfg = demo_kit.start_committee(cfg)
    try:
        kiosk = Kiosk(cfg)
        try:
            passes, folder = demo_kit.seed(
                kiosk, user=cfg.ui.demo_user, password=cfg.ui.demo_password
            )
        except BaseException:
            kiosk.close()
            raise
        host = host or cfg.ui.host
        port = port or cfg.ui.port
        extras = {"kiosk.demo_passes": demo_kit.as_json(passes)}
        service = Service(kiosk, host, port, extras=extras)
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
        click.echo(f"Guard screen:  http://{shown}:{port}")
        resident = ", ".join(f"http://127.0.0.1:{port}/resident/{lane}" for lane in cfg.lanes)
        click.echo(f"Resident screen: {resident}  (open beside the guard screen, on this machine)")
        click.echo(f"Voice:         {_demo_voice(kiosk)}")
        if cfg.ui.demo_user:
            click.echo(f"Demo login:    {cfg.ui.demo_user} / {cfg.ui.demo_password}")
        click.echo(f"Demo passes:   {folder}  ({len(passes)} PNG files)")
        click.echo(f"Journal:       {cfg.data_dir / 'journal.db'}")
        if committee is not None:
            click.echo(f"Committee:     {committee.url}  (simulated committee server, loopback)")
        click.echo("Stop with Ctrl-C.")
        service.run()
    finally:
        if committee is not None:
            committee.stop()


def _demo_voice(kiosk) -> str:
    """Whether the demo's prompts are heard, in plain words."""
    voice = kiosk.config.voice
    forward = getattr(getattr(kiosk.world, "audio", None), "forward", None)
    if kiosk.voice is None:
        return 'off ([voice] output = "off")'
    if forward is None:
        return "recorded and shown on the resident screen, not played ([voice] output)"
    problem = forward.check()
    if problem:
        return (
            f"this machine has no working audio output ({problem}): the prompts are shown on "
            "the resident screen and recorded, not heard"
        )
    return f"speaking through ALSA device {voice.device!r}"


@main.command()
@click.argument("scenario", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per journal event.")
@click.option(
    "--prompts",
    "as_prompts",
    is_flag=True,
    help='One JSON object per prompt spoken: {"t", "lane", "prompt", "text"}.',
)
def simulate(scenario: str, as_json: bool, as_prompts: bool) -> None:
    """Run SCENARIO headless on simulated hardware and print the journal (or the prompts)."""
    from kiosk.sim.scenario import load, run_outcome

    logging.getLogger().setLevel(logging.WARNING)
    outcome = run_outcome(load(scenario))
    if as_prompts:
        for played in outcome.prompts:
            click.echo(json.dumps(played.to_json(), ensure_ascii=False))
        return
    for event in outcome.events:
        if as_json:
            click.echo(json.dumps(event.to_api(), ensure_ascii=False))
        else:
            data = event.data
            extra = " ".join(
                f"{k}={data[k]}"
                for k in ("reason", "pass_id", "household", "temperature_c")
                if data.get(k) is not None
            )
            click.echo(f"{event.seq:5d} {event.ts} {event.lane or '-':6} {event.type:22} {extra}")


# -- keys and passes -------------------------------------------------------------------------


@main.group()
def keys() -> None:
    """Key pairs: the committee's (signs resident passes) and the gate's (temporary passes)."""


@keys.command("init")
@click.option("--dir", "directory", type=click.Path(file_okay=False), help="Key folder.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help=CONFIG_HELP)
def keys_init(directory: str | None, config_path: str | None) -> None:
    """Create the committee and gate key pairs (refuses to overwrite)."""
    from kiosk.keys import init_keys

    folder = Path(directory) if directory else _load_config(config_path).keys_dir
    for path in init_keys(folder):
        click.echo(str(path))


@main.group("pass")
def pass_group() -> None:
    """Issue and verify passes."""


@pass_group.command("issue")
@click.option("--household", help="Household, e.g. 7-1201.")
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(dir_okay=False, exists=True),
    help="Issue one pass per row of this households CSV into the --out folder.",
)
@click.option("--pass-id", help="Pass id (default: derived from the household).")
@click.option("--days", type=click.FloatRange(min=0.01), default=90.0, show_default=True)
@click.option("--kind", type=click.Choice(["resident", "temporary"]), default="resident")
@click.option("--key", "key_path", type=click.Path(dir_okay=False), help="Private key file.")
@click.option("--site", help="Site id (default: from the configuration).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help=CONFIG_HELP)
@click.option("--out", type=click.Path(), help="Write a PNG/SVG/PDF card (with --csv: a folder).")
def pass_issue(household, csv_path, pass_id, days, kind, key_path, site, config_path, out) -> None:
    """Issue a pass and print its token; with --csv, a batch of cards and a printable sheet."""
    if (household is None) == (csv_path is None):
        raise click.UsageError("give --household or --csv")
    if csv_path and (not out or kind != "resident" or pass_id):
        raise click.UsageError("--csv needs --out FOLDER, and no --pass-id or --kind temporary")
    from kiosk.keys import issue_pass, load_private_key
    from kiosk.passes import PassKind, qr_version

    cfg = None
    if key_path is None or site is None:
        cfg = _load_config(config_path)
    if key_path is None:
        key_path = cfg.keys_dir / ("committee.key" if kind == "resident" else "gate.key")
    site = site or cfg.gate.site
    key = load_private_key(key_path)
    if key.readable_by_others:
        click.echo(f"warning: {key_path} is readable by others; chmod 600 it", err=True)
    if csv_path:
        _issue_batch(csv_path, out, key, site, days)
        return
    if pass_id is None:
        digits = "".join(c for c in household if c.isdigit())
        pass_id = ("P" if kind == "resident" else "T") + digits.rjust(8, "0") + "01"
    token, claims = issue_pass(
        key,
        kind=PassKind[kind.upper()],
        pass_id=pass_id,
        household=household,
        site=site,
        now=datetime.now(UTC).astimezone(),
        days=days,
    )
    if out:
        _write_pass_image(token, claims, Path(out))
        click.echo(f"wrote {out}", err=True)
    click.echo(token)
    click.echo(f"pass {claims.pass_id}, QR version {qr_version(token)}-M", err=True)


def _issue_batch(csv_path, out, key, site, days) -> None:
    from kiosk.cards import SHEET_NAME, issue_batch

    rows = issue_batch(csv_path, out, key.key, key.kid, site, days, datetime.now(UTC).astimezone())
    good = [row for row in rows if row.ok]
    for row in rows:
        if not row.ok:
            click.echo(f"skipped: {row.error}", err=True)
    click.echo(f"{len(good)} cards in {out}, sheet {Path(out) / SHEET_NAME}")
    if len(good) != len(rows):
        sys.exit(1)


def _write_pass_image(token, claims, path: Path) -> None:
    try:
        from kiosk.cards import write_card
    except ImportError:
        from kiosk.passes import qr_for

        qr_for(token).save(path, scale=8, border=4)
        return
    write_card(token, claims, path)


@pass_group.command("verify")
@click.argument("token")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help=CONFIG_HELP)
@click.option("--json", "as_json", is_flag=True)
def pass_verify(token: str, config_path: str | None, as_json: bool) -> None:
    """Check TOKEN (the text of a QR code) against this gate's keys and site."""
    from kiosk.keys import load_public_keys
    from kiosk.passes import describe, verify

    cfg = _load_config(config_path)
    keyring = load_public_keys(cfg.keys_dir)
    check = verify(token, keyring, site=cfg.gate.site, now=datetime.now(UTC))
    info = describe(check)
    if as_json:
        click.echo(json.dumps(info, ensure_ascii=False))
    else:
        for key, value in info.items():
            click.echo(f"{key:>14}: {value}")


# -- spoken prompts --------------------------------------------------------------------------


@main.group()
def voice() -> None:
    """The spoken prompts: make the default audio, list it, play one."""


def _voice_library(config_path, demo: bool):
    from kiosk.voice.clips import Library

    cfg = _load_config(config_path, demo=demo)
    return cfg, Library(cfg.voice_dir, english=cfg.voice.english)


DEMO_HELP = "Use the demo configuration (default: /etc/kiosk/kiosk.toml)."


@voice.command("build")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help=CONFIG_HELP)
@click.option("--demo", is_flag=True, help=DEMO_HELP)
def voice_build(config_path: str | None, demo: bool) -> None:
    """Make the default audio of every prompt with espeak-ng (Mandarin and English), offline.

    Only missing files and those whose words changed are made; recorded files of the same
    names in the voice folder are never touched and always win."""
    from kiosk.voice.clips import build_defaults

    _, library = _voice_library(config_path, demo)
    made = build_defaults(library.folder, english=True)
    click.echo(f"{len(made)} files made in {library.defaults}")
    missing = library.missing()
    if missing:
        raise KioskError(f"prompts still without audio: {', '.join(missing)}")


@voice.command("list")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help=CONFIG_HELP)
@click.option("--demo", is_flag=True, help=DEMO_HELP)
def voice_list(config_path: str | None, demo: bool) -> None:
    """Every prompt: name, kind, where its audio comes from (recorded, default, missing), words."""
    _, library = _voice_library(config_path, demo)
    for row in library.listing():
        seconds = f"{row['seconds']:.1f} s" if row["seconds"] else ""
        click.echo(
            f"{row['name']:20} {row['kind']:7} {row['source']:17} {seconds:>6}  {row['text']}"
        )


@voice.command("play")
@click.argument("name")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help=CONFIG_HELP)
@click.option("--demo", is_flag=True, help=DEMO_HELP)
def voice_play(name: str, config_path: str | None, demo: bool) -> None:
    """Play prompt NAME on the configured ALSA device, at the volume of this hour."""
    from kiosk.clock import SystemClock
    from kiosk.voice.prompts import CATALOGUE
    from kiosk.voice.speaker import AlsaOutput, volume_at

    cfg, library = _voice_library(config_path, demo)
    if name not in CATALOGUE:
        hint = config_mod.did_you_mean(name, CATALOGUE)
        raise ConfigError(f"no prompt named {name!r}{hint} (kiosk voice list shows them)")
    output = AlsaOutput(cfg.voice.device, library.defaults / "at-volume")
    volume = volume_at(cfg.voice, SystemClock().now())
    playback = output.play(library.clip(name), max(volume, 0.05))
    playback.process.wait()
    playback.done()
    if playback.error:
        raise KioskError(playback.error)
    click.echo(f"played {name} at volume {volume:g} on {cfg.voice.device}")


# -- accounts --------------------------------------------------------------------------------


@main.group()
def user() -> None:
    """Guard-screen accounts."""


def _accounts(config_path):
    from kiosk.accounts import Accounts
    from kiosk.clock import SystemClock
    from kiosk.journal import Journal

    cfg = _load_config(config_path)
    return Accounts(Journal(cfg.data_dir / "journal.db", SystemClock()))


@user.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["guard", "maintenance", "admin"]), default="guard")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help=CONFIG_HELP)
@click.password_option()
def user_add(name, role, config_path, password) -> None:
    """Add (or replace) an account."""
    _accounts(config_path).add(name, password, role)
    click.echo(f"user {name} ({role}) saved")


@user.command("passwd")
@click.argument("name")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help=CONFIG_HELP)
@click.password_option()
def user_passwd(name, config_path, password) -> None:
    """Change an account's password."""
    _accounts(config_path).passwd(name, password)
    click.echo(f"password of {name} changed")


@user.command("remove")
@click.argument("name")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help=CONFIG_HELP)
def user_remove(name, config_path) -> None:
    """Remove an account."""
    _accounts(config_path).remove(name)
    click.echo(f"user {name} removed")


@user.command("list")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help=CONFIG_HELP)
def user_list(config_path) -> None:
    """List the accounts and their roles."""
    users = _accounts(config_path).list()
    for name, role in users:
        click.echo(f"{name}\t{role}")
    if not users:
        click.echo("no accounts: add one with `kiosk user add NAME`", err=True)


# -- thermometer calibration ---------------------------------------------------------------
#
# `kiosk calibrate` opens the sensor itself and is meant for when the daemon is stopped (for
# example on the bench, or right after installing a sensor). A running daemon owns the lane's
# calibration in memory and would not see a file changed under it until its next start, so
# the command refuses when the daemon answers on its port: the maintenance page calibrates a
# running kiosk and applies it at once. Talking to the daemon over HTTP instead would need a
# maintenance login from the shell, which the page already gives.


def _parse_point(text: str) -> tuple[float, float]:
    raw, sep, ref = text.partition(":")
    try:
        if not sep:
            raise ValueError
        return float(raw), float(ref)
    except ValueError:
        raise click.BadParameter(f"{text!r}: expected RAW:REF in °C, e.g. 35.2:35.0") from None


def _daemon_url(cfg) -> str | None:
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


def _open_thermometer(cfg, lane: str):
    """The lane's MLX90614 driver: the real bus on a Pi, the emulated sensor in 'sim'."""
    from kiosk.errors import SensorError
    from kiosk.sensors.mlx90614 import MLX90614

    tcfg = cfg.lanes[lane].thermometer
    if cfg.gate.hardware == "sim":
        from kiosk.clock import SystemClock
        from kiosk.sim.world import SimWorld

        world = SimWorld(SystemClock(), cfg.lanes)
        return MLX90614(world.bus(tcfg.bus), tcfg.address), world, None
    try:
        from smbus2 import SMBus

        bus = SMBus(tcfg.bus)
    except OSError as exc:
        raise SensorError(f"cannot open I2C bus {tcfg.bus}: {exc.strerror or exc}") from None
    return MLX90614(bus, tcfg.address), None, bus


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


@main.command()
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help=CONFIG_HELP)
@click.option("--lane", help="Lane whose thermometer to calibrate (default: the first).")
@click.option(
    "--point",
    "points",
    multiple=True,
    metavar="RAW:REF",
    help="A raw sensor reading and the reference's value in °C; once for an offset, "
    "twice for a two-point calibration. Without points, the command asks.",
)
@click.option(
    "--raw", "raws", type=float, multiple=True, help="Raw reading in °C (with --reference)."
)
@click.option("--reference", "references", type=float, multiple=True, help="Reference value in °C.")
@click.option("--by", help="Who calibrates (recorded in the journal).")
@click.option(
    "--samples",
    type=click.IntRange(1, 50),
    default=5,
    show_default=True,
    help="Reads whose median is one raw value (interactive).",
)
@click.option("--yes", is_flag=True, help="Save without asking to confirm.")
@click.option(
    "--sim-target-c",
    type=float,
    multiple=True,
    default=(35.0, 39.0),
    show_default=True,
    help="Simulated hardware only: the black body the emulated sensor looks at, per point.",
)
def calibrate(config_path, lane, points, raws, references, by, samples, yes, sim_target_c):
    """Calibrate a lane's thermometer against a reference (black body or clinical thermometer).

    Run it with the daemon stopped; on a running kiosk use the maintenance page, which applies
    the calibration at once. The calibration is saved, and journaled as calibration.changed.
    """
    from kiosk.clock import SystemClock
    from kiosk.errors import CalibrationError
    from kiosk.journal import Journal
    from kiosk.sensors import calibration as cal_mod

    cfg = _load_config(config_path)
    lane = lane or next(iter(cfg.lanes))
    if lane not in cfg.lanes:
        raise click.BadParameter(
            f"no lane {lane!r}; lanes: {', '.join(cfg.lanes)}", param_hint="--lane"
        )
    if len(raws) != len(references):
        raise click.UsageError("give as many --raw as --reference values")
    pairs = [_parse_point(p) for p in points] + list(zip(raws, references, strict=True))
    if len(pairs) > 2:
        raise click.UsageError("give one point (offset) or two points (two-point)")
    running = _daemon_url(cfg)
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
        sensor, world, bus = _open_thermometer(cfg, lane)
        try:
            while True:
                n = len(pairs) + 1
                if world is not None:
                    target = sim_target_c[min(n, len(sim_target_c)) - 1]
                    world.lane(lane).set_forehead(target)
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
                    break
        finally:
            if bus is not None:
                bus.close()
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


# -- camera and scanning ---------------------------------------------------------------------


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="One JSON object per file.")
@click.option(
    "--backend", type=click.Choice(["zxing", "pyzbar"]), default="zxing", show_default=True
)
def scan(files: tuple[str, ...], as_json: bool, backend: str) -> None:
    """Decode the QR codes in image FILES; print per file the texts and the milliseconds.

    Exits 0 when every file was read, found codes or not; 1 when a file could not be read.
    """
    from kiosk.camera.scanner import scan_files

    failed = False
    for entry in scan_files(files, backend=backend):
        failed = failed or entry["error"] is not None
        if as_json:
            click.echo(json.dumps(entry, ensure_ascii=False))
        elif entry["error"]:
            click.echo(f"kiosk: {entry['error']}", err=True)
        else:
            found = len(entry["texts"])
            click.echo(
                f"{entry['path']}: {found} code{'s' if found != 1 else ''}, {entry['ms']:.1f} ms"
            )
            for text in entry["texts"]:
                click.echo(f"  {text}")
    if failed:
        sys.exit(1)


# -- roster and rules ------------------------------------------------------------------------


@main.group()
def roster() -> None:
    """The committee roster: households, passes, revocations, home observation."""


@roster.command("import")
@click.argument("file", type=click.Path(dir_okay=False, exists=True))
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help=CONFIG_HELP)
def roster_import(file: str, config_path: str | None) -> None:
    """Replace the roster with FILE (JSON in the committee roster shape), all or nothing.

    FILE is checked as a roster pulled from the committee server is: the contract's shape,
    this gate's site, valid keys, at most 16 MiB; unknown top-level keys are refused too (a
    typo). A running kiosk takes it within a few seconds; the next roster the committee
    server sends replaces it.
    """
    from kiosk import contract
    from kiosk.clock import SystemClock
    from kiosk.journal import Journal

    cfg = _load_config(config_path)
    path = Path(file)
    limit = contract.MAX_ROSTER_BYTES
    try:
        size = path.stat().st_size
        if size > limit:  # refused before it is read: no memory spent on it
            raise ContractError(
                f"{file}: not imported: {size:,} bytes, over the {limit >> 20} MiB a roster "
                "may have"
            )
        with open(path, "rb") as handle:
            raw = handle.read(limit + 1)
    except OSError as exc:
        raise KioskError(f"{file}: cannot read: {exc.strerror}") from None
    try:
        body = contract.parse_roster(raw, site=cfg.gate.site, strict=True)
    except ContractError as exc:
        raise ContractError(f"{file}: not imported: {exc}", field=exc.field) from None
    clock = SystemClock()
    journal = Journal(cfg.data_dir / "journal.db", clock)
    try:
        journal.save_roster_json(body.version, raw.decode("utf-8"))
        journal.append(
            "roster.imported",
            {"version": body.version, "passes": len(body.passes), "source": "file"},
        )
    finally:
        journal.close()
    click.echo(f"roster {body.version}: {len(body.passes)} passes imported")


@roster.command("show")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help=CONFIG_HELP)
@click.option("--json", "as_json", is_flag=True)
def roster_show(config_path: str | None, as_json: bool) -> None:
    """Print the roster's version, age and counts."""
    from kiosk.clock import SystemClock
    from kiosk.journal import Journal
    from kiosk.roster import Roster

    cfg = _load_config(config_path)
    clock = SystemClock()
    journal = Journal(cfg.data_dir / "journal.db", clock)
    try:
        summary = Roster.from_body(*journal.load_roster_json()).summary(clock.now())
    finally:
        journal.close()
    if as_json:
        click.echo(json.dumps(summary, ensure_ascii=False))
        return
    if summary["version"] is None:
        click.echo("no roster yet (kiosk roster import FILE.json, or the committee pull)")
        return
    for key, value in summary.items():
        if key == "home_observation":
            value = ", ".join(f"{h} until {d}" for h, d in value) or "none"
        click.echo(f"{key:>16}: {value}")


# -- committee uplink ------------------------------------------------------------------------


@main.command()
@click.option(
    "--once", is_flag=True, help="Push everything unsent, then exit (what the plain command does)."
)
@click.option("--status", "show_status", is_flag=True, help="Only say how the upload stands.")
@click.option(
    "--send-refused",
    "send_refused",
    type=click.IntRange(min=1),
    metavar="SEQ",
    help="Send a kiosk.event_refused in place of the held event SEQ, then push.",
)
@click.option("--by", default="maintenance", show_default=True, help="Who decided (journaled).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help=CONFIG_HELP)
@click.option("--json", "as_json", is_flag=True)
def upload(
    once: bool,
    show_status: bool,
    send_refused: int | None,
    by: str,
    config_path: str | None,
    as_json: bool,
) -> None:
    """Upload the journal's unsent events to the committee server now, then exit.

    The running kiosk uploads by itself; this pushes at once (after an outage, before
    taking the gate off the network) and says how it went: exit 1 when something is left
    unsent. With --status nothing is sent. When the server refused an event, the upload
    holds at it: --send-refused SEQ sends in its place a kiosk.event_refused event holding
    it (the refused event stays in the journal), so the rest can follow.
    """
    from kiosk.clock import SystemClock
    from kiosk.journal import Journal
    from kiosk.uplink import Uplink

    cfg = _load_config(config_path)
    if not cfg.uplink.url:
        raise ConfigError(f"{cfg.path}: [uplink] url: not set, nothing to upload to")
    clock = SystemClock()
    journal = Journal(cfg.data_dir / "journal.db", clock)
    try:
        uplink = Uplink.from_config(cfg, journal, clock)
        try:
            if send_refused is not None:
                try:
                    done = uplink.send_refused(send_refused, by)
                except KioskError as exc:
                    raise ConfigError(f"--send-refused: {exc}") from None
                click.echo(f"event {done['seq']} ({done['type']}) goes as kiosk.event_refused")
            if show_status:
                summary = uplink.status()
                summary["held_event"] = uplink.held_event()
                summary["ok"] = summary["unsent"] == 0
            else:
                summary = uplink.upload_once()
        finally:
            uplink.close()
    finally:
        journal.close()
    if as_json:
        click.echo(json.dumps(summary, ensure_ascii=False))
    else:
        for key, value in summary.items():
            click.echo(f"{key:>18}: {value}")
        if summary.get("quarantined_seq"):
            click.echo(
                f"event {summary['quarantined_seq']} is held: see kiosk upload --status; "
                f"kiosk upload --send-refused {summary['quarantined_seq']} sends it as a "
                "kiosk.event_refused so that the rest can follow"
            )
    if not summary.get("ok"):
        sys.exit(1)


# -- service: self-test, export, install -----------------------------------------------------


@main.command()
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help=CONFIG_HELP)
@click.option(
    "--sim-fault",
    "sim_faults",
    multiple=True,
    metavar="LANE:FAULT",
    help="Simulated hardware only: switch on an emulated MLX90614 fault (e.g. main:bad_pec).",
)
def selftest(config_path: str | None, sim_faults: tuple[str, ...]) -> None:
    """Check sensor, camera, relay, door inputs, disk, clock and committee server.

    Run it with the daemon stopped on a real Pi (the daemon holds the pins). Exits 1 when
    any check fails.
    """
    from kiosk import selftest as st

    cfg = _load_config(config_path)
    checks = st.run(cfg, sim_faults=sim_faults)
    click.echo(st.table(checks))
    if st.failed(checks):
        click.echo("kiosk: self-test FAILED", err=True)
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    main()
