"""Accounts of the committee's pages: ``committee user add|passwd|remove|list``, sign-in with
a per-account throttle, and server-side sessions.

Roles: ``committee`` (a residents' committee worker: the pages of the sites given with
``--site``, and changes there), ``street`` (the street office: every site, read only) and
``admin`` (everything, the audit list included). Passwords are hashed with werkzeug's scrypt,
as the gate's accounts are.

A session is a random id in the browser's signed cookie; the database keeps only its
SHA-256 and when it was last used, so signing out, an idle timeout, a new password or a
removed account ends it at once, for every process serving the pages.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from committee import audit
from committee.errors import NotFound, Refused
from committee.models import ROLES, Account, Site, WebSession
from committee.sites import get_site

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
MIN_PASSWORD = 8
#: Failures in a row before an account's sign-in is refused for a while.
THROTTLE_AFTER = 5
#: Seconds of the first refusal; doubled at each further failure, up to THROTTLE_MAX_S.
THROTTLE_FIRST_S = 60.0
THROTTLE_MAX_S = 3600.0
#: A hash to compare against when the account does not exist, so timing does not tell.
_DUMMY_HASH = generate_password_hash("not a password", method="scrypt")


@dataclass(frozen=True)
class Viewer:
    """Who is looking: the account, its role, and the sites it sees (None: every site)."""

    account_id: int
    name: str
    role: str
    site_ids: frozenset[int] | None

    @property
    def can_change(self) -> bool:
        """Street accounts read only."""
        return self.role in ("committee", "admin")

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def sees(self, site_id: int | None) -> bool:
        return self.site_ids is None or site_id in self.site_ids


def viewer(account: Account) -> Viewer:
    sites = None if account.role in ("street", "admin") else frozenset(s.id for s in account.sites)
    return Viewer(account.id, account.name, account.role, sites)


def _check(name: str, role: str | None, password: str | None) -> None:
    if not _NAME.match(name or ""):
        raise Refused("a user name is 1 to 32 letters, digits, '.', '_' or '-'")
    if role is not None and role not in ROLES:
        raise Refused(f"role must be one of {', '.join(ROLES)}")
    if password is not None and len(password) < MIN_PASSWORD:
        raise Refused(f"a password has at least {MIN_PASSWORD} characters")


def get(session: Session, name: str) -> Account:
    account = session.scalar(select(Account).where(Account.name == name))
    if account is None:
        raise NotFound(f"no user {name!r} (committee user list shows them)")
    return account


def add(
    session: Session,
    name: str,
    role: str,
    password: str,
    site_codes: list[str],
    now: datetime,
    *,
    actor: str = "cli",
) -> Account:
    """A new account. A committee account needs at least one site; the others see every
    site and take none."""
    _check(name, role, password)
    if session.scalar(select(Account).where(Account.name == name)) is not None:
        raise Refused(f"user {name} already exists (committee user passwd {name} changes it)")
    if role == "committee" and not site_codes:
        raise Refused("a committee account needs its sites: --site SITE (one or more)")
    if role != "committee" and site_codes:
        raise Refused(f"a {role} account sees every site; leave out --site")
    sites: list[Site] = [get_site(session, code) for code in site_codes]
    account = Account(
        name=name,
        role=role,
        password_hash=generate_password_hash(password, method="scrypt"),
        created_at=now,
        failed_logins=0,
        sites=sites,
    )
    session.add(account)
    session.flush()
    audit.record(
        session, actor, "user.add", now, target=name, detail={"role": role, "sites": site_codes}
    )
    return account


def passwd(session: Session, name: str, password: str, now: datetime, *, actor: str = "cli"):
    """A new password; every session of the account ends."""
    _check(name, None, password)
    account = get(session, name)
    account.password_hash = generate_password_hash(password, method="scrypt")
    account.failed_logins, account.blocked_until = 0, None
    session.execute(delete(WebSession).where(WebSession.account_id == account.id))
    audit.record(session, actor, "user.passwd", now, target=name)


def remove(session: Session, name: str, now: datetime, *, actor: str = "cli") -> None:
    account = get(session, name)
    session.execute(delete(WebSession).where(WebSession.account_id == account.id))
    session.delete(account)
    audit.record(session, actor, "user.remove", now, target=name)


def list_accounts(session: Session) -> list[Account]:
    return list(session.scalars(select(Account).order_by(Account.name)))


# -- signing in -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignIn:
    """The result of a sign-in: *account* when it succeeded, else *wait_s* > 0 when the
    account is throttled (the password was not even looked at)."""

    account: Account | None
    wait_s: float = 0.0


def sign_in(session: Session, name: str, password: str, now: datetime) -> SignIn:
    """Check *password* for account *name*, counting failures against the account."""
    account = (
        session.scalar(select(Account).where(Account.name == name).with_for_update())
        if _NAME.match(name or "")
        else None
    )
    if account is None:
        check_password_hash(_DUMMY_HASH, password)
        return SignIn(None)
    if account.blocked_until is not None and account.blocked_until > now:
        return SignIn(None, (account.blocked_until - now).total_seconds())
    if not check_password_hash(account.password_hash, password):
        account.failed_logins += 1
        if account.failed_logins >= THROTTLE_AFTER:
            block = min(
                THROTTLE_FIRST_S * 2 ** (account.failed_logins - THROTTLE_AFTER), THROTTLE_MAX_S
            )
            account.blocked_until = now + timedelta(seconds=block)
        return SignIn(None)
    account.failed_logins, account.blocked_until = 0, None
    return SignIn(account)


def _digest(sid: str) -> str:
    return hashlib.sha256(sid.encode("utf-8")).hexdigest()


def new_session(session: Session, account: Account, now: datetime) -> str:
    """A new session of *account*; returns the id for the cookie (shown nowhere else)."""
    sid = secrets.token_urlsafe(32)
    session.add(WebSession(id=_digest(sid), account_id=account.id, created_at=now, last_seen=now))
    return sid


def session_viewer(
    session: Session, sid: str | None, now: datetime, idle_s: float, *, touch: bool = True
) -> Viewer | None:
    """The :class:`Viewer` of a live session *sid*, or None (unknown, or idle too long: then
    it is removed). *touch* counts this as activity (at most once a minute is written)."""
    if not sid or not isinstance(sid, str) or len(sid) > 100:
        return None
    row = session.get(WebSession, _digest(sid))
    if row is None:
        return None
    if now - row.last_seen > timedelta(seconds=idle_s):
        session.delete(row)
        return None
    if touch and now - row.last_seen > timedelta(seconds=60):
        row.last_seen = now
    return viewer(row.account)


def live_sessions(session: Session, digests: list[str], now: datetime, idle_s: float) -> set[str]:
    """Which of the session *digests* are still live (for the event streams)."""
    if not digests:
        return set()
    cutoff = now - timedelta(seconds=idle_s)
    rows = session.scalars(
        select(WebSession.id).where(WebSession.id.in_(digests), WebSession.last_seen >= cutoff)
    )
    return set(rows)


def digest(sid: str) -> str:
    """The stored form of a session id."""
    return _digest(sid)


def end_session(session: Session, sid: str | None) -> None:
    if sid and isinstance(sid, str):
        session.execute(delete(WebSession).where(WebSession.id == _digest(sid)))


def purge_idle(session: Session, now: datetime, idle_s: float) -> int:
    """Remove sessions idle longer than *idle_s*; returns how many."""
    cutoff = now - timedelta(seconds=idle_s)
    return session.execute(delete(WebSession).where(WebSession.last_seen < cutoff)).rowcount
