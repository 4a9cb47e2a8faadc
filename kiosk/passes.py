"""Pass tokens: the compact signed payload behind every QR pass, and its offline check.

A pass is a token shown as a QR code. Resident and worker passes (出入证) are signed by the
committee's Ed25519 key; the kiosk holds only public keys, so a stolen kiosk cannot mint
them. Temporary passes (临时通行证) are signed by the gate's own key, are short-lived and
may carry the registration they were issued for.

Token text::

    "KP1:" + base45(payload + signature)

Only characters of the QR alphanumeric set appear, so a QR code can hold the token in
alphanumeric mode (5.5 bits a character). Payload layout, all integers big endian:

====== ====== ==========================================================================
offset bytes  field
====== ====== ==========================================================================
0      1      format version (high 4 bits, now 1) and kind (low 4 bits, :class:`PassKind`)
1      1      flags: bit 0 single re-entry, bit 1 registration id follows; others zero
2      1      key id (0-255) of the key that signed the pass
3      3      site tag: first 3 bytes of SHA-256 of the site id (UTF-8)
6      4      valid from, seconds since 1970-01-01 UTC (unsigned, so up to year 2106)
10     4      valid until, same unit; the pass is expired from this second on
14     1      length of the pass id (high 4 bits) and of the household (low 4 bits)
15     n      pass id, UTF-8, 1 to :data:`PASS_ID_MAX` bytes
15+n   m      household, UTF-8, 1 to :data:`HOUSEHOLD_MAX` bytes
..     1+r    only with flag bit 1: length byte, then the registration id, UTF-8,
              1 to :data:`REGISTRATION_ID_MAX` bytes (temporary passes only)
..     64     Ed25519 signature over every byte before it
====== ====== ==========================================================================

With the longest fields a resident pass is 100 bytes, 150 base45 characters plus the
4-character prefix: 154 characters, exactly the alphanumeric capacity of a version 6 QR code
at error correction M. A temporary pass with a registration id needs version 7.

The parser accepts exactly what :func:`issue_token` produces: upper-case base45 (which has
one text per byte string), no spare bytes, no unknown flags. :func:`verify` gives every
input a decision and never raises for any text or bytes.

This module is pure: no hardware, Flask or SQLite.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum, StrEnum
from typing import Any

import base45
import segno
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from kiosk import contract
from kiosk.errors import ContractError, PassError
from kiosk.reasons import Reason, message

#: Text every token starts with.
PREFIX = "KP1:"
#: Format version in the high 4 bits of the first payload byte.
FORMAT_VERSION = 1
#: Longest pass id, in UTF-8 bytes ("P0007120101" is 11).
PASS_ID_MAX = 11
#: Longest household, in UTF-8 bytes ("12-3-1201" is 9; a Chinese character takes 3).
HOUSEHOLD_MAX = 10
#: Longest registration id of a temporary pass, in UTF-8 bytes.
REGISTRATION_ID_MAX = 12
#: Bytes of the site tag.
SITE_TAG_BYTES = 3
#: Bytes of an Ed25519 signature.
SIGNATURE_BYTES = 64
#: Texts longer than this are refused before any decoding (a real token is under 200).
MAX_TOKEN_CHARS = 512
#: Characters of the random part of an id made at the gate (no 0/O, 1/I look-alikes).
ID_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"

FLAG_SINGLE_REENTRY = 0x01
FLAG_REGISTRATION = 0x02
_KNOWN_FLAGS = FLAG_SINGLE_REENTRY | FLAG_REGISTRATION

_HEADER = struct.Struct(">BBB3sIIB")  # version|kind, flags, kid, site tag, from, until, lengths
_MIN_RAW = _HEADER.size + 2 + SIGNATURE_BYTES
_MAX_RAW = _HEADER.size + PASS_ID_MAX + HOUSEHOLD_MAX + 1 + REGISTRATION_ID_MAX + SIGNATURE_BYTES
_BASE45_BODY = re.compile(r"[0-9A-Z $%*+\-./:]+")
_HOUSEHOLD = re.compile(r"[^\W_]+(?:-[^\W_]+)*")
_UINT32_LIMIT = 2**32


class PassKind(IntEnum):
    """What a pass is for; the value is its code in the token."""

    #: 出入证 of a resident, signed by the committee.
    RESIDENT = 1
    #: 临时通行证 handed out at the gate, signed by the gate's own key.
    TEMPORARY = 2
    #: Pass of property or committee staff (工作人员), signed by the committee.
    WORKER = 3


class KeyUse(StrEnum):
    """What a public key may sign; the spelling is the roster's ``use``."""

    #: The committee's key: resident and worker passes.
    RESIDENT = "resident"
    #: A gate's own key: temporary passes.
    TEMPORARY = "temporary"


#: The key use each kind of pass must be signed with.
KEY_USE_FOR_KIND: dict[PassKind, KeyUse] = {
    PassKind.RESIDENT: KeyUse.RESIDENT,
    PassKind.WORKER: KeyUse.RESIDENT,
    PassKind.TEMPORARY: KeyUse.TEMPORARY,
}


def site_tag(site: str) -> bytes:
    """Return the short tag of *site* (a site id such as ``"xdm-jinwaitan"``) that passes carry.

    The tag keeps a pass of another compound out when compounds share a signing key; it is
    a hash prefix, not a secret.
    """
    if not isinstance(site, str) or not site:
        raise PassError("site id must be a non-empty string")
    return hashlib.sha256(site.encode("utf-8")).digest()[:SITE_TAG_BYTES]


def _text_field(name: str, value: Any, limit: int) -> bytes:
    if not isinstance(value, str) or not value:
        raise PassError(f"{name} must be a non-empty string")
    if not value.isprintable() or value != value.strip():
        raise PassError(f"{name} {value!r} has control characters or surrounding spaces")
    encoded = value.encode("utf-8")
    if len(encoded) > limit:
        raise PassError(f"{name} {value!r} is {len(encoded)} bytes in UTF-8; at most {limit}")
    return encoded


def _epoch_seconds(name: str, value: Any) -> int:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise PassError(f"{name} must be a timezone-aware datetime")
    if value.microsecond:
        raise PassError(f"{name} must be a whole second (use make_claims to round)")
    seconds = int(value.timestamp())
    if not 0 <= seconds < _UINT32_LIMIT:
        raise PassError(f"{name} {value.isoformat()} is outside 1970..2106")
    return seconds


@dataclass(frozen=True)
class PassClaims:
    """What a pass says. Building one checks every field and raises :class:`PassError`.

    :param kind: what the pass is for.
    :param kid: id (0-255) of the key that signs it.
    :param pass_id: e.g. ``"P0007120101"``; at most :data:`PASS_ID_MAX` UTF-8 bytes.
    :param household: e.g. ``"7-1201"``; at most :data:`HOUSEHOLD_MAX` UTF-8 bytes.
    :param site_tag: :func:`site_tag` of the site id, :data:`SITE_TAG_BYTES` bytes.
    :param valid_from: first second of validity, timezone-aware, whole seconds.
    :param valid_until: first second the pass is expired; after *valid_from*.
    :param single_reentry: a temporary pass good for one return only (policy enforces it).
    :param registration_id: the registration a temporary pass was issued for, or ``None``.
    """

    kind: PassKind
    kid: int
    pass_id: str
    household: str
    site_tag: bytes
    valid_from: datetime
    valid_until: datetime
    single_reentry: bool = False
    registration_id: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.kind, PassKind):
            raise PassError(f"kind must be a PassKind, not {self.kind!r}")
        if isinstance(self.kid, bool) or not isinstance(self.kid, int) or not 0 <= self.kid <= 255:
            raise PassError(f"key id must be an integer 0..255, not {self.kid!r}")
        _text_field("pass id", self.pass_id, PASS_ID_MAX)
        _text_field("household", self.household, HOUSEHOLD_MAX)
        if not isinstance(self.site_tag, bytes) or len(self.site_tag) != SITE_TAG_BYTES:
            raise PassError(f"site tag must be {SITE_TAG_BYTES} bytes (see site_tag())")
        start = _epoch_seconds("valid_from", self.valid_from)
        end = _epoch_seconds("valid_until", self.valid_until)
        if end <= start:
            raise PassError("valid_until must be after valid_from")
        if not isinstance(self.single_reentry, bool):
            raise PassError("single_reentry must be True or False")
        if self.single_reentry and self.kind is not PassKind.TEMPORARY:
            raise PassError("only a temporary pass can be single re-entry")
        if self.registration_id is not None:
            _text_field("registration id", self.registration_id, REGISTRATION_ID_MAX)
            if self.kind is not PassKind.TEMPORARY:
                raise PassError("only a temporary pass carries a registration id")


def household_problem(household: str) -> str | None:
    """Why *household* cannot be printed on a pass, or None when it can: letters and digits
    (any script: ``7-1201``, ``7号1201``) in parts joined by single hyphens, at most
    :data:`HOUSEHOLD_MAX` UTF-8 bytes; no spaces or punctuation, so that ``7 1201!`` is
    refused rather than taken for ``7-1201``."""
    if not isinstance(household, str) or not household:
        return "a household is needed, like 7-1201"
    size = len(household.encode("utf-8"))
    if size > HOUSEHOLD_MAX:
        return f"household {household!r} is {size} bytes in UTF-8; at most {HOUSEHOLD_MAX}"
    if not _HOUSEHOLD.fullmatch(household):
        return f"{household!r} is not a household: letters and digits joined by '-', like 7-1201"
    return None


def short_id(prefix: str, now: datetime) -> str:
    """An id made at the gate: *prefix*, month and day of *now*, six random characters of
    :data:`ID_ALPHABET` (``"T0204K7QX2M"``, 11 characters): it fits in a pass as a pass id or
    a registration id, and one day's ids differ with near certainty (32**6 of them)."""
    return prefix + now.strftime("%m%d") + "".join(secrets.choice(ID_ALPHABET) for _ in range(6))


def make_claims(
    *,
    kind: PassKind,
    kid: int,
    pass_id: str,
    household: str,
    site: str,
    valid_from: datetime,
    valid_until: datetime,
    single_reentry: bool = False,
    registration_id: str | None = None,
) -> PassClaims:
    """Build :class:`PassClaims` from a site id, dropping sub-second parts of the times.

    :raises PassError: a field is refused (the message says which and why).
    """
    for name, value in (("valid_from", valid_from), ("valid_until", valid_until)):
        if not isinstance(value, datetime):
            raise PassError(f"{name} must be a timezone-aware datetime")
    return PassClaims(
        kind=kind,
        kid=kid,
        pass_id=pass_id,
        household=household,
        site_tag=site_tag(site),
        valid_from=valid_from.replace(microsecond=0),
        valid_until=valid_until.replace(microsecond=0),
        single_reentry=single_reentry,
        registration_id=registration_id,
    )


def _payload(claims: PassClaims) -> bytes:
    pass_id = claims.pass_id.encode("utf-8")
    household = claims.household.encode("utf-8")
    flags = FLAG_SINGLE_REENTRY if claims.single_reentry else 0
    tail = b""
    if claims.registration_id is not None:
        flags |= FLAG_REGISTRATION
        registration = claims.registration_id.encode("utf-8")
        tail = bytes([len(registration)]) + registration
    header = _HEADER.pack(
        FORMAT_VERSION << 4 | claims.kind,
        flags,
        claims.kid,
        claims.site_tag,
        int(claims.valid_from.timestamp()),
        int(claims.valid_until.timestamp()),
        len(pass_id) << 4 | len(household),
    )
    return header + pass_id + household + tail


def issue_token(claims: PassClaims, private_key: Ed25519PrivateKey) -> str:
    """Sign *claims* and return the token text for a QR code.

    The caller picks the key that matches ``claims.kid``; nothing here can tell.

    :raises PassError: *private_key* is not an Ed25519 private key.
    """
    if not isinstance(private_key, Ed25519PrivateKey):
        raise PassError("a pass is signed with an Ed25519 private key")
    payload = _payload(claims)
    signature = private_key.sign(payload)
    return PREFIX + base45.b45encode(payload + signature).decode("ascii")


@dataclass(frozen=True)
class PassCheck:
    """The decision on a presented token.

    :param reason: :attr:`Reason.GRANTED` when the pass itself is good (roster, revocations
        and anti-passback are policy's to check), else why not.
    :param claims: what the pass says, only once its signature is verified (GRANTED,
        PASS_WRONG_SITE, PASS_NOT_YET_VALID, PASS_EXPIRED); ``None`` otherwise, so nothing
        unauthenticated is ever taken for a pass.
    :param detail: a short English explanation for logs and maintenance.
    """

    reason: Reason
    claims: PassClaims | None
    detail: str

    @property
    def granted(self) -> bool:
        return self.reason is Reason.GRANTED


@dataclass(frozen=True)
class ParsedToken:
    """A well-formed token whose signature is not yet checked.

    :param claims: what the token says (not yet authenticated!).
    :param signed: the payload bytes the signature covers.
    :param signature: the 64 signature bytes.
    """

    claims: PassClaims
    signed: bytes
    signature: bytes


def _malformed(detail: str) -> PassCheck:
    return PassCheck(Reason.PASS_MALFORMED, None, detail)


def parse_token(text: str | bytes) -> ParsedToken | PassCheck:
    """Parse a token without checking its signature.

    Returns a :class:`ParsedToken`, or a :class:`PassCheck` with reason PASS_MALFORMED that
    says what is wrong. Never raises. Input longer than :data:`MAX_TOKEN_CHARS` is refused
    before any decoding. One trailing CR/LF (scanners in keyboard mode add them) is ignored.
    """
    if isinstance(text, bytes | bytearray | memoryview):
        if len(text) > MAX_TOKEN_CHARS:
            return _malformed(f"longer than {MAX_TOKEN_CHARS} bytes")
        try:
            text = bytes(text).decode("ascii")
        except UnicodeDecodeError:
            return _malformed("not ASCII text")
    if not isinstance(text, str):
        return _malformed(f"not text but {type(text).__name__}")
    if len(text) > MAX_TOKEN_CHARS:
        return _malformed(f"longer than {MAX_TOKEN_CHARS} characters")
    text = text.removesuffix("\n").removesuffix("\r")
    if not text:
        return _malformed("empty")
    if not text.startswith(PREFIX):
        return _malformed(f"does not start with {PREFIX!r}")
    body = text[len(PREFIX) :]
    if not _BASE45_BODY.fullmatch(body):
        return _malformed("characters outside base45")
    try:
        raw = base45.b45decode(body)
    except ValueError:
        return _malformed("not valid base45")
    if not _MIN_RAW <= len(raw) <= _MAX_RAW:
        return _malformed(f"{len(raw)} bytes; a pass has {_MIN_RAW} to {_MAX_RAW}")
    return _parse_raw(raw)


def _parse_raw(raw: bytes) -> ParsedToken | PassCheck:
    version_kind, flags, kid, tag, start, end, lengths = _HEADER.unpack_from(raw)
    version, kind_code = version_kind >> 4, version_kind & 0x0F
    if version != FORMAT_VERSION:
        return _malformed(f"unknown format version {version}")
    try:
        kind = PassKind(kind_code)
    except ValueError:
        return _malformed(f"unknown pass kind {kind_code}")
    if flags & ~_KNOWN_FLAGS:
        return _malformed(f"unknown flags 0x{flags:02x}")
    body_end = len(raw) - SIGNATURE_BYTES
    at = _HEADER.size
    id_len, household_len = lengths >> 4, lengths & 0x0F
    fields = []
    for length in (id_len, household_len):
        fields.append(raw[at : at + length])
        at += length
    registration = None
    if flags & FLAG_REGISTRATION:
        if at >= body_end:
            return _malformed("truncated before the registration id")
        registration_len = raw[at]
        registration = raw[at + 1 : at + 1 + registration_len]
        at += 1 + registration_len
    if at != body_end:
        return _malformed(f"field lengths add up to {at} bytes, payload has {body_end}")
    try:
        pass_id, household = (field.decode("utf-8") for field in fields)
        registration_id = None if registration is None else registration.decode("utf-8")
    except UnicodeDecodeError:
        return _malformed("a text field is not UTF-8")
    try:
        claims = PassClaims(
            kind=kind,
            kid=kid,
            pass_id=pass_id,
            household=household,
            site_tag=tag,
            valid_from=datetime.fromtimestamp(start, UTC),
            valid_until=datetime.fromtimestamp(end, UTC),
            single_reentry=bool(flags & FLAG_SINGLE_REENTRY),
            registration_id=registration_id,
        )
    except PassError as exc:
        return _malformed(str(exc))
    return ParsedToken(claims, raw[:body_end], raw[body_end:])


@dataclass(frozen=True)
class KeyEntry:
    """A public key the kiosk trusts, with what it may sign."""

    kid: int
    key: Ed25519PublicKey
    use: KeyUse

    def raw(self) -> bytes:
        """The 32 raw public key bytes."""
        return self.key.public_bytes_raw()


class Keyring:
    """Public keys by key id, with their use.

    Build a keyring completely, then share it; to change keys, build a new one and swap
    the reference (the lane thread reads it without a lock).
    """

    def __init__(self, entries: Iterable[KeyEntry] = ()) -> None:
        self._keys: dict[int, KeyEntry] = {}
        #: Why roster entries were skipped, one message each (see :meth:`from_roster`).
        self.problems: list[str] = []
        for entry in entries:
            self.add(entry.kid, entry.key, entry.use)

    def add(self, kid: int, public_key: Ed25519PublicKey | bytes, use: KeyUse | str) -> None:
        """Trust *public_key* (an Ed25519 public key or its 32 raw bytes) under *kid*.

        Adding the same key again with the same use does nothing.

        :raises PassError: bad key id, key or use, or *kid* already holds another key.
        """
        if isinstance(kid, bool) or not isinstance(kid, int) or not 0 <= kid <= 255:
            raise PassError(f"key id must be an integer 0..255, not {kid!r}")
        try:
            use = KeyUse(use)
        except ValueError:
            raise PassError(f"key use must be 'resident' or 'temporary', not {use!r}") from None
        if isinstance(public_key, bytes):
            try:
                public_key = Ed25519PublicKey.from_public_bytes(public_key)
            except ValueError:
                raise PassError(f"key {kid}: not a 32-byte Ed25519 public key") from None
        if not isinstance(public_key, Ed25519PublicKey):
            raise PassError(f"key {kid}: not an Ed25519 public key")
        entry = KeyEntry(kid, public_key, use)
        known = self._keys.get(kid)
        if known is not None:
            if known.raw() == entry.raw() and known.use is use:
                return
            raise PassError(f"key id {kid} already holds a different key or use")
        self._keys[kid] = entry

    def get(self, kid: int) -> KeyEntry | None:
        """The entry for *kid*, or ``None``."""
        return self._keys.get(kid)

    def __contains__(self, kid: object) -> bool:
        return kid in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self):
        return iter(sorted(self._keys.values(), key=lambda entry: entry.kid))

    @classmethod
    def from_roster(cls, keys: Any) -> Keyring:
        """Build a keyring from the roster's ``keys``: :class:`kiosk.contract.RosterKey`
        entries of a parsed roster, or plain entries (a key manifest) that are checked by
        the contract, one by one.

        Each entry looks like ``{"kid": 1, "ed25519_public": "<base64 of 32 bytes>",
        "use": "resident"}``. A bad entry is skipped and described in :attr:`problems`;
        nothing raises, whatever was given.
        """
        ring = cls()
        if not isinstance(keys, list | tuple):
            ring.problems.append(f"roster keys: expected a list, got {type(keys).__name__}")
            return ring
        for index, item in enumerate(keys):
            where = f"roster keys[{index}]"
            try:
                entry = item if isinstance(item, contract.RosterKey) else contract.parse_key(item)
                ring.add(entry.kid, entry.raw(), entry.use)
            except (ContractError, PassError) as exc:
                ring.problems.append(f"{where}: {exc}")
        return ring


def verify(text: Any, keyring: Keyring, *, site: str, now: datetime) -> PassCheck:
    """Decide whether *text* (as read from a QR code) is a good pass for *site* at *now*.

    Checks, in order: well-formed (PASS_MALFORMED), key id known (PASS_UNKNOWN_KEY), key use
    matches the kind (PASS_WRONG_KEY), signature (PASS_BAD_SIGNATURE), site (PASS_WRONG_SITE),
    ``now < valid_from`` (PASS_NOT_YET_VALID), ``now >= valid_until`` (PASS_EXPIRED).
    Roster, revocation and anti-passback are not checked here.

    Never raises for any *text*, str or bytes of any length.

    :param site: this compound's site id, e.g. ``"xdm-jinwaitan"``.
    :param now: the current time, timezone-aware.
    :raises PassError: only for a naive *now* or an empty *site*: programming errors.
    """
    if not isinstance(now, datetime) or now.tzinfo is None or now.utcoffset() is None:
        raise PassError("verify needs a timezone-aware now")
    expected_tag = site_tag(site)
    parsed = parse_token(text)
    if isinstance(parsed, PassCheck):
        return parsed
    claims = parsed.claims
    entry = keyring.get(claims.kid)
    if entry is None:
        return PassCheck(Reason.PASS_UNKNOWN_KEY, None, f"no key with id {claims.kid}")
    wanted = KEY_USE_FOR_KIND[claims.kind]
    if entry.use is not wanted:
        detail = f"a {claims.kind.name.lower()} pass signed by {entry.use.value} key {entry.kid}"
        return PassCheck(Reason.PASS_WRONG_KEY, None, detail)
    try:
        entry.key.verify(parsed.signature, parsed.signed)
    except InvalidSignature:
        return PassCheck(Reason.PASS_BAD_SIGNATURE, None, f"signature fails key {entry.kid}")
    if claims.site_tag != expected_tag:
        return PassCheck(
            Reason.PASS_WRONG_SITE, claims, f"issued for site tag {claims.site_tag.hex()}"
        )
    if now < claims.valid_from:
        detail = f"valid from {claims.valid_from.isoformat()}"
        return PassCheck(Reason.PASS_NOT_YET_VALID, claims, detail)
    if now >= claims.valid_until:
        detail = f"expired at {claims.valid_until.isoformat()}"
        return PassCheck(Reason.PASS_EXPIRED, claims, detail)
    return PassCheck(Reason.GRANTED, claims, f"valid until {claims.valid_until.isoformat()}")


def qr_for(token: str) -> segno.QRCode:
    """The QR code for *token*: alphanumeric mode, error correction M, never boosted.

    :raises PassError: *token* is not alphanumeric-mode text.
    """
    try:
        return segno.make_qr(token, error="m", boost_error=False, mode="alphanumeric")
    except (ValueError, segno.DataOverflowError) as exc:
        raise PassError(f"cannot make a QR code of this token: {exc}") from None


def qr_version(token: str) -> int:
    """The QR version (1-40) *token* needs at error correction M."""
    return qr_for(token).version


def describe_claims(claims: PassClaims) -> dict[str, Any]:
    """Plain JSON-ready data for *claims* (times in ISO 8601, UTC)."""
    return {
        "kind": claims.kind.name.lower(),
        "kid": claims.kid,
        "pass_id": claims.pass_id,
        "household": claims.household,
        "site_tag": claims.site_tag.hex(),
        "valid_from": claims.valid_from.isoformat(),
        "valid_until": claims.valid_until.isoformat(),
        "single_reentry": claims.single_reentry,
        "registration_id": claims.registration_id,
    }


def describe(check: PassCheck) -> dict[str, Any]:
    """Plain JSON-ready data for *check*, as ``kiosk pass verify --json`` prints it."""
    zh, en = message(check.reason)
    return {
        "reason": check.reason.value,
        "granted": check.granted,
        "message_zh": zh,
        "message_en": en,
        "detail": check.detail,
        "pass": None if check.claims is None else describe_claims(check.claims),
    }
