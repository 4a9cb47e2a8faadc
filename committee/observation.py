"""Home observation (居家观察): set from a gate's registration or by hand, ended after its
last day or by hand. Every start and end gives the site's roster a new version."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from committee import audit
from committee.errors import NotFound, Refused
from committee.models import Gate, HomeObservation, Household, Site
from committee.sites import get_site, touch_roster

#: The registration outcome that puts a household under home observation.
OUTCOME = "observation"


def _household(session: Session, site: Site, code: str) -> Household:
    household = session.scalar(
        select(Household).where(
            Household.site_id == site.id, Household.code == code, Household.removed_at.is_(None)
        )
    )
    if household is None:
        raise NotFound(f"no household {code!r} at site {site.code}")
    return household


def set_by_hand(
    session: Session,
    site_code: str,
    household_code: str,
    until: date,
    start: date,
    now: datetime,
    *,
    actor: str = "cli",
    note: str = "",
) -> HomeObservation:
    if until < start:
        raise Refused(f"the last day {until} is before the first day {start}")
    site = get_site(session, site_code)
    household = _household(session, site, household_code)
    row = HomeObservation(
        household=household, start=start, until=until, source="hand", created_at=now
    )
    session.add(row)
    touch_roster(session, site.id, now)
    session.flush()
    audit.record(
        session,
        actor,
        "observation.set",
        now,
        site_id=site.id,
        target=household_code,
        detail={"start": start.isoformat(), "until": until.isoformat(), "note": note},
    )
    return row


def clear_by_hand(
    session: Session, site_code: str, household_code: str, now: datetime, *, actor: str = "cli"
) -> int:
    """End every open observation of the household; returns how many were open."""
    site = get_site(session, site_code)
    household = _household(session, site, household_code)
    rows = _open(session, site.id).where(HomeObservation.household_id == household.id)
    ended = 0
    for row in session.scalars(rows):
        row.ended_at, row.ended_by = now, "hand"
        ended += 1
    if not ended:
        raise Refused(f"household {household_code} is not under home observation")
    touch_roster(session, site.id, now)
    audit.record(session, actor, "observation.clear", now, site_id=site.id, target=household_code)
    return ended


def from_registration(
    session: Session, gate: Gate, event_id: str, data: dict[str, Any], now: datetime
) -> HomeObservation | None:
    """The observation a ``registration.created`` event asks for, or None.

    Taken when ``data.outcome`` is ``"observation"`` with a known ``household`` of the gate's
    site and an ``observation_until`` date; anything else is stored as an event only.
    """
    if data.get("outcome") != OUTCOME:
        return None
    code, until = data.get("household"), data.get("observation_until")
    if not isinstance(code, str) or not isinstance(until, str):
        return None
    try:
        last_day = date.fromisoformat(until)
    except ValueError:
        return None
    household = session.scalar(
        select(Household).where(Household.site_id == gate.site_id, Household.code == code)
    )
    if household is None:
        return None
    start = data.get("arrival_date")
    try:
        first_day = date.fromisoformat(start) if isinstance(start, str) else now.date()
    except ValueError:
        first_day = now.date()
    row = HomeObservation(
        household=household,
        start=min(first_day, last_day),
        until=last_day,
        source="gate",
        source_ref=event_id,
        created_at=now,
    )
    session.add(row)
    touch_roster(session, gate.site_id, now)
    audit.record(
        session,
        f"gate:{gate.code}",
        "observation.set",
        now,
        site_id=gate.site_id,
        target=code,
        detail={"start": row.start.isoformat(), "until": last_day.isoformat(), "event": event_id},
    )
    return row


def _open(session: Session, site_id: int | None = None):
    stmt = select(HomeObservation).where(HomeObservation.ended_at.is_(None))
    if site_id is not None:
        stmt = stmt.join(Household).where(Household.site_id == site_id)
    return stmt


def end_expired(session: Session, today: date, now: datetime, site_id: int | None = None) -> int:
    """End every observation whose last day is before *today*; returns how many ended."""
    rows = list(session.scalars(_open(session, site_id).where(HomeObservation.until < today)))
    sites = set()
    for row in rows:
        row.ended_at, row.ended_by = now, "expired"
        sites.add(row.household.site_id)
    if sites:
        touch_roster(session, sorted(sites), now)
    return len(rows)


def current(session: Session, site_id: int) -> list[HomeObservation]:
    """Open observations of a site, by household."""
    stmt = _open(session, site_id).order_by(Household.code, HomeObservation.until)
    return list(session.scalars(stmt))
