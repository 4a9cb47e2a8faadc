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


def _config_for(missing: str, config_path: str | None, instead: str):
    """The configuration that fills in the *missing* options: --config, else the system's
    file; when neither is there, a usage error naming what to give (the key, the site), not
    the absent system file."""
    from kiosk import config as config_mod

    if config_path is None and not config_mod.SYSTEM_CONFIG.exists():
        raise click.UsageError(f"no {missing}: give {instead}, or --config FILE")
    return load_or_default(config_path)


@pass_group.command("issue")
@click.option("--household", help="Household, e.g. 7-1201.")
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(dir_okay=False, exists=True),
    help="Issue one pass per row of this households CSV into the --out folder.",
)
@click.option("--pass-id", help="Pass id (default: from a building-room household, P0007120101).")
@click.option("--days", type=click.FloatRange(min=0.01), default=90.0, show_default=True)
@click.option("--kind", type=click.Choice(["resident", "temporary"]), default="resident")
@click.option(
    "--key",
    "key_path",
    type=click.Path(dir_okay=False),
    help="Private key file (default: committee.key, or gate.key, in the configuration's keys).",
)
@click.option("--site", help="Site id (default: from the configuration).")
@click.option(
    "--site-name", help="The compound's name printed on the card (default: the configuration's)."
)
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help=CONFIG_HELP)
@click.option("--out", type=click.Path(), help="Write a PNG/SVG/PDF card (with --csv: a folder).")
def pass_issue(
    household, csv_path, pass_id, days, kind, key_path, site, site_name, config_path, out
) -> None:
    """Issue a pass and print its token; with --csv, a batch of cards and a printable sheet."""
    if (household is None) == (csv_path is None):
        raise click.UsageError("give --household or --csv")
    if csv_path and (not out or kind != "resident" or pass_id):
        raise click.UsageError("--csv needs --out FOLDER, and no --pass-id or --kind temporary")
    from kiosk.cards import pass_id_for
    from kiosk.keys import issue_pass, load_private_key
    from kiosk.passes import PassKind, household_problem, qr_version

    if household is not None and household_problem(household):
        raise click.BadParameter(household_problem(household), param_hint="--household")
    key_name = "committee.key" if kind == "resident" else "gate.key"
    cfg = None
    if key_path is None or site is None or (out and site_name is None and config_path):
        needs = [("--key", f"--key keys/{key_name} (from kiosk keys init)")] * (key_path is None)
        needs += [("--site", "--site SITE")] * (site is None)
        cfg = _config_for(
            " or ".join(n for n, _ in needs) or "--site-name",
            config_path,
            " and ".join(i for _, i in needs) or "--site-name NAME",
        )
    if key_path is None:
        key_path = cfg.keys_dir / key_name
    site = site or cfg.gate.site
    if site_name is None:
        site_name = (cfg.gate.site_name or cfg.gate.site) if cfg is not None else site
    key = load_private_key(key_path)
    if key.readable_by_others:
        click.echo(f"warning: {key_path} is readable by others; chmod 600 it", err=True)
    if csv_path:
        _issue_batch(csv_path, out, key, site, days, site_name)
        return
    if pass_id is None:
        pass_id = pass_id_for(household, prefix="P" if kind == "resident" else "T")
        if pass_id is None:
            raise click.UsageError(
                f"--pass-id: household {household!r} is not building-room like 7-1201, so "
                "its pass id cannot be made from it: give one"
            )
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

        write_card(token, claims, Path(out), site_name=site_name)
        click.echo(f"wrote {out}", err=True)
    click.echo(token)
    click.echo(f"pass {claims.pass_id}, QR version {qr_version(token)}-M", err=True)


def _issue_batch(csv_path, out, key, site, days, site_name) -> None:
    from kiosk.cards import SHEET_NAME, issue_batch

    rows = issue_batch(
        csv_path,
        out,
        key.key,
        key.kid,
        site,
        days,
        datetime.now(UTC).astimezone(),
        site_name=site_name,
    )
    good = [row for row in rows if row.ok]
    for row in rows:
        if not row.ok:
            click.echo(f"skipped: {row.error}", err=True)
    click.echo(f"{len(good)} cards in {out}, sheet {Path(out) / SHEET_NAME}")
    if len(good) != len(rows):
        sys.exit(1)


@pass_group.command("verify")
@click.argument("token")
@click.option(
    "--keys",
    "keys_dir",
    type=click.Path(file_okay=False),
    help="Key folder (as kiosk keys init made it; default: the configuration's).",
)
@click.option("--site", help="Site id (default: from the configuration).")
@click.option(
    "--direction",
    type=click.Choice(["in", "out"]),
    default="in",
    show_default=True,
    help="The lane's direction (home observation stops a household going out).",
)
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help=CONFIG_HELP)
@click.option("--json", "as_json", is_flag=True)
def pass_verify(token, keys_dir, site, direction, config_path, as_json) -> None:
    """Check TOKEN (the text of a QR code) against the keys, the site and, when this gate has
    one, its roster (revoked, suspended, unknown passes, home observation). Exits 1 when the
    gate would refuse it."""
    from kiosk import policy
    from kiosk.keys import load_public_keys
    from kiosk.passes import describe, verify
    from kiosk.reasons import message

    cfg = None
    if keys_dir is None or site is None or config_path is not None:
        cfg = _config_for("--keys or --site", config_path, "--keys DIR and --site SITE")
    keyring = load_public_keys(Path(keys_dir) if keys_dir else cfg.keys_dir)
    site = site or cfg.gate.site
    now = datetime.now(UTC).astimezone()
    roster, keyring = _gate_roster(cfg, keyring)
    check = verify(token, keyring, site=site, now=now)
    decision = policy.screen_pass(check, roster, now=now, direction=direction)
    info = describe(check)
    zh, en = message(decision.reason, direction)
    info.update(
        reason=str(decision.reason),
        granted=decision.granted,
        message_zh=zh,
        message_en=en,
        pass_check=str(check.reason),
        roster=roster.version,
    )
    if decision.detail and not info["detail"]:
        info["detail"] = decision.detail
    if as_json:
        click.echo(json.dumps(info, ensure_ascii=False))
    else:
        for key, value in info.items():
            if key == "roster" and value is None:
                value = "none: only the signature, the site and the dates were checked"
            click.echo(f"{key:>14}: {value}")
    if not decision.granted:
        sys.exit(1)


def _gate_roster(cfg, keyring):
    """The roster this gate decides by (its journal's, with home observation flagged at the
    gate) and the keyring with the roster's keys; an empty roster without a journal."""
    from kiosk.roster import Roster

    if cfg is None or not (cfg.data_dir / "journal.db").exists():
        return Roster(), keyring
    from kiosk.clock import SystemClock
    from kiosk.journal import Journal
    from kiosk.registrations import RegistrationStore
    from kiosk.roster_holder import RosterHolder

    journal = Journal(cfg.data_dir / "journal.db", SystemClock())
    try:
        holder = RosterHolder(journal, RegistrationStore(journal), keyring, site=cfg.gate.site)
        return holder.current(), holder.keyring
    finally:
        journal.close()
