"""Sites (compounds), their households and home observation, and the roster version."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from committee.models.base import Base, Moment, utcnow


class Site(Base):
    """A compound (小区). ``code`` is the site id the gates and passes carry."""

    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    #: Display name, in Chinese (e.g. 金外滩花园).
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(Moment, default=utcnow)
    #: The roster's version is ``<roster_changed_at>#<roster_seq>``; every change of what the
    #: roster holds increments the counter in the same transaction.
    roster_seq: Mapped[int] = mapped_column(Integer, default=0)
    roster_changed_at: Mapped[datetime] = mapped_column(Moment, default=utcnow)

    households: Mapped[list[Household]] = relationship(back_populates="site")


class Household(Base):
    """A household (户), ``code`` is building-room such as ``7-1201``."""

    __tablename__ = "households"
    __table_args__ = (UniqueConstraint("site_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    code: Mapped[str] = mapped_column(String(20))
    members: Mapped[int] = mapped_column(Integer, default=1)
    #: Outings a day the household may make; None: the gate's own rule.
    exit_quota_per_day: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(Moment, default=utcnow)
    #: Set when a register import removed it (its passes were revoked); None while present.
    removed_at: Mapped[datetime | None] = mapped_column(Moment, nullable=True)

    site: Mapped[Site] = relationship(back_populates="households")


class HomeObservation(Base):
    """14-day home observation (居家观察) of a household.

    ``source`` is ``"gate"`` (a ``registration.created`` with that outcome, ``source_ref`` its
    event id) or ``"hand"`` (``committee observation set``). It is in the roster until it ends:
    ``ended_at`` is set after its last day (``ended_by`` "expired") or by hand ("hand").
    """

    __tablename__ = "home_observations"

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    start: Mapped[date] = mapped_column(Date)
    #: Last day of observation.
    until: Mapped[date] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(10))
    source_ref: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    created_at: Mapped[datetime] = mapped_column(Moment, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(Moment, nullable=True)
    ended_by: Mapped[str | None] = mapped_column(String(10), nullable=True)

    household: Mapped[Household] = relationship()
