"""Key files: make the committee's and the gate's Ed25519 key pairs, load them back.

A key directory holds PEM files and a small manifest::

    committee.key   committee private key (PKCS#8 PEM, mode 0600): keep it in the office,
                    never on a kiosk; it signs resident and worker passes
    committee.pub   committee public key (SubjectPublicKeyInfo PEM)
    gate.key        this gate's private key (PKCS#8 PEM, mode 0600): signs temporary passes
    gate.pub        this gate's public key
    keys.json       manifest: {"format": 1, "keys": [{"kid": 1, "use": "resident",
                    "role": "committee", "private": "committee.key", "public": "committee.pub",
                    "ed25519_public": "<base64 of the 32 raw bytes>"}, ...]}

Each manifest entry has the roster's key shape (``kid``, ``ed25519_public``, ``use``), so the
committee can paste its entry into the roster it serves. Key ids are 0-255; by convention
the committee's keys are small numbers and each gate of a compound has its own id from 100 up.

The functions here take plain arguments and return plain data; ``kiosk keys init``,
``kiosk pass issue`` and ``kiosk pass verify`` call them.
"""

from __future__ import annotations

import base64
import json
import os
import stat
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from kiosk.errors import KeyFileError, PassError
from kiosk.passes import (
    KEY_USE_FOR_KIND,
    Keyring,
    KeyUse,
    PassClaims,
    PassKind,
    issue_token,
    make_claims,
)

MANIFEST = "keys.json"
MANIFEST_FORMAT = 1
#: Default key id of the committee's key.
COMMITTEE_KID = 1
#: Default key id of a gate's own key.
GATE_KID = 100

_ROLES = {
    "committee": ("committee.key", "committee.pub", KeyUse.RESIDENT),
    "gate": ("gate.key", "gate.pub", KeyUse.TEMPORARY),
}


class LoadedKey(NamedTuple):
    """A private key read from a key directory.

    :param readable_by_others: the file grants any permission to group or others; warn
        the user (``chmod 600``).
    """

    kid: int
    key: Ed25519PrivateKey
    use: KeyUse
    path: Path
    readable_by_others: bool


def _raw_public_b64(key: Ed25519PublicKey) -> str:
    return base64.b64encode(key.public_bytes_raw()).decode("ascii")


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Create *path* with *mode* from the first byte on; never replace an existing file."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags, mode)
    except FileExistsError:
        raise KeyFileError(f"{path}: already exists; refusing to overwrite it") from None
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot create: {exc.strerror}") from None
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def init_keys(
    directory: str | os.PathLike[str],
    *,
    committee_kid: int = COMMITTEE_KID,
    gate_kid: int = GATE_KID,
    committee: bool = True,
    gate: bool = True,
) -> list[Path]:
    """Make new key pairs in *directory* and return the paths written, manifest last.

    Private key files are created with mode 0600 (never wider, whatever the umask); the
    directory is created with mode 0700 when missing. Nothing is written if any target
    file already exists.

    :param committee: make the committee pair (do this once, in the office).
    :param gate: make this gate's pair (once per gate, with its own *gate_kid*).
    :raises KeyFileError: a target file exists or cannot be written (the message names it).
    :raises PassError: a key id is outside 0..255, both ids are equal, or no pair is asked for.
    """
    wanted: dict[str, int] = {}
    if committee:
        wanted["committee"] = committee_kid
    if gate:
        wanted["gate"] = gate_kid
    if not wanted:
        raise PassError("asked for neither the committee nor the gate key pair")
    for role, kid in wanted.items():
        if isinstance(kid, bool) or not isinstance(kid, int) or not 0 <= kid <= 255:
            raise PassError(f"{role} key id must be an integer 0..255, not {kid!r}")
    if len(set(wanted.values())) != len(wanted):
        raise PassError("the committee and the gate key need different key ids")

    folder = Path(directory)
    targets = [folder / name for role in wanted for name in _ROLES[role][:2]]
    targets.append(folder / MANIFEST)
    for target in targets:
        if target.exists() or target.is_symlink():
            raise KeyFileError(f"{target}: already exists; refusing to overwrite it")
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise KeyFileError(f"{folder}: cannot create the key directory: {exc.strerror}") from None

    written: list[Path] = []
    entries: list[dict[str, Any]] = []
    for role, kid in wanted.items():
        private_name, public_name, use = _ROLES[role]
        private_key = Ed25519PrivateKey.generate()
        public_key = private_key.public_key()
        private_pem = private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        public_pem = public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        _write_new(folder / private_name, private_pem, 0o600)
        written.append(folder / private_name)
        _write_new(folder / public_name, public_pem, 0o644)
        written.append(folder / public_name)
        entries.append(
            {
                "kid": kid,
                "use": use.value,
                "role": role,
                "private": private_name,
                "public": public_name,
                "ed25519_public": _raw_public_b64(public_key),
            }
        )
    manifest = {"format": MANIFEST_FORMAT, "keys": entries}
    _write_new(folder / MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode(), 0o644)
    written.append(folder / MANIFEST)
    return written


def _read_manifest(folder: Path) -> list[dict[str, Any]]:
    path = folder / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise KeyFileError(f"{path}: missing (run 'kiosk keys init')") from None
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot read: {exc.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise KeyFileError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
        raise KeyFileError(f"{path}: not a key manifest of format {MANIFEST_FORMAT}")
    entries = data.get("keys")
    if not isinstance(entries, list):
        raise KeyFileError(f"{path}: 'keys' must be a list")
    checked = []
    for index, entry in enumerate(entries):
        where = f"{path}: keys[{index}]"
        if not isinstance(entry, dict):
            raise KeyFileError(f"{where} is not an object")
        kid = entry.get("kid")
        if isinstance(kid, bool) or not isinstance(kid, int) or not 0 <= kid <= 255:
            raise KeyFileError(f"{where}: kid must be an integer 0..255")
        if entry.get("use") not in {use.value for use in KeyUse}:
            raise KeyFileError(f"{where}: use must be 'resident' or 'temporary'")
        for field in ("private", "public", "ed25519_public"):
            value = entry.get(field)
            if (
                not isinstance(value, str)
                or not value
                or (field != "ed25519_public" and Path(value).name != value)
            ):
                raise KeyFileError(f"{where}: {field} must be a plain file name")
        checked.append(entry)
    return checked


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise KeyFileError(f"{path}: missing") from None
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot read: {exc.strerror}") from None


def load_private_key(path: str | os.PathLike[str]) -> LoadedKey:
    """Read a private key file and its key id and use from the manifest beside it.

    :raises KeyFileError: the file or manifest is missing, unreadable or corrupt, is not an
        Ed25519 key, or does not match the manifest (the message names the file).
    """
    path = Path(path)
    data = _read_bytes(path)
    mode = os.stat(path).st_mode
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise KeyFileError(f"{path}: not an unencrypted PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{path}: not an Ed25519 key")
    for entry in _read_manifest(path.parent):
        if entry["private"] == path.name:
            if entry["ed25519_public"] != _raw_public_b64(key.public_key()):
                raise KeyFileError(f"{path}: does not match its entry in {MANIFEST}")
            return LoadedKey(
                kid=entry["kid"],
                key=key,
                use=KeyUse(entry["use"]),
                path=path,
                readable_by_others=bool(stat.S_IMODE(mode) & 0o077),
            )
    raise KeyFileError(f"{path}: not listed in {path.parent / MANIFEST}")


def load_public_keys(directory: str | os.PathLike[str]) -> Keyring:
    """Read every public key the manifest of *directory* lists into a :class:`Keyring`.

    Private key files are not read (a kiosk should not hold the committee's).

    :raises KeyFileError: a listed file is missing or corrupt, or does not match the
        manifest (the message names the file).
    """
    folder = Path(directory)
    ring = Keyring()
    for entry in _read_manifest(folder):
        path = folder / entry["public"]
        data = _read_bytes(path)
        try:
            key = serialization.load_pem_public_key(data)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise KeyFileError(f"{path}: not a PEM public key") from None
        if not isinstance(key, Ed25519PublicKey):
            raise KeyFileError(f"{path}: not an Ed25519 key")
        if entry["ed25519_public"] != _raw_public_b64(key):
            raise KeyFileError(f"{path}: does not match its entry in {MANIFEST}")
        try:
            ring.add(entry["kid"], key, entry["use"])
        except PassError as exc:
            raise KeyFileError(f"{folder / MANIFEST}: {exc}") from None
    return ring


def sign_pass(
    key: LoadedKey, *, kind: PassKind, valid_from: datetime, valid_until: datetime, **fields
) -> tuple[str, PassClaims]:
    """A pass of *kind* valid from *valid_from* until *valid_until*, signed with *key*:
    ``(token, claims)``. *fields* are the rest of :func:`kiosk.passes.make_claims`
    (``pass_id``, ``household``, ``site``, ``single_reentry``, ``registration_id``).

    :raises PassError: *key* may not sign this kind (a gate key cannot sign a resident
        pass, nor the committee key a temporary one), or a field is refused.
    """
    _may_sign(key, kind)
    claims = make_claims(
        kind=kind, kid=key.kid, valid_from=valid_from, valid_until=valid_until, **fields
    )
    return issue_token(claims, key.key), claims


def issue_pass(
    key: LoadedKey, *, kind: PassKind, now: datetime, days: float, **fields
) -> tuple[str, PassClaims]:
    """Issue a pass valid from *now* for *days* days, signed with *key* (:func:`sign_pass`;
    *fields*: ``pass_id``, ``household``, ``site``, ``single_reentry``, ``registration_id``).

    :raises PassError: *key* may not sign this kind, *days* is not positive, or a field is
        refused.
    """
    _may_sign(key, kind)
    if not days > 0:
        raise PassError(f"days must be positive, not {days!r}")
    until = now + timedelta(days=days)
    return sign_pass(key, kind=kind, valid_from=now, valid_until=until, **fields)


def _may_sign(key: LoadedKey, kind: PassKind) -> None:
    if KEY_USE_FOR_KIND[kind] is not key.use:
        raise PassError(
            f"key {key.kid} ({key.path.name}) signs {key.use.value} passes, not {kind.name.lower()}"
        )
