"""kiosk roster import|show, kiosk pass verify on any input, kiosk pass issue --csv."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.cli import main
from kiosk.keys import init_keys

GOOD = {
    "version": "2020-02-04T08:00:00+08:00#17",
    "site": "t-site",
    "households": [{"id": "7-1201", "members": 3, "exit_quota_per_day": None}],
    "passes": [{"id": "P0007120101", "household": "7-1201", "status": "active"}],
    "revoked": [],
    "home_observation": [{"household": "7-1201", "until": "2099-02-18"}],
}


@pytest.fixture(scope="module")
def gate(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gate")
    (folder / "kiosk.toml").write_text(
        f'[gate]\nsite = "t-site"\ndata_dir = "{folder / "data"}"\nhardware = "sim"\n'
    )
    init_keys(folder / "data" / "keys")
    return folder


def run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_cli_roster_import_then_show(gate, tmp_path):
    path = tmp_path / "roster.json"
    path.write_text(json.dumps(GOOD))
    result = run("roster", "import", str(path), "--config", str(gate / "kiosk.toml"))
    assert result.exit_code == 0, result.output
    shown = run("roster", "show", "--json", "--config", str(gate / "kiosk.toml"))
    summary = json.loads(shown.output)
    assert summary["version"] == GOOD["version"] and summary["active"] == 1
    assert summary["home_observation"] == [["7-1201", "2099-02-18"]]
    assert 0 <= summary["age_s"] < 60


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "expected a JSON object"),
        (json.dumps({**GOOD, "version": ""}), "version"),
        (json.dumps({**GOOD, "site": "elsewhere"}), "not this gate's site"),
        (
            json.dumps({**GOOD, "passes": [{"id": "P1", "household": "1", "status": "lost"}]}),
            "passes[0].status",
        ),
        (json.dumps({**GOOD, "home_observation": [{"household": "1", "until": "soon"}]}), "until"),
        (json.dumps({**GOOD, "pases": []}), "unknown key 'pases'"),
    ],
)
def test_cli_roster_import_refuses_garbage_naming_it(gate, tmp_path, text, words):
    def version():
        shown = run("roster", "show", "--json", "--config", str(gate / "kiosk.toml")).output
        return json.loads(shown)["version"]

    before = version()
    path = tmp_path / "bad.json"
    path.write_text(text)
    result = CliRunner().invoke(
        main, ["roster", "import", str(path), "--config", str(gate / "kiosk.toml")]
    )
    assert result.exit_code == 2
    assert words in result.output
    assert version() == before


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda body: body.pop("site"), "missing required field `site`"),
        (
            lambda body: body.update(
                keys=[{"kid": 1, "ed25519_public": "AAAA", "use": "resident"}]
            ),
            "keys[0].ed25519_public: must be 32 bytes",
        ),
        (
            lambda body: body.update(keys=[{"kid": 1, "ed25519_public": "***", "use": "resident"}]),
            "keys[0].ed25519_public: must be base64",
        ),
    ],
)
def test_cli_roster_import_checks_site_and_keys_as_the_pull_does(gate, tmp_path, change, words):
    body = json.loads(json.dumps(GOOD))
    change(body)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(body))
    result = CliRunner().invoke(
        main, ["roster", "import", str(path), "--config", str(gate / "kiosk.toml")]
    )
    assert result.exit_code == 2
    assert words in result.output
    # the pull refuses the very same body with the very same words (one parser)
    from kiosk import contract
    from kiosk.errors import ContractError

    with pytest.raises(ContractError, match=re.escape(words)):
        contract.parse_roster(json.dumps(body), site="t-site")


def test_cli_roster_import_of_a_bad_file_says_what_without_a_usage_block(gate, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({**GOOD, "version": ""}))
    result = CliRunner().invoke(
        main, ["roster", "import", str(path), "--config", str(gate / "kiosk.toml")]
    )
    assert result.exit_code == 2
    assert "Usage:" not in result.output
    assert "problems" not in result.output
    assert result.output.count("\n") == 1  # one line: file, "not imported", field, reason
    assert "bad.json: not imported: roster: version:" in result.output


def test_cli_roster_import_of_deep_nesting_is_refused_not_a_traceback(gate, tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" * 30_000)
    result = CliRunner().invoke(
        main, ["roster", "import", str(path), "--config", str(gate / "kiosk.toml")]
    )
    assert result.exit_code == 2
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "not imported" in result.output


def test_cli_roster_import_refuses_a_roster_over_the_cap_before_reading_it(gate, tmp_path):
    from kiosk import contract

    path = tmp_path / "huge.json"
    with open(path, "wb") as handle:  # sparse: the size is there, the bytes are not
        handle.truncate(contract.MAX_ROSTER_BYTES + 1)
    result = CliRunner().invoke(
        main, ["roster", "import", str(path), "--config", str(gate / "kiosk.toml")]
    )
    assert result.exit_code == 2
    assert "over the 16 MiB a roster may have" in result.output


def test_cli_roster_import_help_says_a_running_kiosk_takes_it_within_seconds():
    text = " ".join(run("roster", "import", "--help").output.split())
    assert "next start" not in text
    assert "A running kiosk takes it within a few seconds" in text


def test_cli_pass_issue_csv_writes_cards_and_sheet(gate, tmp_path):
    csv = tmp_path / "households.csv"
    csv.write_text("household\n7-1201\n7-1202\nnot a room\n")
    out = tmp_path / "cards"
    result = CliRunner().invoke(
        main,
        [
            "pass",
            "issue",
            "--csv",
            str(csv),
            "--out",
            str(out),
            "--config",
            str(gate / "kiosk.toml"),
        ],
    )
    assert result.exit_code == 1  # one row refused, named; the others printed
    assert "line 4" in result.output
    assert (out / "P0007120101.png").exists() and (out / "sheet.pdf").exists()


def test_cli_pass_issue_needs_household_or_csv(gate):
    result = CliRunner().invoke(main, ["pass", "issue", "--config", str(gate / "kiosk.toml")])
    assert result.exit_code == 2


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(max_size=600))
def test_cli_pass_verify_never_raises(gate, text):
    result = CliRunner().invoke(
        main, ["pass", "verify", "--json", "--config", str(gate / "kiosk.toml"), "--", text]
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code in (1, 2)  # refused (exit 1, with a decision) or not a usable text
    if result.exit_code == 1:
        assert json.loads(result.output)["granted"] is False
