"""The committee's roster as the gate uses it: which passes exist, who is revoked, who stays in.

Pure: built from a roster body that :func:`kiosk.contract.parse_roster` read (the one
function that reads a roster: pulled, imported or stored), answers lookups. A body that breaks
the contract gives an empty roster that says why (:attr:`Roster.problem`); nothing raises.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from kiosk import contract
from kiosk.errors import ContractError

#: Pass statuses the committee roster uses.
STATUSES = contract.PASS_STATUSES


@dataclass(frozen=True)
class Roster:
    version: str | None = None
    site: str | None = None
    received_at: str | None = None
    passes: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (household, status)
    revoked: frozenset[str] = frozenset()
    home_observation: dict[str, date] = field(default_factory=dict)  # household -> until
    households: dict[str, dict[str, Any]] = field(default_factory=dict)
    keys: tuple[contract.RosterKey, ...] = ()
    problem: str | None = None
    """Why the body given was not taken (it breaks the contract), else None."""

    @property
    def loaded(self) -> bool:
        """True once a roster was received (an empty one counts)."""
        return self.version is not None

    @classmethod
    def from_body(
        cls,
        body: contract.RosterBody | bytes | str | Mapping[str, Any] | None,
        received_at: str | None = None,
    ) -> Roster:
        """The roster of *body*: parsed (:func:`kiosk.contract.parse_roster`) unless it is
        a :class:`~kiosk.contract.RosterBody` already. None, or a body that breaks the
        contract, gives a roster that is not :attr:`loaded` (the latter with a
        :attr:`problem`)."""
        if body is None:
            return cls()
        if not isinstance(body, contract.RosterBody):
            try:
                body = contract.parse_roster(body)
            except ContractError as exc:
                return cls(problem=str(exc))
        return cls(
            version=body.version,
            site=body.site,
            received_at=received_at,
            passes={p.id: (p.household, p.status) for p in body.passes},
            revoked=frozenset(body.revoked),
            home_observation={o.household: o.until_date() for o in body.home_observation},
            households={
                h.id: {
                    "id": h.id,
                    "members": h.members,
                    "exit_quota_per_day": h.exit_quota_per_day,
                }
                for h in body.households
            },
            keys=body.keys,
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
            "problem": self.problem,
        }

    def observation_until(self, household: str, today: date) -> date | None:
        """The end date of *household*'s home observation if it is still running today."""
        until = self.home_observation.get(household)
        return until if until is not None and until >= today else None
