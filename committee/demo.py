"""The committee server of ``kiosk demo``: one compound, one gate, on SQLite, on loopback.

:func:`start_for_gate` opens (or creates) the demo's committee database, seeds it once from
the demo compound's register (households, passes with their statuses, the household under
home observation), records the committee key the demo signs its passes with, gives the
gate a fresh token (returned for the gate's 0600 token file), and serves the gate API on a
free loopback port in a
background thread. The gate then gets its roster and keys from this server and uploads to it
like a real gate.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from committee import keys, sites
from committee.app import Server
from committee.config import from_dict
from committee.db import open_database
from committee.models import HomeObservation, Household, Pass, Site
from committee.serve import Background


def _seed(
    session, site_code: str, name: str, register: dict[str, Any], kid: int, now: datetime
) -> None:
    """Households, passes and home observation of *register* (the roster shape)."""
    site = sites.add_site(session, site_code, name, now)
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
    for item in register["passes"]:
        session.add(
            Pass(
                site_id=site.id,
                code=item["id"],
                household_id=rows[item["household"]].id,
                kind="resident",
                status=item["status"],
                kid=kid,
                valid_from=now,
                valid_until=now + timedelta(days=365),
                issued_at=now,
                changed_at=now,
            )
        )
    for item in register["home_observation"]:
        until = date.fromisoformat(item["until"])
        session.add(
            HomeObservation(
                household=rows[item["household"]],
                start=until - timedelta(days=13),
                until=until,
                source="hand",
                created_at=now,
            )
        )
    sites.touch_roster(session, site.id, now)


def start_for_gate(
    folder: Path,
    *,
    site: str,
    gate_id: str,
    keys_dir: Path,
    register: dict[str, Any],
    site_name: str = "演示小区",
) -> tuple[Background, str]:
    """Start the demo's committee server for one gate; returns it running (``.url``,
    ``.stop()``, ``.description``) and the gate's new token."""
    config = from_dict(
        {
            "storage": {"data_dir": str(folder), "keys_dir": str(keys_dir)},
            "gates": {"sweep_s": 30.0},
        }
    )
    db = open_database(config.database_url)
    now = datetime.now(UTC)
    with db.transaction() as session:
        key, _ = keys.init(session, config.keys_dir, now)
        if session.scalar(select(Site).where(Site.code == site)) is None:
            _seed(session, site, site_name, register, key.kid, now)
        try:
            token = sites.replace_token(session, gate_id, now)
        except LookupError:
            token = sites.add_gate(session, gate_id, site, now)[1]
    server = Background(Server(config, db))
    server.description = (
        f"committee server, SQLite {config.database_url.removeprefix('sqlite:///')}"
    )
    return server.start(), token
