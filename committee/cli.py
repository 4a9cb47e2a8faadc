"""The ``committee`` command: thin, it parses, calls and prints.

Every command takes ``--config F``; without it the embedded default applies (a SQLite file
under ``var/committee/`` of the current folder, created on first use). Exit codes: 0 ok,
1 failure, 2 usage or configuration error.
"""

from __future__ import annotations

import functools
import json
import logging
import sys
from datetime import date, timedelta
from pathlib import Path

import click

from committee import accounts, heartbeats, households, keys, observation, passes, sites
from committee import config as config_mod
from committee.app import Server
from committee.errors import CommitteeError, ConfigError, ImportRefused
from committee.export import export_events
from committee.models import ROLES

CONFIG_HELP = "Configuration file (default: the embedded SQLite under var/committee/)."


def _server(config_path: str | None) -> Server:
    from committee.db import open_database

    cfg = config_mod.load(config_path)
    db = open_database(cfg.database_url, pool_size=cfg.database.pool_size)
    return Server(cfg, db)


def command(group: click.Group, name: str | None = None, **kwargs):
    """A subcommand of *group* with ``--config`` that turns committee errors into messages."""

    def wrap(func):
        @group.command(name, **kwargs)
        @click.option("--config", "config_path", type=click.Path(dir_okay=False), help=CONFIG_HELP)
        @functools.wraps(func)
        def run(config_path, **params):
            try:
                server = _server(config_path)
            except ConfigError as exc:
                raise click.UsageError(str(exc)) from None
            except CommitteeError as exc:
                raise click.ClickException(str(exc)) from None
            try:
                return func(server, **params)
            except ImportRefused as exc:
                for problem in exc.problems:
                    click.echo(problem, err=True)
                raise click.ClickException(str(exc)) from None
            except CommitteeError as exc:
                raise click.ClickException(str(exc)) from None
            finally:
                server.db.dispose()

        return run

    return wrap


@click.group()
def main() -> None:
    """The residents' committee server: every gate's records, the register, passes."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


# -- serve ------------------------------------------------------------------------------------


@command(main)
@click.option("--host", help="Address to listen on (default: [server] host, 127.0.0.1).")
@click.option("--port", type=int, help="Port (default: [server] port, 8300).")
def serve(server: Server, host: str | None, port: int | None) -> None:
    """Serve the gate API (and the committee's pages) on waitress."""
    from committee.serve import serve as run

    settings = server.config.server
    logging.getLogger("committee").setLevel(logging.INFO)
    click.echo(f"Database:  {server.db.engine.url.render_as_string(hide_password=True)}")
    run(
        server,
        host or settings.host,
        port or settings.port,
        ready=lambda url: click.echo(f"Committee: {url}/api/v1\nPages:     {url}/"),
    )


# -- sites and gates --------------------------------------------------------------------------


@main.group()
def site() -> None:
    """Sites (compounds)."""


@command(site, "add")
@click.argument("code")
@click.option("--name", required=True, help="Display name, in Chinese (e.g. 金外滩花园).")
def site_add(server: Server, code: str, name: str) -> None:
    """Add a site; CODE is the site id the gates and passes carry."""
    with server.db.transaction() as session:
        sites.add_site(session, code, name, server.now())
    click.echo(f"site {code} added: {name}")


@command(site, "list")
def site_list(server: Server) -> None:
    """List the sites."""
    with server.db.transaction() as session:
        for row in sites.list_sites(session):
            click.echo(f"{row.code}\t{row.name}\troster {sites.roster_version(row)}")


@main.group()
def gate() -> None:
    """Gates and their tokens."""


def _print_token(gate_code: str, token: str) -> None:
    click.echo(f"token for {gate_code} (shown once; put it in the gate's token file, mode 0600):")
    click.echo(token)


@command(gate, "add")
@click.argument("code")
@click.option("--site", "site_code", required=True, help="The site the gate belongs to.")
def gate_add(server: Server, code: str, site_code: str) -> None:
    """Add gate CODE (its gate_id) at a site and print its new token once."""
    with server.db.transaction() as session:
        _, token = sites.add_gate(session, code, site_code, server.now())
    _print_token(code, token)


@command(gate, "token")
@click.argument("code")
def gate_token(server: Server, code: str) -> None:
    """Replace the token of gate CODE (the old one stops working) and print it once."""
    with server.db.transaction() as session:
        token = sites.replace_token(session, code, server.now())
    _print_token(code, token)


@command(gate, "list")
def gate_list(server: Server) -> None:
    """List the gates with their cursor, last heartbeat and open alerts."""
    from committee.models import Heartbeat

    with server.db.transaction() as session:
        alerts = {}
        for alert in heartbeats.open_alerts(session):
            alerts.setdefault(alert.gate_id, []).append(alert.kind)
        for row in sites.list_gates(session):
            beat = session.get(Heartbeat, row.id)
            seen = beat.received_at.isoformat(timespec="seconds") if beat else "never"
            unsent = f" unsent {beat.unsent}" if beat else ""
            flags = " ".join(alerts.get(row.id, []))
            click.echo(
                f"{row.code}\t{row.site.code}\tacked {row.acked_seq}\t"
                f"heartbeat {seen}{unsent}\t{flags}".rstrip()
            )


# -- households -------------------------------------------------------------------------------


@main.group(name="households")
def households_group() -> None:
    """The household register (居民名册)."""


@command(households_group, "import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--site", "site_code", required=True)
@click.option("--dry-run", is_flag=True, help="Show the preview only; change nothing.")
@click.option("--yes", is_flag=True, help="Apply without asking.")
@click.option(
    "--remove-missing",
    is_flag=True,
    help="Remove households not in the file (their passes are revoked).",
)
def households_import(
    server: Server, file: str, site_code: str, dry_run: bool, yes: bool, remove_missing: bool
) -> None:
    """Import the register of a site from FILE (.csv or .xlsx): preview, then apply."""
    register = households.read_register(file)
    with server.db.transaction() as session:
        target = sites.get_site(session, site_code)
        change = households.plan(session, target, register)
        _preview(change, remove_missing)
        if not change.changes and not (remove_missing and change.missing):
            click.echo("nothing to change")
            return
        if dry_run:
            click.echo("dry run: nothing changed")
            return
        if not yes and not click.confirm("apply these changes?", default=False):
            click.echo("nothing changed")
            return
        households.apply(session, target, change, server.now(), remove_missing=remove_missing)
    click.echo("imported; the gates get it at their next roster pull")


def _preview(change: households.Plan, remove_missing: bool) -> None:
    for row in change.added:
        quota = "" if row.exit_quota_per_day is None else f", quota {row.exit_quota_per_day}/day"
        click.echo(f"  + {row.household}: {row.members} members{quota}  (line {row.line})")
    for stored, row in change.changed:
        before = f"{stored.members} members, quota {stored.exit_quota_per_day}"
        after = f"{row.members} members, quota {row.exit_quota_per_day}"
        back = " (back in the register)" if stored.removed_at else ""
        click.echo(f"  ~ {row.household}: {before} -> {after}{back}  (line {row.line})")
    for stored in change.missing:
        what = "removed, passes revoked" if remove_missing else "kept (--remove-missing removes)"
        click.echo(f"  - {stored.code}: not in the file; {what}")
    click.echo(
        f"{len(change.added)} new, {len(change.changed)} changed, {change.unchanged} "
        f"unchanged, {len(change.missing)} not in the file"
    )
    if change.ignored_columns:
        click.echo(f"columns not imported: {', '.join(change.ignored_columns)}")


@command(households_group, "list")
@click.option("--site", "site_code", required=True)
def households_list(server: Server, site_code: str) -> None:
    """List the households of a site."""
    with server.db.transaction() as session:
        target = sites.get_site(session, site_code)
        for row in session.scalars(households.present(target.id)):
            quota = "-" if row.exit_quota_per_day is None else row.exit_quota_per_day
            click.echo(f"{row.code}\t{row.members}\t{quota}")


# -- keys and passes --------------------------------------------------------------------------


@main.group(name="keys")
def keys_group() -> None:
    """The committee's signing key."""


@command(keys_group, "init")
def keys_init(server: Server) -> None:
    """Make the committee's signing key (0600; refuses to replace one)."""
    with server.db.transaction() as session:
        key, created = keys.init(session, server.config.keys_dir, server.now())
    what = "created" if created else "already there; recorded"
    click.echo(f"committee key {key.kid} {what}: {key.path}")


@main.group(name="pass")
def pass_group() -> None:
    """Passes (出入证): issue and print, suspend, resume, revoke."""


@command(pass_group, "issue")
@click.option("--site", "site_code", required=True)
@click.option("--household", help="Only this household (default: every household).")
@click.option(
    "--days",
    type=click.FloatRange(min=0, min_open=True),
    help="Days of validity (default: [sites] pass_days).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default="passes",
    show_default=True,
    help="Folder for the printable sheet (PDF).",
)
def pass_issue(
    server: Server, site_code: str, household: str | None, days: float | None, out_dir: str
) -> None:
    """Issue new passes signed with the committee's key and print their cards."""
    key = keys.load(server.config.keys_dir)
    with server.db.transaction() as session:
        issued = passes.issue(
            session,
            key,
            site_code,
            server.now(),
            household=household,
            days=days or server.config.sites.pass_days,
        )
    sheet = passes.print_sheet(issued, Path(out_dir), tz=server.config.tz)
    for row in issued:
        click.echo(f"{row.pass_id}\t{row.household}\tuntil {row.claims.valid_until.date()}")
    click.echo(f"{len(issued)} passes; cards to print: {sheet}")


def _change_command(action: str, words: str) -> None:
    @command(pass_group, action, help=f"{words} pass PASS_ID.")
    @click.argument("pass_id")
    @click.option("--site", "site_code", help="The site, when the pass id is not unique.")
    def change(server: Server, pass_id: str, site_code: str | None) -> None:
        with server.db.transaction() as session:
            row = passes.change(session, pass_id, action, server.now(), site_code)
        click.echo(f"pass {pass_id} is now {row.status}")


_change_command("revoke", "Revoke (for good)")
_change_command("suspend", "Suspend")
_change_command("resume", "Resume a suspended")


@command(pass_group, "list")
@click.option("--site", "site_code", required=True)
def pass_list(server: Server, site_code: str) -> None:
    """List the passes of a site."""
    with server.db.transaction() as session:
        for row in passes.list_passes(session, site_code):
            click.echo(
                f"{row.code}\t{row.household.code}\t{row.status}\tuntil {row.valid_until.date()}"
            )


# -- home observation -------------------------------------------------------------------------


@main.group(name="observation")
def observation_group() -> None:
    """Home observation (居家观察)."""


def _date(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)", param_hint=name) from None


@command(observation_group, "set")
@click.argument("household")
@click.option("--site", "site_code", required=True)
@click.option("--until", help="Last day (YYYY-MM-DD; default: 14 days from the first).")
@click.option("--start", help="First day (YYYY-MM-DD; default: today).")
def observation_set(
    server: Server, household: str, site_code: str, until: str | None, start: str | None
) -> None:
    """Put HOUSEHOLD under home observation by hand."""
    first = _date(start, "--start") or server.today()
    last = _date(until, "--until") or first + timedelta(days=13)
    with server.db.transaction() as session:
        observation.set_by_hand(session, site_code, household, last, first, server.now())
    click.echo(f"{household}: home observation {first} to {last}")


@command(observation_group, "clear")
@click.argument("household")
@click.option("--site", "site_code", required=True)
def observation_clear(server: Server, household: str, site_code: str) -> None:
    """End the home observation of HOUSEHOLD by hand."""
    with server.db.transaction() as session:
        observation.clear_by_hand(session, site_code, household, server.now())
    click.echo(f"{household}: home observation ended")


@command(observation_group, "list")
@click.option("--site", "site_code", required=True)
def observation_list(server: Server, site_code: str) -> None:
    """List the households under home observation, with where each came from."""
    with server.db.transaction() as session:
        target = sites.get_site(session, site_code)
        observation.end_expired(session, server.today(), server.now(), target.id)
        for row in observation.current(session, target.id):
            click.echo(f"{row.household.code}\t{row.start} to {row.until}\t{row.source}")


# -- events -----------------------------------------------------------------------------------


@main.group()
def events() -> None:
    """The stored events."""


@command(events, "export")
@click.option("--gate", "gate_code", required=True)
@click.option(
    "--since-seq", type=click.IntRange(min=0), default=0, help="Only events with a seq above this."
)
def events_export(server: Server, gate_code: str, since_seq: int) -> None:
    """Print a gate's stored events as JSON lines in the contract's event shape."""
    out = sys.stdout
    for event in export_events(server.db, gate_code, since_seq):
        out.write(json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n")


# -- accounts of the pages --------------------------------------------------------------------


@main.group()
def user() -> None:
    """Accounts of the committee's pages (roles committee, street, admin)."""


PASSWORD_HELP = "The password (at least 8 characters); asked for when left out."


@command(user, "add")
@click.argument("name")
@click.option(
    "--role",
    type=click.Choice(ROLES),
    required=True,
    help="committee: its sites; street: every site, read only; admin: everything.",
)
@click.option(
    "--site",
    "site_codes",
    multiple=True,
    help="A site of a committee account (repeat for several).",
)
@click.option(
    "--password", prompt=True, hide_input=True, confirmation_prompt=True, help=PASSWORD_HELP
)
def user_add(server: Server, name: str, role: str, site_codes, password: str) -> None:
    """Add an account NAME for the committee's pages."""
    with server.db.transaction() as session:
        accounts.add(session, name, role, password, list(site_codes), server.now())
    where = f" at {', '.join(site_codes)}" if site_codes else ""
    click.echo(f"user {name} added: {role}{where}")


@command(user, "passwd")
@click.argument("name")
@click.option(
    "--password", prompt=True, hide_input=True, confirmation_prompt=True, help=PASSWORD_HELP
)
def user_passwd(server: Server, name: str, password: str) -> None:
    """Give account NAME a new password (its sessions end)."""
    with server.db.transaction() as session:
        accounts.passwd(session, name, password, server.now())
    click.echo(f"password of {name} changed; its sessions ended")


@command(user, "remove")
@click.argument("name")
def user_remove(server: Server, name: str) -> None:
    """Remove account NAME (its sessions end; the audit list keeps its name)."""
    with server.db.transaction() as session:
        accounts.remove(session, name, server.now())
    click.echo(f"user {name} removed")


@command(user, "list")
def user_list(server: Server) -> None:
    """List the accounts with their roles and sites."""
    with server.db.transaction() as session:
        for row in accounts.list_accounts(session):
            where = ",".join(s.code for s in row.sites) if row.role == "committee" else "*"
            click.echo(f"{row.name}\t{row.role}\t{where}")


if __name__ == "__main__":
    main()
