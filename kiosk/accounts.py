"""Guard-screen accounts: users with roles, passwords hashed with werkzeug's scrypt."""

from __future__ import annotations

import re

from werkzeug.security import check_password_hash, generate_password_hash

from kiosk.errors import KioskError

ROLES = ("guard", "maintenance", "admin")
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
#: A hash to compare against when the user does not exist, so timing does not tell.
_DUMMY_HASH = generate_password_hash("not a password", method="scrypt")


class AccountError(KioskError, ValueError):
    """An account cannot be created or changed as asked."""


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
        user = self.journal.get_user(name) if _NAME.match(name or "") else None
        if user is None:
            check_password_hash(_DUMMY_HASH, password)
            return None
        role, hashed = user
        return role if check_password_hash(hashed, password) else None

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
