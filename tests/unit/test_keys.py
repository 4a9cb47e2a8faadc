"""Key files: made with safe modes, never overwritten, loaded back or refused by name."""

from __future__ import annotations

import json
import os
import re
import stat
from datetime import datetime, timedelta, timezone

import pytest

from kiosk.errors import KeyFileError, PassError
from kiosk.keys import MANIFEST, init_keys, issue_pass, load_private_key, load_public_keys
from kiosk.passes import Keyring, KeyUse, PassKind, verify
from kiosk.reasons import Reason

SITE = "xdm-jinwaitan"
NOW = datetime(2020, 2, 4, 8, 15, tzinfo=timezone(timedelta(hours=8)))
FILES = ["committee.key", "committee.pub", "gate.key", "gate.pub", MANIFEST]


@pytest.fixture
def open_umask():
    """Umask 0 while the test runs, so only the mode given at creation limits a file."""
    saved = os.umask(0)
    try:
        yield
    finally:
        os.umask(saved)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_keys_init_writes_both_pairs_and_the_manifest(tmp_path):
    written = init_keys(tmp_path / "keys", committee_kid=3, gate_kid=101)
    assert [path.name for path in written] == FILES
    manifest = json.loads((tmp_path / "keys" / MANIFEST).read_text())
    assert [(e["kid"], e["use"], e["role"]) for e in manifest["keys"]] == [
        (3, "resident", "committee"),
        (101, "temporary", "gate"),
    ]
    assert (
        (tmp_path / "keys" / "committee.key").read_text().startswith("-----BEGIN PRIVATE KEY-----")
    )


def test_keys_private_files_are_0600_from_creation(tmp_path, open_umask):
    init_keys(tmp_path)
    assert mode(tmp_path / "committee.key") == 0o600
    assert mode(tmp_path / "gate.key") == 0o600
    assert mode(tmp_path / "gate.pub") == 0o644


def test_keys_new_directory_is_0700(tmp_path, open_umask):
    init_keys(tmp_path / "new")
    assert mode(tmp_path / "new") == 0o700


@pytest.mark.parametrize("existing", FILES)
def test_keys_init_refuses_to_overwrite_any_file_and_writes_nothing(tmp_path, existing):
    (tmp_path / existing).write_text("keep me")
    with pytest.raises(KeyFileError, match=re.escape(existing)):
        init_keys(tmp_path)
    assert sorted(path.name for path in tmp_path.iterdir()) == [existing]
    assert (tmp_path / existing).read_text() == "keep me"


def test_keys_init_twice_is_refused_and_keeps_the_first_keys(tmp_path):
    init_keys(tmp_path)
    before = (tmp_path / "committee.key").read_bytes()
    with pytest.raises(KeyFileError, match="refusing to overwrite"):
        init_keys(tmp_path)
    assert (tmp_path / "committee.key").read_bytes() == before


def test_keys_init_refuses_a_dangling_symlink(tmp_path):
    (tmp_path / "gate.key").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(KeyFileError, match=r"gate\.key"):
        init_keys(tmp_path)
    assert not (tmp_path / "elsewhere").exists()


def test_keys_init_gate_only_for_a_second_gate(tmp_path):
    written = init_keys(tmp_path, committee=False, gate_kid=102)
    assert [path.name for path in written] == ["gate.key", "gate.pub", MANIFEST]
    assert [entry.kid for entry in load_public_keys(tmp_path)] == [102]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"committee": False, "gate": False},
        {"committee_kid": 5, "gate_kid": 5},
        {"gate_kid": 256},
        {"committee_kid": -1},
    ],
)
def test_keys_init_refuses_bad_arguments(tmp_path, kwargs):
    with pytest.raises(PassError):
        init_keys(tmp_path, **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_keys_load_private_key_gives_kid_use_and_no_warning(tmp_path):
    init_keys(tmp_path, committee_kid=2, gate_kid=100)
    committee = load_private_key(tmp_path / "committee.key")
    gate = load_private_key(tmp_path / "gate.key")
    assert (committee.kid, committee.use, committee.readable_by_others) == (
        2,
        KeyUse.RESIDENT,
        False,
    )
    assert (gate.kid, gate.use) == (100, KeyUse.TEMPORARY)


def test_keys_load_private_key_flags_a_group_or_world_readable_file(tmp_path):
    init_keys(tmp_path)
    os.chmod(tmp_path / "committee.key", 0o640)
    assert load_private_key(tmp_path / "committee.key").readable_by_others
    os.chmod(tmp_path / "committee.key", 0o604)
    assert load_private_key(tmp_path / "committee.key").readable_by_others


def test_keys_load_private_key_refuses_missing_and_corrupt_files_by_name(tmp_path):
    init_keys(tmp_path)
    with pytest.raises(KeyFileError, match=r"nothing\.key: missing"):
        load_private_key(tmp_path / "nothing.key")
    (tmp_path / "gate.key").write_text("-----BEGIN PRIVATE KEY-----\nAAAA\n")
    with pytest.raises(KeyFileError, match=r"gate\.key: not an unencrypted PEM"):
        load_private_key(tmp_path / "gate.key")
    with pytest.raises(KeyFileError, match=r"committee\.pub: not an unencrypted PEM"):
        load_private_key(tmp_path / "committee.pub")


def test_keys_load_private_key_needs_the_manifest(tmp_path):
    init_keys(tmp_path)
    (tmp_path / MANIFEST).unlink()
    with pytest.raises(KeyFileError, match=r"keys\.json: missing"):
        load_private_key(tmp_path / "gate.key")
    (tmp_path / MANIFEST).write_text("{not json")
    with pytest.raises(KeyFileError, match=r"keys\.json: not valid JSON"):
        load_private_key(tmp_path / "gate.key")


def test_keys_swapped_key_files_do_not_match_the_manifest(tmp_path):
    init_keys(tmp_path)
    committee = (tmp_path / "committee.key").read_bytes()
    (tmp_path / "committee.key").write_bytes((tmp_path / "gate.key").read_bytes())
    (tmp_path / "gate.key").write_bytes(committee)
    with pytest.raises(KeyFileError, match=r"gate\.key: does not match"):
        load_private_key(tmp_path / "gate.key")
    (tmp_path / "gate.pub").write_bytes((tmp_path / "committee.pub").read_bytes())
    with pytest.raises(KeyFileError, match=r"gate\.pub: does not match"):
        load_public_keys(tmp_path)


def test_keys_load_public_keys_reads_no_private_key(tmp_path):
    init_keys(tmp_path)
    (tmp_path / "committee.key").unlink()  # as on a kiosk
    ring = load_public_keys(tmp_path)
    assert [(entry.kid, entry.use) for entry in ring] == [
        (1, KeyUse.RESIDENT),
        (100, KeyUse.TEMPORARY),
    ]


def test_keys_load_public_keys_refuses_missing_and_corrupt_files_by_name(tmp_path):
    init_keys(tmp_path)
    (tmp_path / "gate.pub").write_text("garbage")
    with pytest.raises(KeyFileError, match=r"gate\.pub: not a PEM public key"):
        load_public_keys(tmp_path)
    (tmp_path / "gate.pub").unlink()
    with pytest.raises(KeyFileError, match=r"gate\.pub: missing"):
        load_public_keys(tmp_path)


@pytest.mark.parametrize(
    ("manifest", "complaint"),
    [
        ([], "not a key manifest"),
        ({"format": 2, "keys": []}, "not a key manifest"),
        ({"format": 1, "keys": {}}, "'keys' must be a list"),
        ({"format": 1, "keys": ["x"]}, r"keys\[0\] is not an object"),
        ({"format": 1, "keys": [{"kid": 300}]}, "kid must be"),
        ({"format": 1, "keys": [{"kid": 1, "use": "admin"}]}, "use must be"),
        (
            {"format": 1, "keys": [{"kid": 1, "use": "resident", "public": "../x.pub"}]},
            "must be a plain file name",
        ),
    ],
)
def test_keys_bad_manifest_is_refused_by_name(tmp_path, manifest, complaint):
    (tmp_path / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(KeyFileError, match=complaint) as caught:
        load_public_keys(tmp_path)
    assert MANIFEST in str(caught.value)


def test_keys_manifest_entries_have_the_roster_shape(tmp_path):
    init_keys(tmp_path)
    entries = json.loads((tmp_path / MANIFEST).read_text())["keys"]
    from_roster = Keyring.from_roster(entries)
    assert from_roster.problems == []
    assert [(e.kid, e.raw()) for e in from_roster] == [
        (e.kid, e.raw()) for e in load_public_keys(tmp_path)
    ]


def test_keys_issue_pass_with_each_key_verifies_against_the_public_keys(tmp_path):
    init_keys(tmp_path)
    ring = load_public_keys(tmp_path)
    committee = load_private_key(tmp_path / "committee.key")
    gate = load_private_key(tmp_path / "gate.key")
    resident, claims = issue_pass(
        committee,
        kind=PassKind.RESIDENT,
        pass_id="P0007120101",
        household="7-1201",
        site=SITE,
        now=NOW,
        days=30,
    )
    assert claims.valid_until - claims.valid_from == timedelta(days=30)
    temporary, _ = issue_pass(
        gate,
        kind=PassKind.TEMPORARY,
        pass_id="T2002040001",
        household="7-1201",
        site=SITE,
        now=NOW,
        days=0.5,
        single_reentry=True,
    )
    for token in (resident, temporary):
        assert verify(token, ring, site=SITE, now=NOW).reason is Reason.GRANTED


def test_keys_issue_pass_refuses_a_key_of_the_wrong_use(tmp_path):
    init_keys(tmp_path)
    gate = load_private_key(tmp_path / "gate.key")
    with pytest.raises(PassError, match="signs temporary passes, not resident"):
        issue_pass(
            gate,
            kind=PassKind.RESIDENT,
            pass_id="P1",
            household="7-1201",
            site=SITE,
            now=NOW,
            days=1,
        )
    committee = load_private_key(tmp_path / "committee.key")
    with pytest.raises(PassError, match="days must be positive"):
        issue_pass(
            committee,
            kind=PassKind.RESIDENT,
            pass_id="P1",
            household="7-1201",
            site=SITE,
            now=NOW,
            days=0,
        )
