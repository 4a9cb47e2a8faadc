"""The committee's roster as the gate uses it: which passes exist, who is revoked, who stays in.

Pure: built from the committee roster body (committee-api.md), answers lookups, never raises on
odd entries (they are skipped and counted in :attr:`Roster.skipped`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

#: Pass statuses the committee roster uses.
STATUSES = ("active", "suspended", "revoked")


@dataclass(frozen=True)
class Roster:
    version: str | None = None
    site: str | None = None
    received_at: str | None = None
    passes: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (household, status)
    revoked: frozenset[str] = frozenset()
    home_observation: dict[str, date] = field(default_factory=dict)  # household -> until
    households: dict[str, dict[str, Any]] = field(default_factory=dict)
    keys: tuple[dict[str, Any], ...] = ()
    skipped: int = 0

    @property
    def loaded(self) -> bool:
        """True once a roster was received (an empty one counts)."""
        return self.version is not None

    @classmethod
    def from_body(cls, body: dict[str, Any] | None, received_at: str | None = None) -> Roster:
        if not isinstance(body, dict):
            return cls()
        skipped = 0
        passes: dict[str, tuple[str, str]] = {}
        for entry in _list(body.get("passes")):
            try:
                passes[str(entry["id"])] = (str(entry["household"]), str(entry["status"]))
            except (KeyError, TypeError):
                skipped += 1
        revoked = frozenset(str(x) for x in _list(body.get("revoked")) if isinstance(x, str))
        observation: dict[str, date] = {}
        for entry in _list(body.get("home_observation")):
            try:
                observation[str(entry["household"])] = date.fromisoformat(str(entry["until"]))
            except (KeyError, TypeError, ValueError):
                skipped += 1
        households = {}
        for entry in _list(body.get("households")):
            if isinstance(entry, dict) and "id" in entry:
                households[str(entry["id"])] = entry
            else:
                skipped += 1
        keys = tuple(k for k in _list(body.get("keys")) if isinstance(k, dict))
        return cls(
            version=str(body.get("version", "")),
            site=body.get("site") if isinstance(body.get("site"), str) else None,
            received_at=received_at,
            passes=passes,
            revoked=revoked,
            home_observation=observation,
            households=households,
            keys=keys,
            skipped=skipped,
        )

    def pass_status(self, pass_id: str) -> str | None:
        """``active`` / ``suspended`` / ``revoked`` / None (not on the roster)."""
        if pass_id in self.revoked:
            return "revoked"
        entry = self.passes.get(pass_id)
        return entry[1] if entry else None

    def age_s(self, now: datetime) -> float | None:
        """Seconds since the roster was received, or None (never, or an unreadable time)."""
        if not self.received_at:
            return None
        try:
            received = datetime.fromisoformat(self.received_at)
        except ValueError:
            return None
        if received.tzinfo is None:
            return None
        return round((now - received).total_seconds(), 1)

    def summary(self, now: datetime) -> dict[str, Any]:
        """What the guard screen and ``kiosk roster show`` print: version, age and counts."""
        statuses = [status for _, status in self.passes.values()]
        today = now.date()
        return {
            "version": self.version,
            "site": self.site,
            "received_at": self.received_at,
            "age_s": self.age_s(now),
            "passes": len(self.passes),
            "active": statuses.count("active"),
            "suspended": statuses.count("suspended"),
            "revoked": len(
                self.revoked | {p for p, (_, s) in self.passes.items() if s == "revoked"}
            ),
            "households": len(self.households),
            "home_observation": sorted(
                (h, until.isoformat())
                for h, until in self.home_observation.items()
                if until >= today
            ),
            "skipped": self.skipped,
        }

    def observation_until(self, household: str, today: date) -> date | None:
        """The end date of *household*'s home observation if it is still running today."""
        until = self.home_observation.get(household)
        return until if until is not None and until >= today else None


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def check_body(body: Any, *, site: str | None = None) -> list[str]:
    """What is wrong with *body* as a roster to import (committee-api.md's shape), one
    message per problem naming the entry; an empty list means it is good.

    Stricter than :meth:`Roster.from_body` (which skips odd entries of a server reply): a
    file typed by hand is refused whole rather than imported in part.

    :param site: this gate's site id; a roster naming another site is refused.
    """
    if not isinstance(body, dict):
        return [f"expected a JSON object, got {type(body).__name__}"]
    problems: list[str] = []
    known = {"version", "site", "keys", "households", "passes", "revoked", "home_observation"}
    for key in sorted(set(body) - known):
        problems.append(f"unknown key {key!r} (known: {', '.join(sorted(known))})")
    version = body.get("version")
    if not isinstance(version, str) or not version.strip():
        problems.append("version: a non-empty string is required")
    if "site" in body and not isinstance(body["site"], str):
        problems.append("site: must be a string")
    elif site is not None and body.get("site") not in (None, site):
        problems.append(f"site: {body['site']!r} is not this gate's site {site!r}")
    for key in ("keys", "households", "passes", "revoked", "home_observation"):
        if key in body and not isinstance(body[key], list):
            problems.append(f"{key}: must be a list")
    ids: set[str] = set()
    for i, entry in enumerate(_list(body.get("passes"))):
        where = f"passes[{i}]"
        if not isinstance(entry, dict):
            problems.append(f"{where}: must be an object")
            continue
        for name in ("id", "household"):
            if not isinstance(entry.get(name), str) or not entry.get(name):
                problems.append(f"{where}: {name} must be a non-empty string")
        if entry.get("status") not in STATUSES:
            problems.append(f"{where}: status must be one of {', '.join(STATUSES)}")
        if isinstance(entry.get("id"), str):
            if entry["id"] in ids:
                problems.append(f"{where}: pass {entry['id']} appears twice")
            ids.add(entry["id"])
    for i, value in enumerate(_list(body.get("revoked"))):
        if not isinstance(value, str) or not value:
            problems.append(f"revoked[{i}]: must be a pass id (a string)")
    for i, entry in enumerate(_list(body.get("home_observation"))):
        where = f"home_observation[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("household"), str):
            problems.append(f"{where}: must be an object with a household")
            continue
        try:
            date.fromisoformat(str(entry.get("until")))
        except ValueError:
            problems.append(f"{where}: until must be a date like 2020-02-18")
    for i, entry in enumerate(_list(body.get("households"))):
        where = f"households[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            problems.append(f"{where}: must be an object with an id")
            continue
        quota = entry.get("exit_quota_per_day")
        if quota is not None and (
            isinstance(quota, bool) or not isinstance(quota, int) or quota < 0
        ):
            problems.append(f"{where}: exit_quota_per_day must be null or a whole number >= 0")
    for i, entry in enumerate(_list(body.get("keys"))):
        if not isinstance(entry, dict):
            problems.append(f"keys[{i}]: must be an object")
    return problems
