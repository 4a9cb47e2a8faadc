"""The committee's roster as the gate uses it: which passes exist, who is revoked, who stays in.

Pure: built from the committee roster body (committee-api.md), answers lookups, never raises on
odd entries (they are skipped and counted in :attr:`Roster.skipped`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any


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

    def observation_until(self, household: str, today: date) -> date | None:
        """The end date of *household*'s home observation if it is still running today."""
        until = self.home_observation.get(household)
        return until if until is not None and until >= today else None


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []
