"""kiosk keys init, pass issue and pass verify as a newcomer meets them: the README's own
sequence, a card in Chinese first with the compound's name, households checked, a missing key
named, and verify checking the gate's roster (exit 1 on a refusal)."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import cv2
import numpy as np
import pytest
import zxingcpp
from click.testing import CliRunner
from PIL import Image, ImageDraw, ImageFont

from kiosk import config as config_mod
from kiosk.cards import PNG_DPI, png_font
from kiosk.cli import main
from kiosk.clock import SystemClock
from kiosk.journal import Journal
from kiosk.keys import init_keys

ROOT = Path(__file__).resolve().parents[2]
SITE = "t-site"


def run(*args):
    return CliRunner().invoke(main, list(args))


@pytest.fixture
def no_system_config(tmp_path, monkeypatch):
    """This machine has no /etc/kiosk/kiosk.toml (a newcomer's laptop), whatever is there."""
    monkeypatch.setattr(config_mod, "SYSTEM_CONFIG", tmp_path / "etc" / "kiosk.toml")


@pytest.fixture
def gate(tmp_path):
    """A gate's configuration (site t-site, its own keys) with a roster in its journal:
    P0007120101 active, P0007120103 revoked, 7-1202 under home observation."""
    folder = tmp_path / "gate"
    folder.mkdir()
    config = folder / "kiosk.toml"
    config.write_text(
        f'[gate]\nsite = "{SITE}"\nsite_name = "金外滩小区"\ndata_dir = "{folder / "data"}"\n'
        'hardware = "sim"\n',
        encoding="utf-8",
    )
    init_keys(folder / "data" / "keys")
    journal = Journal(folder / "data" / "journal.db", SystemClock())
    roster = {
        "version": "2020-02-04T08:00:00+08:00#17",
        "site": SITE,
        "keys": [],
        "households": [{"id": h, "members": 2, "exit_quota_per_day": None} for h in ("7-1201",)],
        "passes": [
            {"id": "P0007120101", "household": "7-1201", "status": "active"},
            {"id": "P0007120103", "household": "7-1201", "status": "revoked"},
            {"id": "P0007120201", "household": "7-1202", "status": "active"},
        ],
        "revoked": ["P0007120103"],
        "home_observation": [{"household": "7-1202", "until": "2099-02-18"}],
    }
    journal.save_roster_json(roster["version"], json.dumps(roster))
    journal.close()
    return config


def issue(config: Path, household: str, pass_id: str | None = None, *extra: str) -> str:
    args = ["pass", "issue", "--household", household, "--config", str(config), *extra]
    if pass_id:
        args += ["--pass-id", pass_id]
    result = run(*args)
    assert result.exit_code == 0, result.output
    return result.stdout.strip().splitlines()[-1]


# -- the README's own sequence ----------------------------------------------------------------


def readme_commands() -> list[list[str]]:
    """The `kiosk keys` / `kiosk pass` lines of the README's Passes section, as written."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Passes") :]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    commands = []
    for line in block.splitlines():
        line = line.split("  #")[0].strip()
        if line.startswith(".venv/bin/kiosk "):
            commands.append(shlex.split(line)[1:])
    return commands


def test_cli_readme_keys_then_pass_issue_then_verify_works_as_written(
    tmp_path, no_system_config, monkeypatch
):
    commands = readme_commands()
    assert [c[:2] for c in commands] == [["keys", "init"], ["pass", "issue"], ["pass", "verify"]]
    monkeypatch.chdir(tmp_path)  # a fresh folder, as a newcomer's
    token = None
    for args in commands:
        args = [token if a == "KP1:…" else a for a in args]
        result = run(*args)
        assert result.exit_code == 0, (args, result.output)
        if args[:2] == ["pass", "issue"]:
            token = result.stdout.strip().splitlines()[-1]
            assert token.startswith("KP1:")
    out = result.stdout
    assert "GRANTED" in out and "请通行" in out
    assert "roster: none" in out  # no gate's roster here, and it says so
    assert (tmp_path / "card.png").exists()


# -- the card: Chinese first, the compound's name ---------------------------------------------


def glyphs(text: str, size_mm: float) -> np.ndarray:
    """*text* drawn as the card draws it (the card's font, its size at 300 dpi), cropped."""
    path, index = png_font()
    font = ImageFont.truetype(path, round(size_mm * PNG_DPI / 25.4), index=index)
    _, top, right, bottom = font.getbbox(text)
    image = Image.new("L", (right + 8, bottom + 8), 255)
    ImageDraw.Draw(image).text((4, 4), text, fill=0, font=font)
    return np.asarray(image)[top : bottom + 8, :]


def find(card: np.ndarray, text: str, size_mm: float) -> tuple[float, int]:
    """How well *text* matches somewhere on *card* (1.0: exactly) and the row it is at."""
    scores = cv2.matchTemplate(card, glyphs(text, size_mm), cv2.TM_CCOEFF_NORMED)
    _, best, _, (_, y) = cv2.minMaxLoc(scores)
    return best, y


def test_cli_pass_issue_png_card_says_出入证_and_the_compound_name_first(gate, tmp_path):
    card_path = tmp_path / "card.png"
    token = issue(gate, "7-1201", None, "--out", str(card_path))
    card = cv2.imread(str(card_path), cv2.IMREAD_GRAYSCALE)
    name, name_y = find(card, "金外滩小区", 4.6)
    title, title_y = find(card, "出入证", 9)
    english, english_y = find(card, "Resident pass", 3.4)
    household, _ = find(card, "户号 7-1201", 5.5)
    assert min(name, title, english, household) > 0.9, (name, title, english, household)
    assert name_y < title_y < english_y  # the compound, then 出入证, then the English
    assert [r.text for r in zxingcpp.read_barcodes(card)] == [token]


def test_cli_pass_issue_site_name_option_wins_and_defaults_to_the_site(gate, tmp_path):
    keys = gate.parent / "data" / "keys"
    out = tmp_path / "a.png"
    named = run(
        "pass", "issue", "--household", "7-1201", "--key", str(keys / "committee.key"),
        "--site", "other", "--site-name", "另一小区", "--out", str(out),
    )  # fmt: skip
    assert named.exit_code == 0, named.output
    assert find(cv2.imread(str(out), cv2.IMREAD_GRAYSCALE), "另一小区", 4.6)[0] > 0.9


# -- households and keys ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("household", "complaint"),
    [
        ("7 1201!", "not a household"),
        ("7_1201", "not a household"),
        ("-7", "not a household"),
        ("7--1201", "not a household"),
        ("12345678901", "11 bytes in UTF-8; at most 10"),
    ],
)
def test_cli_pass_issue_refuses_what_is_not_a_household(gate, household, complaint):
    result = run("pass", "issue", "--household", household, "--config", str(gate))
    assert result.exit_code == 2
    assert "--household" in result.output and complaint in result.output


def test_cli_pass_issue_a_household_gets_its_own_pass_id(gate):
    a = run("pass", "issue", "--household", "7-1201", "--config", str(gate))
    b = run("pass", "issue", "--household", "71-201", "--config", str(gate))
    assert "pass P0007120101" in a.stderr and "pass P0071020101" in b.stderr
    other = run("pass", "issue", "--household", "7号1201", "--config", str(gate))
    assert other.exit_code == 2 and "--pass-id" in other.output  # not made up from its digits
    given = run("pass", "issue", "--household", "7号1201", "--pass-id", "Q1", "--config", str(gate))
    assert given.exit_code == 0 and "pass Q1" in given.stderr


def test_cli_pass_issue_without_key_names_the_key_not_etc_kiosk(no_system_config):
    result = run("pass", "issue", "--household", "7-1201", "--site", "s")
    assert result.exit_code == 2
    assert "--key keys/committee.key" in result.output
    assert "/etc/kiosk" not in result.output and "kiosk.toml" not in result.output
    temporary = run("pass", "issue", "--household", "7-1201", "--kind", "temporary")
    assert "--key keys/gate.key" in temporary.output and "--site" in temporary.output


def test_cli_pass_issue_with_a_configuration_names_the_missing_key_file(gate):
    (gate.parent / "data" / "keys" / "committee.key").unlink()
    result = run("pass", "issue", "--household", "7-1201", "--config", str(gate))
    assert result.exit_code == 1
    assert "committee.key: missing" in result.output


# -- verify: the roster, and exit 1 on a refusal ----------------------------------------------


def verify(token: str, *args: str):
    return run("pass", "verify", token, *args)


def test_cli_pass_verify_checks_the_gate_roster_and_exits_1_on_a_refusal(gate):
    good = issue(gate, "7-1201", "P0007120101")
    revoked = issue(gate, "7-1201", "P0007120103")
    unknown = issue(gate, "7-1201", "P0007120199")
    ok = verify(good, "--config", str(gate))
    assert ok.exit_code == 0, ok.output
    assert "GRANTED" in ok.output and "2020-02-04T08:00:00+08:00#17" in ok.output
    refused = verify(revoked, "--config", str(gate))
    assert refused.exit_code == 1
    assert "PASS_REVOKED" in refused.output and "通行证已注销" in refused.output
    data = json.loads(verify(unknown, "--config", str(gate), "--json").stdout)
    assert (data["reason"], data["granted"], data["pass_check"]) == (
        "PASS_UNKNOWN",
        False,
        "GRANTED",  # the signature is good: the roster refuses it
    )


def test_cli_pass_verify_home_observation_by_direction(gate):
    token = issue(gate, "7-1202", "P0007120201")
    assert verify(token, "--config", str(gate)).exit_code == 0
    out = verify(token, "--config", str(gate), "--direction", "out")
    assert out.exit_code == 1 and "HOME_OBSERVATION" in out.output


def test_cli_pass_verify_without_a_roster_says_so(gate, tmp_path, no_system_config):
    token = issue(gate, "7-1201", "P0007120103")  # revoked on the gate's roster
    keys = gate.parent / "data" / "keys"
    result = verify(token, "--keys", str(keys), "--site", SITE)
    assert result.exit_code == 0
    assert "roster: none: only the signature, the site and the dates were checked" in (
        result.output
    )
    assert verify(token, "--keys", str(keys), "--site", "elsewhere").exit_code == 1
    assert "/etc/kiosk" not in verify(token).output
