"""The ``kiosk`` command. Thin: parse, call, print.

Exit codes: 0 ok, 1 failure, 2 usage or configuration error.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click

from kiosk import __version__
from kiosk import config as config_mod
from kiosk.cli_passes import keys, pass_group
from kiosk.cli_voice import voice
from kiosk.errors import ConfigError, ContractError, KioskError, ScenarioError

CONFIG_HELP = config_mod.CONFIG_HELP
_load_config = config_mod.load_or_default  # --config, or the system's (demo's) file


def _hardware(cfg: config_mod.Config, clock):
    """The one place the hardware is chosen: the Raspberry Pi's, or for ``[gate] hardware =
    "sim"`` the simulated world, handed in to whatever the command builds."""
    if cfg.gate.hardware == "sim":
        from kiosk.sim.hardware import SimHardware

        return SimHardware(clock, cfg.lanes)
    from kiosk.hardware import PiHardware

    return PiHardware()


def _build_kiosk(cfg: config_mod.Config):
    """The daemon on the hardware *cfg* names, on the system clock."""
    from kiosk.clock import SystemClock
    from kiosk.daemon import Kiosk

    clock = SystemClock()
    return Kiosk(cfg, _hardware(cfg, clock), clock=clock)


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


main.add_command(keys)
main.add_command(pass_group)
main.add_command(voice)


@main.command()
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help=CONFIG_HELP)
def run(config_path: str | None) -> None:
    """Run the kiosk daemon (until SIGTERM or Ctrl-C)."""
    from kiosk.service import configure_logging, serve_forever

    configure_logging(verbose=logging.getLogger().level == logging.DEBUG)
    cfg = _load_config(config_path)
    kiosk = _build_kiosk(cfg)
    serve_forever(kiosk, cfg.ui.host, cfg.ui.port)


@main.command()
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help=CONFIG_HELP)
@click.option("--port", type=click.IntRange(1, 65535), help="Port of the guard screen.")
@click.option("--host", help="Address to listen on (default 127.0.0.1).")
@click.option(
    "--committee/--no-committee",
    "with_committee",
    default=True,
    help="Run a committee server on loopback and upload to it (default on).",
)
def demo(config_path: str | None, port: int | None, host: str | None, with_committee) -> None:
    """Run the kiosk on simulated hardware with a demo compound."""
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
        kiosk = _build_kiosk(cfg)
        try:
            passes, folder = demo_kit.seed(
                kiosk,
                user=cfg.ui.demo_user,
                password=cfg.ui.demo_password,
                maintenance=(cfg.ui.demo_maintenance_user, cfg.ui.demo_maintenance_password),
                passes=getattr(committee, "passes", None),
            )
        except BaseException:
            kiosk.close()
            raise
        host = host or cfg.ui.host
        port = port or cfg.ui.port
        extras = {"kiosk.demo_passes": demo_kit.as_json(passes)}
        service = Service(kiosk, host, port, extras=extras)
        click.echo(f"Guard screen:  {service.server.url}")
        resident = ", ".join(f"{service.server.url}/resident/{lane}" for lane in cfg.lanes)
        click.echo(f"Resident screen: {resident}  (open beside the guard screen, on this machine)")
        click.echo(f"Voice:         {_demo_voice(kiosk)}")
        if cfg.ui.demo_user:
            click.echo(f"Demo login:    {cfg.ui.demo_user} / {cfg.ui.demo_password}")
        if cfg.ui.demo_maintenance_user:
            click.echo(
                f"Maintenance:   {cfg.ui.demo_maintenance_user} / "
                f"{cfg.ui.demo_maintenance_password}  (calibration, camera, relay, upload)"
            )
        click.echo(f"Demo passes:   {folder}  ({len(passes)} PNG files)")
        click.echo(f"Journal:       {cfg.data_dir / 'journal.db'}")
        if committee is not None:
            click.echo(f"Committee:     {committee.url}  ({committee.description})")
            if getattr(committee, "pages_url", None):
                user, password = committee.login
                click.echo(f"Committee screen: {committee.pages_url}/  (the residents' committee)")
                click.echo(f"Committee login:  {user} / {password}")
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


# -- thermometer calibration (the session: kiosk/calibrate.py) ----------------------------


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
    from kiosk import calibrate as session
    from kiosk.clock import SystemClock

    cfg = _load_config(config_path)
    lane = lane or next(iter(cfg.lanes))
    if lane not in cfg.lanes:
        raise click.BadParameter(
            f"no lane {lane!r}; lanes: {', '.join(cfg.lanes)}", param_hint="--lane"
        )
    if len(raws) != len(references):
        raise click.UsageError("give as many --raw as --reference values")
    pairs = [session.parse_point(p) for p in points] + list(zip(raws, references, strict=True))
    if len(pairs) > 2:
        raise click.UsageError("give one point (offset) or two points (two-point)")
    session.run(
        cfg,
        lane,
        pairs,
        by=by,
        samples=samples,
        yes=yes,
        sim_target_c=sim_target_c,
        hardware=lambda: _hardware(cfg, SystemClock()),
    )


# -- camera and scanning ---------------------------------------------------------------------


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="One JSON object per file.")
@click.option(
    "--backend", type=click.Choice(["zxing", "pyzbar"]), default="zxing", show_default=True
)
def scan(files: tuple[str, ...], as_json: bool, backend: str) -> None:
    """Decode the QR codes in image FILES; print per file the texts and the milliseconds.

    An image whose header declares more than 50 megapixels is refused without decoding it;
    every other file is still read. Exits 0 when every file was read, found codes or not; 1
    when a file could not be read.
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
    from kiosk.clock import SystemClock

    cfg = _load_config(config_path)
    clock = SystemClock()
    hardware = _hardware(cfg, clock)
    try:
        if sim_faults:
            if not hardware.simulated:
                raise ConfigError("--sim-fault: only with hardware = 'sim'")
            hardware.switch_faults(sim_faults)
    except BaseException:
        hardware.close()
        raise
    checks = st.run(cfg, hardware, clock=clock)
    click.echo(st.table(checks))
    if st.failed(checks):
        click.echo("kiosk: self-test FAILED", err=True)
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    main()
