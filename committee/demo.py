"""The committee server of ``kiosk demo``: the demo compound, its gate, on SQLite, on
loopback, with the committee's pages and a demo login.

:func:`start_for_gate` opens (or creates) the demo's committee database and seeds it once:
the demo compound's households and the household under home observation, a second compound
(whose pass the demo gate must refuse), the committee key, and the demo's passes, issued by
the committee's own pass issuing (:func:`committee.passes.issue`, what ``committee pass
issue`` runs) and then revoked or suspended as each case needs. The passes' tokens are kept
in ``demo-passes.json`` (0600) beside the database, since the committee never stores a
token and the demo prints the same cards at every start. It records an account for the
pages (``DEMO_USER``), gives the gate a fresh token (for the gate's 0600 token file), and
serves the gate API and the pages on a free loopback port in a background thread.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from committee import accounts, keys, passes, sites
from committee.app import Server
from committee.config import from_dict
from committee.db import open_database
from committee.models import HomeObservation, Household, Site
from committee.serve import Background

#: The demo's account for the committee's pages, and its password.
DEMO_USER, DEMO_PASSWORD = "committee", "demo-committee-2020"
TOKENS_FILE = "demo-passes.json"


@dataclass(frozen=True)
class PassCase:
    """One demo pass: issued for *household* at *site* (None: the demo compound), valid
    from *start_days* (relative to now) for *days*, then given *status*."""

    household: str
    site: str | None = None
    start_days: float = 0.0
    days: float = 365.0
    status: str = "active"


def _households(session, site: Site, register: dict[str, Any], now: datetime) -> dict:
    rows = {}
    for item in register["households"]:
        rows[item["id"]] = Household(
            site_id=site.id,
            code=item["id"],
            members=item["members"],
            exit_quota_per_day=item["exit_quota_per_day"],
            created_at=now,
        )
        session.add(rows[item["id"]])
    session.flush()
    return rows


def _seed(
    session,
    key,
    site_code: str,
    name: str,
    register: dict[str, Any],
    cases: list[PassCase],
    other: dict[str, Any],
    now: datetime,
) -> list[str]:
    """The demo's compounds, households, home observation and passes; returns the tokens of
    *cases*, in their order."""
    site = sites.add_site(session, site_code, name, now)
    rows = _households(session, site, register, now)
    other_site = sites.add_site(session, other["site"], other["name"], now)
    _households(session, other_site, {"households": other["households"]}, now)
    for item in register["home_observation"]:
        until = date.fromisoformat(item["until"])
        session.add(
            HomeObservation(
                household=rows[item["household"]],
                start=min(now.date(), until - timedelta(days=13)),
                until=until,
                source="hand",
                created_at=now,
            )
        )
    tokens = []
    for case in cases:
        issued = passes.issue(
            session,
            key,
            case.site or site_code,
            now + timedelta(days=case.start_days),
            household=case.household,
            days=case.days,
            actor="demo",
        )[0]
        if case.status == "revoked":
            passes.change(session, issued.pass_id, "revoke", now, case.site or site_code)
        elif case.status == "suspended":
            passes.change(session, issued.pass_id, "suspend", now, case.site or site_code)
        tokens.append(issued.token)
    accounts.add(session, DEMO_USER, "committee", DEMO_PASSWORD, [site_code, other["site"]], now)
    sites.touch_roster(session, site.id, now)
    return tokens


def _write_tokens(path: Path, tokens: list[str]) -> None:
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(tokens, handle)


def _read_tokens(path: Path, count: int) -> list[str] | None:
    try:
        tokens = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(tokens, list) or len(tokens) != count:
        return None
    return [str(t) for t in tokens]


def start_for_gate(
    folder: Path,
    *,
    site: str,
    gate_id: str,
    keys_dir: Path,
    register: dict[str, Any],
    cases: list[PassCase],
    other: dict[str, Any],
    site_name: str = "演示小区",
) -> tuple[Background, str, list[str]]:
    """Start the demo's committee server for one gate; returns it running (``.url``,
    ``.pages_url``, ``.stop()``, ``.description``), the gate's new token, and the tokens of
    the demo passes *cases* (issued by the committee at the first start).

    *other* is the second compound: ``site``, ``name`` and its ``households``.
    """
    config = from_dict(
        {
            "storage": {"data_dir": str(folder), "keys_dir": str(keys_dir)},
            "gates": {"sweep_s": 30.0},
        }
    )
    tokens_file = config.data_dir / TOKENS_FILE
    db_file = config.data_dir / "committee.db"
    if db_file.exists() and _read_tokens(tokens_file, len(cases)) is None:
        # a demo database from before its passes were issued here: start it afresh
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db_file}{suffix}").unlink(missing_ok=True)
    db = open_database(config.database_url)
    now = datetime.now(UTC)
    with db.transaction() as session:
        key, _ = keys.init(session, config.keys_dir, now)
        if session.scalar(select(Site).where(Site.code == site)) is None:
            tokens = _seed(session, key, site, site_name, register, cases, other, now)
            _write_tokens(tokens_file, tokens)
        else:
            tokens = _read_tokens(tokens_file, len(cases)) or []
        try:
            token = sites.replace_token(session, gate_id, now)
        except LookupError:
            token = sites.add_gate(session, gate_id, site, now)[1]
    server = Background(Server(config, db))
    server.description = (
        f"committee server, SQLite {config.database_url.removeprefix('sqlite:///')}"
    )
    return server.start(), token, tokens
