"""Scenarios: people arriving at the gate, scripted in TOML, run headless on a fake clock.

```toml
start = "2020-02-04T07:30:00+08:00"   # simulated wall clock at t=0
config = "../demo.toml"               # optional, relative to the scenario file

[roster]                              # optional; the committee roster shape
passes = [{id = "P0007120101", household = "7-1201", status = "active"}]

[rules]                               # optional; overrides the config's [rules]
anti_passback = "hard"

[[person]]
at = 2.0                 # seconds after start
lane = "main"            # optional with one lane
pass_id = "P0007120101"  # minted with the demo committee key
object_c = 36.4          # what the IR sensor reads while the person stands there
stay_s = 3.0
held_cm = 30             # optional: the pass held this far from the camera (about 15 cm
reacts_s = 0.8           # is where it is read); asked to come closer, the person brings it
                         # to 15 cm this long after the hint (default 0.8 s)

[[person]]
at = 9.0
lane = "exit"
temporary = true         # a temporary pass minted with the gate key (needs household);
household = "8-0301"     # the same pass_id and household give the same token again
single_reentry = true    # (the default for temporary passes)
```

Everything above the simulated parts is the production code: the real driver reads the emulated
MLX90614, the real scanner decodes rendered frames, the real lanes decide and the real journal
records. Only time is fake, so a scenario runs much faster than real time.
"""

from __future__ import annotations

import dataclasses
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from kiosk import config as config_mod
from kiosk import contract, schema
from kiosk.clock import FakeClock
from kiosk.errors import ConfigError, ContractError, PassError, ScenarioError
from kiosk.journal import Event
from kiosk.lane import IDLE
from kiosk.passes import PassKind
from kiosk.sim import demo
from kiosk.sim.audio import Played

PERSON_KEYS = (
    "at",
    "lane",
    "pass_id",
    "token",
    "household",
    "valid_from",
    "valid_until",
    "object_c",
    "stay_s",
    "temporary",
    "single_reentry",
    "held_cm",
    "reacts_s",
)
TOP_KEYS = ("start", "config", "roster", "rules", "person", "step_s")


@dataclass(frozen=True)
class Person:
    at: float
    lane: str
    object_c: float | None
    stay_s: float
    pass_id: str | None = None
    token: str | None = None
    household: str | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    temporary: bool = False
    single_reentry: bool = True
    held_cm: float | None = None
    reacts_s: float = 0.8


@dataclass(frozen=True)
class Scenario:
    path: Path
    start: datetime
    config: config_mod.Config
    roster: dict | None
    people: tuple[Person, ...]
    step_s: float = 0.02


def load(path: str | Path) -> Scenario:
    """Read and check a scenario file.

    :raises ScenarioError: the file or an entry is wrong (the message names which).
    :raises ConfigError: the configuration it names is wrong.
    """
    path = Path(path)
    raw = schema.read_toml(path, ScenarioError, "scenario")
    _known(raw, TOP_KEYS, f"{path}: top level")
    start = _time(raw.get("start", "2020-02-04T07:30:00+08:00"), f"{path}: start")
    if "config" in raw:
        if not isinstance(raw["config"], str):
            raise ScenarioError(f"{path}: config: expected a file name")
        cfg = config_mod.load((path.parent / raw["config"]).resolve())
    else:
        cfg = config_mod.load(config_mod.DEMO_CONFIG)
    if "rules" in raw:
        cfg = _with_rules(cfg, raw["rules"], path)
    if cfg.gate.hardware != "sim":
        raise ScenarioError(f"{path}: config {cfg.path} is not for simulated hardware")
    roster = raw.get("roster")
    if roster is not None and not isinstance(roster, dict):
        raise ScenarioError(f"{path}: [roster] must be a table")
    if roster is not None:
        roster = {"version": "scenario", "site": cfg.gate.site, **roster}
        try:
            contract.parse_roster(roster, site=cfg.gate.site, strict=True)
        except ContractError as exc:
            raise ScenarioError(f"{path}: [roster] {exc}") from None
    people = raw.get("person", [])
    if not isinstance(people, list):
        raise ScenarioError(f"{path}: person: use [[person]] tables")
    lanes = list(cfg.lanes)
    parsed = tuple(
        _person(entry, f"{path}: person #{i + 1}", lanes) for i, entry in enumerate(people)
    )
    step = raw.get("step_s", 0.02)
    if not isinstance(step, int | float) or not 0.001 <= step <= 0.1:
        raise ScenarioError(f"{path}: step_s: a number from 0.001 to 0.1")
    return Scenario(path, start, cfg, roster, parsed, float(step))


def _with_rules(cfg, table: Any, path: Path):
    """*cfg* with its ``[rules]`` keys overridden by the scenario's ``[rules]`` table."""
    if not isinstance(table, dict):
        raise ScenarioError(f"{path}: [rules] must be a table")
    current = dataclasses.asdict(cfg.rules)
    hours = {**current.pop("hours"), **table.get("hours", {})}
    merged = {**current, **{k: v for k, v in table.items() if k != "hours"}, "hours": hours}
    try:
        rules = schema.table(config_mod.RulesSettings, merged, "rules", str(path))
    except ConfigError as exc:
        raise ScenarioError(str(exc)) from None
    return dataclasses.replace(cfg, rules=rules)


def _known(table: dict, keys: tuple[str, ...], where: str) -> None:
    for key in table:
        if key not in keys:
            raise ScenarioError(f"{where}: unknown key {key!r}{schema.did_you_mean(key, keys)}")


def _time(value: Any, where: str) -> datetime:
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value)
        except ValueError:
            raise ScenarioError(f"{where}: not an RFC 3339 time: {value!r}") from None
    else:
        raise ScenarioError(f"{where}: expected an RFC 3339 time")
    if dt.tzinfo is None:
        raise ScenarioError(f"{where}: the time needs an offset, e.g. +08:00")
    return dt


def _number(entry: dict, key: str, where: str, default=None, lo=None, hi=None):
    value = entry.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ScenarioError(f"{where}: {key}: expected a number")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ScenarioError(f"{where}: {key}: must be between {lo} and {hi}")
    return float(value)


def _person(entry: Any, where: str, lanes: list[str]) -> Person:
    if not isinstance(entry, dict):
        raise ScenarioError(f"{where}: expected a table")
    _known(entry, PERSON_KEYS, where)
    if "at" not in entry:
        raise ScenarioError(f"{where}: at: required (seconds after start)")
    lane = entry.get("lane", lanes[0] if len(lanes) == 1 else None)
    if lane not in lanes:
        raise ScenarioError(f"{where}: lane: one of {', '.join(lanes)}")
    if "pass_id" in entry and "token" in entry:
        raise ScenarioError(f"{where}: give pass_id or token, not both")
    for key in ("pass_id", "token", "household"):
        if key in entry and not isinstance(entry[key], str):
            raise ScenarioError(f"{where}: {key}: expected a string")
    for key in ("temporary", "single_reentry"):
        if key in entry and not isinstance(entry[key], bool):
            raise ScenarioError(f"{where}: {key}: expected true or false")
    temporary = entry.get("temporary", False)
    if temporary and ("token" in entry or "household" not in entry):
        raise ScenarioError(f"{where}: a temporary pass needs a household and no token")
    return Person(
        at=_number(entry, "at", where, lo=0, hi=7 * 86400),
        lane=lane,
        object_c=_number(entry, "object_c", where, lo=-40, hi=125),
        stay_s=_number(entry, "stay_s", where, 3.0, lo=0.1, hi=3600),
        pass_id=entry.get("pass_id"),
        token=entry.get("token"),
        household=entry.get("household"),
        valid_from=_time(entry["valid_from"], f"{where}: valid_from")
        if "valid_from" in entry
        else None,
        valid_until=_time(entry["valid_until"], f"{where}: valid_until")
        if "valid_until" in entry
        else None,
        temporary=temporary,
        single_reentry=entry.get("single_reentry", True),
        held_cm=_number(entry, "held_cm", where, lo=5, hi=100),
        reacts_s=_number(entry, "reacts_s", where, 0.8, lo=0.1, hi=10),
    )


@dataclass(frozen=True)
class Outcome:
    """What a scenario run left: every journal event in order, and every prompt the
    simulated speaker played (:class:`kiosk.sim.audio.Played`)."""

    events: list[Event]
    prompts: list[Played]


def run(scenario: Scenario, data_dir: Path | None = None) -> list[Event]:
    """Run *scenario* on a fake clock and return every journal event, in order."""
    return run_outcome(scenario, data_dir).events


def run_outcome(scenario: Scenario, data_dir: Path | None = None) -> Outcome:
    """Run *scenario* on a fake clock: its journal events and the prompts played.

    The voice speaks to the simulated speaker only (a scenario is headless and silent),
    unless the configuration turns it ``off``.
    """
    from kiosk.sim.hardware import simulated_kiosk

    with tempfile.TemporaryDirectory(prefix="kiosk-sim-") as tmp:
        folder = Path(data_dir or tmp)
        gate = dataclasses.replace(scenario.config.gate, data_dir=str(folder))
        voice = scenario.config.voice
        if voice.output != "off":
            voice = dataclasses.replace(voice, output="sim")
        cfg = dataclasses.replace(scenario.config, gate=gate, voice=voice)
        demo.ensure_keys(cfg.keys_dir)
        clock = FakeClock(scenario.start)
        kiosk = simulated_kiosk(cfg, clock)
        try:
            if scenario.roster is not None:
                kiosk.rosters.replace(scenario.roster)
            texts = _texts(scenario, cfg, kiosk)
            kiosk.journal.append("kiosk.started", {"hardware": "sim", "scenario": True})
            if kiosk.voice is not None:
                kiosk.voice.prepare()
            _drive(kiosk, clock, scenario, texts)
            kiosk.journal.append("kiosk.stopped", {})
            return Outcome(list(kiosk.journal.iter_events()), list(kiosk.world.audio.played))
        finally:
            kiosk.close()


def _texts(scenario: Scenario, cfg, kiosk) -> list[str | None]:
    key = demo.committee_key(cfg.keys_dir)
    gate_key = demo.gate_key(cfg.keys_dir)
    roster = kiosk.rosters.current()
    out = []
    for i, person in enumerate(scenario.people):
        if person.token is not None:
            out.append(person.token)
            continue
        if person.temporary:
            out.append(_temporary(scenario, cfg, gate_key, person, i))
            continue
        if person.pass_id is None:
            out.append(None)
            continue
        household = person.household or (roster.passes.get(person.pass_id) or ("0-0000",))[0]
        valid_from = person.valid_from or scenario.start - timedelta(days=1)
        valid_until = person.valid_until or scenario.start + timedelta(days=365)
        try:
            out.append(
                demo.mint(
                    key,
                    pass_id=person.pass_id,
                    household=household,
                    site=cfg.gate.site,
                    valid_from=valid_from,
                    valid_until=valid_until,
                )
            )
        except PassError as exc:
            raise ScenarioError(f"{scenario.path}: person #{i + 1}: {exc}") from None
    return out


def _temporary(scenario: Scenario, cfg, key, person: Person, i: int) -> str:
    """A temporary pass as the guard would issue it: gate key, valid until the end of day."""
    digits = "".join(c for c in person.household if c.isdigit())
    pass_id = person.pass_id or "T" + digits.rjust(8, "0")[-8:] + "01"
    start = scenario.start.replace(microsecond=0)
    try:
        return demo.mint(
            key,
            pass_id=pass_id,
            household=person.household,
            site=cfg.gate.site,
            valid_from=person.valid_from or start - timedelta(hours=1),
            valid_until=person.valid_until or start + timedelta(hours=12),
            kind=PassKind.TEMPORARY,
            single_reentry=person.single_reentry,
            registration_id=f"R{i + 1:04d}",
        )
    except PassError as exc:
        raise ScenarioError(f"{scenario.path}: person #{i + 1}: {exc}") from None


def _drive(kiosk, clock: FakeClock, scenario: Scenario, texts: list[str | None]) -> None:
    world = kiosk.world
    timeline: list[tuple[float, int, int]] = []  # (time, order, person index)
    for i, person in enumerate(scenario.people):
        timeline.append((person.at, 1, i))
        timeline.append((person.at + person.stay_s, 0, i))
    timeline.sort()
    end = (timeline[-1][0] if timeline else 0.0) + 10.0
    step = scenario.step_s
    next_thermo = dict.fromkeys(kiosk.units, 0.0)
    next_camera = dict.fromkeys(kiosk.units, 0.0)
    last_text: dict[str, str | None] = dict.fromkeys(kiosk.units)
    last_read = dict.fromkeys(kiosk.units, -1.0)
    # a pass held too far: lane -> [person index, when they bring it closer (None: not asked)]
    far: dict[str, list] = {}
    k = 0
    t = 0.0
    while t <= end:
        while k < len(timeline) and timeline[k][0] <= t:
            _, arriving, i = timeline[k]
            person = scenario.people[i]
            lane = world.lanes[person.lane]
            if arriving:
                if person.object_c is None:
                    lane.present(texts[i], held_cm=person.held_cm)
                else:
                    lane.step_in(person.object_c, texts[i], held_cm=person.held_cm)
                if person.held_cm is not None:
                    far[person.lane] = [i, None]
                else:
                    far.pop(person.lane, None)
            else:
                lane.leave()
                if far.get(person.lane, [None])[0] == i:
                    del far[person.lane]
            k += 1
        _come_closer(kiosk, far, t, scenario, texts)
        busy = False
        for name, unit in kiosk.units.items():
            settings = kiosk.config.lanes[name]
            if t >= next_thermo[name]:
                for event in unit.thermometer.poll():
                    unit.lane.handle(event)
                next_thermo[name] += 1.0 / settings.thermometer.sample_hz
            sim_lane = world.lanes[name]
            if t >= next_camera[name]:
                # An empty, unchanged scene is read once a second rather than at the frame
                # rate: the change gate would skip those frames anyway, and this keeps long
                # scenarios fast. Whenever something is held up, every frame is read.
                shown = sim_lane.camera.text
                if shown is not None or shown != last_text[name] or t - last_read[name] >= 1.0:
                    for event in unit.reader.poll():
                        unit.lane.handle(event)
                    last_text[name] = shown
                    last_read[name] = t
                next_camera[name] += 1.0 / settings.camera.fps
            unit.lane.tick()
            unit.relay.tick()
            if kiosk.voice is not None:
                kiosk.voice.step()
            busy = busy or unit.lane.state != IDLE or unit.relay.is_open
            busy = busy or sim_lane.person_c is not None or sim_lane.text is not None
        gap = (timeline[k][0] if k < len(timeline) else end) - t
        if not busy and gap > 2.0:
            skip = gap - 1.0  # settle one second before the next arrival
            clock.advance(skip)
            t += skip
            for name in kiosk.units:
                next_thermo[name] = max(next_thermo[name], t)
                next_camera[name] = max(next_camera[name], t)
        clock.advance(step)
        t += step


def _come_closer(kiosk, far: dict[str, list], t: float, scenario: Scenario, texts) -> None:
    """People holding the pass too far: asked to come closer (the lane's ``closer``), each
    brings it to the distance the screen asks for after their reaction time."""
    for name, entry in list(far.items()):
        i, due = entry
        if due is None and kiosk.units[name].lane.snapshot().closer:
            entry[1] = t + scenario.people[i].reacts_s
        elif due is not None and t >= due:
            kiosk.world.lanes[name].present(texts[i])
            del far[name]


def run_file(path: str | Path) -> list[Event]:
    """Load and run a scenario; errors are :class:`KioskError`."""
    return run(load(path))
