"""Accounts of the committee's pages, their server-side sessions, and the audit list."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from committee.models.base import Base, BigKey, Document, Moment, utcnow
from committee.models.sites import Site

#: committee: the pages of its own sites, changes allowed; street: every site, read only;
#: admin: everything, accounts' audit list included.
ROLES = ("committee", "street", "admin")

account_sites = Table(
    "account_sites",
    Base.metadata,
    Column("account_id", ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True),
    Column("site_id", ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True),
)


class Account(Base):
    """A person who signs in to the committee's pages (``committee user add``)."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(32), unique=True)
    role: Mapped[str] = mapped_column(String(10))
    #: werkzeug's scrypt hash of the password.
    password_hash: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(Moment, default=utcnow)
    #: Failed sign-ins in a row, and until when sign-in is refused (the per-account throttle).
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    blocked_until: Mapped[datetime | None] = mapped_column(Moment, nullable=True)

    sites: Mapped[list[Site]] = relationship(secondary=account_sites, order_by=Site.code)


class WebSession(Base):
    """A signed-in browser. ``id`` is the SHA-256 of the random id in the cookie, so a copy
    of the database signs nobody in; the row goes at sign-out, idle timeout or a new
    password."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(Moment)
    last_seen: Mapped[datetime] = mapped_column(Moment)

    account: Mapped[Account] = relationship()


class AuditEntry(Base):
    """One change of the register, a pass, an alarm or an account, and who made it."""

    __tablename__ = "audit"
    __table_args__ = (Index("ix_audit_at", "at"),)

    id: Mapped[int] = mapped_column(BigKey, primary_key=True)
    at: Mapped[datetime] = mapped_column(Moment)
    #: The account's name (kept as text: the entry outlives the account), or ``cli``.
    actor: Mapped[str] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(40))
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"), nullable=True)
    target: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[dict[str, Any]] = mapped_column(Document, default=dict)

    site: Mapped[Site | None] = relationship()
