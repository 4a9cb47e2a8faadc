"""The rules scenario end to end, temporary passes through the API, counters across restarts."""

from __future__ import annotations

import base64
import dataclasses
from pathlib import Path

import pytest

from kiosk import config as config_mod
from kiosk.clock import FakeClock
from kiosk.errors import PassError
from kiosk.passes import verify
from kiosk.sim import demo
from kiosk.sim.hardware import simulated_kiosk
from kiosk.sim.scenario import load, run

SCENARIO = Path(__file__).resolve().parents[2] / "config" / "scenarios" / "rules.toml"


def test_scenario_rules_shows_passback_observation_and_one_reentry(tmp_path):
    events = run(load(SCENARIO), tmp_path)
    decisions = [
        (e.lane, e.data["pass_id"], e.data["reason"])
        for e in events
        if e.type in ("access.granted", "access.denied")
    ]
    assert decisions == [
        ("main", "P0007120101", "GRANTED"),
        ("main", "P0007120101", "ANTI_PASSBACK"),  # the shared screenshot
        ("exit", "P0007120201", "HOME_OBSERVATION"),
        ("exit", "T0008030101", "GRANTED"),  # the temporary pass holder leaves ...
        ("main", "T0008030101", "GRANTED"),  # ... comes back once ...
        ("main", "T0008030101", "PASS_USED"),  # ... and only once
        ("exit", "P0007120101", "GRANTED"),
        ("exit", "P0007120102", "QUOTA_EXCEEDED"),
    ]
    alerts = [e.data for e in events if e.type == "alert.home_observation"]
    assert alerts == [
        {"pass_id": "P0007120201", "household": "7-1202", "direction": "out", "until": "2020-02-18"}
    ]


def _kiosk(tmp_path, clock, **rules):
    cfg = config_mod.load(config_mod.DEMO_CONFIG)
    cfg = dataclasses.replace(
        cfg,
        gate=dataclasses.replace(cfg.gate, data_dir=str(tmp_path)),
        rules=dataclasses.replace(cfg.rules, **rules),
    )
    demo.ensure_keys(cfg.keys_dir)
    return simulated_kiosk(cfg, clock)


def test_kiosk_issues_temporary_pass_until_end_of_day(tmp_path):
    clock = FakeClock()  # 2020-02-04 07:30 +08:00
    kiosk = _kiosk(tmp_path, clock)
    try:
        issued = kiosk.facade.issue_temporary_pass("R0001", "8-0301", guard="guard")
        assert issued["valid_until"] == "2020-02-04T23:59:59+08:00"
        assert issued["png"].startswith(b"\x89PNG")
        check = verify(
            issued["token"], kiosk.rosters.keyring, site=kiosk.config.gate.site, now=clock.now()
        )
        assert check.granted and check.claims.single_reentry
        assert check.claims.registration_id == "R0001"
        (event,) = kiosk.journal.recent(1, types=("pass.temporary_issued",))
        assert event.data["pass_id"] == issued["pass_id"] and event.data["guard"] == "guard"
        assert "token" not in event.data
        with pytest.raises(PassError, match="at most"):
            kiosk.facade.issue_temporary_pass("R0002", "8-0301", hours=48, guard="guard")
        with pytest.raises(PassError, match="household"):
            kiosk.facade.issue_temporary_pass("R0002", "x" * 40, guard="guard")
    finally:
        kiosk.close()


def test_api_temporary_pass_returns_token_and_png(tmp_path):
    from kiosk.accounts import Accounts
    from kiosk.ui import create_app

    kiosk = _kiosk(tmp_path, FakeClock())
    try:
        Accounts(kiosk.journal).add("guard", "a-long-password", "guard")
        app = create_app(kiosk.facade)
        app.config["WTF_CSRF_ENABLED"] = False
        client = app.test_client()
        assert client.post("/api/passes/temporary", json={}).status_code == 401
        client.post("/login", data={"user": "guard", "password": "a-long-password"})
        reply = client.post(
            "/api/passes/temporary",
            json={"registration_id": "R7", "household": "8-0301", "hours": 2},
        )
        assert reply.status_code == 200, reply.get_json()
        body = reply.get_json()
        assert body["valid_until"] == "2020-02-04T09:30:00+08:00"
        assert base64.b64decode(body["qr_png"].split(",", 1)[1]).startswith(b"\x89PNG")
        for bad in (
            {"household": "8-0301"},
            {"registration_id": "R7", "household": "8-0301", "hours": "x"},
            {"registration_id": "R7", "household": "8-0301", "hours": -1},
            [1],
        ):
            reply = client.post("/api/passes/temporary", json=bad)
            assert reply.status_code == 400 and reply.get_json()["message"]
    finally:
        kiosk.close()


def test_kiosk_rebuilds_rule_history_from_the_journal_after_restart(tmp_path):
    clock = FakeClock()
    kiosk = _kiosk(tmp_path, clock)
    lane = kiosk.units["exit"].lane
    from kiosk.policy import Decision
    from kiosk.reasons import Reason

    try:
        lane._finish(Decision(True, Reason.GRANTED, "P1", "7-1201", "resident", 36.5))
    finally:
        kiosk.close()
    clock.advance(3600)
    again = _kiosk(tmp_path, clock)
    try:
        last = again.history.last("P1")
        assert last is not None and last.direction == "out"
        assert again.history.outings_since("7-1201", clock.now().replace(hour=0)) == 1
        assert again.facade.state()["clock"] == {"synchronised": True}
        assert again.facade.state()["roster"]["version"] is None
    finally:
        again.close()
