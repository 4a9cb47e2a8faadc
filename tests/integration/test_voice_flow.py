"""Spoken prompts through the real daemon on simulated hardware: every person's result is
said exactly once and matches the decision; a broken speaker never touches the lane."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from kiosk.sim.scenario import load, run_outcome
from kiosk.voice import prompts
from tests.conftest import wait_for
from tests.integration.test_cli import kiosk_cmd
from tests.integration.test_person_flow import events, resident_token

SCENARIOS = Path(__file__).resolve().parents[2] / "config" / "scenarios"
DECISIONS = ("access.granted", "access.denied")
#: A result prompt starts within this many seconds of its decision (fake clock).
PROMPT_WITHIN_S = 0.15


@pytest.mark.parametrize("name", ["basic.toml", "rules.toml", "far.toml"])
def test_voice_every_decision_gets_exactly_its_result_prompt(name, tmp_path):
    scenario = load(SCENARIOS / name)
    outcome = run_outcome(scenario, tmp_path)
    for lane in scenario.config.lanes:
        decisions = [e for e in outcome.events if e.type in DECISIONS and e.lane == lane]
        results = [
            p
            for p in outcome.prompts
            if p.lane == lane and prompts.CATALOGUE[p.prompt].kind == prompts.RESULT
        ]
        assert len(results) == len(decisions), (lane, decisions, results)
        for decision, played in zip(decisions, results, strict=True):
            expected = prompts.result_prompt(decision.data["reason"], decision.type == DECISIONS[0])
            assert played.prompt == expected.name
            assert played.text == expected.zh
            assert 0 <= played.t - decision.mono <= PROMPT_WITHIN_S
    people = [p for p in scenario.people if p.pass_id or p.token or p.temporary]
    assert len([e for e in outcome.events if e.type in DECISIONS]) == len(people)


def test_voice_person_without_a_pass_is_asked_for_one(tmp_path):
    scenario = load(SCENARIOS / "basic.toml")
    outcome = run_outcome(scenario, tmp_path)
    (person,) = [p for p in scenario.people if not (p.pass_id or p.token)]
    during = [p.prompt for p in outcome.prompts if person.at <= p.t <= person.at + person.stay_s]
    assert during == ["show_pass"]


def test_voice_simulate_prompts_prints_json_lines(tmp_path):
    result = kiosk_cmd("simulate", "config/scenarios/basic.toml", "--prompts")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines and all(set(line) == {"t", "lane", "prompt", "text"} for line in lines)
    expected = [p.to_json() for p in run_outcome(load(SCENARIOS / "basic.toml"), tmp_path).prompts]
    assert lines == expected
    assert lines[0] == {
        "t": lines[0]["t"],
        "lane": "main",
        "prompt": "granted",
        "text": "体温正常，请通行",
    }


def test_voice_pass_held_too_far_is_asked_closer_once_then_read():
    result = kiosk_cmd("simulate", "config/scenarios/far.toml", "--prompts")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    scenario = load(SCENARIOS / "far.toml")
    far, near = scenario.people
    assert far.held_cm == 30 and near.held_cm is None
    said = [(line["prompt"], line["t"]) for line in lines]
    assert [p for p, _ in said] == ["closer", "granted", "granted"]
    assert lines[0]["text"] == "请将出入证靠近摄像头"
    asked, granted = said[0][1], said[1][1]
    # the camera watched the far code for 0.4 s first; read after the person came closer
    assert far.at + 0.4 <= asked <= far.at + 1.0
    assert asked + far.reacts_s <= granted <= asked + far.reacts_s + 0.5
    assert said[2][1] < near.at + 1.0  # held where asked: read at once, never asked


def test_voice_broken_speaker_is_a_badge_and_the_gate_still_opens(running_kiosk):
    kiosk = running_kiosk
    relay = kiosk.units["main"].relay
    world = kiosk.world.lanes["main"]
    lane, voice = kiosk.units["main"].runner, kiosk.voice_thread
    kiosk.world.audio.broken = "speaker unplugged"
    world.step_in(35.5, resident_token(kiosk))
    assert wait_for(lambda: events(kiosk, "access.granted"), lane)
    assert relay.is_open
    assert wait_for(lambda: kiosk.facade.badges()["audio"] == "fault", voice)
    assert kiosk.units["main"].lane.snapshot().faults == {}
    assert wait_for(lambda: events(kiosk, "alert.audio"), voice)
    (alert,) = events(kiosk, "alert.audio")
    assert alert.data == {"state": "fault", "message": "speaker unplugged"}
    world.leave()
    assert wait_for(lambda: not relay.is_open and kiosk.units["main"].lane.state == "idle", lane)
    assert [s.state for s in relay.pin.states] == [False, True, False]

    kiosk.world.audio.broken = None
    world.step_in(35.5, resident_token(kiosk, pass_id="P0007120102"))
    assert wait_for(lambda: kiosk.world.audio.played, voice)
    assert [p.prompt for p in kiosk.world.audio.played] == ["granted"]
    assert wait_for(lambda: kiosk.facade.badges()["audio"] == "ok", voice)
    assert wait_for(lambda: len(events(kiosk, "alert.audio")) == 2, voice)
    assert events(kiosk, "alert.audio")[-1].data["state"] == "ok"


def test_voice_hung_speaker_never_delays_the_lane(running_kiosk):
    kiosk = running_kiosk
    relay = kiosk.units["main"].relay
    world = kiosk.world.lanes["main"]
    hang = threading.Event()
    kiosk.world.audio.hang = hang
    try:
        lane = kiosk.units["main"].runner
        world.step_in(35.5, resident_token(kiosk))
        assert wait_for(lambda: events(kiosk, "access.granted"), lane)
        assert relay.is_open  # decided and opened while the voice thread is stuck
        world.leave()
        assert wait_for(lambda: kiosk.units["main"].lane.state == "idle", lane)
        world.step_in(37.4, resident_token(kiosk, pass_id="P0007120102"))
        assert wait_for(lambda: events(kiosk, "access.denied"), lane)
        assert kiosk.world.audio.played == []
    finally:
        hang.set()
    assert wait_for(lambda: kiosk.world.audio.played, kiosk.voice_thread)


def test_voice_parcel_waiting_told_at_the_households_next_scan(running_kiosk):
    from kiosk.parcels import ParcelForm

    kiosk = running_kiosk
    kiosk.parcels.receive(ParcelForm("7-1201", 2, "A3"), by="guard")
    sub = kiosk.facade.subscribe()
    kiosk.world.lanes["main"].step_in(35.5, resident_token(kiosk))
    granted = None
    while granted is None:
        kind, payload = sub.get(10.0)
        if kind == "lane" and payload["state"] == "granted":
            granted = payload
    sub.close()
    assert granted["parcels"]["text"] == "7-1201 有 2 件快递 · A3"
    assert wait_for(lambda: len(kiosk.world.audio.played) == 2, kiosk.voice_thread)
    assert [p.prompt for p in kiosk.world.audio.played] == ["granted", "parcel_waiting"]
    assert kiosk.world.audio.played[1].text == "您有快递在取件处"
