"""The kiosk daemon: builds everything from the configuration, starts it, stops it.

Startup reads like a list (``_setup_journal``, ``_setup_keys``, ``_setup_hardware``,
``_setup_lanes``, ...); stopping runs in reverse and turns every relay off first. There are no
module-level globals: everything hangs off one :class:`Kiosk`.

The guard screen talks to the daemon only through :class:`Kiosk`'s narrow surface:
:meth:`Kiosk.state`, :meth:`Kiosk.subscribe`, :meth:`Kiosk.open_gate`,
:meth:`Kiosk.manual_temperature`, :meth:`Kiosk.fevers` / :meth:`Kiosk.acknowledge_fever`,
:meth:`Kiosk.register` / :meth:`Kiosk.flag_home_observation`, :meth:`Kiosk.last_temperature`,
and in demo mode :attr:`Kiosk.world`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import threading
from dataclasses import dataclass, field
from datetime import date, datetime

from kiosk import __version__, passes
from kiosk.actuators import Indicator, Relay
from kiosk.camera.capture import open_source
from kiosk.camera.reader import PassReader
from kiosk.camera.scanner import Scanner
from kiosk.clock import SystemClock
from kiosk.errors import KioskError
from kiosk.events import ManualOpen, TemperatureRead
from kiosk.hub import Hub
from kiosk.journal import Journal
from kiosk.keys import load_public_keys
from kiosk.lane import Lane, LaneSnapshot, LaneThread
from kiosk.registrations import RegistrationStore
from kiosk.roster import Roster
from kiosk.sensors.calibration import CalibrationStore
from kiosk.sensors.mlx90614 import MLX90614
from kiosk.sensors.thermometer import Thermometer
from kiosk.threads import PollThread

log = logging.getLogger(__name__)

#: How a guard can close a fever alarm.
FEVER_OUTCOMES = ("remeasured", "clinic", "reported")
#: Today's counts on the guard screen, and the events they count.
COUNTED = ("access.granted", "gate.manual_open", "access.denied", "alert.fever")
COUNTED += ("registration.created",)
#: Present when systemd-timesyncd has synchronised the clock since boot.
TIMESYNC_FLAG = "/run/systemd/timesync/synchronized"


@dataclass
class LaneUnit:
    """Everything one lane is made of."""

    name: str
    lane: Lane
    relay: Relay
    thermometer: Thermometer
    reader: PassReader
    runner: LaneThread
    threads: list[PollThread] = field(default_factory=list)
    buzzer: Indicator | None = None


class Kiosk:
    """The running kiosk.

    :param config: a :class:`kiosk.config.Config`.
    :param clock: the clock (a ``FakeClock`` in simulations).
    :param pin_factory: gpiozero pin factory; in ``sim`` hardware a private ``MockFactory``.
    """

    def __init__(self, config, *, clock=None, pin_factory=None) -> None:
        self.config = config
        self.clock = clock or SystemClock()
        self.started_mono = self.clock.monotonic()
        self.simulated = config.gate.hardware == "sim"
        self.hub = Hub()
        self.units: dict[str, LaneUnit] = {}
        self.world = None  # the simulated world, in sim hardware
        self.pin_factory = pin_factory
        self._buses: dict[int, object] = {}
        self._roster = Roster()
        self._roster_lock = threading.Lock()
        self._running = False
        self._closed = False
        self._fevers: dict[int, dict] = {}  # seq of alert.fever -> what the screen shows
        self._counts: dict[str, int] = {}
        self._counts_day = ""
        self._status_lock = threading.Lock()
        self._setup_journal()
        try:
            self._setup_keys()
            self._setup_roster()
            self._setup_hardware()
            self._setup_lanes()
        except BaseException:
            self.close()
            raise

    # -- setup, in order -------------------------------------------------------------------

    def _setup_journal(self) -> None:
        self.config.data_dir.mkdir(parents=True, exist_ok=True)
        self.journal = Journal(self.config.data_dir / "journal.db", self.clock)
        self.registrations = RegistrationStore(self.journal)
        self._load_fevers()
        self._recount(self.clock.now().date().isoformat())
        self.journal.add_listener(self._on_event)

    def _setup_keys(self) -> None:
        keys_dir = self.config.keys_dir
        self.keyring = load_public_keys(keys_dir) if keys_dir.exists() else passes.Keyring()

    def _setup_roster(self) -> None:
        body, received = self.journal.load_roster()
        self._roster = self._with_local_observation(Roster.from_body(body, received))

    def _setup_hardware(self) -> None:
        if self.simulated:
            from gpiozero.pins.mock import MockFactory

            from kiosk.sim.world import SimWorld

            if self.pin_factory is None:
                self.pin_factory = MockFactory()
            self.world = SimWorld(self.clock, self.config.lanes)

    def _bus(self, number: int):
        if self.simulated:
            return self.world.bus(number)
        if number not in self._buses:
            from smbus2 import SMBus

            self._buses[number] = SMBus(number)
        return self._buses[number]

    def _setup_lanes(self) -> None:
        for name, settings in self.config.lanes.items():
            relay = Relay(
                settings.relay.pin,
                active_high=settings.relay.active_high,
                max_open_s=settings.relay.max_open_s,
                clock=self.clock,
                pin_factory=self.pin_factory,
            )
            try:
                unit = self._build_unit(name, settings, relay)
                if settings.buzzer_pin is not None:
                    unit.buzzer = Indicator(settings.buzzer_pin, pin_factory=self.pin_factory)
            except BaseException:
                relay.close()
                raise
            self.units[name] = unit

    def _build_unit(self, name, settings, relay) -> LaneUnit:
        tcfg = settings.thermometer
        sensor = MLX90614(self._bus(tcfg.bus), tcfg.address)
        store = CalibrationStore(self.config.data_dir / f"calibration-{name}.json")
        thermometer = Thermometer(sensor, self.clock, tcfg, name, store.load())
        sim_camera = self.world.lanes[name].camera if self.simulated else None
        source = open_source(settings.camera, sim_camera=sim_camera)
        reader = PassReader(
            source, Scanner(backend=settings.camera.backend), self.clock, name, settings.camera
        )
        lane = Lane(
            name,
            settings,
            self.config.screening,
            clock=self.clock,
            journal=self.journal,
            relay=relay,
            verify_pass=self.verify_pass,
            roster=self.roster,
            on_change=self._on_lane_change,
        )
        runner = LaneThread(lane)
        threads = [
            PollThread(f"thermo-{name}", thermometer.poll, runner.put, 1.0 / tcfg.sample_hz),
            PollThread(
                f"camera-{name}",
                reader.poll,
                runner.put,
                1.0 / settings.camera.fps if self.simulated else 0.0,
            ),
        ]
        return LaneUnit(name, lane, relay, thermometer, reader, runner, threads)

    # -- what lanes and the UI call --------------------------------------------------------

    def verify_pass(self, text: str, now: datetime):
        """Check a scanned text against the keys and the site; never raises."""
        return passes.verify(text, self.keyring, site=self.config.gate.site, now=now)

    def roster(self) -> Roster:
        with self._roster_lock:
            return self._roster

    def replace_roster(self, body: dict) -> Roster:
        """Store a new roster (committee shape) atomically and use it from now on."""
        self.journal.save_roster(body)
        body, received = self.journal.load_roster()
        roster = self._with_local_observation(Roster.from_body(body, received))
        with self._roster_lock:
            self._roster = roster
        if roster.keys:
            self.keyring = _merge_keyring(self.keyring, roster.keys)
        self.hub.publish("roster", {"version": roster.version, "received_at": received})
        return roster

    def _with_local_observation(self, roster: Roster) -> Roster:
        """*roster* with the home observation flagged at this gate (the later date wins)."""
        merged = dict(roster.home_observation)
        for household, until in self.registrations.observations().items():
            if household not in merged or merged[household] < until:
                merged[household] = until
        return dataclasses.replace(roster, home_observation=merged)

    def flag_home_observation(self, household: str, until: date, by: str) -> date:
        """Keep *household* in until *until* (inclusive); the rules apply on the way out.

        Survives roster pulls: the flag is merged into every roster the committee sends
        (the committee's own date wins when it is later). Returns the date in force.
        """
        until = self.registrations.flag_observation(household, until, by, self.clock.now())
        with self._roster_lock:
            self._roster = self._with_local_observation(self._roster)
        return until

    def register(self, registration, by: str, lane: str | None = None):
        """Record a health information form (``registration.created``); flag home observation
        when that is its outcome. Returns the event."""
        event = self.registrations.add(registration, by=by, lane=lane)
        if registration.outcome == "observation" and registration.observation_until:
            self.flag_home_observation(registration.household, registration.observation_until, by)
        return event

    def last_temperature(self, lane: str, max_age_s: float = 300.0) -> dict | None:
        """The lane's latest body temperature (°C) if younger than *max_age_s*, else None."""
        self._unit(lane)
        for event in self.journal.recent(20, types=("temperature.measured",), lane=lane):
            value = event.data.get("temperature_c")
            if value is None:
                continue
            age = (self.clock.now() - datetime.fromisoformat(event.ts)).total_seconds()
            if age > max_age_s:
                return None
            return {"temperature_c": value, "ts": event.ts, "age_s": round(age, 1)}
        return None

    # -- fever alarms ----------------------------------------------------------------------

    def _load_fevers(self) -> None:
        """Fever alarms not acknowledged before the last stop are still open."""
        acked = set()
        for event in self.journal.recent(500, types=("alert.fever", "alert.fever_ack")):
            if event.type == "alert.fever_ack":
                acked.add(event.data.get("fever_seq"))
            elif event.seq not in acked:
                self._fevers[event.seq] = _fever_view(event)

    def fevers(self) -> list[dict]:
        """Fever alarms the guard has not acknowledged yet, oldest first."""
        with self._status_lock:
            return [self._fevers[k] for k in sorted(self._fevers)]

    def acknowledge_fever(
        self,
        seq: int,
        outcome: str,
        by: str,
        *,
        temperature_c: float | None = None,
        note: str = "",
    ):
        """Close the fever alarm journaled as *seq* with *outcome* (``alert.fever_ack``).

        :param outcome: ``remeasured`` (by hand, *temperature_c* in °C), ``clinic`` (sent to
            the fever clinic) or ``reported`` (reported to the committee).
        :raises KioskError: no open alarm *seq*, or an outcome it does not know.
        """
        if outcome not in FEVER_OUTCOMES:
            raise KioskError(f"outcome must be one of {', '.join(FEVER_OUTCOMES)}")
        with self._status_lock:
            fever = self._fevers.get(seq)
        if fever is None:
            raise KioskError(f"no open fever alarm {seq}")
        data = {
            "fever_seq": seq,
            "fever_id": fever["id"],
            "outcome": outcome,
            "temperature_c": temperature_c,
            "household": fever.get("household"),
            "by": by,
        }
        if note:
            data["note"] = note
        return self.journal.append("alert.fever_ack", data, lane=fever["lane"])

    def _fevers_changed(self) -> None:
        fevers = self.fevers()
        sounding = {f["lane"] for f in fevers}
        for name, unit in self.units.items():
            if unit.buzzer is not None:
                unit.buzzer.set(name in sounding)
        self.hub.publish("fevers", fevers)

    # -- today's counts --------------------------------------------------------------------

    def _recount(self, day: str) -> None:
        rows = self.journal.read(
            f"SELECT type, lane, COUNT(*) FROM events WHERE ts >= ? "
            f"AND type IN ({','.join('?' * len(COUNTED))}) GROUP BY type, lane",
            (day, *COUNTED),
        )
        counts = dict.fromkeys(("in", "out", "denied", "fevers", "registrations"), 0)
        for type_, lane, n in rows:
            counts[self._count_key(type_, lane)] += n
        with self._status_lock:
            self._counts, self._counts_day = counts, day

    def _count_key(self, type_: str, lane: str | None) -> str:
        if type_ in ("access.granted", "gate.manual_open"):
            settings = self.config.lanes.get(lane or "")
            return "out" if settings is not None and settings.direction == "out" else "in"
        return {
            "access.denied": "denied",
            "alert.fever": "fevers",
            "registration.created": "registrations",
        }[type_]

    def today_counts(self) -> dict[str, int]:
        """Today's in, out, denied, fevers and registrations (gate's local date)."""
        day = self.clock.now().date().isoformat()
        if day != self._counts_day:
            self._recount(day)
        with self._status_lock:
            return dict(self._counts)

    def _on_event(self, event) -> None:
        fevers_changed = False
        with self._status_lock:
            if event.type in COUNTED and event.ts[:10] == self._counts_day:
                key = self._count_key(event.type, event.lane)
                self._counts[key] = self._counts.get(key, 0) + 1
            if event.type == "alert.fever":
                self._fevers[event.seq] = _fever_view(event)
                fevers_changed = True
            elif event.type == "alert.fever_ack":
                fevers_changed = self._fevers.pop(event.data.get("fever_seq"), None) is not None
        self.hub.publish("event", event.to_api())
        if fevers_changed:
            self._fevers_changed()

    def _on_lane_change(self, snapshot: LaneSnapshot) -> None:
        self.hub.publish("lane", snapshot.to_dict())

    def subscribe(self):
        return self.hub.subscribe()

    def state(self) -> dict:
        """Everything the guard screen shows, as plain data."""
        roster = self.roster()
        received = roster.received_at
        age = None
        if received:
            age = round((self.clock.now() - datetime.fromisoformat(received)).total_seconds())
        return {
            "gate_id": self.config.gate.gate_id,
            "site": self.config.gate.site,
            "version": __version__,
            "simulated": self.simulated,
            "uptime_s": round(self.clock.monotonic() - self.started_mono, 1),
            "lanes": {n: u.lane.snapshot().to_dict() for n, u in self.units.items()},
            "roster": {
                "version": roster.version,
                "received_at": roster.received_at,
                "age_s": age,
                "passes": len(roster.passes),
            },
            "last_seq": self.journal.last_seq(),
            "threshold_c": self.config.screening.threshold_c,
            "counts": self.today_counts(),
            "badges": self.badges(),
            "fevers": self.fevers(),
        }

    def badges(self) -> dict[str, str]:
        """Health of thermometer, camera, relay, uplink and clock for the guard screen:
        ``ok``, ``warn``, ``fault`` or ``off`` (not fitted / not configured)."""
        lanes = self.health()["lanes"].values()
        badges = {
            part: "fault" if any(v[part] == "fault" for v in lanes) else "ok"
            for part in ("thermometer", "camera")
        }
        badges["relay"] = "fault" if any(v["lane_thread"] is False for v in lanes) else "ok"
        uplink = getattr(self, "uplink", None)
        if uplink is None or not getattr(uplink, "enabled", False):
            badges["uplink"] = "off"
        else:
            state = uplink.status().get("state")
            badges["uplink"] = {"ok": "ok", "backing_off": "warn"}.get(state, "fault")
        badges["clock"] = self._clock_status()
        return badges

    def _clock_status(self) -> str:
        if self.clock.now().year < 2020:
            return "fault"  # no RTC and no time server yet: the records' times are wrong
        if self.simulated or os.path.exists(TIMESYNC_FLAG):
            return "ok"
        return "warn"

    def health(self) -> dict:
        """Liveness of threads and parts, for ``/healthz`` and the watchdog."""
        lanes = {}
        for name, unit in self.units.items():
            snap = unit.lane.snapshot()
            lanes[name] = {
                "state": snap.state,
                "lane_thread": unit.runner.alive if self._running else None,
                "thermometer": "fault" if "thermometer" in snap.faults else "ok",
                "camera": "fault" if "camera" in snap.faults else "ok",
                "relay": "open" if snap.relay_open else "ok",
            }
        ok = all(v["lane_thread"] is not False for v in lanes.values())
        return {"ok": ok, "lanes": lanes}

    def _unit(self, lane: str) -> LaneUnit:
        try:
            return self.units[lane]
        except KeyError:
            raise KioskError(f"no lane named {lane!r}") from None

    def open_gate(self, lane: str, reason: str, guard: str) -> None:
        """Queue a manual opening by *guard* with *reason* (journaled as gate.manual_open)."""
        unit = self._unit(lane)
        unit.runner.put(ManualOpen(lane, self.clock.monotonic(), reason, guard))

    def manual_temperature(self, lane: str, body_c: float, guard: str) -> None:
        """Queue a temperature measured by hand with a clinical thermometer."""
        unit = self._unit(lane)
        unit.runner.put(
            TemperatureRead(lane, self.clock.monotonic(), "manual", float(body_c), by=guard)
        )

    # -- run -------------------------------------------------------------------------------

    def start(self) -> None:
        """Start every thread; journal ``kiosk.started``."""
        self.journal.append(
            "kiosk.started",
            {"version": __version__, "hardware": self.config.gate.hardware},
        )
        for unit in self.units.values():
            unit.relay.start()
            unit.runner.start()
            for thread in unit.threads:
                thread.start()
        self._running = True
        self._fevers_changed()  # alarms left open before a restart sound again

    def relays_off(self) -> None:
        """Turn every relay off now (safe from a signal handler)."""
        for unit in self.units.values():
            unit.relay.off()

    def stop(self) -> None:
        """Stop in reverse order: relays off first, then sources, lanes, journal."""
        if self._closed:
            return
        self.relays_off()
        if self._running:
            for unit in self.units.values():
                for thread in unit.threads:
                    thread.stop()
                unit.runner.stop()
            try:
                relays = {n: ("open" if u.relay.is_open else "off") for n, u in self.units.items()}
                self.journal.append("kiosk.stopped", {"uptime_s": self._uptime(), "relays": relays})
            except KioskError:
                log.exception("could not journal kiosk.stopped")
            self._running = False
        self.close()

    def _uptime(self) -> float:
        return round(self.clock.monotonic() - self.started_mono, 1)

    def close(self) -> None:
        """Release every resource; safe to call twice. Relays end off."""
        if self._closed:
            return
        self._closed = True
        for unit in self.units.values():
            unit.relay.close()
            if unit.buzzer is not None:
                unit.buzzer.close()
            try:
                unit.reader.source.close()
            except Exception:  # pragma: no cover - best effort
                log.exception("closing camera of lane %s", unit.name)
        for bus in self._buses.values():
            with contextlib.suppress(OSError):
                bus.close()
        self.hub.close()
        self.journal.close()


def _merge_keyring(keyring, roster_keys):
    merged = passes.Keyring.from_roster(list(roster_keys))
    for entry in keyring:
        if entry.kid not in merged:
            merged.add(entry.kid, entry.key, entry.use)
    return merged


def _fever_view(event) -> dict:
    return {
        "seq": event.seq,
        "id": event.id,
        "ts": event.ts,
        "lane": event.lane,
        "temperature_c": event.data.get("temperature_c"),
        "household": event.data.get("household"),
    }
