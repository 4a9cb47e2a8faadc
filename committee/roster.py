"""The roster each gate pulls: its own compound's keys, households, passes, revocations and
home observation, with the version that changes on every change."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from committee import observation
from committee.households import present
from committee.models import Household, Pass, SigningKey, Site
from committee.sites import roster_version
from kiosk import contract


def build(session: Session, site: Site, today: date, now: datetime) -> contract.RosterBody:
    """The roster of *site*, built (and so checked) by the contract's roster builder.

    Observations whose last day is before *today* are ended first (a new version), so the
    roster never lists an observation that is over even if the sweep has not run yet.
    """
    observation.end_expired(session, today, now, site.id)
    session.refresh(site)
    keys = session.scalars(select(SigningKey).order_by(SigningKey.kid))
    households = session.scalars(present(site.id))
    passes = session.execute(
        select(Pass.code, Household.code, Pass.status)
        .join(Household, Pass.household_id == Household.id)
        .where(Pass.site_id == site.id)
        .order_by(Pass.code)
    ).all()
    until: dict[str, date] = {}
    for row in observation.current(session, site.id):
        code = row.household.code
        until[code] = max(until.get(code, row.until), row.until)
    return contract.roster(
        version=roster_version(site),
        site=site.code,
        keys=[{"kid": k.kid, "ed25519_public": k.ed25519_public, "use": k.use} for k in keys],
        households=[
            {"id": h.code, "members": h.members, "exit_quota_per_day": h.exit_quota_per_day}
            for h in households
        ],
        passes=[{"id": p, "household": h, "status": s} for p, h, s in passes],
        revoked=[p for p, _, s in passes if s == "revoked"],
        home_observation=[{"household": h, "until": d.isoformat()} for h, d in until.items()],
    )
