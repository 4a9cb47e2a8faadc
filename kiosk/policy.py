"""Pure decision rules: a checked pass, a temperature reading, the roster and what the gate
remembers -> a Decision.

No I/O, no hardware, no clock reads: everything comes in as arguments (the time, the lane's
direction, whether the clock is synchronised, a :class:`History` of granted passages), so every
rule is tested exhaustively.

The compound's rules, in the order they are checked after the pass itself:

1. clock trust (``untrusted_clock``): CLOCK_UNTRUSTED, or validity errors become warnings;
2. roster: PASS_REVOKED, PASS_SUSPENDED, PASS_UNKNOWN;
3. opening hours per pass kind: OUTSIDE_HOURS;
4. home observation on the way out: HOME_OBSERVATION (the guard gets an amber alert); on
   the way in a warning (they may be coming back from a test);
5. a single re-entry temporary pass opens the way in once: PASS_USED;
6. household exit quota on the way out: QUOTA_EXCEEDED;
7. anti-passback: ANTI_PASSBACK (hard: deny; soft: allow, and warn the guard);

then the temperature (the 37.3 rule). ``rules=None`` checks only the pass and the roster.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any

from kiosk.clock import aware_time
from kiosk.events import TemperatureRead
from kiosk.reasons import Reason, message
from kiosk.roster import Roster

#: Pass reasons that only say the clock disagrees with the pass's validity window.
VALIDITY_REASONS = (Reason.PASS_EXPIRED, Reason.PASS_NOT_YET_VALID)
#: Pass kinds the household exit quota counts (staff come and go for work).
QUOTA_KINDS = ("resident", "temporary")
#: Body temperatures (°C) a person can have: a reading outside is "measure again" (never FEVER
#: or GRANTED), and a value typed by the guard outside is refused.
BODY_RANGE_C = (34.0, 43.0)


def plausible_body_c(value: float) -> bool:
    """True for a finite body temperature (°C) within :data:`BODY_RANGE_C`."""
    return math.isfinite(value) and BODY_RANGE_C[0] <= value <= BODY_RANGE_C[1]


def parse_hours(text: str) -> tuple[time, time] | None:
    """Parse opening hours ``"HH:MM-HH:MM"`` (local time; ``"22:00-06:00"`` spans midnight;
    ``"24:00"`` is the end of the day). ``""`` means all day and gives ``None``.

    :raises ValueError: the text is not of that shape (the message shows it).
    """
    text = text.strip()
    if not text:
        return None
    parts = text.split("-")
    if len(parts) != 2:
        raise ValueError(f"{text!r} is not HH:MM-HH:MM")
    start, end = (parse_clock_time(part) for part in parts)
    if start == end:
        raise ValueError(f'{text!r}: start and end are equal; use "" for all day')
    return start, end


def parse_clock_time(text: str) -> time:
    """``"HH:MM"`` as a :class:`time`; ``"24:00"`` becomes 23:59:59.

    :raises ValueError: not HH:MM.
    """
    text = text.strip()
    try:
        hours, minutes = (int(x) for x in text.split(":"))
    except ValueError:
        raise ValueError(f"{text!r} is not HH:MM") from None
    if (hours, minutes) == (24, 0):
        return time(23, 59, 59)
    if not (0 <= hours <= 23 and 0 <= minutes <= 59 and len(text) == 5):
        raise ValueError(f"{text!r} is not HH:MM between 00:00 and 24:00")
    return time(hours, minutes)


def within_hours(hours: tuple[time, time] | None, moment: time) -> bool:
    """True when *moment* (local time of day) is inside *hours* (start inclusive, end not)."""
    if hours is None:
        return True
    start, end = hours
    if start < end:
        return start <= moment < end
    return moment >= start or moment < end


# -- what the gate remembers -------------------------------------------------------------------


@dataclass(frozen=True)
class Passage:
    """One granted passage through the gate, as the rules remember it.

    :param at: wall-clock time, timezone-aware.
    :param direction: ``"in"`` or ``"out"``.
    """

    pass_id: str
    household: str | None
    kind: str | None
    direction: str
    at: datetime
    single_reentry: bool = False

    @classmethod
    def from_event(cls, ts: Any, data: Any) -> Passage | None:
        """The passage an ``access.granted`` event records, or None when the event does not
        name a pass (a manual opening) or is not readable. Never raises."""
        if not isinstance(data, dict) or not isinstance(ts, str):
            return None
        pass_id, direction = data.get("pass_id"), data.get("direction")
        if not isinstance(pass_id, str) or direction not in ("in", "out"):
            return None
        at = aware_time(ts)
        if at is None:
            return None
        household = data.get("household")
        kind = data.get("kind")
        return cls(
            pass_id,
            household if isinstance(household, str) else None,
            kind if isinstance(kind, str) else None,
            direction,
            at,
            data.get("single_reentry") is True,
        )


class History:
    """Granted passages the rules need: the last passage of each pass (anti-passback), the
    outings of each household (exit quota) and the single re-entry passes already used.

    Shared by the lanes of one gate; every method takes a lock, so an in lane and an out lane
    may record and ask at the same time. Only granted passages that name a pass count.

    :param keep: how long a passage is remembered (the longest window of any rule).
    """

    def __init__(self, keep: timedelta = timedelta(days=15)) -> None:
        self.keep = keep
        self._lock = threading.Lock()
        self._last: dict[str, Passage] = {}
        self._outings: dict[str, list[datetime]] = {}
        self._reentered: dict[str, datetime] = {}
        self._forgot: datetime | None = None

    @classmethod
    def of(cls, passages: Iterable[Passage], keep: timedelta = timedelta(days=15)) -> History:
        """A history holding *passages* (oldest first)."""
        history = cls(keep)
        for passage in passages:
            history.record(passage)
        return history

    def record(self, passage: Passage) -> None:
        """Remember a granted passage (and forget what is older than :attr:`keep`)."""
        with self._lock:
            self._last[passage.pass_id] = passage
            if passage.direction == "out" and passage.household and passage.kind in QUOTA_KINDS:
                self._outings.setdefault(passage.household, []).append(passage.at)
            if passage.direction == "in" and passage.single_reentry:
                self._reentered[passage.pass_id] = passage.at
            if self._forgot is None or passage.at - self._forgot >= timedelta(hours=1):
                self._forget(passage.at - self.keep)  # at most hourly: rebuilds stay linear
                self._forgot = passage.at

    def _forget(self, before: datetime) -> None:
        for pass_id in [p for p, v in self._last.items() if v.at < before]:
            del self._last[pass_id]
        for household in list(self._outings):
            kept = [t for t in self._outings[household] if t >= before]
            if kept:
                self._outings[household] = kept
            else:
                del self._outings[household]
        for pass_id in [p for p, t in self._reentered.items() if t < before]:
            del self._reentered[pass_id]

    def last(self, pass_id: str | None) -> Passage | None:
        """The last granted passage of *pass_id*, or None."""
        with self._lock:
            return self._last.get(pass_id) if pass_id else None

    def outings_since(self, household: str | None, since: datetime) -> int:
        """How many times *household* went out at or after *since*."""
        with self._lock:
            return sum(1 for t in self._outings.get(household or "", ()) if t >= since)

    def reentered(self, pass_id: str | None) -> bool:
        """True when the single re-entry pass *pass_id* has already let its holder back in."""
        with self._lock:
            return bool(pass_id) and pass_id in self._reentered

    def __len__(self) -> int:
        with self._lock:
            return len(self._last)


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
    #: Reason codes the guard is warned about although the decision stands (soft
    #: anti-passback, an unsynchronised clock, a validity window ignored).
    warnings: tuple[str, ...] = ()
    #: Whether the system clock was synchronised when deciding (None: not known).
    clock_synchronised: bool | None = None
    #: The pass is a single re-entry temporary pass (recorded so the history can be rebuilt).
    single_reentry: bool = False

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
        if self.warnings:
            out["warnings"] = list(self.warnings)
        if self.clock_synchronised is not None:
            out["clock_synchronised"] = self.clock_synchronised
        if self.single_reentry:
            out["single_reentry"] = True
        return out

    def passage(self, direction: str, at: datetime) -> Passage | None:
        """The passage a grant of this decision records, or None (no pass, or a denial)."""
        if not self.granted or not self.pass_id:
            return None
        return Passage(self.pass_id, self.household, self.kind, direction, at, self.single_reentry)


def kind_name(kind) -> str | None:
    """A pass kind (enum or text) as lower-case text, e.g. ``"resident"``."""
    if kind is None:
        return None
    return str(getattr(kind, "name", kind)).lower()


def check_pass(check, roster: Roster, **kwargs) -> Decision | None:
    """Rules that need only the pass. Returns a denial, or None when the person may go on
    to be measured. Soft rules' warnings are in :func:`screen_pass`'s result.

    Takes the same arguments as :func:`screen_pass`.
    """
    verdict = screen_pass(check, roster, **kwargs)
    return None if verdict.granted else verdict


def screen_pass(
    check,
    roster: Roster,
    *,
    now: datetime,
    direction: str,
    accept_without_roster: bool = True,
    rules=None,
    history: History | None = None,
    has_out_lane: bool = False,
    clock_synchronised: bool | None = None,
) -> Decision:
    """Every rule that needs only the pass, the roster and the history.

    Returns a denial, or a GRANTED decision (with any ``warnings``) meaning: go on to be
    measured. Never raises for any *check* a verifier returns.

    :param check: a ``passes.PassCheck`` (``reason``, ``claims``, ``detail``).
    :param now: the wall-clock time, timezone-aware (local times of day come from its offset).
    :param direction: ``"in"`` or ``"out"``: the lane's direction.
    :param rules: :class:`kiosk.config.RulesSettings` (or anything with its fields); None
        checks only the pass and the roster.
    :param history: the gate's granted passages; None skips the rules that need it.
    :param has_out_lane: the gate has a lane of direction ``out`` (anti-passback ``auto``
        then goes by direction, else by time window).
    :param clock_synchronised: False when the system clock is known not to be synchronised.
    """
    claims = getattr(check, "claims", None)
    pass_id = getattr(claims, "pass_id", None)
    household = getattr(claims, "household", None)
    kind = kind_name(getattr(claims, "kind", None))
    single = getattr(claims, "single_reentry", False) is True
    warnings: list[str] = []
    if clock_synchronised is False:
        warnings.append(str(Reason.CLOCK_UNTRUSTED))

    def decision(granted: bool, reason: Reason, detail: str = "") -> Decision:
        return Decision(
            granted,
            reason,
            pass_id,
            household,
            kind,
            None,
            detail,
            tuple(warnings),
            clock_synchronised,
            single,
        )

    def deny(reason: Reason, detail: str = "") -> Decision:
        return decision(False, reason, detail)

    refused = _invalid(check, roster, accept_without_roster, rules, clock_synchronised, warnings)
    if refused is not None:
        return deny(*refused)
    if rules is None:
        observed = _home_observation(roster, now, direction, household, deny, "deny")
        return observed or decision(True, Reason.GRANTED)
    if not within_hours(rules.hours.windows.get(kind), now.time()):
        return deny(Reason.OUTSIDE_HOURS, f"{kind} passes open {getattr(rules.hours, kind)}")
    observed = _home_observation(roster, now, direction, household, deny, rules.home_observation)
    if observed is not None:
        return observed
    if (
        rules.home_observation != "off"
        and (direction == "in" or rules.home_observation == "warn")
        and household
        and roster.observation_until(household, now.date()) is not None
    ):
        # out (when only warned): the guard asks them to stay in; in: they may be coming
        # back from a test, and the guard checks
        warnings.append(str(Reason.HOME_OBSERVATION))
    if history is not None:
        if single and direction == "in" and history.reentered(pass_id):
            when = history.last(pass_id)
            detail = f"used at {when.at.isoformat()}" if when else "used"
            return deny(Reason.PASS_USED, detail)
        quota = _quota_denial(rules, roster, history, now, direction, household, kind)
        if quota:
            return deny(Reason.QUOTA_EXCEEDED, quota)
        passback = _passback(rules, history, now, direction, pass_id, has_out_lane, single)
        if passback and rules.anti_passback == "hard":
            return deny(Reason.ANTI_PASSBACK, passback)
        if passback:
            warnings.append(str(Reason.ANTI_PASSBACK))
    return decision(True, Reason.GRANTED)


def valid_pass(
    check,
    roster: Roster,
    *,
    accept_without_roster: bool = True,
    rules=None,
    clock_synchronised: bool | None = None,
) -> tuple[Reason, str]:
    """Whether a checked pass is a good pass of this gate, whatever lane it is shown at:
    the verifier's result (signature, site, validity window), the clock-trust rule
    (``untrusted_clock``) and the roster (revoked, suspended, unknown). The first rules of
    :func:`screen_pass`, with nothing of passing through (hours, home observation, quota,
    anti-passback): the pickup shelf checks a pass with it. Never raises.

    :return: ``(Reason.GRANTED, "")`` for a good pass, else the denial's reason and detail.
    """
    refused = _invalid(check, roster, accept_without_roster, rules, clock_synchronised, [])
    return refused if refused is not None else (Reason.GRANTED, "")


def _invalid(check, roster, accept_without_roster, rules, clock_synchronised, warnings):
    """``(reason, detail)`` when the pass itself is refused, else ``None``; a validity error
    ignored under ``untrusted_clock = "ignore_validity"`` is appended to *warnings*."""
    claims = getattr(check, "claims", None)
    untrusted = clock_synchronised is False and rules is not None
    if untrusted and rules.untrusted_clock == "deny":
        return Reason.CLOCK_UNTRUSTED, "the system clock is not synchronised"
    try:
        reason = Reason(check.reason)
    except ValueError:
        return Reason.PASS_MALFORMED, f"unknown check result {check.reason!r}"
    if (
        reason in VALIDITY_REASONS
        and untrusted
        and rules.untrusted_clock == "ignore_validity"
        and claims is not None
    ):
        warnings.append(str(reason))  # the clock, not the pass, may be wrong
        reason = Reason.GRANTED
    if reason != Reason.GRANTED or claims is None:
        if reason == Reason.GRANTED:
            reason = Reason.PASS_MALFORMED
        return reason, getattr(check, "detail", "")
    status = roster.pass_status(getattr(claims, "pass_id", None))
    if status == "revoked":
        return Reason.PASS_REVOKED, ""
    if status == "suspended":
        return Reason.PASS_SUSPENDED, ""
    unknown = kind_name(getattr(claims, "kind", None)) == "resident" and status is None
    if unknown and (roster.loaded or not accept_without_roster):
        return Reason.PASS_UNKNOWN, ""
    if status not in (None, "active"):
        return Reason.PASS_SUSPENDED, f"roster status {status!r}"
    return None


def _home_observation(roster, now, direction, household, deny, mode) -> Decision | None:
    if mode != "deny" or direction != "out" or not household:
        return None
    until = roster.observation_until(household, now.date())
    if until is None:
        return None
    return deny(Reason.HOME_OBSERVATION, f"until {until.isoformat()}")


def quota_for(rules, roster: Roster, household: str | None) -> tuple[int, int]:
    """(outings, days) allowed to *household*: the roster's ``exit_quota_per_day`` when it
    gives one (per calendar day), else the configured ``exit_quota`` per ``exit_quota_days``.
    0 outings means no quota."""
    entry = roster.households.get(household or "") if household else None
    per_day = entry.get("exit_quota_per_day") if isinstance(entry, dict) else None
    if isinstance(per_day, int) and not isinstance(per_day, bool) and per_day >= 0:
        return per_day, 1
    return rules.exit_quota, rules.exit_quota_days


def _quota_denial(rules, roster, history, now, direction, household, kind) -> str:
    if direction != "out" or not household or kind not in QUOTA_KINDS:
        return ""
    outings, days = quota_for(rules, roster, household)
    if outings <= 0 or days <= 0:
        return ""
    first_day: date = now.date() - timedelta(days=days - 1)
    since = datetime.combine(first_day, time(0), now.tzinfo)
    used = history.outings_since(household, since)
    if used < outings:
        return ""
    return f"{used} of {outings} outings since {first_day.isoformat()}"


def passback_mode(rules, has_out_lane: bool) -> str:
    """``"direction"`` or ``"window"``: how anti-passback is judged at this gate."""
    mode = rules.anti_passback_by
    if mode == "auto":
        return "direction" if has_out_lane else "window"
    return mode


def _passback(rules, history, now, direction, pass_id, has_out_lane, single) -> str:
    if rules.anti_passback == "off" or not pass_id:
        return ""
    last = history.last(pass_id)
    if last is None or last.direction != direction:
        return ""
    ago = (now - last.at).total_seconds()
    if ago < 0:
        return ""  # the clock went back: no judgement from a passage "in the future"
    if passback_mode(rules, has_out_lane) == "window":
        if ago < rules.anti_passback_window_s:
            return f"went {direction} {ago:.0f} s ago"
        return ""
    if ago < rules.anti_passback_reset_h * 3600:
        return f"went {direction} at {last.at.isoformat()} and has not come back through"
    return ""


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
    threshold_c: float,
    **pass_rules: Any,
) -> Decision:
    """The whole decision for one person: pass rules first, then the temperature.

    :param pass_rules: the keyword arguments of :func:`screen_pass` (``now``, ``direction``,
        ``rules``, ``history``, ...).
    :param threshold_c: the screening threshold in °C.
    """
    verdict = screen_pass(check, roster, **pass_rules)
    temperature = reading.body_c if reading is not None else None
    if not verdict.granted:
        return replace(verdict, temperature_c=temperature)
    reason = check_temperature(reading, threshold_c)
    return replace(
        verdict, granted=reason == Reason.GRANTED, reason=reason, temperature_c=temperature
    )
