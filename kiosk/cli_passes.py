"""``kiosk keys`` and ``kiosk pass``: the committee's and the gate's key pairs, and passes
issued (as tokens, cards and printable sheets) and checked from the shell. Part of the
``kiosk`` command (:mod:`kiosk.cli`)."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from kiosk.config import CONFIG_HELP, load_or_default


@click.group()
def keys() -> None:
    """Key pairs: the committee's (signs resident passes) and the gate's (temporary passes)."""


@keys.command("init")
@click.option("--dir", "directory", type=click.Path(file_okay=False), help="Key folder.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help=CONFIG_HELP)
def keys_init(directory: str | None, config_path: str | None) -> None:
    """Create the committee and gate key pairs (refuses to overwrite)."""
    from kiosk.keys import init_keys

    folder = Path(directory) if directory else load_or_default(config_path).keys_dir
    for path in init_keys(folder):
        click.echo(str(path))


@click.group("pass")
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
        cfg = load_or_default(config_path)
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
        from kiosk.cards import write_card

        write_card(token, claims, Path(out))
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


@pass_group.command("verify")
@click.argument("token")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help=CONFIG_HELP)
@click.option("--json", "as_json", is_flag=True)
def pass_verify(token: str, config_path: str | None, as_json: bool) -> None:
    """Check TOKEN (the text of a QR code) against this gate's keys and site."""
    from kiosk.keys import load_public_keys
    from kiosk.passes import describe, verify

    cfg = load_or_default(config_path)
    keyring = load_public_keys(cfg.keys_dir)
    check = verify(token, keyring, site=cfg.gate.site, now=datetime.now(UTC))
    info = describe(check)
    if as_json:
        click.echo(json.dumps(info, ensure_ascii=False))
    else:
        for key, value in info.items():
            click.echo(f"{key:>14}: {value}")
