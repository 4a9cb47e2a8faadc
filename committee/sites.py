"""Sites (compounds) and their gates: adding them, gate tokens, and the roster's version.

A gate token is 32 random bytes (URL-safe base64), shown once when made; only its SHA-256 is
stored, so a copy of the database does not let anyone speak for a gate. Every change of what
a site's roster holds calls :func:`touch_roster` in the same transaction, so the version the
gates see changes exactly when the roster does.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from committee.errors import NotFound, Refused
from committee.models import Gate, Site

_CODE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


def check_code(what: str, code: str) -> str:
    """*code* when it is a usable site or gate id (lower-case letters, digits, ``.-_``)."""
    if not isinstance(code, str) or not _CODE.match(code):
        raise Refused(
            f"{what} id {code!r}: use 1 to 64 lower-case letters, digits, '.', '-' or '_', "
            "starting with a letter or digit (e.g. xdm-jinwaitan)"
        )
    return code


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


# -- sites -------------------------------------------------------------------------------------


def add_site(session: Session, code: str, name: str, now: datetime) -> Site:
    check_code("site", code)
    name = " ".join(name.split())
    if not name:
        raise Refused("a site needs a display name (--name, e.g. 金外滩花园)")
    if session.scalar(select(Site).where(Site.code == code)) is not None:
        raise Refused(f"site {code} already exists")
    site = Site(code=code, name=name, created_at=now, roster_changed_at=now, roster_seq=1)
    session.add(site)
    session.flush()
    return site


def get_site(session: Session, code: str) -> Site:
    site = session.scalar(select(Site).where(Site.code == code))
    if site is None:
        known = session.scalars(select(Site.code).order_by(Site.code).limit(10)).all()
        hint = (
            f"; known sites: {', '.join(known)}" if known else "; add one with 'committee site add'"
        )
        raise NotFound(f"no site {code!r}{hint}")
    return site


def list_sites(session: Session) -> list[Site]:
    return list(session.scalars(select(Site).order_by(Site.code)))


def roster_version(site: Site) -> str:
    """The version string of *site*'s roster, e.g. ``2020-02-04T00:00:00+00:00#17``."""
    return f"{site.roster_changed_at.isoformat(timespec='seconds')}#{site.roster_seq}"


def touch_roster(session: Session, site_ids: int | list[int] | None, now: datetime) -> None:
    """Give the roster of each site in *site_ids* (None: every site) a new version."""
    stmt = update(Site).values(roster_seq=Site.roster_seq + 1, roster_changed_at=now)
    if site_ids is not None:
        ids = [site_ids] if isinstance(site_ids, int) else site_ids
        stmt = stmt.where(Site.id.in_(ids))
    session.execute(stmt.execution_options(synchronize_session="fetch"))


# -- gates -------------------------------------------------------------------------------------


def add_gate(session: Session, code: str, site_code: str, now: datetime) -> tuple[Gate, str]:
    """Add a gate at *site_code*; returns the gate and its new token (shown once)."""
    check_code("gate", code)
    try:
        site = get_site(session, site_code)
    except NotFound as exc:
        raise NotFound(
            f"{exc}; add the site first: committee site add {site_code} --name …"
        ) from None
    if session.scalar(select(Gate).where(Gate.code == code)) is not None:
        raise Refused(f"gate {code} already exists (committee gate token {code} gives a new token)")
    token = new_token()
    gate = Gate(
        code=code,
        site=site,
        token_hash=hash_token(token),
        created_at=now,
        token_changed_at=now,
        acked_seq=0,
    )
    session.add(gate)
    session.flush()
    return gate, token


def get_gate(session: Session, code: str) -> Gate:
    gate = session.scalar(select(Gate).where(Gate.code == code))
    if gate is None:
        raise NotFound(f"no gate {code!r} (committee gate list shows them)")
    return gate


def replace_token(session: Session, code: str, now: datetime) -> str:
    """A new token for gate *code*; the old one stops working at once."""
    gate = get_gate(session, code)
    token = new_token()
    gate.token_hash = hash_token(token)
    gate.token_changed_at = now
    return token


def list_gates(session: Session) -> list[Gate]:
    return list(session.scalars(select(Gate).order_by(Gate.code)))


def authenticate(
    session: Session, gate_code: str, token: str | None, *, lock: bool = False
) -> tuple[int, Gate | None]:
    """Check a bearer *token* for the path's *gate_code*.

    Returns ``(200, gate)``; ``(401, None)`` for a missing or unknown token; ``(403, None)``
    for the token of another gate (or of a gate that does not exist). With *lock* the gate's
    row stays locked until the transaction ends (``FOR UPDATE`` on PostgreSQL; SQLite's
    ``BEGIN IMMEDIATE`` already admits one writer at a time).
    """
    if not token:
        return 401, None
    digest = hash_token(token)
    stmt = select(Gate).where(Gate.token_hash == digest)
    if lock and session.bind.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    owner = session.scalar(stmt)
    if owner is None or not hmac.compare_digest(owner.token_hash, digest):
        return 401, None
    if owner.code != gate_code:
        return 403, None
    return 200, owner
