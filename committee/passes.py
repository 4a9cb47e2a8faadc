"""Passes the committee issues: signed in the gate's token format, printed with the gate's
card layout (:mod:`kiosk.keys`, :mod:`kiosk.cards`), suspended, resumed and revoked.

Pass ids follow the gate's convention: household ``7-1201`` gets ``P0007120101``, then
``P0007120102``; a household that is not building-room gets ``H`` and its number. Each change
gives the site's roster a new version; the token itself is printed, never stored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from committee import audit
from committee.errors import NotFound, Refused
from committee.households import present
from committee.models import Household, Pass, Site
from committee.sites import get_site, touch_roster
from kiosk.errors import PassError
from kiosk.keys import LoadedKey, issue_pass
from kiosk.passes import PassClaims, PassKind

_BUILDING_ROOM = re.compile(r"(\d{1,4})-(\d{1,4})")
#: Name of the printable sheet ``committee pass issue`` writes (A4, four cards a page).
SHEET = "passes.pdf"

#: What each command does to a status: (allowed from, becomes).
CHANGES = {
    "suspend": (("active",), "suspended"),
    "resume": (("suspended",), "active"),
    "revoke": (("active", "suspended"), "revoked"),
}


@dataclass(frozen=True)
class Issued:
    pass_id: str
    household: str
    token: str
    claims: PassClaims


def _next_code(session: Session, site: Site, household: Household) -> str:
    taken = set(
        session.scalars(
            select(Pass.code).where(Pass.site_id == site.id, Pass.household_id == household.id)
        )
    )
    match = _BUILDING_ROOM.fullmatch(household.code)
    for number in range(1, 100):
        if match:
            building, room = (int(group) for group in match.groups())
            code = f"P{building:04d}{room:04d}{number:02d}"
        else:
            code = f"H{household.id:08d}{number:02d}"
        if code not in taken:
            return code
    raise Refused(f"household {household.code} already has 99 passes")


def issue(
    session: Session,
    key: LoadedKey,
    site_code: str,
    now: datetime,
    *,
    household: str | None = None,
    days: float = 365,
    actor: str = "cli",
) -> list[Issued]:
    """Issue one new resident pass for *household*, or for every household of the site
    (*actor* is who did it, for the audit list)."""
    site = get_site(session, site_code)
    stmt = present(site.id)
    if household is not None:
        stmt = stmt.where(Household.code == household)
    households = list(session.scalars(stmt))
    if household is not None and not households:
        raise NotFound(f"no household {household!r} at site {site.code}")
    if not households:
        raise Refused(f"site {site.code} has no households yet (committee households import)")
    issued = []
    for row in households:
        code = _next_code(session, site, row)
        try:
            token, claims = issue_pass(
                key,
                kind=PassKind.RESIDENT,
                pass_id=code,
                household=row.code,
                site=site.code,
                now=now,
                days=days,
            )
        except PassError as exc:
            raise Refused(f"household {row.code}: {exc}") from None
        session.add(
            Pass(
                site_id=site.id,
                code=code,
                household_id=row.id,
                kind="resident",
                status="active",
                kid=key.kid,
                valid_from=claims.valid_from,
                valid_until=claims.valid_until,
                issued_at=now,
                changed_at=now,
            )
        )
        session.flush()
        issued.append(Issued(code, row.code, token, claims))
        audit.record(
            session,
            actor,
            "pass.issue",
            now,
            site_id=site.id,
            target=code,
            detail={"household": row.code, "until": claims.valid_until.isoformat()},
        )
    touch_roster(session, site.id, now)
    return issued


def print_sheet(issued: list[Issued], out_dir: Path, tz=None) -> Path:
    """Write the cards of *issued* to one A4 PDF in *out_dir* (the gate's card layout)."""
    from kiosk.cards import write_sheet  # drawing loads OpenCV: only when printing

    out_dir.mkdir(parents=True, exist_ok=True)
    return write_sheet([(p.token, p.claims) for p in issued], out_dir / SHEET, tz=tz)


def change(
    session: Session,
    pass_id: str,
    action: str,
    now: datetime,
    site_code: str | None = None,
    *,
    actor: str = "cli",
    site_ids=None,
) -> Pass:
    """Suspend, resume or revoke a pass (``action`` is a key of :data:`CHANGES`); with
    *site_ids*, only a pass of those sites."""
    allowed, becomes = CHANGES[action]
    stmt = select(Pass).where(Pass.code == pass_id)
    if site_code is not None:
        stmt = stmt.where(Pass.site_id == get_site(session, site_code).id)
    if site_ids is not None:
        stmt = stmt.where(Pass.site_id.in_(sorted(site_ids)))
    found = list(session.scalars(stmt))
    if not found:
        raise NotFound(f"no pass {pass_id!r}")
    if len(found) > 1:
        raise Refused(f"pass {pass_id} exists at several sites; say which with --site")
    row = found[0]
    if row.status not in allowed:
        raise Refused(f"pass {pass_id} is {row.status}; cannot {action} it")
    before = row.status
    row.status, row.changed_at = becomes, now
    touch_roster(session, row.site_id, now)
    audit.record(
        session,
        actor,
        f"pass.{action}",
        now,
        site_id=row.site_id,
        target=pass_id,
        detail={"household": row.household.code, "from": before, "to": becomes},
    )
    return row


def list_passes(session: Session, site_code: str) -> list[Pass]:
    site = get_site(session, site_code)
    return list(session.scalars(select(Pass).where(Pass.site_id == site.id).order_by(Pass.code)))
