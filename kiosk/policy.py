"""Pure decision rules: a checked pass, a temperature reading and the roster -> a Decision.

No I/O, no hardware, no clock reads: everything comes in as arguments, so every rule is
tested exhaustively.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kiosk.events import TemperatureRead
from kiosk.reasons import Reason, message
from kiosk.roster import Roster


@dataclass(frozen=True)
class Decision:
    """What the lane does with one person."""

    granted: bool
    reason: Reason
    pass_id: str | None = None
    household: str | None = None
    kind: str | None = None
    temperature_c: float | None = None
    detail: str = ""

    @property
    def message(self) -> tuple[str, str]:
        """(Chinese, English) words for the guard and the resident."""
        return message(self.reason)

    def data(self, direction: str) -> dict:
        """The decision as ``access.granted`` / ``access.denied`` event data."""
        out = {
            "reason": str(self.reason),
            "pass_id": self.pass_id,
            "household": self.household,
            "kind": self.kind,
            "temperature_c": self.temperature_c,
            "direction": direction,
        }
        if self.detail:
            out["detail"] = self.detail
        return out


def kind_name(kind) -> str | None:
    """A pass kind (enum or text) as lower-case text, e.g. ``"resident"``."""
    if kind is None:
        return None
    return str(getattr(kind, "name", kind)).lower()


def check_pass(
    check, roster: Roster, *, now: datetime, direction: str, accept_without_roster: bool
) -> Decision | None:
    """Rules that need only the pass. Returns a denial, or None when the person may go on
    to be measured.

    :param check: a ``passes.PassCheck`` (``reason``, ``claims``, ``detail``).
    """
    claims = check.claims
    pass_id = getattr(claims, "pass_id", None)
    household = getattr(claims, "household", None)
    kind = kind_name(getattr(claims, "kind", None))

    def deny(reason: Reason, detail: str = "") -> Decision:
        return Decision(False, reason, pass_id, household, kind, None, detail)

    if check.reason != Reason.GRANTED:
        return deny(Reason(check.reason), getattr(check, "detail", ""))
    status = roster.pass_status(pass_id)
    if status == "revoked":
        return deny(Reason.PASS_REVOKED)
    if status == "suspended":
        return deny(Reason.PASS_SUSPENDED)
    unknown = kind == "resident" and status is None
    if unknown and (roster.loaded or not accept_without_roster):
        return deny(Reason.PASS_UNKNOWN)
    if status not in (None, "active"):
        return deny(Reason.PASS_SUSPENDED, f"roster status {status!r}")
    if direction == "out" and household:
        until = roster.observation_until(household, now.date())
        if until is not None:
            return deny(Reason.HOME_OBSERVATION, f"until {until.isoformat()}")
    return None


def check_temperature(reading: TemperatureRead | None, threshold_c: float) -> Reason:
    """The screening rule (逢人必测): GRANTED, or why not."""
    if reading is None:
        return Reason.NO_TEMPERATURE
    if reading.status == "unstable":
        return Reason.TEMP_UNSTABLE
    if reading.status == "implausible" or reading.body_c is None:
        return Reason.TEMP_IMPLAUSIBLE
    if reading.body_c >= threshold_c:
        return Reason.FEVER
    return Reason.GRANTED


def is_fever(reading: TemperatureRead | None, threshold_c: float) -> bool:
    return check_temperature(reading, threshold_c) == Reason.FEVER


def decide(
    check,
    reading: TemperatureRead | None,
    roster: Roster,
    *,
    now: datetime,
    direction: str,
    threshold_c: float,
    accept_without_roster: bool = True,
) -> Decision:
    """The whole decision for one person: pass rules first, then the temperature."""
    denial = check_pass(
        check, roster, now=now, direction=direction, accept_without_roster=accept_without_roster
    )
    temperature = reading.body_c if reading is not None else None
    if denial is not None:
        return Decision(
            False,
            denial.reason,
            denial.pass_id,
            denial.household,
            denial.kind,
            temperature,
            denial.detail,
        )
    claims = check.claims
    reason = check_temperature(reading, threshold_c)
    return Decision(
        reason == Reason.GRANTED,
        reason,
        claims.pass_id,
        claims.household,
        kind_name(claims.kind),
        temperature,
    )
