"""The committee contract module: every body parsed once, errors naming the field."""

from __future__ import annotations

import base64
import contextlib
import gzip
import json
import subprocess
import sys
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk import contract
from kiosk.contract import BatchTooLarge, ContractError

TS = "2020-02-04T08:15:02.123+08:00"
KEY = base64.b64encode(bytes(range(32))).decode("ascii")


def event(seq, **fields):
    body = {
        "id": str(uuid.UUID(int=seq)),
        "seq": seq,
        "ts": TS,
        "lane": "main",
        "type": "access.granted",
        "data": {"pass_id": "P0007120101", "household": "7-1201", "direction": "in"},
    }
    body.update(fields)
    return body


def batch(*events, gate_id="gate-1"):
    return json.dumps({"gate_id": gate_id, "events": list(events)}).encode()


def good_roster(**fields):
    body = {
        "version": "2020-02-04T08:00:00+08:00#17",
        "site": "xdm-jinwaitan",
        "keys": [{"kid": 1, "ed25519_public": KEY, "use": "resident"}],
        "households": [{"id": "7-1201", "members": 3, "exit_quota_per_day": None}],
        "passes": [{"id": "P0007120101", "household": "7-1201", "status": "active"}],
        "revoked": ["P0007120103"],
        "home_observation": [{"household": "7-1202", "until": "2020-02-18"}],
    }
    body.update(fields)
    return json.dumps(body)


def test_contract_imports_no_hardware_flask_or_numpy():
    code = (
        "import kiosk.contract, sys; "
        "print([m for m in ('cv2', 'numpy', 'gpiozero', 'flask', 'sqlite3') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- events batch, as a server receives it ----------------------------------------------------


def test_contract_batch_parses_the_contract_example():
    parsed = contract.parse_batch(batch(event(1041), event(1042, lane=None)), gate_id="gate-1")
    assert (parsed.gate_id, parsed.first_seq, parsed.last_seq) == ("gate-1", 1041, 1042)
    assert parsed.events[1].lane is None
    assert parsed.events[0].data["direction"] == "in"


def test_contract_batch_ignores_fields_it_does_not_know():
    parsed = contract.parse_batch(batch(event(1, extra="from a newer gate")))
    assert parsed.events[0].seq == 1


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"id": "not-a-uuid"}, "events[1].id"),
        ({"id": str(uuid.UUID(int=0xABCDEF)).upper()}, "events[1].id"),
        ({"ts": "2020-02-04T08:15:02"}, "events[1].ts"),
        ({"ts": "2020-02-04 08:15:02+08:00"}, "events[1].ts"),
        ({"ts": 1580775302}, "events[1].ts"),
        ({"lane": 3}, "events[1].lane"),
        ({"type": ""}, "events[1].type"),
        ({"data": [1]}, "events[1].data"),
        ({"seq": True}, "events[1].seq"),
        ({"seq": 2.0}, "events[1].seq"),
    ],
)
def test_contract_batch_names_the_bad_field_and_seq(bad, field):
    with pytest.raises(ContractError) as info:
        contract.parse_batch(batch(event(1), {**event(2), **bad}))
    assert info.value.field == field
    assert info.value.seq == (2 if "seq" not in bad else None)
    assert field in str(info.value)


def test_contract_batch_missing_field_names_it():
    broken = event(2)
    del broken["ts"]
    with pytest.raises(ContractError, match=r"events\[1\]: object missing required field `ts`"):
        contract.parse_batch(batch(event(1), broken))


def test_contract_batch_must_be_contiguous():
    with pytest.raises(ContractError) as info:
        contract.parse_batch(batch(event(1), event(3)))
    assert (info.value.field, info.value.seq) == ("events[1].seq", 3)


def test_contract_batch_limits_are_the_contracts():
    assert (contract.MAX_BATCH_EVENTS, contract.MAX_BATCH_BYTES) == (500, 1 << 20)
    with pytest.raises(BatchTooLarge):
        contract.parse_batch(batch(*[event(i) for i in range(1, 502)]))
    contract.parse_batch(batch(*[event(i) for i in range(1, 501)]))
    with pytest.raises(BatchTooLarge):
        contract.parse_batch(batch(event(1, data={"pad": "x" * (1 << 20)})))
    with pytest.raises(ContractError, match="at least one event"):
        contract.parse_batch(batch())


def test_contract_batch_gate_id_must_match_the_path():
    with pytest.raises(ContractError) as info:
        contract.parse_batch(batch(event(1), gate_id="other"), gate_id="gate-1")
    assert info.value.field == "gate_id"


def test_contract_inflate_caps_what_it_reads():
    raw = json.dumps({"pad": "x" * 5000}).encode()
    assert contract.inflate(gzip.compress(raw), 10_000) == raw
    with pytest.raises(BatchTooLarge):
        contract.inflate(gzip.compress(raw), 1000)
    with pytest.raises(ContractError, match="not valid gzip"):
        contract.inflate(b"plain text")
    with pytest.raises(ContractError, match="truncated"):
        contract.inflate(gzip.compress(raw)[:-12])


@settings(max_examples=300, deadline=None)
@given(raw=st.binary(max_size=400))
def test_contract_parsers_take_any_bytes(raw):
    parsers = (
        contract.parse_batch,
        contract.parse_heartbeat,
        contract.parse_roster,
        contract.parse_ack,
        lambda r: contract.parse_roster(r, strict=True),
        contract.inflate,
    )
    for parse in parsers:
        with contextlib.suppress(ContractError):
            parse(raw)
    assert isinstance(contract.parse_refusal(raw), contract.Refusal)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(
    fields=st.dictionaries(
        st.sampled_from(["id", "seq", "ts", "lane", "type", "data", "other"]), json_values
    )
)
def test_contract_batch_any_event_shape_is_a_decision(fields):
    body = batch(event(1), {**event(2), **fields})
    try:
        parsed = contract.parse_batch(body)
    except ContractError as exc:
        assert exc.field.startswith("events[1]")
        assert exc.seq in (None, 2, fields.get("seq"))
    else:
        assert parsed.last_seq == 2


@pytest.mark.parametrize("depth", [30_000])
def test_contract_deep_nesting_is_refused_not_a_crash(depth):
    for parse in (contract.parse_batch, contract.parse_roster, contract.parse_heartbeat):
        with pytest.raises(ContractError):
            parse("[" * depth)
    nested = '{"x":' * depth
    with pytest.raises(ContractError):
        contract.parse_roster(nested)


# -- what the gate sends ------------------------------------------------------------------------


def test_contract_encode_batch_packs_the_longest_prefix_that_fits():
    events = [event(i, data={"pad": "x" * 300}) for i in range(1, 11)]
    body, n = contract.encode_batch("gate-1", events, max_bytes=2000)
    assert 0 < n < 10 and len(body) <= 2000
    parsed = contract.parse_batch(body, gate_id="gate-1")
    assert [e.seq for e in parsed.events] == list(range(1, n + 1))
    body, n = contract.encode_batch("gate-1", events, max_events=3)
    assert n == 3
    assert contract.encode_batch("gate-1", events, max_bytes=100) == (
        b'{"gate_id":"gate-1","events":[]}',
        0,
    )


def test_contract_seq_and_counts_fit_a_signed_64_bit_column():
    top = contract.MAX_SEQ
    assert top == 2**63 - 1
    assert contract.parse_batch(batch(event(top))).events[0].seq == top
    for seq in (top + 1, 10**30):
        with pytest.raises(ContractError) as info:
            contract.parse_batch(batch(event(seq)))
        assert (info.value.seq, info.value.field) == (seq, "events[0].seq")
    beat = {"gate_id": "g", "ts": TS, "version": "1", "uptime_s": 0, "lanes": {}}
    for name in ("last_seq", "unsent"):
        body = {**beat, "last_seq": 0, "unsent": 0, name: top + 1}
        with pytest.raises(ContractError) as info:
            contract.parse_heartbeat(json.dumps(body))
        assert info.value.field == name


def test_contract_encode_sends_a_lone_surrogate_as_a_replacement_character():
    assert json.loads(contract.encode({"s": "a\ud800", "\udc00": 1})) == {
        "s": "a\ufffd",
        "\ufffd": 1,
    }
    # a pair of surrogates is the one character it stands for
    assert json.loads(contract.encode({"s": "\ud83d\ude00\ud800"})) == {"s": "\U0001f600\ufffd"}
    # and a server takes the batch: a lone surrogate never stalls the upload
    sent = event(1, data={"text": "QR \udcff"})
    body, n = contract.encode_batch("gate-1", [sent])
    assert n == 1
    assert contract.parse_batch(body, gate_id="gate-1").events[0].data == {"text": "QR \ufffd"}


def test_contract_heartbeat_builds_what_the_server_parses():
    lanes = {"main": {"state": "idle", "thermometer": "ok", "camera": "ok", "relay": "ok"}}
    beat = contract.heartbeat(
        gate_id="gate-1",
        ts=TS,
        version="0.4.0",
        uptime_s=8123,
        last_seq=1041,
        unsent=0,
        lanes=lanes,
    )
    again = contract.parse_heartbeat(contract.encode(beat), gate_id="gate-1")
    assert again == beat and again.lanes == lanes
    with pytest.raises(ContractError) as info:
        contract.heartbeat(
            gate_id="gate-1", ts=TS, version="0", uptime_s=1, last_seq=-1, unsent=0, lanes={}
        )
    assert info.value.field == "last_seq"
    with pytest.raises(ContractError, match="ts: must be an RFC 3339"):
        contract.parse_heartbeat(
            json.dumps(
                {
                    "gate_id": "g",
                    "ts": "today",
                    "version": "1",
                    "uptime_s": 0,
                    "last_seq": 0,
                    "unsent": 0,
                    "lanes": {},
                }
            )
        )


def test_contract_replies():
    assert contract.parse_ack(b'{"acked_seq": 700}').acked_seq == 700
    for bad in (b'{"acked_seq": -1}', b'{"acked_seq": "7"}', b"{}", b"<html>", b"[]"):
        with pytest.raises(ContractError):
            contract.parse_ack(bad)
    refusal = contract.parse_refusal(b'{"error": "lane must not be null", "bad_seq": 1}')
    assert (refusal.error, refusal.bad_seq) == ("lane must not be null", 1)
    assert contract.parse_refusal(b"<html>") == contract.Refusal()


def test_contract_event_refused_keeps_seq_id_and_the_original_as_text():
    original = event(7, lane=None, type="kiosk.started", data={"version": "0.1.0"})
    sent = contract.event_refused(original, "lane must not be null")
    assert (sent["seq"], sent["id"], sent["ts"], sent["type"]) == (
        7,
        original["id"],
        TS,
        "kiosk.event_refused",
    )
    assert json.loads(sent["data"]["original"]) == original
    assert sent["data"]["error"] == "lane must not be null"
    parsed = contract.parse_batch(batch(sent)).events[0]
    assert contract.parse_event_refused(parsed) == contract.EventRefusedData(
        original=sent["data"]["original"], error="lane must not be null"
    )
    wrong = contract.parse_batch(batch(dict(sent, data={"error": 3}))).events[0]
    with pytest.raises(ContractError) as info:
        contract.parse_event_refused(wrong)
    assert info.value.field.startswith("data")
    assert "kiosk.event_refused" in contract.EVENT_TYPES


def test_contract_event_refused_is_never_refused_for_the_original_ts_or_lane():
    original = event(9, ts="yesterday", lane=7)
    sent = contract.event_refused(original, "ts: must be an RFC 3339 time", now=TS)
    assert (sent["ts"], sent["lane"]) == (TS, None)
    assert json.loads(sent["data"]["original"]) == original
    parsed = contract.parse_batch(batch(sent)).events[0]
    assert (parsed.seq, parsed.id, parsed.type) == (9, original["id"], "kiosk.event_refused")
    assert contract.is_rfc3339(contract.event_refused(original, "bad")["ts"])


# -- roster ------------------------------------------------------------------------------------


def test_contract_roster_parses_the_contract_example():
    body = contract.parse_roster(good_roster(), site="xdm-jinwaitan")
    assert body.version == "2020-02-04T08:00:00+08:00#17"
    assert body.keys[0].raw() == bytes(range(32))
    assert body.passes[0].status == "active"
    assert body.home_observation[0].until_date().isoformat() == "2020-02-18"
    assert body.households[0].exit_quota_per_day is None


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"site": None}, "site", "expected `str`"),
        ({"site": "elsewhere"}, "site", "not this gate's site"),
        ({"version": ""}, "version", "length"),
        ({"passes": [{"id": "P1", "household": "1", "status": "lost"}]}, "passes[0].status", ""),
        ({"passes": [{"id": "P1", "household": 1, "status": "active"}]}, "passes[0].household", ""),
        (
            {"keys": [{"kid": 1, "ed25519_public": "abc", "use": "resident"}]},
            "keys[0].ed25519_public",
            "base64",
        ),
        (
            {"keys": [{"kid": 1, "ed25519_public": "AAAA", "use": "resident"}]},
            "keys[0].ed25519_public",
            "32 bytes",
        ),
        ({"keys": [{"kid": 300, "ed25519_public": KEY, "use": "resident"}]}, "keys[0].kid", ""),
        ({"keys": [{"kid": 1, "ed25519_public": KEY, "use": "admin"}]}, "keys[0].use", ""),
        (
            {"home_observation": [{"household": "1", "until": "soon"}]},
            "home_observation[0].until",
            "a date like",
        ),
        ({"households": [{"id": "1", "members": -1}]}, "households[0].members", ""),
        ({"revoked": [""]}, "revoked[0]", ""),
        ({"keys": "none"}, "keys", ""),
    ],
)
def test_contract_roster_names_the_bad_field(fields, field, words):
    with pytest.raises(ContractError) as info:
        contract.parse_roster(good_roster(**fields), site="xdm-jinwaitan")
    assert info.value.field == field
    assert words in str(info.value)


def test_contract_roster_without_site_is_refused():
    body = json.loads(good_roster())
    del body["site"]
    with pytest.raises(ContractError, match="missing required field `site`"):
        contract.parse_roster(json.dumps(body))


def test_contract_roster_refuses_a_pass_twice():
    passes = [{"id": "P1", "household": "1", "status": "active"}] * 2
    with pytest.raises(ContractError) as info:
        contract.parse_roster(good_roster(passes=passes))
    assert info.value.field == "passes[1].id"


def test_contract_roster_strict_refuses_unknown_keys_lenient_ignores_them():
    text = good_roster(pases=[])
    assert contract.parse_roster(text).passes
    with pytest.raises(ContractError, match="unknown key 'pases'") as info:
        contract.parse_roster(text, strict=True)
    assert info.value.field == "pases"


def test_contract_roster_over_the_cap_is_refused_before_decoding():
    with pytest.raises(ContractError, match="MiB"):
        contract.parse_roster(b" " * (contract.MAX_ROSTER_BYTES + 1))


def test_contract_roster_builder_makes_what_the_gate_takes():
    built = contract.roster(
        version="v1",
        site="s",
        keys=[{"kid": 2, "ed25519_public": KEY, "use": "temporary"}],
        passes=[{"id": "P1", "household": "1", "status": "suspended"}],
    )
    assert contract.parse_roster(contract.encode(built), site="s") == built
    with pytest.raises(ContractError):
        contract.roster(version="v1", site="s", passes=[{"id": "P1"}])


@settings(max_examples=200, deadline=None)
@given(
    fields=st.dictionaries(
        st.sampled_from(
            ["version", "site", "keys", "households", "passes", "revoked", "home_observation"]
        ),
        json_values,
    )
)
def test_contract_roster_any_shape_is_a_decision(fields):
    try:
        body = contract.parse_roster(good_roster(**fields), strict=True)
    except ContractError as exc:
        assert exc.field == "" or exc.field.split("[")[0].split(".")[0] in fields
    else:
        assert body.version and body.site


def test_contract_rfc3339():
    for good in (TS, "2020-02-04T00:15:02Z", "2020-02-04t08:15:02.123456789-05:30"):
        assert contract.is_rfc3339(good), good
    for bad in ("2020-02-04", "2020-02-04T08:15:02", "2020-13-04T08:15:02Z", None, 5):
        assert not contract.is_rfc3339(bad), bad
