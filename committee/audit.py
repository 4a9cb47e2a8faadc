"""The audit list: every change of the register, a pass, home observation, an alarm or an
account, with who made it and when. Written in the same transaction as the change, so there
is no change without its entry; an admin reads and exports it on the pages."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from committee.models import AuditEntry

#: Rows fetched at a time by :func:`entries` for an export.
CHUNK = 2000


def record(
    session: Session,
    actor: str,
    action: str,
    now: datetime,
    *,
    site_id: int | None = None,
    target: str = "",
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add one entry; *actor* is an account's name, ``cli`` or ``sweep``."""
    entry = AuditEntry(
        at=now,
        actor=actor[:40],
        action=action[:40],
        site_id=site_id,
        target=target,
        detail=detail or {},
    )
    session.add(entry)
    return entry


def query(*, since: datetime | None = None, until: datetime | None = None, action: str = ""):
    stmt = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
    if since is not None:
        stmt = stmt.where(AuditEntry.at >= since)
    if until is not None:
        stmt = stmt.where(AuditEntry.at < until)
    if action:
        stmt = stmt.where(AuditEntry.action.startswith(action))
    return stmt


def entries(db, **filters) -> Iterator[AuditEntry]:
    """Every entry matching *filters* (see :func:`query`), newest first, fetched in chunks so
    an export of any length stays flat in memory."""
    offset = 0
    while True:
        with db.transaction() as session:
            rows = session.scalars(query(**filters).offset(offset).limit(CHUNK)).all()
            for row in rows:
                _ = row.site  # loaded before the session closes
        yield from rows
        if len(rows) < CHUNK:
            return
        offset += CHUNK
