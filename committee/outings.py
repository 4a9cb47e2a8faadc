"""Who is out (外出): passes whose last passage was out, households over their exit quota,
returns overdue against ``[outings] return_within_h`` (the "one person per household every
two days, back within two hours" rule some cities used).

A passage is an ``access.granted`` with a pass id and a direction; the last one of each pass
in the last ``[outings] lookback_days`` decides where it is. Grants without a direction are
not passages here (they say nothing of in or out).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from committee.models import Event, Gate, Household, Site
from committee.report import day_bounds

GRANTED = "access.granted"


@dataclass(frozen=True)
class Out:
    pass_id: str
    household: str
    site: Site
    gate: str
    since: datetime
    out_s: float
    overdue: bool


@dataclass(frozen=True)
class OverQuota:
    site: Site
    household: str
    exits: int
    quota: int


def who_is_out(
    session: Session, site_ids, now: datetime, *, lookback_days: int, return_within_h: float
) -> list[Out]:
    """Every pass whose last passage (within *lookback_days*) was out, longest out first."""
    pass_id = Event.data["pass_id"].as_string()
    since = now - timedelta(days=lookback_days)
    last = (
        select(func.max(Event.id).label("id"))
        .join(Gate, Event.gate_id == Gate.id)
        .where(
            Event.type == GRANTED,
            Event.occurred_at >= since,
            Event.occurred_at <= now,
            pass_id.is_not(None),
            Event.data["direction"].as_string().in_(("in", "out")),
        )
        .group_by(Gate.site_id, pass_id)
    )
    if site_ids is not None:
        last = last.where(Gate.site_id.in_(sorted(site_ids)))
    rows = session.execute(
        select(Event, Gate, Site)
        .join(Gate, Event.gate_id == Gate.id)
        .join(Site, Gate.site_id == Site.id)
        .where(Event.id.in_(last.scalar_subquery()))
        .where(Event.data["direction"].as_string() == "out")
    ).all()
    limit = return_within_h * 3600.0
    out = []
    for event, gate, site in rows:
        seconds = max(0.0, (now - event.occurred_at).total_seconds())
        out.append(
            Out(
                str(event.data.get("pass_id")),
                str(event.data.get("household") or ""),
                site,
                gate.code,
                event.occurred_at,
                seconds,
                bool(limit) and seconds > limit,
            )
        )
    out.sort(key=lambda o: -o.out_s)
    return out


def over_quota(session: Session, site_ids, day: date, tz) -> list[OverQuota]:
    """Households whose exits on *day* are above their ``exit_quota_per_day``."""
    start, end = day_bounds(day, tz)
    household = Event.data["household"].as_string()
    stmt = (
        select(Gate.site_id, household, func.count())
        .select_from(Event)
        .join(Gate, Event.gate_id == Gate.id)
        .where(
            Event.type == GRANTED,
            Event.occurred_at >= start,
            Event.occurred_at < end,
            Event.data["direction"].as_string() == "out",
            household.is_not(None),
        )
        .group_by(Gate.site_id, household)
    )
    if site_ids is not None:
        stmt = stmt.where(Gate.site_id.in_(sorted(site_ids)))
    exits = {(site_id, code): count for site_id, code, count in session.execute(stmt)}
    if not exits:
        return []
    quotas = session.execute(
        select(Household, Site)
        .join(Site, Household.site_id == Site.id)
        .where(
            Household.exit_quota_per_day.is_not(None),
            Household.removed_at.is_(None),
            Household.site_id.in_(sorted({s for s, _ in exits})),
        )
    ).all()
    result = [
        OverQuota(site, h.code, exits[(h.site_id, h.code)], h.exit_quota_per_day)
        for h, site in quotas
        if exits.get((h.site_id, h.code), 0) > h.exit_quota_per_day
    ]
    result.sort(key=lambda o: (o.site.code, o.household))
    return result
