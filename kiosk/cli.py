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
from kiosk.errors import ConfigError, KioskError, ScenarioError

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
        except (ConfigError, ScenarioError) as exc:
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
    from kiosk.service import serve_forever

    cfg = _load_config(config_path)
    kiosk = Kiosk(cfg)
    serve_forever(kiosk, cfg.ui.host, cfg.ui.port)


@main.command()
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help=CONFIG_HELP)
@click.option("--port", type=click.IntRange(1, 65535), help="Port of the guard screen.")
@click.option("--host", help="Address to listen on (default 127.0.0.1).")
def demo(config_path: str | None, port: int | None, host: str | None) -> None:
    """Run the kiosk on simulated hardware with a demo compound."""
    from kiosk.daemon import Kiosk
    from kiosk.service import serve_forever
    from kiosk.sim import demo as demo_kit

    cfg = _load_config(config_path, demo=True)
    if cfg.gate.hardware != "sim":
        raise ConfigError(f"{cfg.path}: [gate] hardware: the demo needs 'sim'")
    demo_kit.ensure_keys(cfg.keys_dir)
    kiosk = Kiosk(cfg)
    try:
        passes, folder = demo_kit.seed(kiosk, user=cfg.ui.demo_user, password=cfg.ui.demo_password)
    except BaseException:
        kiosk.close()
        raise
    host = host or cfg.ui.host
    port = port or cfg.ui.port
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    click.echo(f"Guard screen:  http://{shown}:{port}")
    if cfg.ui.demo_user:
        click.echo(f"Demo login:    {cfg.ui.demo_user} / {cfg.ui.demo_password}")
    click.echo(f"Demo passes:   {folder}  ({len(passes)} PNG files)")
    click.echo(f"Journal:       {cfg.data_dir / 'journal.db'}")
    click.echo("Stop with Ctrl-C.")
    serve_forever(kiosk, host, port, extras={"kiosk.demo_passes": demo_kit.as_json(passes)})


@main.command()
@click.argument("scenario", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per journal event.")
def simulate(scenario: str, as_json: bool) -> None:
    """Run SCENARIO headless on simulated hardware and print the journal."""
    from kiosk.sim.scenario import run_file

    logging.getLogger().setLevel(logging.WARNING)
    events = run_file(scenario)
    for event in events:
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
@click.option("--household", required=True, help="Household, e.g. 7-1201.")
@click.option("--pass-id", help="Pass id (default: derived from the household).")
@click.option("--days", type=click.FloatRange(min=0.01), default=90.0, show_default=True)
@click.option("--kind", type=click.Choice(["resident", "temporary"]), default="resident")
@click.option("--key", "key_path", type=click.Path(dir_okay=False), help="Private key file.")
@click.option("--site", help="Site id (default: from the configuration).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help=CONFIG_HELP)
@click.option("--out", type=click.Path(dir_okay=False), help="Write a PNG/SVG/PDF of the QR.")
def pass_issue(household, pass_id, days, kind, key_path, site, config_path, out) -> None:
    """Issue a pass and print its token."""
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
# (commands for the thermometer go here)


# -- camera and scanning ---------------------------------------------------------------------
# (commands for the camera go here)


# -- roster and rules ------------------------------------------------------------------------
# (commands for the roster go here)


# -- committee uplink ------------------------------------------------------------------------
# (commands for the uplink go here)


# -- service: self-test, export, install -----------------------------------------------------
# (commands for running unattended go here)


if __name__ == "__main__":  # pragma: no cover
    main()
