"""The request bodies of the screen's JSON endpoints: one small schema each, parsed and
checked here and nowhere else.

A view asks for its body with :func:`parse` and its :class:`Body` subclass. Whatever was sent
(an array, a string, a number, 30,000 nested ``[``, a field of the wrong type, a number out of
range, bytes that are not JSON) that does not fit the schema raises :class:`BadBody`, which
the app answers with a 400 and a message in the guard's language (:func:`refusal`), never a
500. msgspec decodes by the schema, so a wrong shape is refused where it starts, however deep
it goes. Where a schema says so (:attr:`Body.lenient`), numbers may come as strings
(``"36.8"``), as a form field's value would.
"""

from __future__ import annotations

import re
from typing import Annotated, ClassVar, Literal, TypeVar

import msgspec
from flask import g, jsonify, request

from kiosk.fevers import FEVER_OUTCOMES
from kiosk.ui import i18n

#: A finite number (NaN and infinities are out of this range).
Finite = Annotated[float, msgspec.Meta(ge=-1e6, le=1e6)]
#: A journal sequence number (SQLite's integer range).
Seq = Annotated[int, msgspec.Meta(ge=1, le=2**63 - 1)]

_FIELD = re.compile(r"at `\$\.(\w+)|required field `(\w+)`")


class Body(msgspec.Struct, forbid_unknown_fields=False):
    """A JSON object sent to an endpoint. Subclasses name their fields; unknown fields are
    ignored.

    :cvar error: the error code of a refusal.
    :cvar message: the catalogue key of the refusal's message.
    :cvar fields: field -> the catalogue key of the message when that field is wrong.
    :cvar lenient: numbers may be sent as strings (a value typed into a form field).
    """

    lenient: ClassVar[bool] = False
    error: ClassVar[str] = "bad_input"
    message: ClassVar[str] = "error.bad_body"
    fields: ClassVar[dict[str, str]] = {}


class BadBody(ValueError):
    """A request body that does not fit its endpoint's schema."""

    def __init__(self, schema: type[Body], detail: str) -> None:
        super().__init__(detail)
        match = _FIELD.search(detail)
        field = next((m for m in match.groups() if m), None) if match else None
        self.error = schema.error
        self.key = schema.fields.get(field or "", schema.message)
        self.detail = detail


B = TypeVar("B", bound=Body)


def parse(schema: type[B]) -> B:
    """This request's body as *schema* (an empty body is ``{}``).

    :raises BadBody: the body does not fit.
    """
    data = request.get_data(cache=True)
    try:
        return msgspec.json.decode(data.strip() or b"{}", type=schema, strict=not schema.lenient)
    except msgspec.ValidationError as exc:
        raise BadBody(schema, str(exc)) from None
    except msgspec.DecodeError as exc:
        raise BadBody(schema, f"the body is not JSON: {exc}") from None
    except RecursionError:  # an unknown field's value is skipped, however deep it goes
        raise BadBody(schema, "the body is nested too deeply") from None


def refusal(exc: BadBody):
    """The 400 answer to *exc*: the message in the guard's language and in both."""
    lang = getattr(g, "lang", "zh")
    return (
        jsonify(
            error=exc.error,
            message=i18n.translate(exc.key, lang),
            message_zh=i18n.translate(exc.key, "zh"),
            message_en=i18n.translate(exc.key, "en"),
            detail=exc.detail,
        ),
        400,
    )


# -- the guard screen ------------------------------------------------------------------------


class OpenGate(Body):
    """``POST /api/lanes/<lane>/open``: a manual opening."""

    reason: str = ""
    note: str = ""
    message: ClassVar[str] = "open.error.reason"
    fields: ClassVar[dict[str, str]] = {"note": "open.error.note"}


class ManualTemperature(Body):
    """``POST /api/lanes/<lane>/temperature``: a body temperature measured by hand (°C)."""

    lenient: ClassVar[bool] = True

    temperature_c: Finite
    message: ClassVar[str] = "manual.error"


class FeverAck(Body):
    """``POST /api/fevers/<seq>/ack``: what was done about a fever alarm."""

    lenient: ClassVar[bool] = True

    outcome: Literal[FEVER_OUTCOMES]
    temperature_c: Finite | None = None
    note: str = ""
    message: ClassVar[str] = "fever.error.outcome"
    fields: ClassVar[dict[str, str]] = {"temperature_c": "fever.error.value"}


class FeverRelease(Body):
    """``POST /api/fevers/<seq>/release``: re-measured by hand, normal: let the person through."""

    lenient: ClassVar[bool] = True

    temperature_c: Finite | None = None
    note: str = ""
    message: ClassVar[str] = "fever.error.value"


class TemporaryPass(Body):
    """``POST /api/passes/temporary``: a temporary pass for a registered person."""

    registration_id: str
    household: str
    hours: Finite | None = None
    until: str | None = None
    single_reentry: bool = True
    fields: ClassVar[dict[str, str]] = {
        "registration_id": "temporary.error.registration",
        "household": "reg.error.household_format",
        "hours": "temporary.error.hours",
        "until": "temporary.error.until",
        "single_reentry": "temporary.error.single_reentry",
    }


class ShelfShow(Body):
    """``POST /api/sim/shelf`` (demo): a pass held up to the pickup shelf's camera (no
    ``text``: taken away)."""

    text: Annotated[str, msgspec.Meta(max_length=4000)] | None = None
    message: ClassVar[str] = "sim.error.step_in"


class StepIn(Body):
    """``POST /api/sim/<lane>/step_in`` (demo): someone steps in front of a lane."""

    lenient: ClassVar[bool] = True

    text: Annotated[str, msgspec.Meta(max_length=4000)] | None = None
    object_c: Annotated[float, msgspec.Meta(ge=-20.0, le=60.0)] = 36.4
    message: ClassVar[str] = "sim.error.step_in"


class SimPart(Body):
    """``POST /api/sim/<lane>/part`` (demo): unplug or plug back a thermometer or camera."""

    part: Literal["thermometer", "camera"]
    plugged: bool
    message: ClassVar[str] = "sim.error.part"


class ParcelReceived(Body):
    """``POST /api/parcels``: a parcel left at the pickup point (checked further by
    :func:`kiosk.parcels.validate`: plain strings or numbers)."""

    household: str | int = ""
    count: str | int = 1
    slot: str | int = ""
    kind: str = "parcel"
    courier: str = ""
    message: ClassVar[str] = "parcel.error.household"
    fields: ClassVar[dict[str, str]] = {
        name: f"parcel.error.{name}" for name in ("household", "count", "slot", "kind", "courier")
    }


class ParcelCollected(Body):
    """``POST /api/parcels/collect``: one parcel (``id``) or a household's all."""

    id: str = ""
    household: str = ""
    message: ClassVar[str] = "parcel.error.which"


# -- maintenance -----------------------------------------------------------------------------

Point = tuple[Finite, Finite]


class Calibration(Body):
    """``POST /maintenance/<lane>/calibration``: one or two [raw °C, reference °C] pairs."""

    lenient: ClassVar[bool] = True

    points: Annotated[list[Point], msgspec.Meta(min_length=1, max_length=2)]
    error: ClassVar[str] = "bad_points"
    message: ClassVar[str] = "maint.bad_points"


class Emissivity(Body):
    """``POST /maintenance/<lane>/emissivity``: the sensor's emissivity."""

    lenient: ClassVar[bool] = True

    value: Finite
    error: ClassVar[str] = "bad_emissivity"
    message: ClassVar[str] = "maint.bad_emissivity"


class SendRefused(Body):
    """``POST /maintenance/<lane>/uplink/send-refused``: the held event's seq."""

    seq: Seq
    error: ClassVar[str] = "uplink_not_held"
    message: ClassVar[str] = "maint.uplink_not_held"
