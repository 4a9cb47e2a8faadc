"""The committee's signing key: made once (``committee keys init``), kept in a 0600 file.

The key files are the gate's own format (:mod:`kiosk.keys`: PKCS#8 PEM and a ``keys.json``
manifest), made by the same code. The public half is recorded in the database, so every
gate receives it in its roster; recording it gives every site's roster a new version.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from committee.errors import NotFound, Refused
from committee.models import SigningKey
from committee.sites import touch_roster
from kiosk.errors import KeyFileError
from kiosk.keys import COMMITTEE_KID, LoadedKey, init_keys, load_private_key

KEY_FILE = "committee.key"


def key_path(keys_dir: Path) -> Path:
    return keys_dir / KEY_FILE


def init(
    session: Session, keys_dir: Path, now: datetime, kid: int = COMMITTEE_KID
) -> tuple[LoadedKey, bool]:
    """Make the committee key pair in *keys_dir* (refusing to replace one) and record its
    public key. Returns the key and whether it was new; an existing key pair is only
    recorded (a database made afresh beside old keys)."""
    path = key_path(keys_dir)
    created = False
    if not path.exists():
        try:
            init_keys(keys_dir, committee_kid=kid, gate=False)
        except KeyFileError as exc:
            raise Refused(str(exc)) from None
        created = True
    key = load(keys_dir)
    public = SigningKey(
        kid=key.kid,
        use=key.use.value,
        ed25519_public=_public_b64(key),
        created_at=now,
    )
    known = session.get(SigningKey, key.kid)
    if known is None:
        session.add(public)
        touch_roster(session, None, now)
    elif known.ed25519_public != public.ed25519_public:
        raise Refused(f"key id {key.kid} is recorded with another public key; keys differ")
    return key, created


def load(keys_dir: Path) -> LoadedKey:
    """The committee's private key.

    :raises NotFound: there is none yet (run ``committee keys init``).
    :raises Refused: the file is unreadable, corrupt or open to others.
    """
    path = key_path(keys_dir)
    if not path.exists():
        raise NotFound(f"{path}: no committee key yet; run 'committee keys init'")
    try:
        key = load_private_key(path)
    except KeyFileError as exc:
        raise Refused(str(exc)) from None
    if key.readable_by_others:
        raise Refused(f"{path} is open to group or others; run chmod 600 {path}")
    return key


def recorded(session: Session) -> list[SigningKey]:
    return list(session.scalars(select(SigningKey).order_by(SigningKey.kid)))


def _public_b64(key: LoadedKey) -> str:
    import base64

    return base64.b64encode(key.key.public_key().public_bytes_raw()).decode("ascii")
