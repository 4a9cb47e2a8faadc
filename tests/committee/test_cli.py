"""The ``committee`` command, run as a user would (click's runner), on both engines."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from committee import config as config_mod
from committee.cli import main
from committee.config import from_dict
from committee.errors import ConfigError


@pytest.fixture
def cli(tmp_path, fresh_db):
    url = fresh_db.engine.url.render_as_string(hide_password=False)
    path = tmp_path / "committee.toml"
    path.write_text(
        f'[database]\nurl = "{url}"\n[storage]\ndata_dir = "data"\n'
        '[sites]\ntimezone = "Asia/Shanghai"\n',
        encoding="utf-8",
    )
    runner = CliRunner()

    def run(*args, input=None):
        result = runner.invoke(main, [*args, "--config", str(path)], input=input)
        assert result.exception is None or isinstance(result.exception, SystemExit), result.output
        return result

    run.path = path
    return run


def test_cli_sites_gates_tokens(cli):
    assert cli("site", "add", "xdm-jinwaitan", "--name", "金外滩花园").exit_code == 0
    refused = cli("gate", "add", "g1", "--site", "nowhere")
    assert refused.exit_code == 1 and "committee site add nowhere" in refused.output
    added = cli("gate", "add", "g1", "--site", "xdm-jinwaitan")
    assert added.exit_code == 0
    token = added.output.strip().splitlines()[-1]
    assert len(token) >= 40
    again = cli("gate", "token", "g1")
    assert again.exit_code == 0 and again.output.strip().splitlines()[-1] != token
    listing = cli("gate", "list")
    assert "g1\txdm-jinwaitan\tacked 0\theartbeat never" in listing.output
    assert token not in listing.output
    assert cli("gate", "add", "g1", "--site", "xdm-jinwaitan").exit_code == 1
    assert cli("site", "add", "Bad Id", "--name", "x").exit_code == 1
    assert "xdm-jinwaitan\t金外滩花园" in cli("site", "list").output


def test_cli_households_import_preview_dry_run_then_apply(cli, tmp_path):
    cli("site", "add", "s1", "--name", "一号小区")
    register = tmp_path / "register.csv"
    register.write_text("户号,人数,电话\n7-1201,3,13800000000\n7-1202,2,\n", encoding="utf-8")
    preview = cli("households", "import", str(register), "--site", "s1", "--dry-run")
    assert preview.exit_code == 0
    assert "+ 7-1201: 3 members  (line 2)" in preview.output
    assert "2 new, 0 changed, 0 unchanged" in preview.output
    assert "columns not imported: 电话" in preview.output
    assert cli("households", "list", "--site", "s1").output == ""
    declined = cli("households", "import", str(register), "--site", "s1", input="n\n")
    assert "nothing changed" in declined.output
    applied = cli("households", "import", str(register), "--site", "s1", input="y\n")
    assert applied.exit_code == 0 and "imported" in applied.output
    assert cli("households", "list", "--site", "s1").output == "7-1201\t3\t-\n7-1202\t2\t-\n"
    same = cli("households", "import", str(register), "--site", "s1", "--yes")
    assert "nothing to change" in same.output


def test_cli_households_import_bad_file_names_each_line_and_imports_nothing(cli, tmp_path):
    cli("site", "add", "s1", "--name", "一号小区")
    register = tmp_path / "register.csv"
    register.write_text("户号,人数\n7-1201,3\n7-1202,lots\n7-1203,-1\n", encoding="utf-8")
    result = cli("households", "import", str(register), "--site", "s1", "--yes")
    assert result.exit_code == 1
    assert "register.csv line 3: members 'lots'" in result.output
    assert "register.csv line 4: members '-1'" in result.output
    assert "2 bad rows; nothing was imported" in result.output
    assert "Traceback" not in result.output
    assert cli("households", "list", "--site", "s1").output == ""


def test_cli_keys_passes_observation_and_export(cli, tmp_path):
    cli("site", "add", "s1", "--name", "一号小区")
    token = cli("gate", "add", "g1", "--site", "s1").output.strip().splitlines()[-1]
    assert token
    register = tmp_path / "register.csv"
    register.write_text("户号,人数\n7-1201,3\n7-1202,2\n", encoding="utf-8")
    cli("households", "import", str(register), "--site", "s1", "--yes")
    no_key = cli("pass", "issue", "--site", "s1")
    assert no_key.exit_code == 1 and "committee keys init" in no_key.output
    made = cli("keys", "init")
    assert made.exit_code == 0 and "created" in made.output
    assert "already there" in cli("keys", "init").output
    out = tmp_path / "cards"
    issued = cli("pass", "issue", "--site", "s1", "--days", "30", "--out", str(out))
    assert issued.exit_code == 0, issued.output
    assert "P0007120101\t7-1201" in issued.output and "2 passes" in issued.output
    assert (out / "passes.pdf").read_bytes().startswith(b"%PDF")
    assert "now suspended" in cli("pass", "suspend", "P0007120201").output
    assert "now active" in cli("pass", "resume", "P0007120201").output
    assert "now revoked" in cli("pass", "revoke", "P0007120101").output
    assert cli("pass", "revoke", "P0007120101").exit_code == 1
    listing = cli("pass", "list", "--site", "s1").output
    assert "P0007120101\t7-1201\trevoked" in listing
    assert cli("observation", "set", "7-1202", "--site", "s1", "--until", "2099-13-01").exit_code
    observed = cli("observation", "set", "7-1202", "--site", "s1", "--start", "2099-01-01")
    assert "2099-01-01 to 2099-01-14" in observed.output
    assert (
        "7-1202\t2099-01-01 to 2099-01-14\thand"
        in cli("observation", "list", "--site", "s1").output
    )
    assert cli("observation", "clear", "7-1202", "--site", "s1").exit_code == 0
    assert cli("observation", "clear", "7-1202", "--site", "s1").exit_code == 1
    exported = cli("events", "export", "--gate", "g1")
    assert exported.exit_code == 0 and exported.output == ""
    assert cli("events", "export", "--gate", "nope").exit_code == 1


def test_cli_bad_config_is_exit_2_naming_file_and_key(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[server]\nprot = 80\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["site", "list", "--config", str(path)])
    assert result.exit_code == 2
    assert f"{path}: [server]: unknown key 'prot'; did you mean 'port'?" in result.output


def test_config_errors_name_file_and_key(tmp_path):
    with pytest.raises(ConfigError, match=r"c\.toml: server\.port: expected a whole number"):
        from_dict({"server": {"port": "80"}}, tmp_path / "c.toml")
    with pytest.raises(ConfigError, match=r"unknown key 'databse'; did you mean 'database'"):
        from_dict({"databse": {}}, tmp_path / "c.toml")
    with pytest.raises(ConfigError) as both:  # every problem of a file at once
        from_dict({"server": {"port": 0, "threads": 0}, "gates": {"sweep_s": 0}})
    assert len(str(both.value).splitlines()) == 3
    with pytest.raises(ConfigError, match="timezone: 'Mars/Base' is not a known time zone"):
        from_dict({"sites": {"timezone": "Mars/Base"}})
    with pytest.raises(ConfigError, match="url: 'mysql' is not supported"):
        from_dict({"database": {"url": "mysql://x"}})
    with pytest.raises(ConfigError, match="silent_after_s"):
        from_dict({"gates": {"silent_after_s": 10}})
    with pytest.raises(ConfigError, match="not valid TOML"):
        (tmp_path / "bad.toml").write_text("[server\n", encoding="utf-8")
        config_mod.load(tmp_path / "bad.toml")
    with pytest.raises(ConfigError, match="no such configuration file"):
        config_mod.load(tmp_path / "missing.toml")


def test_config_embedded_default_lives_under_var_committee(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = config_mod.load(None)
    assert cfg.data_dir == tmp_path / "var" / "committee"
    assert cfg.database_url == f"sqlite:///{tmp_path / 'var' / 'committee' / 'committee.db'}"
    assert cfg.keys_dir == tmp_path / "var" / "committee" / "keys"
    result = CliRunner().invoke(main, ["site", "list"])
    assert result.exit_code == 0
    assert (tmp_path / "var" / "committee" / "committee.db").exists()


def test_shipped_config_documents_every_key(tmp_path):
    from pathlib import Path

    shipped = Path(__file__).resolve().parents[2] / "config" / "committee.toml"
    cfg = config_mod.load(shipped)
    text = shipped.read_text(encoding="utf-8")
    import dataclasses

    for section in dataclasses.fields(cfg):
        if section.name in ("path", "base"):
            continue
        assert f"[{section.name}]" in text
        for key in dataclasses.fields(getattr(cfg, section.name)):
            assert f"{key.name} =" in text, key.name
    assert json.dumps(str(cfg.database_url))


def test_cli_user_add_passwd_remove_list(cli):
    cli("site", "add", "s1", "--name", "一号小区")
    cli("site", "add", "s2", "--name", "二号小区")
    added = cli(
        "user",
        "add",
        "ann",
        "--role",
        "committee",
        "--site",
        "s1",
        "--site",
        "s2",
        "--password",
        "password-1",
    )
    assert added.exit_code == 0 and "user ann added: committee at s1, s2" in added.output
    assert cli("user", "add", "bo", "--role", "street", "--password", "password-2").exit_code == 0
    refused = cli("user", "add", "cy", "--role", "committee", "--password", "password-3")
    assert refused.exit_code == 1 and "--site SITE" in refused.output
    short = cli("user", "add", "cy", "--role", "admin", "--password", "short")
    assert short.exit_code == 1 and "at least 8" in short.output
    assert cli("user", "add", "cy", "--role", "guard", "--password", "x" * 9).exit_code == 2
    asked = cli("user", "add", "dee", "--role", "admin", input="secret-pass\nsecret-pass\n")
    assert asked.exit_code == 0
    assert cli("user", "list").output == "ann\tcommittee\ts1,s2\nbo\tstreet\t*\ndee\tadmin\t*\n"
    assert cli("user", "passwd", "bo", "--password", "another-1").exit_code == 0
    assert cli("user", "passwd", "nobody", "--password", "another-1").exit_code == 1
    assert cli("user", "remove", "bo").exit_code == 0
    assert "bo" not in cli("user", "list").output
    assert cli("user", "remove", "bo").exit_code == 1
