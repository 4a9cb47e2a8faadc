"""A synthetic street for the benchmark, the screenshots and trying the pages out: compounds,
gates, households and passes, and days of gate events in the contract's shape.

A gate's day follows a compound's rhythm: few people at night, a morning peak of exits, an
evening peak of entries; each passage is a ``pass.scanned``, a ``temperature.measured`` and an
``access.granted`` (with ``data.direction``); now and then a refusal (by reason), a fever
(with its ``alert.fever``), a registration (by kind and outcome), a temporary pass, a door
forced. Everything is drawn from one seeded :class:`random.Random`, so a run is repeatable.
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

#: Relative traffic of each hour of the day (a compound under closed management).
HOURLY = (
    0.2, 0.1, 0.05, 0.05, 0.1, 0.4, 1.5, 3.0, 3.2, 2.0, 1.6, 1.8,
    2.2, 1.6, 1.4, 1.5, 1.8, 2.6, 3.4, 2.8, 2.0, 1.4, 0.8, 0.4,
)  # fmt: skip
REFUSALS = (
    ("PASS_EXPIRED", 4),
    ("PASS_REVOKED", 2),
    ("PASS_MALFORMED", 3),
    ("NO_TEMPERATURE", 3),
    ("QUOTA_EXCEEDED", 2),
    ("HOME_OBSERVATION", 1),
    ("PASS_WRONG_SITE", 1),
)
KINDS = (("returning", 3), ("visitor", 4), ("tenant", 1), ("worker", 1), ("courier", 3))


@dataclass(frozen=True)
class Gate:
    code: str
    site: str
    households: tuple[str, ...]


def households(count: int) -> tuple[str, ...]:
    """*count* building-room codes: buildings of 6 floors, 4 rooms a floor."""
    out = []
    for n in range(count):
        building, rest = divmod(n, 24)
        floor, room = divmod(rest, 4)
        out.append(f"{building + 1}-{floor + 1:02d}{room + 1:02d}")
    return tuple(out)


def pass_id(household: str, number: int = 1) -> str:
    building, room = household.split("-")
    return f"P{int(building):04d}{int(room):04d}{number:02d}"


def street(sites: int, gates_per_site: int, households_per_site: int) -> list[Gate]:
    """The gates of a street: site ``s01`` … with gates ``s01-1`` …"""
    homes = households(households_per_site)
    return [
        Gate(f"s{s + 1:02d}-{g + 1}", f"s{s + 1:02d}", homes)
        for s in range(sites)
        for g in range(gates_per_site)
    ]


def _pick(rng: random.Random, weighted) -> str:
    total = sum(w for _, w in weighted)
    x = rng.uniform(0, total)
    for value, weight in weighted:
        x -= weight
        if x <= 0:
            return value
    return weighted[-1][0]


def day_events(
    gate: Gate,
    day: date,
    rng: random.Random,
    *,
    passages: int,
    tz=UTC,
    first_seq: int = 1,
    until: datetime | None = None,
) -> Iterator[dict[str, Any]]:
    """The events of *gate* on *day* (in zone *tz*), about *passages* people through, as
    contract events with contiguous seq from *first_seq*; none after *until*."""
    midnight = datetime.combine(day, time(0), tzinfo=tz)
    weight = sum(HOURLY)
    moments = []
    for hour, share in enumerate(HOURLY):
        for _ in range(_poisson(rng, passages * share / weight)):
            moments.append(midnight + timedelta(hours=hour, seconds=rng.uniform(0, 3599)))
    moments.sort()
    seq = first_seq
    for at in moments:
        if until is not None and at > until:
            return
        for event in _person(gate, at, rng):
            event["seq"] = seq
            seq += 1
            yield event


def _poisson(rng: random.Random, mean: float) -> int:
    if mean > 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _event(
    rng: random.Random, at: datetime, type_: str, data: dict[str, Any], lane: str | None
) -> dict[str, Any]:
    return {
        "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "seq": 0,
        "ts": at.isoformat(timespec="milliseconds"),
        "lane": lane,
        "type": type_,
        "data": data,
    }


def _person(gate: Gate, at: datetime, rng: random.Random) -> list[dict[str, Any]]:
    household = rng.choice(gate.households)
    pid = pass_id(household, rng.choice((1, 1, 1, 2)))
    morning = at.hour < 13
    direction = "out" if rng.random() < (0.7 if morning else 0.3) else "in"
    lane = "main" if direction == "in" else "exit"
    temperature = round(rng.gauss(36.5, 0.25), 1)
    roll = rng.random()
    events = [
        _event(
            rng,
            at,
            "pass.scanned",
            {"pass_id": pid, "household": household, "direction": direction},
            lane,
        ),
        _event(
            rng,
            at + timedelta(milliseconds=400),
            "temperature.measured",
            {"status": "ok", "temperature_c": temperature, "pass_id": pid},
            lane,
        ),
    ]
    decided = at + timedelta(milliseconds=600)
    base = {"pass_id": pid, "household": household, "kind": "resident", "direction": direction}
    if roll < 0.004:  # a fever: refused, and the alarm
        fever = round(rng.uniform(37.4, 38.6), 1)
        events.append(
            _event(
                rng,
                decided,
                "alert.fever",
                {
                    "temperature_c": fever,
                    "threshold_c": 37.3,
                    "pass_id": pid,
                    "household": household,
                },
                lane,
            )
        )
        events.append(
            _event(
                rng,
                decided,
                "access.denied",
                {**base, "reason": "FEVER", "temperature_c": fever},
                lane,
            )
        )
    elif roll < 0.04:
        events.append(
            _event(
                rng,
                decided,
                "access.denied",
                {**base, "reason": _pick(rng, REFUSALS), "temperature_c": temperature},
                lane,
            )
        )
    else:
        events.append(
            _event(
                rng,
                decided,
                "access.granted",
                {**base, "reason": "GRANTED", "temperature_c": temperature},
                lane,
            )
        )
    if rng.random() < 0.03:  # someone registers at the gate
        kind = _pick(rng, KINDS)
        outcome = (
            "courier"
            if kind == "courier"
            else ("observation" if rng.random() < 0.1 else "admitted")
        )
        events.append(
            _event(
                rng,
                decided + timedelta(seconds=40),
                "registration.created",
                {
                    "kind": kind,
                    "outcome": outcome,
                    "name": "张三",
                    "phone": "13800138000",
                    "id_number": "**************1234",
                    "household": household if kind != "courier" else "",
                    "from_province": "湖北",
                    "from_city": "武汉",
                    "arrival_date": at.date().isoformat(),
                    "temperature_c": temperature,
                    "observation_until": (at.date() + timedelta(days=14)).isoformat()
                    if outcome == "observation"
                    else None,
                },
                "main",
            )
        )
        if kind == "visitor" and rng.random() < 0.5:
            events.append(
                _event(
                    rng,
                    decided + timedelta(seconds=60),
                    "pass.temporary_issued",
                    {"pass_id": f"T{rng.randrange(10**9):09d}", "household": household},
                    "main",
                )
            )
    return events
