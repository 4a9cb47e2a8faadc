"""The committee contract (``committee-api.md``, version 1), defined once for both sides.

The gate (:mod:`kiosk.uplink`, ``kiosk roster import``, :class:`kiosk.roster.Roster`) and the
committee server import this module; neither keeps a private copy of a field list. It holds
the shapes as frozen :mod:`msgspec` structs, one parser per body that comes from outside, and
the builders of what the gate sends. It imports no hardware, Flask, SQLite or NumPy, so the
server can use it as it is.

Parsing
    Every parser takes the raw bytes (or text) of a body and returns frozen structs, or raises
    :class:`ContractError` whose :attr:`~ContractError.field` names the field (``passes[3].id``,
    ``events[0].ts``) and, for an events batch, :attr:`~ContractError.seq` names the bad event
    (the server's ``bad_seq``). :class:`BatchTooLarge` is the 413 case. No parser raises
    anything else, whatever the bytes (nesting 30,000 deep included).

Fields the contract does not know
    are ignored, as a server must (the contract grows only by addition); a roster typed by
    hand is read with ``strict=True``, so a typo such as ``pases`` is refused.

Building
    :func:`encode_batch` packs the longest run of events within the limits; :func:`heartbeat`,
    :func:`roster` and :func:`event_refused` build those bodies; :func:`encode` writes JSON.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
import uuid
import zlib
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Annotated, Any, Literal

import msgspec

from kiosk.errors import ContractError

API_VERSION = 1
"""The contract's version (the ``/api/v1`` of the base URL)."""
MAX_BATCH_EVENTS = 500
"""Most events in one push."""
MAX_BATCH_BYTES = 1 << 20
"""Most bytes of JSON in one push, before compression (1 MiB)."""
MAX_ROSTER_BYTES = 16 << 20
"""Most bytes of JSON in a roster, pulled or imported (16 MiB: some 230,000 passes, fifteen
times the largest compound; a bigger one is refused before it is read whole)."""
MAX_SEQ = 2**63 - 1
"""The highest ``seq`` (and count) there is: what a signed 64-bit database column holds."""
MAX_REPLY_BYTES = 1 << 20
"""Most bytes of any other reply the gate reads (acks, errors)."""

EVENT_REFUSED = "kiosk.event_refused"
"""Type of the event sent in place of one the server refused (same ``seq`` and ``id``)."""
EVENT_TYPES = (
    *("pass.scanned", "temperature.measured", "access.granted", "access.denied"),
    *("gate.manual_open", "door.forced", "door.held_open", "alert.fever", "alert.sensor_fault"),
    *("registration.created", "pass.temporary_issued", "calibration.changed", "config.changed"),
    *("auth.login", "auth.login_failed", "kiosk.started", "kiosk.stopped"),
    *("parcel.received", "parcel.collected", EVENT_REFUSED),
)
"""The event types the contract names (a gate may send others: this is not a check)."""
PASS_STATUSES = ("active", "suspended", "revoked")
"""A roster pass's ``status``."""
KEY_USES = ("resident", "temporary")
"""A roster key's ``use``: the committee's key signs resident passes, a gate's temporary."""


class BatchTooLarge(ContractError):
    """A batch over 500 events or 1 MiB of JSON (the server answers 413)."""


_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})", re.ASCII
)
_NonEmpty = Annotated[str, msgspec.Meta(min_length=1)]
_Count = Annotated[int, msgspec.Meta(ge=0, le=MAX_SEQ)]


def is_rfc3339(value: Any) -> bool:
    """True when *value* is an RFC 3339 time with an offset (``2020-02-04T08:15:02.1+08:00``)."""
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        return False
    text = value.upper().replace("Z", "+00:00")
    head, dot, rest = text.partition(".")
    if dot:  # Python reads at most 6 fraction digits; RFC 3339 allows more
        digits = rest[: len(rest) - 6]
        text = f"{head}.{digits[:6].ljust(6, '0')}{rest[-6:]}"
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def _time(value: str, name: str) -> None:
    if not is_rfc3339(value):
        raise ValueError(f"{name}: must be an RFC 3339 time with an offset, not {value[:40]!r}")


# -- events ---------------------------------------------------------------------------------


class Event(msgspec.Struct, frozen=True, kw_only=True):
    """One event as it travels in a batch."""

    id: str
    """A UUID in canonical form (lower case, with hyphens), unique forever."""
    seq: Annotated[int, msgspec.Meta(ge=1, le=MAX_SEQ)]
    """Strictly increasing per gate, from 1, no gaps."""
    ts: str
    """RFC 3339 with an offset."""
    lane: str | None
    """The lane's name, or None for an event of the whole gate (``kiosk.started``)."""
    type: _NonEmpty
    data: dict[str, Any]

    def __post_init__(self) -> None:
        try:
            canonical = str(uuid.UUID(self.id)) == self.id
        except ValueError:
            canonical = False
        if not canonical:
            raise ValueError(f"id: must be a UUID in canonical form, not {self.id[:40]!r}")
        _time(self.ts, "ts")


class Batch(msgspec.Struct, frozen=True):
    """The body of ``POST /gates/{gate_id}/events``."""

    gate_id: _NonEmpty
    events: tuple[Event, ...]

    @property
    def first_seq(self) -> int:
        return self.events[0].seq

    @property
    def last_seq(self) -> int:
        return self.events[-1].seq


class Ack(msgspec.Struct, frozen=True):
    """The body of a 200 or 409 reply to a push: every event with ``seq <= acked_seq`` is
    stored (200), or the batch did not start at ``acked_seq + 1`` (409)."""

    acked_seq: _Count


class Refusal(msgspec.Struct, frozen=True):
    """The body of a 4xx reply: the server's ``error`` and, for a 400 to a push, the
    ``bad_seq`` of the malformed event."""

    error: str = ""
    bad_seq: Annotated[int, msgspec.Meta(ge=1)] | None = None


class EventRefusedData(msgspec.Struct, frozen=True):
    """``data`` of a ``kiosk.event_refused`` event."""

    original: str
    """The refused event, as the JSON text that was sent."""
    error: str
    """The server's error when it refused it."""


class _Seq(msgspec.Struct):
    seq: int


class _RawBatch(msgspec.Struct):
    gate_id: _NonEmpty
    events: list[msgspec.Raw]


# -- heartbeat ------------------------------------------------------------------------------


class Heartbeat(msgspec.Struct, frozen=True, kw_only=True):
    """The body of ``POST /gates/{gate_id}/heartbeat``."""

    gate_id: _NonEmpty
    ts: str
    version: str
    uptime_s: Annotated[float, msgspec.Meta(ge=0)]
    last_seq: _Count
    unsent: _Count
    lanes: dict[str, dict[str, Any]]
    """Lane name -> its health (``state``, ``thermometer``, ``camera``, ``relay``, ...)."""

    def __post_init__(self) -> None:
        _time(self.ts, "ts")


# -- roster ---------------------------------------------------------------------------------


class RosterKey(msgspec.Struct, frozen=True):
    """A public key the gate trusts: ``ed25519_public`` is the base64 of its 32 bytes."""

    kid: Annotated[int, msgspec.Meta(ge=0, le=255)]
    ed25519_public: str
    use: Literal["resident", "temporary"]

    def __post_init__(self) -> None:
        self.raw()

    def raw(self) -> bytes:
        """The 32 bytes of the key."""
        try:
            raw = base64.b64decode(self.ed25519_public, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("ed25519_public: must be base64") from None
        if len(raw) != 32:
            raise ValueError(f"ed25519_public: must be 32 bytes, not {len(raw)}")
        return raw


class Household(msgspec.Struct, frozen=True):
    id: _NonEmpty
    members: _Count
    exit_quota_per_day: _Count | None = None
    """Exits a day the household may make (None: no limit)."""


class RosterPass(msgspec.Struct, frozen=True):
    id: _NonEmpty
    household: _NonEmpty
    status: Literal["active", "suspended", "revoked"]


class Observation(msgspec.Struct, frozen=True):
    """A household in home observation up to and including ``until`` (YYYY-MM-DD)."""

    household: _NonEmpty
    until: str

    def __post_init__(self) -> None:
        self.until_date()

    def until_date(self) -> date:
        try:
            if len(self.until) != 10:
                raise ValueError
            return date.fromisoformat(self.until)
        except ValueError:
            raise ValueError(f"until: must be a date like 2020-02-18, not {self.until!r}") from None


class RosterBody(msgspec.Struct, frozen=True):
    """The body of ``GET /gates/{gate_id}/roster`` (and of a file ``kiosk roster import``
    takes). A list that is absent is empty."""

    version: _NonEmpty
    site: _NonEmpty
    keys: tuple[RosterKey, ...] = ()
    households: tuple[Household, ...] = ()
    passes: tuple[RosterPass, ...] = ()
    revoked: tuple[_NonEmpty, ...] = ()
    home_observation: tuple[Observation, ...] = ()


_ROSTER_KEYS = frozenset(RosterBody.__struct_fields__)


# -- decoding -------------------------------------------------------------------------------


_NAMED = re.compile(r"^(?P<field>[a-z_0-9]+): (?P<rest>.*)$", re.DOTALL)
_AT = re.compile(r"^(?P<message>.*) - at `\$(?P<path>[^`]*)`$", re.DOTALL)


@functools.cache
def _decoder(kind: type) -> msgspec.json.Decoder:
    return msgspec.json.Decoder(kind)


def _decode(kind: type, raw: bytes | str, what: str, *, prefix: str = ""):
    """Decode *raw* as *kind*, or raise :class:`ContractError` naming the field."""
    try:
        return _decoder(kind).decode(raw)
    except msgspec.ValidationError as exc:
        message, field = _split(str(exc))
        if not field and message.startswith("expected `object`, got"):
            message = "expected a JSON object, got " + message.rsplit(" ", 1)[-1].strip("`")
        field = _join(prefix, field)
        raise ContractError(_say(what, field, message), field=field) from None
    except (msgspec.DecodeError, RecursionError) as exc:
        raise ContractError(f"{what}: not JSON: {exc}", field=prefix) from None


def _split(text: str) -> tuple[str, str]:
    """msgspec's "Expected `str`, got `int` - at `$.passes[0].id`" as (message, field)."""
    match = _AT.match(text)
    message, path = (match["message"], match["path"].lstrip(".")) if match else (text, "")
    named = _NAMED.match(message)  # a check of ours names its field: "ts: must be ..."
    if named:
        path, message = _join(path, named["field"]), named["rest"]
    return message[:1].lower() + message[1:], path


def _say(what: str, field: str, message: str) -> str:
    return f"{what}: {field}: {message}" if field else f"{what}: {message}"


def _join(prefix: str, field: str) -> str:
    if not prefix:
        return field
    if not field:
        return prefix
    return prefix + (field if field.startswith("[") else "." + field)


def parse_batch(raw: bytes | str, *, gate_id: str | None = None) -> Batch:
    """An events batch as a server receives it (the JSON, already decompressed).

    Checks every field's type and range, the 500-event and 1 MiB limits, that the seqs are
    contiguous and, when given, that ``gate_id`` is the one of the path.

    :raises BatchTooLarge: over :data:`MAX_BATCH_EVENTS` or :data:`MAX_BATCH_BYTES` (413).
    :raises ContractError: anything else; :attr:`~ContractError.seq` is the ``bad_seq`` when
        one event is at fault (None when the batch as a whole is).
    """
    if len(raw) > MAX_BATCH_BYTES:
        raise BatchTooLarge(f"batch: more than {MAX_BATCH_BYTES} bytes of JSON")
    head = _decode(_RawBatch, raw, "batch")
    if gate_id is not None and head.gate_id != gate_id:
        raise ContractError(
            f"batch: gate_id {head.gate_id!r} does not match the path's {gate_id!r}",
            field="gate_id",
        )
    if not head.events:
        raise ContractError("batch: events: at least one event is required", field="events")
    if len(head.events) > MAX_BATCH_EVENTS:
        raise BatchTooLarge(f"batch: at most {MAX_BATCH_EVENTS} events, not {len(head.events)}")
    events: list[Event] = []
    for index, item in enumerate(head.events):
        where = f"events[{index}]"
        try:
            event = _decode(Event, item, "batch", prefix=where)
        except ContractError as exc:
            exc.seq = _seq_of(item)
            raise
        if events and event.seq != events[-1].seq + 1:
            raise ContractError(
                f"batch: {where}.seq: {event.seq} does not follow {events[-1].seq}",
                field=f"{where}.seq",
                seq=event.seq,
            )
        events.append(event)
    return Batch(head.gate_id, tuple(events))


def _seq_of(item: msgspec.Raw) -> int | None:
    try:
        seq = msgspec.json.decode(item, type=_Seq).seq
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return None
    return seq if seq >= 1 else None


def parse_heartbeat(raw: bytes | str, *, gate_id: str | None = None) -> Heartbeat:
    """A heartbeat body as a server receives it.

    :raises ContractError: naming the field.
    """
    beat = _decode(Heartbeat, raw, "heartbeat")
    if gate_id is not None and beat.gate_id != gate_id:
        raise ContractError(
            f"heartbeat: gate_id {beat.gate_id!r} does not match the path's {gate_id!r}",
            field="gate_id",
        )
    return beat


def parse_roster(
    raw: bytes | str | Mapping[str, Any], *, site: str | None = None, strict: bool = False
) -> RosterBody:
    """A roster body: pulled from the server, imported from a file, or read back from the
    journal. The one function that reads a roster.

    :param site: this gate's site; a roster for another site is refused.
    :param strict: refuse unknown top-level keys (a file typed by hand: ``pases``).
    :raises ContractError: naming the field; over :data:`MAX_ROSTER_BYTES` included.
    """
    if isinstance(raw, Mapping):  # plain data (a test, the demo): checked as its JSON is
        try:
            raw = encode(raw)
        except (TypeError, ValueError, OverflowError) as exc:
            raise ContractError(f"roster: not JSON data: {exc}") from None
    if len(raw) > MAX_ROSTER_BYTES:
        raise ContractError(
            f"roster: more than {MAX_ROSTER_BYTES >> 20} MiB of JSON ({len(raw):,} bytes)",
            field="",
        )
    if strict:
        keys = _decode(dict[str, msgspec.Raw], raw, "roster")
        unknown = sorted(set(keys) - _ROSTER_KEYS)
        if unknown:
            known = ", ".join(sorted(_ROSTER_KEYS))
            raise ContractError(
                f"roster: unknown key {unknown[0]!r} (known: {known})", field=unknown[0]
            )
        del keys
    body = _decode(RosterBody, raw, "roster")
    if site is not None and body.site != site:
        raise ContractError(
            f"roster: site: {body.site!r} is not this gate's site {site!r}", field="site"
        )
    _unique(body.passes, "passes", "pass")
    _unique(body.keys, "keys", "key", attr="kid")
    _unique(body.households, "households", "household")
    return body


def _unique(items: tuple, name: str, what: str, *, attr: str = "id") -> None:
    seen: set = set()
    for index, item in enumerate(items):
        value = getattr(item, attr)
        if value in seen:
            raise ContractError(
                f"roster: {name}[{index}].{attr}: {what} {value} appears twice",
                field=f"{name}[{index}].{attr}",
            )
        seen.add(value)


def parse_key(entry: Any) -> RosterKey:
    """One roster ``keys`` entry as plain data. :raises ContractError: naming the field."""
    return _convert(entry, RosterKey, "key")


def parse_ack(raw: bytes | str) -> Ack:
    """A 200 or 409 reply to a push. :raises ContractError: not ``{"acked_seq": N}``."""
    return _decode(Ack, raw, "reply")


def parse_refusal(raw: bytes | str) -> Refusal:
    """A 4xx reply; a body that is not the contract's shape gives an empty :class:`Refusal`
    (the status says enough)."""
    try:
        return _decode(Refusal, raw, "reply")
    except ContractError:
        return Refusal()


def parse_event_refused(event: Event) -> EventRefusedData:
    """``data`` of a ``kiosk.event_refused`` event. :raises ContractError: naming the field."""
    if event.type != EVENT_REFUSED:
        raise ContractError(f"event {event.seq}: type is not {EVENT_REFUSED}", field="type")
    try:
        return msgspec.convert(event.data, EventRefusedData)
    except msgspec.ValidationError as exc:
        message, field = _split(str(exc))
        where = _join("data", field)
        raise ContractError(
            f"event {event.seq}: {where}: {message}", field=where, seq=event.seq
        ) from None


def inflate(raw: bytes, limit: int = MAX_BATCH_BYTES) -> bytes:
    """Decompress a gzip request body, reading at most *limit* bytes of it.

    :raises BatchTooLarge: it inflates to more than *limit* bytes.
    :raises ContractError: it is not valid gzip.
    """
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        text = inflater.decompress(raw, limit + 1)
    except zlib.error as exc:
        raise ContractError(f"body is not valid gzip: {exc}") from None
    if len(text) > limit:
        raise BatchTooLarge(f"more than {limit} bytes of JSON")
    if not inflater.eof:
        raise ContractError("body is not valid gzip: truncated")
    return text


# -- building -------------------------------------------------------------------------------


_ENCODER = msgspec.json.Encoder()


def encode(value: Any) -> bytes:
    """*value* (a struct of this module, or plain JSON data) as compact UTF-8 JSON; a lone
    surrogate, which UTF-8 cannot carry, is sent as U+FFFD (the journal keeps the original)."""
    try:
        return _ENCODER.encode(value)
    except UnicodeEncodeError:
        plain = msgspec.to_builtins(value)
        text = json.dumps(plain, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace").encode()


def encode_batch(
    gate_id: str,
    events: Iterable[Mapping[str, Any] | Event],
    *,
    max_events: int = MAX_BATCH_EVENTS,
    max_bytes: int = MAX_BATCH_BYTES,
) -> tuple[bytes, int]:
    """The batch body for the longest prefix of *events* within *max_events* and
    *max_bytes* of JSON, and how many events it holds (0 when the first alone is too big:
    nothing is sent then, and the caller holds that event)."""
    head = b'{"gate_id":' + encode(gate_id) + b',"events":['
    size = len(head) + 2
    parts: list[bytes] = []
    for event in events:
        if len(parts) >= max_events:
            break
        part = encode(event)
        extra = len(part) + (1 if parts else 0)
        if size + extra > max_bytes:
            break
        size += extra
        parts.append(part)
    return head + b",".join(parts) + b"]}", len(parts)


def heartbeat(
    *,
    gate_id: str,
    ts: str,
    version: str,
    uptime_s: float,
    last_seq: int,
    unsent: int,
    lanes: Mapping[str, Mapping[str, Any]],
) -> Heartbeat:
    """A heartbeat as the gate sends it (checked: a bad value raises :class:`ContractError`)."""
    value = {
        "gate_id": gate_id,
        "ts": ts,
        "version": version,
        "uptime_s": uptime_s,
        "last_seq": last_seq,
        "unsent": unsent,
        "lanes": {str(k): dict(v) for k, v in lanes.items()},
    }
    return _convert(value, Heartbeat, "heartbeat")


def roster(
    *,
    version: str,
    site: str,
    keys: Iterable[Mapping[str, Any]] = (),
    households: Iterable[Mapping[str, Any]] = (),
    passes: Iterable[Mapping[str, Any]] = (),
    revoked: Iterable[str] = (),
    home_observation: Iterable[Mapping[str, Any]] = (),
) -> RosterBody:
    """A roster as a server serves it, checked as the gate will check it."""
    value = {
        "version": version,
        "site": site,
        "keys": list(keys),
        "households": list(households),
        "passes": list(passes),
        "revoked": list(revoked),
        "home_observation": list(home_observation),
    }
    body = _convert(value, RosterBody, "roster")
    return parse_roster(encode(body))  # the uniqueness checks too


def event_refused(original: Mapping[str, Any] | Event, error: str, *, now: str = "") -> dict:
    """The ``kiosk.event_refused`` event maintenance sends in place of *original* (an event
    in the batch shape) that the server refused with *error*: the same ``seq`` and ``id``,
    ``data.original`` the refused event as the JSON text that was sent; its ``ts`` and ``lane``
    when valid, else *now* (RFC 3339; the present time by default) and None."""
    if isinstance(original, Event):
        original = msgspec.to_builtins(original)
    text = encode(dict(original)).decode("utf-8")
    ts, lane = original.get("ts"), original.get("lane")
    if not is_rfc3339(ts):
        ts = now or datetime.now().astimezone().isoformat(timespec="milliseconds")
    return {
        "id": original["id"],
        "seq": original["seq"],
        "ts": ts,
        "lane": lane if isinstance(lane, str) else None,
        "type": EVENT_REFUSED,
        "data": {"original": text, "error": str(error)},
    }


def _convert(value: Any, kind: type, what: str):
    try:
        return msgspec.convert(value, kind)
    except msgspec.ValidationError as exc:
        message, field = _split(str(exc))
        raise ContractError(_say(what, field, message), field=field) from None
    except (RecursionError, TypeError) as exc:
        raise ContractError(f"{what}: not JSON data: {exc}") from None
