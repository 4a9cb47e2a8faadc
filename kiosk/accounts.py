"""Guard-screen accounts: users with roles, passwords hashed with werkzeug's scrypt.

An account's :class:`Standing` (its role and the generation of its password) is what a
signed-in session holds on to: the screen compares it with the store at every request, so
removing an account, changing its password or its role in another process (``kiosk user``)
ends its sessions at their next request.
"""

from __future__ import annotations

import hashlib
import re
from typing import NamedTuple

from werkzeug.security import check_password_hash, generate_password_hash

from kiosk.errors import KioskError

ROLES = ("guard", "maintenance", "admin")
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
#: A hash to compare against when the user does not exist, so timing does not tell.
_DUMMY_HASH = generate_password_hash("not a password", method="scrypt")


class AccountError(KioskError, ValueError):
    """An account cannot be created or changed as asked."""


class Standing(NamedTuple):
    """An account as it is now: its role, and a digest of its password hash that changes
    whenever the password is set (each hash has its own salt)."""

    role: str
    generation: str


def _standing(role: str, password_hash: str) -> Standing:
    return Standing(role, hashlib.sha256(password_hash.encode()).hexdigest()[:16])


class Accounts:
    """Users stored in the journal database.

    :param journal: a :class:`kiosk.journal.Journal`.
    """

    def __init__(self, journal) -> None:
        self.journal = journal

    def add(self, name: str, password: str, role: str = "guard") -> None:
        if not _NAME.match(name):
            raise AccountError("a user name is 1-32 letters, digits, '.', '_' or '-'")
        if role not in ROLES:
            raise AccountError(f"role must be one of {', '.join(ROLES)}")
        if len(password) < 8:
            raise AccountError("a password has at least 8 characters")
        self.journal.put_user(name, role, generate_password_hash(password, method="scrypt"))

    def check(self, name: str, password: str) -> str | None:
        """The user's role if *password* is right, else None."""
        standing = self.sign_in(name, password)
        return None if standing is None else standing.role

    def sign_in(self, name: str, password: str) -> Standing | None:
        """The account's :class:`Standing` if *password* is right, else None (as slow either
        way: an unknown name is checked against a dummy hash)."""
        user = self.journal.get_user(name) if _NAME.match(name or "") else None
        if user is None:
            check_password_hash(_DUMMY_HASH, password)
            return None
        role, hashed = user
        return _standing(role, hashed) if check_password_hash(hashed, password) else None

    def standing(self, name: str) -> Standing | None:
        """The account's :class:`Standing` as stored now (one indexed read), or None when
        there is no such account."""
        user = self.journal.get_user(name) if _NAME.match(name or "") else None
        return None if user is None else _standing(*user)

    def passwd(self, name: str, password: str) -> None:
        user = self.journal.get_user(name)
        if user is None:
            raise AccountError(f"no user named {name!r}")
        self.add(name, password, user[0])

    def remove(self, name: str) -> None:
        if not self.journal.remove_user(name):
            raise AccountError(f"no user named {name!r}")

    def list(self) -> list[tuple[str, str]]:
        return self.journal.list_users()
