"""The demo compound: keys, a roster of a few households, demo passes and the demo guard.

Used by ``kiosk demo`` and ``kiosk simulate``. The demo keeps the committee's private key in
its data folder so that it can mint passes; a real gate holds only public keys.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path

from kiosk.keys import init_keys, issue_pass, load_private_key, sign_pass
from kiosk.passes import PassKind

log = logging.getLogger(__name__)

#: (household, members) of the demo compound.
HOUSEHOLDS = (("7-1201", 3), ("7-1202", 2), ("8-0301", 4), ("9-0502", 1))


@dataclass(frozen=True)
class DemoPass:
    label: str
    token: str
    pass_id: str | None
    household: str | None
    expect: str


def ensure_keys(keys_dir: Path) -> None:
    """Create the demo committee and gate key pairs when the folder has none."""
    if not (keys_dir / "committee.key").exists():
        init_keys(keys_dir)


def committee_key(keys_dir: Path):
    return load_private_key(keys_dir / "committee.key")


def gate_key(keys_dir: Path):
    return load_private_key(keys_dir / "gate.key")


def roster(site: str, today, version: str = "demo#1") -> dict:
    """The demo roster in the committee's shape: 7-1202 is under home observation."""
    return {
        "version": version,
        "site": site,
        "keys": [],
        "households": [{"id": h, "members": m, "exit_quota_per_day": None} for h, m in HOUSEHOLDS],
        "passes": [
            {"id": "P0007120101", "household": "7-1201", "status": "active"},
            {"id": "P0007120102", "household": "7-1201", "status": "active"},
            {"id": "P0007120103", "household": "7-1201", "status": "revoked"},
            {"id": "P0007120201", "household": "7-1202", "status": "active"},
            {"id": "P0008030101", "household": "8-0301", "status": "active"},
            {"id": "P0009050201", "household": "9-0502", "status": "suspended"},
        ],
        "revoked": ["P0007120103"],
        "home_observation": [
            {"household": "7-1202", "until": (today + timedelta(days=14)).isoformat()}
        ],
    }


def mint(key, *, kind: PassKind = PassKind.RESIDENT, **fields) -> str:
    """A pass token signed with *key* (for scenarios and tests): by default a resident pass,
    which needs the demo committee key; a temporary pass needs the gate key. *fields*:
    ``pass_id``, ``household``, ``site``, ``valid_from``, ``valid_until`` and optionally
    ``single_reentry``, ``registration_id`` (:func:`kiosk.keys.sign_pass`)."""
    return sign_pass(key, kind=kind, **fields)[0]


#: The compound of the demo's "other compound's pass", and its one household.
OTHER_SITE = {
    "site": "other-compound",
    "name": "邻近小区",
    "households": [{"id": "1-0101", "members": 2, "exit_quota_per_day": None}],
}
#: The demo passes a committee issues, in the order it issues them (so that each household's
#: pass ids come out as the roster has them): (label, household, site (None: the demo's),
#: valid from (days from now), days valid, status, what the gate decides). The forged pass
#: and the shop's QR code are made from these by the demo itself.
PASS_CASES = (
    ("7-1201 出入证 (valid)", "7-1201", None, 0.0, 365.0, "active", "GRANTED"),
    ("7-1201 expired pass", "7-1201", None, -40.0, 30.0, "active", "PASS_EXPIRED"),
    ("7-1201 revoked pass", "7-1201", None, 0.0, 365.0, "revoked", "PASS_REVOKED"),
    (
        "7-1202 出入证 (home observation)",
        "7-1202",
        None,
        0.0,
        365.0,
        "active",
        "GRANTED on the way in, HOME_OBSERVATION on the way out",
    ),
    ("8-0301 出入证 (valid)", "8-0301", None, 0.0, 365.0, "active", "GRANTED"),
    ("9-0502 suspended pass", "9-0502", None, 0.0, 365.0, "suspended", "PASS_SUSPENDED"),
    ("other compound's pass", "1-0101", "other-compound", 0.0, 365.0, "active", "PASS_WRONG_SITE"),
)
#: The order the demo shows its passes in (indexes into PASS_CASES).
SHOWN_ORDER = (0, 4, 3, 2, 5, 1, 6)


def _cases_to_passes(tokens: list[str]) -> list[DemoPass]:
    """The nine demo passes from the tokens of :data:`PASS_CASES` (a forged copy of the
    first and a shop's QR code added)."""
    from kiosk.passes import parse_token

    made = []
    for index in SHOWN_ORDER:
        label, household, _, _, _, _, expect = PASS_CASES[index]
        claims = parse_token(tokens[index]).claims
        made.append(DemoPass(label, tokens[index], claims.pass_id, household, expect))
    good = made[0]
    forged = good.token[:-6] + ("A" if good.token[-6] != "A" else "B") + good.token[-5:]
    made.append(DemoPass("forged pass", forged, good.pass_id, good.household, "PASS_BAD_SIGNATURE"))
    made.append(
        DemoPass("a shop's QR code", "https://shop.example/item/42", None, None, "PASS_MALFORMED")
    )
    return made


def demo_passes(keys_dir: Path, site: str, now: datetime) -> list[DemoPass]:
    """Passes that show each decision at the demo gate, minted here with the demo committee
    key: for ``kiosk simulate``, the tests, and a demo without the committee server (the
    real committee server issues the demo's passes itself, :func:`start_committee`)."""
    key = committee_key(keys_dir)

    def resident(pass_id, household, *, start=now, days=365.0, at_site=site):
        return issue_pass(
            key,
            kind=PassKind.RESIDENT,
            pass_id=pass_id,
            household=household,
            site=at_site,
            now=start,
            days=days,
        )[0]

    good = resident("P0007120101", "7-1201")
    forged = good[:-6] + ("A" if good[-6] != "A" else "B") + good[-5:]
    return [
        DemoPass("7-1201 出入证 (valid)", good, "P0007120101", "7-1201", "GRANTED"),
        DemoPass(
            "8-0301 出入证 (valid)",
            resident("P0008030101", "8-0301"),
            "P0008030101",
            "8-0301",
            "GRANTED",
        ),
        DemoPass(
            "7-1202 出入证 (home observation)",
            resident("P0007120201", "7-1202"),
            "P0007120201",
            "7-1202",
            "GRANTED on the way in, HOME_OBSERVATION on the way out",
        ),
        DemoPass(
            "7-1201 revoked pass",
            resident("P0007120103", "7-1201"),
            "P0007120103",
            "7-1201",
            "PASS_REVOKED",
        ),
        DemoPass(
            "9-0502 suspended pass",
            resident("P0009050201", "9-0502"),
            "P0009050201",
            "9-0502",
            "PASS_SUSPENDED",
        ),
        DemoPass(
            "7-1201 expired pass",
            resident("P0007120102", "7-1201", start=now - timedelta(days=40), days=30),
            "P0007120102",
            "7-1201",
            "PASS_EXPIRED",
        ),
        DemoPass(
            "other compound's pass",
            resident("P0001010101", "1-0101", at_site="other-compound"),
            "P0001010101",
            "1-0101",
            "PASS_WRONG_SITE",
        ),
        DemoPass("forged pass", forged, "P0007120101", "7-1201", "PASS_BAD_SIGNATURE"),
        DemoPass("a shop's QR code", "https://shop.example/item/42", None, None, "PASS_MALFORMED"),
    ]


def write_cards(passes: list[DemoPass], folder: Path) -> Path:
    """Write each demo pass as a PNG QR code into *folder*; returns the folder."""
    import segno

    folder.mkdir(parents=True, exist_ok=True)
    for i, p in enumerate(passes, 1):
        name = f"{i:02d}-{(p.pass_id or 'not-a-pass').lower()}.png"
        segno.make(p.token, error="m", boost_error=False).save(folder / name, scale=8, border=4)
    return folder


def seed(
    kiosk,
    *,
    user: str,
    password: str,
    maintenance: tuple[str, str] = ("", ""),
    passes: list[DemoPass] | None = None,
) -> tuple[list[DemoPass], Path]:
    """Give a demo kiosk its roster (when it has none and no committee server sends one),
    guard account, maintenance account (*maintenance*: name and password; none when the
    name is empty) and passes (*passes*: those the committee server issued; else minted
    here)."""
    from kiosk.accounts import Accounts

    cfg = kiosk.config
    now = kiosk.clock.now()
    if not kiosk.rosters.current().loaded and not cfg.uplink.url:
        kiosk.rosters.replace(roster(cfg.gate.site, now.date()))
    accounts = Accounts(kiosk.journal)
    if user:
        accounts.add(user, password, "guard")
    if maintenance[0]:
        accounts.add(*maintenance, "maintenance")
    if passes is None:
        passes = demo_passes(cfg.keys_dir, cfg.gate.site, now)
    folder = write_cards(passes, cfg.data_dir / "demo-passes")
    return passes, folder


def start_committee(cfg):
    """Start a committee server on loopback for the demo and point the uplink at it.

    The real one (``committee/``, SQLite under the demo's data folder, seeded once with the
    demo compound) when the ``committee`` extra is installed; else the simulated one of
    :mod:`kiosk.sim.committee`. Returns ``(server, cfg)``: the running server (``url``,
    ``description``, ``stop()``; the real one also ``pages_url``, ``login`` (user, password)
    of its pages, and ``passes``: the demo passes it issued) and the configuration with
    ``[uplink]`` filled in (the token is written to a 0600 file).
    """
    import dataclasses
    import os
    import secrets

    today = datetime.now().astimezone().date()
    register = roster(cfg.gate.site, today)
    try:
        from committee.demo import DEMO_PASSWORD, DEMO_USER, PassCase, start_for_gate
    except ImportError:  # the committee extra is not installed
        from kiosk.sim.committee import CommitteeServer

        token = secrets.token_urlsafe(24)
        server = CommitteeServer(gate_id=cfg.gate.gate_id, token=token, roster=register).start()
        server.description = "simulated committee server, loopback"
        server.passes = None
    else:
        cases = [
            PassCase(h, site, start, days, status)
            for _, h, site, start, days, status, _ in PASS_CASES
        ]
        server, token, tokens = start_for_gate(
            cfg.data_dir / "committee",
            site=cfg.gate.site,
            gate_id=cfg.gate.gate_id,
            keys_dir=cfg.keys_dir,
            register=register,
            cases=cases,
            other=OTHER_SITE,
        )
        server.passes = _cases_to_passes(tokens)
        server.login = (DEMO_USER, DEMO_PASSWORD)
    token_file = cfg.data_dir / "committee-token"
    cfg.data_dir.mkdir(parents=True, exist_ok=True)
    token_file.unlink(missing_ok=True)
    fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(token + "\n")
    uplink = dataclasses.replace(cfg.uplink, url=server.url, token_file=str(token_file))
    return server, dataclasses.replace(cfg, uplink=uplink)


def as_json(passes: list[DemoPass]) -> list[dict]:
    return [asdict(p) for p in passes]
