"""The daily report (日报): every figure a query over the stored events of one day.

For a day in the compounds' time zone (``[sites] timezone``), per compound and for all the
compounds asked for together (the whole street):

- entries and exits: ``access.granted`` by ``data.direction`` (``"in"``, ``"out"``); a grant
  without a direction (a gate of an older version) is counted as unknown, as the contract
  says; the same by hour of the day (the chart);
- refusals: ``access.denied``, and by ``data.reason``;
- fevers: ``alert.fever``, by what was done (the alarm's outcome, or not yet handled);
- registrations: ``registration.created``, by ``data.kind``; couriers turned away: those of
  kind ``courier`` whose outcome is ``courier`` (parcels to the pickup point) or ``refused``;
- temporary passes issued: ``pass.temporary_issued``;
- households under home observation: new (its first day is the day), ended (its first free
  day is the day: the day after its last, or the day it was ended by hand) and current (under
  observation at the end of the day), from the home observation list, which the gates'
  registrations and the committee's hands fill.

Nothing is counted on the side: the same queries over the same rows give the same figures,
so a report can always be checked against the events.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Float, and_, cast, func, or_, select
from sqlalchemy.orm import Session

from committee.models import Alert, Event, Gate, HomeObservation, Household, Site

GRANTED, DENIED = "access.granted", "access.denied"
FEVER, REGISTRATION = "alert.fever", "registration.created"
TEMPORARY = "pass.temporary_issued"
FEVER_STATES = ("remeasured", "clinic", "reported", "open")


@dataclass
class Figures:
    """The figures of one compound (or of several added up) for one day."""

    entries: int = 0
    exits: int = 0
    unknown: int = 0
    refusals: int = 0
    refusals_by_reason: Counter = field(default_factory=Counter)
    fevers: int = 0
    fever_outcomes: Counter = field(default_factory=Counter)
    registrations: int = 0
    registrations_by_kind: Counter = field(default_factory=Counter)
    couriers_turned_away: int = 0
    temporary_passes: int = 0
    observation_new: int = 0
    observation_ended: int = 0
    observation_current: int = 0
    entries_by_hour: list[int] = field(default_factory=lambda: [0] * 24)
    exits_by_hour: list[int] = field(default_factory=lambda: [0] * 24)

    def add(self, other: Figures) -> None:
        for name in (
            "entries",
            "exits",
            "unknown",
            "refusals",
            "fevers",
            "registrations",
            "couriers_turned_away",
            "temporary_passes",
            "observation_new",
            "observation_ended",
            "observation_current",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.refusals_by_reason.update(other.refusals_by_reason)
        self.fever_outcomes.update(other.fever_outcomes)
        self.registrations_by_kind.update(other.registrations_by_kind)
        for hour in range(24):
            self.entries_by_hour[hour] += other.entries_by_hour[hour]
            self.exits_by_hour[hour] += other.exits_by_hour[hour]


@dataclass
class Report:
    """The report of *day*: :attr:`sites` in code order with their figures, and the total."""

    day: date
    sites: list[tuple[Site, Figures]]
    total: Figures
    generated_at: datetime

    @property
    def single(self) -> bool:
        return len(self.sites) == 1

    def reasons(self) -> list[str]:
        return sorted(self.total.refusals_by_reason)

    def kinds(self) -> list[str]:
        return sorted(self.total.registrations_by_kind)


def day_bounds(day: date, tz) -> tuple[datetime, datetime]:
    """The UTC moments where *day* starts and the next begins, in zone *tz* (None: local)."""
    start = datetime.combine(day, time(0), tzinfo=tz)
    if tz is None:
        start = start.astimezone()
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=start.tzinfo)
    return start.astimezone(UTC), end.astimezone(UTC)


def _field(name: str):
    return Event.data[name].as_string()


def _hour(session: Session, start: datetime):
    """The hour of the day of ``occurred_at``, counted from *start* (the day's midnight)."""
    if session.bind.dialect.name == "postgresql":
        seconds = func.extract("epoch", Event.occurred_at) - start.timestamp()
    else:  # SQLite keeps the UTC moment as text
        seconds = cast(func.strftime("%s", Event.occurred_at), Float) - start.timestamp()
    return func.floor(seconds / 3600)


def build(session: Session, sites: list[Site], day: date, tz, now: datetime) -> Report:
    """The report of *day* for *sites* (one compound, or the street's)."""
    start, end = day_bounds(day, tz)
    figures = {site.id: Figures() for site in sites}
    ids = sorted(figures)
    in_day = and_(
        Event.occurred_at >= start,
        Event.occurred_at < end,
        Gate.site_id.in_(ids),
    )

    def counted(type_: str, *columns, fevers: bool = False):
        """``(site id, *columns, count)`` of the day's events of *type_*, grouped."""
        stmt = (
            select(Gate.site_id, *columns, func.count())
            .select_from(Event)
            .join(Gate, Event.gate_id == Gate.id)
        )
        if fevers:  # each fever with what was done about its alarm
            stmt = stmt.outerjoin(Alert, Alert.event_id == Event.id)
        return session.execute(
            stmt.where(in_day, Event.type == type_).group_by(Gate.site_id, *columns)
        )

    hour = _hour(session, start).label("hour")
    for site_id, way, at_hour, count in counted(GRANTED, _field("direction"), hour):
        f = figures[site_id]
        slot = min(max(int(at_hour), 0), 23)
        if way == "in":
            f.entries += count
            f.entries_by_hour[slot] += count
        elif way == "out":
            f.exits += count
            f.exits_by_hour[slot] += count
        else:
            f.unknown += count
    for site_id, code, count in counted(DENIED, _field("reason")):
        figures[site_id].refusals += count
        figures[site_id].refusals_by_reason[code or "UNKNOWN"] += count
    for site_id, what, result, count in counted(REGISTRATION, _field("kind"), _field("outcome")):
        f = figures[site_id]
        f.registrations += count
        f.registrations_by_kind[what or "unknown"] += count
        if what == "courier" and result in ("courier", "refused"):
            f.couriers_turned_away += count
    for site_id, result, count in counted(FEVER, Alert.outcome, fevers=True):
        figures[site_id].fevers += count
        figures[site_id].fever_outcomes[result or "open"] += count
    for site_id, count in counted(TEMPORARY):
        figures[site_id].temporary_passes += count
    _observation(session, figures, ids, day, tz)
    total = Figures()
    for f in figures.values():
        total.add(f)
    ordered = sorted(sites, key=lambda s: s.code)
    return Report(day, [(s, figures[s.id]) for s in ordered], total, now)


def _observation(session: Session, figures: dict[int, Figures], ids, day: date, tz) -> None:
    """New, ended and current households under home observation on *day* (each household
    counted once per figure)."""
    new: dict[int, set] = defaultdict(set)
    ended: dict[int, set] = defaultdict(set)
    current: dict[int, set] = defaultdict(set)
    rows = session.execute(
        select(Household.site_id, Household.id, HomeObservation)
        .join(HomeObservation, HomeObservation.household_id == Household.id)
        .where(
            Household.site_id.in_(ids),
            HomeObservation.start <= day,
            or_(
                HomeObservation.until >= day - timedelta(days=1),
                HomeObservation.ended_at.is_not(None),
            ),
        )
    )
    for site_id, household_id, row in rows:
        free = row.until + timedelta(days=1)  # the first day out of observation
        if row.ended_by == "hand" and row.ended_at is not None:
            free = min(free, _local_day(row.ended_at, tz))
        if row.start == day:
            new[site_id].add(household_id)
        if free == day:
            ended[site_id].add(household_id)
        if row.start <= day < free:
            current[site_id].add(household_id)
    for site_id, f in figures.items():
        f.observation_new = len(new[site_id])
        f.observation_ended = len(ended[site_id] - current[site_id])
        f.observation_current = len(current[site_id])


def _local_day(moment: datetime, tz) -> date:
    return moment.astimezone(tz).date() if tz is not None else moment.astimezone().date()


# -- cells: what the table, the XLSX and the PDF show ----------------------------------------

#: The report's rows: (key of the words, how to read it from Figures).
ROWS = (
    ("report.entries", lambda f: f.entries),
    ("report.exits", lambda f: f.exits),
    ("report.unknown", lambda f: f.unknown),
    ("report.refusals", lambda f: f.refusals),
    ("report.fevers", lambda f: f.fevers),
    ("report.registrations", lambda f: f.registrations),
    ("report.couriers", lambda f: f.couriers_turned_away),
    ("report.temporary", lambda f: f.temporary_passes),
    ("report.observation.new", lambda f: f.observation_new),
    ("report.observation.ended", lambda f: f.observation_ended),
    ("report.observation.current", lambda f: f.observation_current),
)


def cells(report: Report, translate) -> list[tuple[str, list]]:
    """Every figure of *report* as ``(section, rows)``, each row ``[label, *per site, total]``
    (one compound: ``[label, value]``): the one source of the page's tables, the XLSX and
    the PDF, so that all three show the same numbers."""
    single = report.single

    def row(label: str, read) -> list:
        values = [read(f) for _, f in report.sites]
        return [label, *values] if single else [label, *values, read(report.total)]

    obs = translate("report.observation")
    main = [
        row(
            translate(key)
            if not key.startswith("report.observation.")
            else f"{obs}: {translate(key)}",
            read,
        )
        for key, read in ROWS
    ]
    reasons = [
        row(translate(f"reason.{code}"), lambda f, c=code: f.refusals_by_reason.get(c, 0))
        for code in report.reasons()
    ]
    fevers = [
        row(translate(f"outcome.{state}"), lambda f, s=state: f.fever_outcomes.get(s, 0))
        for state in FEVER_STATES
    ]
    kinds = [
        row(translate(f"reg.kind.{kind}"), lambda f, k=kind: f.registrations_by_kind.get(k, 0))
        for kind in report.kinds()
    ]
    hours = [
        [
            f"{hour:02d}:00",
            *([report.total.entries_by_hour[hour], report.total.exits_by_hour[hour]]),
        ]
        for hour in range(24)
    ]
    return [
        ("report.title", main),
        ("report.refusals_by_reason", reasons),
        ("report.fever_outcomes", fevers),
        ("report.registrations_by_kind", kinds),
        ("report.by_hour", hours),
    ]


def header(report: Report, translate) -> list[str]:
    """The column headings of :func:`cells`' sections (but the hourly one)."""
    if report.single:
        return ["", report.sites[0][0].name]
    return ["", *(site.name for site, _ in report.sites), translate("total")]
