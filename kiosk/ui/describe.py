"""What a person reads for a journal event: the name of its type, one line of its data and its
time in the gate's local zone, in the guard's language.

One place for the guard screen's event list, the records page and the CSV export, so that no
code word (``reason.other``, ``outcome.clinic``) reaches a screen or a spreadsheet. Names and
phone numbers are shown masked (:func:`kiosk.registrations.mask_name`); the committee receives
them in full through the uplink, not from here.
"""

from __future__ import annotations

from datetime import datetime, tzinfo

from kiosk.registrations import mask_id, mask_name, mask_phone
from kiosk.ui import i18n

#: Event data shown in the summary line, in this order.
SUMMARY = (
    "household",
    "name",
    "phone",
    "id_number",
    "kind",
    "temperature_c",
    "reason",
    "warnings",
    "outcome",
    "source",
    "state",
    "until",
    "valid_until",
    "pass_id",
    "by",
    "guard",
    "user",
)
#: Fields whose text is shown masked.
_MASKS = {"name": mask_name, "phone": mask_phone, "id_number": mask_id}


def type_name(type_: str, lang: str) -> str:
    """The words for an event type (``access.granted`` -> 放行)."""
    return i18n.translate(f"event.{type_}", lang)


def local_time(ts: str | None, tz: tzinfo | None, *, seconds: bool = True) -> str:
    """An RFC 3339 time as ``YYYY-MM-DD HH:MM:SS`` in *tz* (the gate's zone); "" for none,
    the text itself when it is not a time."""
    if not ts:
        return ""
    try:
        moment = datetime.fromisoformat(ts)
    except (TypeError, ValueError):
        return str(ts)
    if moment.tzinfo is not None:
        moment = moment.astimezone(tz)
    return moment.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def temperature(value) -> str:
    """A temperature as the screen shows it: one decimal (36.5, not 36.47); "" for none."""
    try:
        return f"{float(value):.1f}"
    except (TypeError, ValueError):
        return ""


def manual_open_reason(text: str, lang: str) -> str:
    """A ``gate.manual_open`` reason (``"other: 送水工人"``, ``"test"``) in words."""
    code, _, note = str(text).partition(":")
    words = i18n.translate(f"open.reason.{code.strip()}", lang)
    if words.startswith("open.reason."):
        return str(text)  # written by an older version: shown as it was typed
    return f"{words}：{note.strip()}" if note.strip() else words


def _reason(type_: str, value, lang: str) -> str:
    if type_ == "gate.manual_open":
        return manual_open_reason(value, lang)
    return i18n.translate(f"reason.{value}", lang)


def _outcome(type_: str, value, lang: str) -> str:
    prefix = "fever.outcome" if type_ == "alert.fever_ack" else "outcome"
    return i18n.translate(f"{prefix}.{value}", lang)


def _part(type_: str, key: str, value, lang: str, tz: tzinfo | None) -> str:
    if key in _MASKS:
        return _MASKS[key](str(value))
    if key == "temperature_c":
        return f"{temperature(value)} °C"
    if key == "reason":
        return _reason(type_, value, lang)
    if key == "outcome":
        return _outcome(type_, value, lang)
    if key == "warnings":
        return " · ".join(i18n.translate(f"warning.{w}", lang) for w in value or ())
    if key == "kind" and type_ == "registration.created":
        return i18n.translate(f"reg.kind.{value}", lang)
    if key == "kind":
        return ""  # the pass kind: the event's name says enough
    if key in ("source", "state") and type_ != "alert.sensor_fault":
        return ""  # a roster's source, a lane's state: the event's name says enough
    if key == "source":
        return i18n.translate(f"badge.{value}", lang)
    if key == "state":
        return i18n.translate(f"fault.state.{value}", lang)
    if key == "until":
        return f"{i18n.translate('reg.observation_until', lang)} {value}"
    if key == "valid_until":
        return f"{i18n.translate('reg.valid_until', lang)} {local_time(value, tz, seconds=False)}"
    return str(value)


def summary(type_: str, data: dict, lang: str, tz: tzinfo | None = None) -> str:
    """One line for an event's data: household, temperature, reason, outcome, ... in words."""
    parts = []
    for key in SUMMARY:
        value = data.get(key)
        if value in (None, "", [], ()):
            continue
        text = _part(type_, key, value, lang, tz)
        if text:
            parts.append(text)
    return " · ".join(parts)


def event_words(event, lang: str, tz: tzinfo | None) -> dict[str, str]:
    """``time`` (local, to the second), ``title`` and ``summary`` of a journal event."""
    return {
        "time": local_time(event.ts, tz),
        "title": type_name(event.type, lang),
        "summary": summary(event.type, event.data, lang, tz),
    }
