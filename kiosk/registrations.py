"""The health information form (健康状况信息登记表): rules for its fields, and its store.

:func:`validate` is pure: a submitted form (plain strings) and today's date in, a
:class:`Registration` or a set of error codes out (the guard screen words them through its
catalogue, ``reg.error.<code>``). Nothing from outside ever raises.

:class:`RegistrationStore` keeps registrations in the journal database's ``registrations``
table (personal data: purged after ``retention_days`` once the ``registration.created`` event
is uploaded, i.e. ``event_seq`` <= the upload cursor) and flags home observation at the gate
in ``local_observation``, which the daemon merges into the committee's roster list.

What goes to the committee: ``registration.created`` carries every field of the form that the
committee needs to follow a person up (name, phone, household, where from, when, answers,
temperature, outcome), but the ID number only masked (last four characters): the full number
stays on the gate, in the registrations table, until it is purged.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any

from kiosk.passes import short_id
from kiosk.policy import plausible_body_c

KINDS = ("returning", "visitor", "tenant", "worker", "courier")
OUTCOMES = ("admitted", "observation", "refused", "courier")
SYMPTOMS = ("fever", "cough", "fatigue", "breath", "diarrhea")
#: Days of home observation for people from key areas (the 14-day rule).
OBSERVATION_DAYS = 14
#: How far back an arrival date may lie.
MAX_ARRIVAL_AGE_DAYS = 365
#: A typed temperature differing from the sensor's by at least this (°C) needs a reason.
TEMPERATURE_EDIT_C = 0.05

_PHONE = re.compile(r"^(1\d{10}|\+?\d{7,15})$")
_ID18 = re.compile(r"^\d{17}[\dX]$")
_ID_OTHER = re.compile(r"^[A-Z0-9]{5,20}$")
_HOUSEHOLD = re.compile(r"^[0-9A-Za-z][0-9A-Za-z-]{0,19}$")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


@dataclass(frozen=True)
class Registration:
    """One filled-in form. Temperatures in °C; dates as ``date``."""

    kind: str
    name: str
    phone: str
    id_number: str
    household: str
    from_province: str
    from_city: str
    arrival_date: date
    key_area: bool
    contact: bool
    symptoms: tuple[str, ...]
    temperature_c: float
    temperature_source: str  # "sensor" (as the lane measured it) or "manual"
    temperature_note: str
    plate: str
    outcome: str
    observation_until: date | None

    def event_data(self, *, registration_id: str, by: str, lane: str | None) -> dict[str, Any]:
        """The ``registration.created`` event data (ID number masked)."""
        data = asdict(self)
        data["id_number"] = mask_id(self.id_number)
        data["arrival_date"] = self.arrival_date.isoformat()
        data["observation_until"] = (
            self.observation_until.isoformat() if self.observation_until else None
        )
        data["symptoms"] = list(self.symptoms)
        data["registration_id"] = registration_id
        data["by"] = by
        data["lane"] = lane
        return data


def mask_id(number: str) -> str:
    """An ID number with all but its last four characters hidden; "" stays ""."""
    if not number:
        return ""
    keep = 4 if len(number) > 6 else 1
    return "*" * (len(number) - keep) + number[-keep:]


def id_checksum_ok(number: str) -> bool:
    """True when an 18-character resident ID number's last character matches (GB 11643)."""
    if not _ID18.match(number):
        return False
    total = sum(int(c) * w for c, w in zip(number[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == number[17]


def _text(form: Mapping[str, Any], key: str, limit: int) -> str:
    value = form.get(key)
    if not isinstance(value, str):
        return ""
    return " ".join(value.split())[:limit]


def _float(value: Any) -> float | None:
    try:
        number = float(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def validate(
    form: Mapping[str, Any],
    *,
    today: date,
    threshold_c: float = 37.3,
    households: set[str] | frozenset[str] | None = None,
) -> tuple[Registration | None, dict[str, str]]:
    """Check a submitted form.

    :param form: field name -> text (``symptoms``: a list of codes).
    :param today: the gate's local date.
    :param threshold_c: the screening threshold: at or above it nobody is admitted.
    :param households: the roster's households, or None when the roster lists none.
    :returns: ``(registration, {})`` or ``(None, {field: error code})``.
    """
    errors: dict[str, str] = {}
    kind = _text(form, "kind", 20)
    if kind not in KINDS:
        errors["kind"] = "kind"
    name = _text(form, "name", 40)
    if not name:
        errors["name"] = "name_required"
    phone = re.sub(r"[\s-]", "", _text(form, "phone", 30))
    if not phone:
        errors["phone"] = "phone_required"
    elif not _PHONE.match(phone):
        errors["phone"] = "phone_format"

    id_number = re.sub(r"\s", "", _text(form, "id_number", 30)).upper()
    if id_number:
        if id_number[:-1].isdigit() and len(id_number) != 15:
            # a resident ID number (18 characters; the old 15-digit one passes as is)
            if not id_checksum_ok(id_number):
                errors["id_number"] = "id_checksum" if len(id_number) == 18 else "id_format"
        elif not _ID_OTHER.match(id_number):
            errors["id_number"] = "id_format"

    household = _text(form, "household", 20).upper()
    if household:
        if not _HOUSEHOLD.match(household):
            errors["household"] = "household_format"
        elif households and household not in households:
            errors["household"] = "household_unknown"
    elif kind != "courier":
        errors["household"] = "household_required"

    from_province = _text(form, "from_province", 20)
    from_city = _text(form, "from_city", 20)
    if not from_province and kind != "courier":
        errors["from_province"] = "from_required"

    arrival = None
    try:
        arrival = date.fromisoformat(_text(form, "arrival_date", 10))
    except ValueError:
        errors["arrival_date"] = "date_format"
    else:
        if arrival > today:
            errors["arrival_date"] = "date_future"
        elif arrival < today - timedelta(days=MAX_ARRIVAL_AGE_DAYS):
            errors["arrival_date"] = "date_old"

    answers = {}
    for key in ("key_area", "contact"):
        value = _text(form, key, 3)
        if value not in ("yes", "no"):
            errors[key] = "yes_no"
        answers[key] = value == "yes"
    raw_symptoms = form.get("symptoms") or []
    if isinstance(raw_symptoms, str):
        raw_symptoms = [raw_symptoms]
    symptoms = tuple(s for s in SYMPTOMS if s in raw_symptoms)
    if len(symptoms) != len({s for s in raw_symptoms if s}):
        errors["symptoms"] = "symptoms"

    temperature = _float(form.get("temperature_c"))
    sensor = _float(form.get("sensor_c"))
    note = _text(form, "temperature_note", 100)
    source = "manual"
    if temperature is None:
        errors["temperature_c"] = "temperature_required"
    elif not plausible_body_c(temperature):
        errors["temperature_c"] = "temperature_range"
    else:
        temperature = round(temperature, 1)
        if sensor is not None and abs(temperature - sensor) < TEMPERATURE_EDIT_C:
            source = "sensor"
        elif sensor is not None and not note:
            errors["temperature_note"] = "temperature_note"

    plate = re.sub(r"[\s·.-]", "", _text(form, "plate", 12)).upper()
    if plate and not 5 <= len(plate) <= 10:
        errors["plate"] = "plate_format"

    outcome = _text(form, "outcome", 20)
    until = None
    if outcome not in OUTCOMES:
        errors["outcome"] = "outcome"
    elif temperature is not None and temperature >= threshold_c and outcome != "refused":
        errors["outcome"] = "outcome_fever"
    elif kind == "courier" and outcome not in ("courier", "refused"):
        errors["outcome"] = "outcome_courier"
    elif outcome == "courier" and kind != "courier":
        errors["outcome"] = "outcome_not_courier"
    elif outcome == "admitted" and (answers["key_area"] or answers["contact"]):
        errors["outcome"] = "outcome_risk"
    elif outcome == "admitted" and symptoms:
        errors["outcome"] = "outcome_symptoms"
    elif outcome == "observation" and arrival is not None:
        until = arrival + timedelta(days=OBSERVATION_DAYS)
        if until < today:
            errors["outcome"] = "observation_over"
        if not household:
            errors["household"] = "household_required"

    if errors:
        return None, errors
    return (
        Registration(
            kind=kind,
            name=name,
            phone=phone,
            id_number=id_number,
            household=household,
            from_province=from_province,
            from_city=from_city,
            arrival_date=arrival,
            key_area=answers["key_area"],
            contact=answers["contact"],
            symptoms=symptoms,
            temperature_c=temperature,
            temperature_source=source,
            temperature_note=note,
            plate=plate,
            outcome=outcome,
            observation_until=until,
        ),
        {},
    )


class RegistrationStore:
    """Registrations and locally flagged home observation, in the journal database.

    :param journal: a :class:`kiosk.journal.Journal` (schema version 2 or later).
    """

    def __init__(self, journal) -> None:
        self.journal = journal
        journal.add_listener(self._on_event)

    def add(self, registration: Registration, *, by: str, lane: str | None = None):
        """Journal ``registration.created`` and keep the form; returns the event, whose data
        carries the ``registration_id`` (:func:`kiosk.passes.short_id`, ``"R0204K7QX2M"``:
        the same id in the event, the row and a temporary pass issued for it).

        The event is written first: it is the record the committee receives. The row is the
        gate's working copy and carries the event's ``seq`` so that retention can tell when
        it was uploaded; while the disk refuses writes the event waits in memory without a
        ``seq``, and the row gets it when the event is written.
        """
        registration_id = short_id("R", self.journal.clock.now())
        data = registration.event_data(registration_id=registration_id, by=by, lane=lane)
        event = self.journal.append("registration.created", data, lane=lane)
        row = dict(data, id_number=registration.id_number)
        self.journal.write(
            "INSERT INTO registrations (id, created_at, event_seq, household, outcome, data) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                registration_id,
                event.ts,
                event.seq,
                registration.household or None,
                registration.outcome,
                json.dumps(row, ensure_ascii=False, separators=(",", ":")),
            ),
        )
        return event

    def _on_event(self, event) -> None:
        """A ``registration.created`` written after its row (it waited in memory): give the
        row its ``seq``."""
        if event.type == "registration.created" and event.seq is not None:
            self.journal.write(
                "UPDATE registrations SET event_seq = ? WHERE id = ? AND event_seq IS NULL",
                (event.seq, event.data.get("registration_id")),
            )

    def recent(self, limit: int = 50) -> list[dict[str, Any]]:
        """The latest registrations, newest first, ID number masked."""
        rows = self.journal.read(
            "SELECT data, created_at FROM registrations ORDER BY created_at DESC, rowid DESC "
            "LIMIT ?",
            (limit,),
        )
        out = []
        for body, created in rows:
            data = json.loads(body)
            data["id_number"] = mask_id(data.get("id_number") or "")
            data["created_at"] = created
            out.append(data)
        return out

    def flag_observation(self, household: str, until: date, by: str, now: datetime) -> date:
        """Flag *household* for home observation until *until* (the later date wins)."""
        self.journal.write(
            "INSERT INTO local_observation (household, until, flagged_by, flagged_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT(household) DO UPDATE SET "
            "until = max(until, excluded.until), flagged_by = excluded.flagged_by, "
            "flagged_at = excluded.flagged_at",
            (household, until.isoformat(), by, now.isoformat(timespec="seconds")),
        )
        return self.observations()[household]

    def observations(self) -> dict[str, date]:
        """Household -> end of home observation flagged at this gate."""
        return {
            household: date.fromisoformat(until)
            for household, until in self.journal.read(
                "SELECT household, until FROM local_observation"
            )
        }
