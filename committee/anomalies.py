"""Anomalies (异常) of one day, for the viewer's compounds:

- the same pass entering at two gates within ``[anomalies] shared_pass_min`` minutes (a
  screenshot passed round);
- a pass of another compound shown at a gate (``access.denied`` with ``PASS_WRONG_SITE``);
- a household whose exits of the day are at least ``min_exits`` and above ``exit_factor``
  times its daily average over the ``baseline_days`` before;
- decisions a gate made while its clock was untrusted (``data.clock_synchronised`` false).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from committee.models import Event, Gate, Site
from committee.report import day_bounds

GRANTED, DENIED = "access.granted", "access.denied"


@dataclass(frozen=True)
class SharedPass:
    pass_id: str
    household: str
    site: Site
    first_gate: str
    first_at: datetime
    second_gate: str
    second_at: datetime

    @property
    def minutes(self) -> float:
        return round((self.second_at - self.first_at).total_seconds() / 60, 1)


@dataclass(frozen=True)
class ForeignPass:
    pass_id: str
    site: Site
    gate: str
    at: datetime


@dataclass(frozen=True)
class ManyExits:
    site: Site
    household: str
    exits: int
    usual: float


@dataclass(frozen=True)
class UntrustedClock:
    site: Site
    gate: str
    decisions: int
    first: datetime
    last: datetime


@dataclass
class Anomalies:
    shared: list[SharedPass]
    foreign: list[ForeignPass]
    exits: list[ManyExits]
    clock: list[UntrustedClock]

    @property
    def count(self) -> int:
        return len(self.shared) + len(self.foreign) + len(self.exits) + len(self.clock)


def _base(site_ids, start, end, *types):
    stmt = (
        select(Event, Gate, Site)
        .join(Gate, Event.gate_id == Gate.id)
        .join(Site, Gate.site_id == Site.id)
        .where(Event.type.in_(types), Event.occurred_at >= start, Event.occurred_at < end)
    )
    if site_ids is not None:
        stmt = stmt.where(Gate.site_id.in_(sorted(site_ids)))
    return stmt


def find(session: Session, site_ids, day: date, tz, settings) -> Anomalies:
    start, end = day_bounds(day, tz)
    return Anomalies(
        _shared(session, site_ids, start, end, settings.shared_pass_min),
        _foreign(session, site_ids, start, end),
        _exits(session, site_ids, day, tz, settings),
        _clock(session, site_ids, start, end),
    )


def _shared(session, site_ids, start, end, minutes: float) -> list[SharedPass]:
    stmt = _base(site_ids, start, end, GRANTED).where(
        Event.data["direction"].as_string() == "in",
        Event.data["pass_id"].as_string().is_not(None),
    )
    by_pass: dict[tuple[int, str], list] = defaultdict(list)
    for event, gate, site in session.execute(stmt):
        by_pass[(site.id, str(event.data.get("pass_id")))].append((event, gate, site))
    window = timedelta(minutes=minutes)
    found = []
    for (_, pass_id), entries in by_pass.items():
        entries.sort(key=lambda r: r[0].occurred_at)
        for (a, ga, site), (b, gb, _) in itertools.pairwise(entries):
            if ga.id != gb.id and b.occurred_at - a.occurred_at <= window:
                found.append(
                    SharedPass(
                        pass_id,
                        str(a.data.get("household") or ""),
                        site,
                        ga.code,
                        a.occurred_at,
                        gb.code,
                        b.occurred_at,
                    )
                )
    found.sort(key=lambda s: s.first_at)
    return found


def _foreign(session, site_ids, start, end) -> list[ForeignPass]:
    stmt = _base(site_ids, start, end, DENIED).where(
        Event.data["reason"].as_string() == "PASS_WRONG_SITE"
    )
    rows = session.execute(stmt.order_by(Event.occurred_at)).all()
    return [
        ForeignPass(str(e.data.get("pass_id") or "?"), s, g.code, e.occurred_at) for e, g, s in rows
    ]


def _exits(session, site_ids, day: date, tz, settings) -> list[ManyExits]:
    first, _ = day_bounds(day - timedelta(days=settings.baseline_days), tz)
    start, end = day_bounds(day, tz)
    household = Event.data["household"].as_string()
    today = Event.occurred_at >= start
    stmt = (
        select(Gate.site_id, household, (today).label("today"), func.count())
        .select_from(Event)
        .join(Gate, Event.gate_id == Gate.id)
        .where(
            Event.type == GRANTED,
            Event.occurred_at >= first,
            Event.occurred_at < end,
            Event.data["direction"].as_string() == "out",
            household.is_not(None),
        )
        .group_by(Gate.site_id, household, today)
    )
    if site_ids is not None:
        stmt = stmt.where(Gate.site_id.in_(sorted(site_ids)))
    counts: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0, 0])
    for site_id, code, is_today, count in session.execute(stmt):
        counts[(site_id, code)][0 if is_today else 1] += count
    sites = {s.id: s for s in session.scalars(select(Site))}
    found = []
    for (site_id, code), (on_day, before) in counts.items():
        usual = before / settings.baseline_days
        if on_day >= settings.min_exits and on_day > settings.exit_factor * usual:
            found.append(ManyExits(sites[site_id], code, on_day, round(usual, 2)))
    found.sort(key=lambda m: -m.exits)
    return found


def _clock(session, site_ids, start, end) -> list[UntrustedClock]:
    if session.bind.dialect.name == "sqlite":
        untrusted = func.json_type(Event.data, "$.clock_synchronised") == "false"
    else:
        untrusted = Event.data["clock_synchronised"].as_string() == "false"
    stmt = _base(site_ids, start, end, GRANTED, DENIED).where(untrusted)
    by_gate: dict[int, list] = {}
    for event, gate, site in session.execute(stmt.order_by(Event.occurred_at)):
        by_gate.setdefault(gate.id, [site, gate.code, 0, event.occurred_at, event.occurred_at])
        item = by_gate[gate.id]
        item[2] += 1
        item[4] = event.occurred_at
    return [UntrustedClock(*item) for item in by_gate.values()]
