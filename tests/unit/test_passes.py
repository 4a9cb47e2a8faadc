"""Pass tokens: issue, parse, verify; every reason reached by a crafted token."""

from __future__ import annotations

import base64
import json
import struct
from datetime import UTC, datetime, timedelta, timezone

import base45
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.errors import PassError
from kiosk.passes import (
    HOUSEHOLD_MAX,
    MAX_TOKEN_CHARS,
    PASS_ID_MAX,
    PREFIX,
    REGISTRATION_ID_MAX,
    Keyring,
    KeyUse,
    ParsedToken,
    PassCheck,
    PassClaims,
    PassKind,
    describe,
    issue_token,
    make_claims,
    parse_token,
    qr_for,
    qr_version,
    site_tag,
    verify,
)
from kiosk.reasons import Reason

SITE = "xdm-jinwaitan"
CST = timezone(timedelta(hours=8))
NOW = datetime(2020, 2, 4, 8, 15, 2, tzinfo=CST)
COMMITTEE = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
GATE = Ed25519PrivateKey.from_private_bytes(bytes(range(32, 64)))
STRANGER = Ed25519PrivateKey.from_private_bytes(bytes(range(64, 96)))
COMMITTEE_KID, GATE_KID = 1, 100


def keyring() -> Keyring:
    ring = Keyring()
    ring.add(COMMITTEE_KID, COMMITTEE.public_key(), KeyUse.RESIDENT)
    ring.add(GATE_KID, GATE.public_key(), "temporary")
    return ring


def claims(**changes) -> PassClaims:
    fields = dict(
        kind=PassKind.RESIDENT,
        kid=COMMITTEE_KID,
        pass_id="P0007120101",
        household="7-1201",
        site=SITE,
        valid_from=NOW - timedelta(days=1),
        valid_until=NOW + timedelta(days=29),
    )
    fields.update(changes)
    return make_claims(**fields)


def temporary(**changes) -> PassClaims:
    fields = dict(
        kind=PassKind.TEMPORARY,
        kid=GATE_KID,
        pass_id="T2002040042",
        valid_from=NOW,
        valid_until=NOW + timedelta(hours=12),
        single_reentry=True,
        registration_id="R20200204-7",
    )
    fields.update(changes)
    return claims(**fields)


def check(text, now=NOW, site=SITE) -> PassCheck:
    return verify(text, keyring(), site=site, now=now)


def craft(payload: bytes, key: Ed25519PrivateKey = COMMITTEE) -> str:
    """A token of any payload bytes, correctly signed: only the parser can refuse it."""
    return PREFIX + base45.b45encode(payload + key.sign(payload)).decode("ascii")


def header(
    version_kind=0x11,
    flags=0,
    kid=COMMITTEE_KID,
    tag=None,
    start=1_580_000_000,
    end=1_590_000_000,
    lengths=None,
    pass_id=b"P0007120101",
    household=b"7-1201",
) -> bytes:
    tag = site_tag(SITE) if tag is None else tag
    lengths = len(pass_id) << 4 | len(household) if lengths is None else lengths
    fixed = struct.pack(">BBB3sIIB", version_kind, flags, kid, tag, start, end, lengths)
    return fixed + pass_id + household


# --- round trips and size -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "key"),
    [
        (lambda: claims(), COMMITTEE),
        (lambda: claims(kind=PassKind.WORKER, pass_id="W0001", household="物业"), COMMITTEE),
        (lambda: temporary(), GATE),
        (lambda: temporary(single_reentry=False, registration_id=None), GATE),
    ],
    ids=["resident", "worker", "temporary", "temporary-plain"],
)
def test_passes_round_trip_each_kind_is_granted_with_same_claims(make, key):
    issued = make()
    result = check(issue_token(issued, key))
    assert result.reason is Reason.GRANTED
    assert result.granted
    assert result.claims == issued


def test_passes_token_is_prefixed_qr_alphanumeric_text():
    token = issue_token(claims(), COMMITTEE)
    assert token.startswith(PREFIX)
    assert set(token) <= set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")
    assert qr_for(token).mode == "alphanumeric"
    assert qr_for(token).error == "M"


def test_passes_resident_with_longest_fields_fits_qr_version_6_at_m():
    longest = claims(pass_id="P" + "9" * (PASS_ID_MAX - 1), household="12-3-1201A")
    assert len(longest.household.encode()) == HOUSEHOLD_MAX
    token = issue_token(longest, COMMITTEE)
    assert len(token) == 154
    assert qr_version(token) == 6


def test_passes_temporary_with_longest_fields_fits_qr_version_7_at_m():
    longest = temporary(
        pass_id="T" * PASS_ID_MAX, household="H" * HOUSEHOLD_MAX, registration_id="R" * 12
    )
    assert qr_version(issue_token(longest, GATE)) == 7


def printable(max_bytes: int) -> st.SearchStrategy[str]:
    return st.text(
        st.characters(codec="utf-8", categories=("L", "N", "P", "S")), min_size=1
    ).filter(lambda s: len(s.encode()) <= max_bytes)


seconds = st.integers(min_value=0, max_value=2**32 - 1)


@st.composite
def any_claims(draw) -> PassClaims:
    kind = draw(st.sampled_from(PassKind))
    start, end = sorted(draw(st.lists(seconds, min_size=2, max_size=2, unique=True)))
    is_temporary = kind is PassKind.TEMPORARY
    return PassClaims(
        kind=kind,
        kid=draw(st.integers(0, 255)),
        pass_id=draw(printable(PASS_ID_MAX)),
        household=draw(printable(HOUSEHOLD_MAX)),
        site_tag=draw(st.binary(min_size=3, max_size=3)),
        valid_from=datetime.fromtimestamp(start, UTC),
        valid_until=datetime.fromtimestamp(end, UTC),
        single_reentry=draw(st.booleans()) if is_temporary else False,
        registration_id=draw(st.none() | printable(REGISTRATION_ID_MAX)) if is_temporary else None,
    )


@settings(max_examples=200, deadline=None)
@given(any_claims())
def test_passes_any_valid_claims_parse_back_unchanged(issued):
    parsed = parse_token(issue_token(issued, COMMITTEE))
    assert isinstance(parsed, ParsedToken)
    assert parsed.claims == issued


@settings(max_examples=50, deadline=None)
@given(any_claims())
def test_passes_any_resident_or_worker_pass_fits_qr_version_6(issued):
    if issued.kind is not PassKind.TEMPORARY:
        assert qr_version(issue_token(issued, COMMITTEE)) <= 6


# --- issue-time refusals ------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"pass_id": "P" * (PASS_ID_MAX + 1)},
        {"household": "1" * (HOUSEHOLD_MAX + 1)},
        {"household": "七号楼一二室"},  # 18 UTF-8 bytes
        {"pass_id": ""},
        {"household": " 7-1201"},
        {"household": "7-12\n01"},
        {"kid": 256},
        {"kid": -1},
        {"kid": True},
        {"valid_until": NOW - timedelta(days=1)},
        {"valid_from": datetime(1969, 12, 31, tzinfo=UTC)},
        {"valid_until": datetime(2106, 2, 8, tzinfo=UTC)},
        {"single_reentry": True},
        {"registration_id": "R1"},
    ],
)
def test_passes_claims_refuse_bad_fields_with_pass_error(changes):
    with pytest.raises(PassError):
        claims(**changes)


def test_passes_claims_refuse_long_registration_id():
    with pytest.raises(PassError, match="registration id"):
        temporary(registration_id="R" * (REGISTRATION_ID_MAX + 1))


def test_passes_claims_refuse_naive_and_sub_second_times():
    with pytest.raises(PassError, match="timezone-aware"):
        claims(valid_from=datetime(2020, 2, 4))
    good = claims()
    with pytest.raises(PassError, match="whole second"):
        PassClaims(**{**good.__dict__, "valid_until": good.valid_until.replace(microsecond=5)})


def test_passes_make_claims_drops_sub_second_parts():
    made = claims(valid_from=NOW.replace(microsecond=999_999))
    assert made.valid_from == NOW


def test_passes_issue_refuses_a_key_that_is_not_ed25519_private():
    with pytest.raises(PassError):
        issue_token(claims(), COMMITTEE.public_key())


# --- every reason, by a crafted token -----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ("", "empty"),
        (b"", "empty"),
        ("\n", "empty"),
        ("HTTPS://EXAMPLE.ORG/P0007120101", "does not start"),
        ("KP2:" + base45.b45encode(b"x" * 90).decode(), "does not start"),
        (PREFIX + "abc", "outside base45"),
        (PREFIX + "ÄÖ", "outside base45"),
        ("KP1:通行证", "outside base45"),
        (b"\xff\xfe\x00binary", "not ASCII"),
        (PREFIX + "GGW" * 30, "not valid base45"),
        (PREFIX + "A" * 91, "not valid base45"),
        (PREFIX + "00", "bytes; a pass has"),
        (None, "not text"),
        (12345, "not text"),
    ],
)
def test_passes_malformed_inputs_say_why(text, detail):
    result = check(text)
    assert result.reason is Reason.PASS_MALFORMED
    assert result.claims is None
    assert detail in result.detail


def test_passes_huge_input_is_refused_before_decoding():
    for text in ("KP1:" + "0" * 10_000_000, b"K" * 10_000_000):
        result = check(text)
        assert result.reason is Reason.PASS_MALFORMED
        assert f"longer than {MAX_TOKEN_CHARS}" in result.detail


def test_passes_truncated_token_is_malformed():
    token = issue_token(claims(), COMMITTEE)
    for cut in (1, 2, 3, 30, len(token) - len(PREFIX)):
        assert check(token[:-cut]).reason is Reason.PASS_MALFORMED


def test_passes_extra_bytes_after_the_signature_are_malformed():
    raw = base45.b45decode(issue_token(claims(), COMMITTEE)[len(PREFIX) :])
    result = check(PREFIX + base45.b45encode(raw + b"\x00").decode())
    assert result.reason is Reason.PASS_MALFORMED


@pytest.mark.parametrize(
    ("payload", "detail"),
    [
        (header(version_kind=0x21), "unknown format version 2"),
        (header(version_kind=0x01), "unknown format version 0"),
        (header(version_kind=0x14), "unknown pass kind 4"),
        (header(version_kind=0x10), "unknown pass kind 0"),
        (header(flags=0x80), "unknown flags"),
        (header(start=1_590_000_000, end=1_590_000_000), "valid_until must be after"),
        (header(start=1_590_000_001, end=1_590_000_000), "valid_until must be after"),
        (header(household=b"7-\xff\xfe01"), "not UTF-8"),
        (header(pass_id=b"P\xc3"), "not UTF-8"),
        (header(household=b""), "household must be a non-empty"),
        (header(household=b"7\x001201"), "control characters"),
        (header(lengths=0xB7), "field lengths add up"),
        (header(lengths=0xA6), "field lengths add up"),
        (header(flags=0x02), "truncated before the registration id"),
        (header(version_kind=0x12, flags=0x02) + b"\x05R1", "field lengths add up"),
        (header(flags=0x01), "only a temporary pass can be single re-entry"),
        (header(flags=0x02) + b"\x02R1", "only a temporary pass carries a registration"),
    ],
)
def test_passes_signed_but_malformed_payloads_are_malformed(payload, detail):
    result = check(craft(payload))
    assert result.reason is Reason.PASS_MALFORMED
    assert detail in result.detail


def test_passes_crafted_header_helper_makes_a_good_pass():
    """The helper above is right: unchanged, its payload is a granted pass."""
    start = int((NOW - timedelta(days=1)).timestamp())
    result = check(craft(header(start=start, end=start + 86400 * 30)))
    assert result.reason is Reason.GRANTED


def test_passes_unknown_key_id_is_refused():
    result = check(issue_token(claims(kid=7), COMMITTEE))
    assert result.reason is Reason.PASS_UNKNOWN_KEY
    assert result.claims is None
    assert "7" in result.detail


def test_passes_gate_key_signing_a_resident_pass_is_wrong_key():
    result = check(issue_token(claims(kid=GATE_KID), GATE))
    assert result.reason is Reason.PASS_WRONG_KEY
    assert result.claims is None


def test_passes_committee_key_signing_a_temporary_pass_is_wrong_key():
    result = check(issue_token(temporary(kid=COMMITTEE_KID), COMMITTEE))
    assert result.reason is Reason.PASS_WRONG_KEY


def test_passes_gate_key_signing_a_worker_pass_is_wrong_key():
    worker = claims(kind=PassKind.WORKER, kid=GATE_KID)
    assert check(issue_token(worker, GATE)).reason is Reason.PASS_WRONG_KEY


def test_passes_signature_by_another_key_is_bad_signature():
    result = check(issue_token(claims(), STRANGER))
    assert result.reason is Reason.PASS_BAD_SIGNATURE
    assert result.claims is None


def test_passes_changed_signed_field_is_bad_signature():
    raw = bytearray(base45.b45decode(issue_token(claims(), COMMITTEE)[len(PREFIX) :]))
    raw[15 + 10] ^= 0x01  # last character of the pass id: "1" -> "0"
    result = check(PREFIX + base45.b45encode(bytes(raw)).decode())
    assert result.reason is Reason.PASS_BAD_SIGNATURE


def test_passes_pass_of_another_site_is_wrong_site_with_its_claims():
    issued = claims(site="another-compound")
    result = check(issue_token(issued, COMMITTEE))
    assert result.reason is Reason.PASS_WRONG_SITE
    assert result.claims == issued


def test_passes_expired_by_one_second_is_expired():
    issued = claims(valid_until=NOW)
    token = issue_token(issued, COMMITTEE)
    assert check(token, now=NOW - timedelta(seconds=1)).reason is Reason.GRANTED
    assert check(token, now=NOW).reason is Reason.PASS_EXPIRED
    result = check(token, now=NOW + timedelta(seconds=1))
    assert result.reason is Reason.PASS_EXPIRED
    assert result.claims == issued


def test_passes_future_dated_pass_is_not_yet_valid_until_its_first_second():
    token = issue_token(claims(valid_from=NOW + timedelta(days=1)), COMMITTEE)
    assert check(token).reason is Reason.PASS_NOT_YET_VALID
    assert check(token, now=NOW + timedelta(days=1) - timedelta(seconds=1)).reason is (
        Reason.PASS_NOT_YET_VALID
    )
    assert check(token, now=NOW + timedelta(days=1)).reason is Reason.GRANTED


def test_passes_validity_compares_instants_whatever_the_offset_of_now():
    token = issue_token(claims(valid_until=NOW), COMMITTEE)
    assert check(token, now=NOW.astimezone(UTC)).reason is Reason.PASS_EXPIRED
    earlier = (NOW - timedelta(seconds=1)).astimezone(timezone(timedelta(hours=-5)))
    assert check(token, now=earlier).reason is Reason.GRANTED


def test_passes_checks_run_in_order_key_signature_site_time():
    expired_elsewhere = claims(site="another", valid_until=NOW - timedelta(seconds=1))
    assert check(issue_token(expired_elsewhere, COMMITTEE)).reason is Reason.PASS_WRONG_SITE
    assert check(issue_token(expired_elsewhere, STRANGER)).reason is Reason.PASS_BAD_SIGNATURE
    unknown = claims(kid=9, site="another", valid_until=NOW - timedelta(seconds=1))
    assert check(issue_token(unknown, STRANGER)).reason is Reason.PASS_UNKNOWN_KEY
    gate_resident = claims(kid=GATE_KID, site="another")
    assert check(issue_token(gate_resident, STRANGER)).reason is Reason.PASS_WRONG_KEY


def test_passes_verify_refuses_naive_now_as_a_programming_error():
    with pytest.raises(PassError):
        verify(issue_token(claims(), COMMITTEE), keyring(), site=SITE, now=datetime(2020, 2, 4))


# --- what scanners hand over ---------------------------------------------------------------


def test_passes_bytes_and_trailing_line_end_are_accepted():
    token = issue_token(claims(), COMMITTEE)
    assert check(token.encode()).reason is Reason.GRANTED
    assert check(bytearray(token.encode())).reason is Reason.GRANTED
    assert check(token + "\r\n").reason is Reason.GRANTED
    assert check(token + "\n").reason is Reason.GRANTED
    assert check(token + "\n\n").reason is Reason.PASS_MALFORMED
    assert check(" " + token).reason is Reason.PASS_MALFORMED


def test_passes_re_encoded_token_gets_a_decision_not_an_exception():
    token = issue_token(claims(), COMMITTEE)
    for text in (
        token.lower(),
        PREFIX.lower() + token[len(PREFIX) :],
        PREFIX + base64.b64encode(base45.b45decode(token[len(PREFIX) :])).decode(),
        PREFIX + base45.b45decode(token[len(PREFIX) :]).hex().upper(),
        token.encode("utf-16"),
    ):
        assert check(text).reason is Reason.PASS_MALFORMED


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_passes_any_single_byte_change_to_a_token_is_never_granted(data):
    token = issue_token(claims(), COMMITTEE).encode()
    index = data.draw(st.integers(0, len(token) - 1))
    byte = data.draw(st.integers(0, 255).filter(lambda b: b != token[index]))
    changed = token[:index] + bytes([byte]) + token[index + 1 :]
    assert check(changed).reason is not Reason.GRANTED


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_passes_any_single_byte_change_to_the_decoded_payload_is_never_granted(data):
    raw = base45.b45decode(issue_token(temporary(), GATE)[len(PREFIX) :])
    index = data.draw(st.integers(0, len(raw) - 1))
    byte = data.draw(st.integers(0, 255).filter(lambda b: b != raw[index]))
    changed = raw[:index] + bytes([byte]) + raw[index + 1 :]
    result = check(PREFIX + base45.b45encode(changed).decode())
    assert result.reason is not Reason.GRANTED
    assert result.claims is None


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=600))
def test_passes_verify_never_raises_for_any_bytes(data):
    result = check(data)
    assert isinstance(result.reason, Reason)
    assert result.reason is not Reason.GRANTED


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=600))
def test_passes_verify_never_raises_for_any_text(text):
    assert check(text).reason is not Reason.GRANTED
    assert check(PREFIX + text).reason is not Reason.GRANTED


@settings(max_examples=500, deadline=None)
@given(st.binary(min_size=70, max_size=130))
def test_passes_verify_never_raises_for_any_payload_in_a_valid_wrapper(raw):
    result = check(PREFIX + base45.b45encode(raw).decode())
    assert result.reason is not Reason.GRANTED


@settings(max_examples=500, deadline=None)
@given(
    version_kind=st.sampled_from([0x11, 0x12, 0x13]) | st.integers(0, 255),
    flags=st.sampled_from([0, 1, 2, 3]) | st.integers(0, 255),
    start=seconds,
    end=seconds,
    lengths=st.integers(0, 255),
    body=st.binary(max_size=40),
)
def test_passes_parser_accepts_only_what_issue_produces(
    version_kind, flags, start, end, lengths, body
):
    """Signed payloads of any shape: whatever parses is exactly what issue_token makes."""
    fixed = struct.pack(
        ">BBB3sIIB", version_kind, flags, COMMITTEE_KID, site_tag(SITE), start, end, lengths
    )
    token = craft(fixed + body)
    parsed = parse_token(token)
    if isinstance(parsed, ParsedToken):
        assert issue_token(parsed.claims, COMMITTEE) == token
    else:
        assert parsed.reason is Reason.PASS_MALFORMED


# --- keyring ------------------------------------------------------------------------------


def roster_key(kid=1, key=COMMITTEE, use="resident") -> dict:
    raw = key.public_key().public_bytes_raw()
    return {"kid": kid, "ed25519_public": base64.b64encode(raw).decode(), "use": use}


def test_passes_keyring_from_roster_takes_good_entries():
    ring = Keyring.from_roster([roster_key(), roster_key(100, GATE, "temporary")])
    assert ring.problems == []
    assert len(ring) == 2
    assert ring.get(100).use is KeyUse.TEMPORARY
    assert verify(issue_token(claims(), COMMITTEE), ring, site=SITE, now=NOW).granted


def test_passes_keyring_from_roster_skips_and_reports_bad_entries():
    short = base64.b64encode(b"\x01" * 31).decode()
    entries = [
        roster_key(),
        "not an object",
        {"kid": 2, "use": "resident"},
        {"kid": 3, "ed25519_public": "***", "use": "resident"},
        {"kid": 4, "ed25519_public": short, "use": "resident"},
        roster_key(5, use="admin"),
        roster_key("6"),
        roster_key(True),
        roster_key(256),
        roster_key(1, STRANGER),
        roster_key(100, GATE, "temporary"),
    ]
    ring = Keyring.from_roster(entries)
    assert sorted(entry.kid for entry in ring) == [1, 100]
    assert len(ring.problems) == 9
    assert all(problem.startswith("roster keys[") for problem in ring.problems)
    assert ring.get(1).raw() == COMMITTEE.public_key().public_bytes_raw()


def test_passes_keyring_from_roster_that_is_not_a_list_is_empty_with_a_problem():
    ring = Keyring.from_roster({"kid": 1})
    assert len(ring) == 0
    assert ring.problems == ["roster keys: expected a list, got dict"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=20), inner),
    max_leaves=8,
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries(
            {}, optional={"kid": json_values, "ed25519_public": json_values, "use": json_values}
        )
        | json_values
    )
    | json_values
)
def test_passes_keyring_from_roster_never_raises(keys):
    ring = Keyring.from_roster(keys)
    expected = len(keys) if isinstance(keys, list) else 1
    assert len(ring) + len(ring.problems) == expected


def test_passes_keyring_add_is_idempotent_and_refuses_a_second_key_for_an_id():
    ring = keyring()
    ring.add(COMMITTEE_KID, COMMITTEE.public_key().public_bytes_raw(), "resident")
    assert len(ring) == 2
    with pytest.raises(PassError):
        ring.add(COMMITTEE_KID, STRANGER.public_key(), "resident")
    with pytest.raises(PassError):
        ring.add(COMMITTEE_KID, COMMITTEE.public_key(), "temporary")
    with pytest.raises(PassError):
        ring.add(2, b"short", "resident")
    assert 2 not in ring


# --- describe -----------------------------------------------------------------------------


def test_passes_describe_is_json_ready_with_words_for_people():
    described = describe(check(issue_token(temporary(), GATE)))
    assert json.loads(json.dumps(described)) == described
    assert described["reason"] == "GRANTED"
    assert described["granted"] is True
    assert described["message_zh"] == "请通行"
    assert described["pass"]["kind"] == "temporary"
    assert described["pass"]["registration_id"] == "R20200204-7"
    assert described["pass"]["valid_from"] == "2020-02-04T00:15:02+00:00"


def test_passes_describe_of_a_malformed_token_has_no_pass():
    described = describe(check("hello"))
    assert described["reason"] == "PASS_MALFORMED"
    assert described["granted"] is False
    assert described["pass"] is None
    assert described["message_en"] == "This is not a pass"
