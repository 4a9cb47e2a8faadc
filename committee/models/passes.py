"""Passes (出入证) and the public keys that sign them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from committee.models.base import Base, Moment, utcnow
from committee.models.sites import Household

#: What a pass can be; the roster lists them all, and revoked ones again under ``revoked``.
STATUSES = ("active", "suspended", "revoked")


class Pass(Base):
    """A pass issued by the committee. The token is printed on the card and never stored."""

    __tablename__ = "passes"
    __table_args__ = (UniqueConstraint("site_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    #: The pass id in the token, e.g. ``P0007120101``.
    code: Mapped[str] = mapped_column(String(11))
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10), default="resident")
    status: Mapped[str] = mapped_column(String(10), default="active")
    kid: Mapped[int] = mapped_column(Integer)
    valid_from: Mapped[datetime] = mapped_column(Moment)
    valid_until: Mapped[datetime] = mapped_column(Moment)
    issued_at: Mapped[datetime] = mapped_column(Moment, default=utcnow)
    changed_at: Mapped[datetime] = mapped_column(Moment, default=utcnow)

    household: Mapped[Household] = relationship()


class SigningKey(Base):
    """A public key the gates get through the roster (the private key stays in a 0600 file)."""

    __tablename__ = "signing_keys"

    kid: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    use: Mapped[str] = mapped_column(String(10))
    #: Base64 of the 32 raw Ed25519 public key bytes (the roster's ``ed25519_public``).
    ed25519_public: Mapped[str] = mapped_column(String(44), unique=True)
    created_at: Mapped[datetime] = mapped_column(Moment, default=utcnow)
