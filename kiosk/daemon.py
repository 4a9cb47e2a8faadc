"""The kiosk daemon: builds everything from the configuration, starts it, stops it.

Startup reads like a list (``_setup_journal``, ``_setup_keys``, ``_setup_hardware``,
``_setup_lanes``, ...); stopping runs in reverse and turns every relay off first. There are no
module-level globals: everything hangs off one :class:`Kiosk`.

The guard screen talks to the daemon only through :class:`Kiosk`'s narrow surface:
:meth:`Kiosk.state`, :meth:`Kiosk.subscribe`, :meth:`Kiosk.open_gate`,
:meth:`Kiosk.manual_temperature`, and in demo mode :attr:`Kiosk.world`.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime

from kiosk import __version__, passes
from kiosk.actuators import Relay
from kiosk.camera.capture import open_source
from kiosk.camera.reader import PassReader
from kiosk.camera.scanner import Scanner
from kiosk.clock import SystemClock
from kiosk.errors import KioskError
from kiosk.events import ManualOpen, SensorStatus, TemperatureRead
from kiosk.hub import Hub
from kiosk.journal import Journal
from kiosk.keys import load_public_keys
from kiosk.lane import Lane, LaneSnapshot, LaneThread
from kiosk.roster import Roster
from kiosk.sensors.calibration import CalibrationStore
from kiosk.sensors.inputs import DoorInputs
from kiosk.sensors.mlx90614 import MLX90614
from kiosk.sensors.thermometer import Thermometer
from kiosk.threads import PollThread

log = logging.getLogger(__name__)

#: A lane thread whose loop has not turned for this long (seconds) is hung: the watchdog
#: stops pinging systemd.
LANE_STALL_S = 10.0
#: Seconds between retention runs (personal data purge and the size cap).
RETENTION_EVERY_S = 3600.0


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
    inputs: DoorInputs | None = None


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
        self._storage: dict[str, str] = {}  # storage problems raised to the guard: source -> text
        self._next_retention = 0.0
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
        jcfg = self.config.journal
        self.journal = Journal(
            self.config.data_dir / "journal.db",
            self.clock,
            buffer_events=jcfg.buffer_events,
            when_unwritable=jcfg.when_unwritable,
        )
        self.journal.add_listener(self._on_event)

    def _setup_keys(self) -> None:
        keys_dir = self.config.keys_dir
        self.keyring = load_public_keys(keys_dir) if keys_dir.exists() else passes.Keyring()

    def _setup_roster(self) -> None:
        body, received = self.journal.load_roster()
        self._roster = Roster.from_body(body, received)

    def _setup_hardware(self) -> None:
        if self.simulated:
            from gpiozero.pins.mock import MockFactory

            from kiosk.sim.world import SimWorld

            if self.pin_factory is None:
                self.pin_factory = MockFactory()
            self.world = SimWorld(self.clock, self.config.lanes, pin_factory=self.pin_factory)

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
            except BaseException:
                relay.close()
                raise
            self.units[name] = unit
            try:
                unit.inputs = DoorInputs(
                    name,
                    settings.door,
                    clock=self.clock,
                    sink=unit.runner.put,
                    pin_factory=self.pin_factory,
                )
            except Exception as exc:  # gpiozero's errors: a pin in use, no such pin, ...
                raise KioskError(f"lanes.{name}.door: cannot claim the input pins: {exc}") from None
            if self.world is not None:
                self.world.lanes[name].wire_inputs()

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
        roster = Roster.from_body(body, received)
        with self._roster_lock:
            self._roster = roster
        if roster.keys:
            self.keyring = _merge_keyring(self.keyring, roster.keys)
        self.hub.publish("roster", {"version": roster.version, "received_at": received})
        return roster

    def _on_event(self, event) -> None:
        self.hub.publish("event", event.to_api())

    def _on_lane_change(self, snapshot: LaneSnapshot) -> None:
        self.hub.publish("lane", snapshot.to_dict())

    def subscribe(self):
        return self.hub.subscribe()

    def state(self) -> dict:
        """Everything the guard screen shows, as plain data."""
        roster = self.roster()
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
                "passes": len(roster.passes),
            },
            "last_seq": self.journal.last_seq(),
            "threshold_c": self.config.screening.threshold_c,
        }

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
        alive, problems = self.alive() if self._running else (True, [])
        return {
            "ok": alive,
            "problems": problems,
            "lanes": lanes,
            "journal": self.journal.status(),
        }

    def alive(self) -> tuple[bool, list[str]]:
        """Whether the watchdog may ping: every lane thread turning, every relay timer
        running, and the journal answering. Returns ``(ok, problems)``."""
        problems = []
        now = self.clock.monotonic()
        for name, unit in self.units.items():
            if not unit.runner.alive:
                problems.append(f"lane {name}: thread dead")
            elif now - unit.runner.heartbeat > LANE_STALL_S:
                problems.append(f"lane {name}: thread hung for {now - unit.runner.heartbeat:.0f} s")
            if not unit.relay.alive:
                problems.append(f"lane {name}: relay timer dead")
        if not self.journal.ping():
            problems.append("journal: not answering")
        return not problems, problems

    def maintain(self) -> None:
        """Housekeeping from the main loop (about once a second): write events held in
        memory, raise or clear storage alerts, and now and then apply retention and the size
        cap. Never raises."""
        try:
            self._maintain()
        except Exception:
            log.exception("maintenance failed")

    def _maintain(self) -> None:
        jcfg = self.config.journal
        self.journal.flush()
        now = self.clock.monotonic()
        if now >= self._next_retention:
            self._next_retention = now + RETENTION_EVERY_S
            try:
                self.journal.purge_personal(jcfg.retention_days)
                over = not self.journal.enforce_size(jcfg.max_size_mb << 20)
            except KioskError as exc:
                log.error("retention: %s", exc)
                over = False
            self._set_storage("storage", "journal over its size cap / 记录超出容量" if over else "")
        self._set_storage(
            "journal",
            f"cannot write / 无法写入 ({self.journal.pending} waiting)"
            if self.journal.problem
            else "",
        )
        free_mb = _free_mb(self.config.data_dir)
        if free_mb is not None:
            low = free_mb < jcfg.min_free_mb
            self._set_storage("disk", f"{free_mb} MiB free / 磁盘空间不足" if low else "")

    def _set_storage(self, source: str, problem: str) -> None:
        """Raise (non-empty *problem*) or clear a gate-wide storage alert on every lane."""
        if self._storage.get(source, "") == problem:
            return
        if problem:
            self._storage[source] = problem
            log.error("storage alert %s: %s", source, problem)
        else:
            self._storage.pop(source, None)
        self.hub.publish("alert", {"source": source, "ok": not problem, "message": problem})
        for unit in self.units.values():
            unit.runner.put(
                SensorStatus(unit.name, self.clock.monotonic(), source, not problem, problem)
            )

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
            if unit.inputs is not None:
                for event in unit.inputs.initial():
                    unit.runner.put(event)
        self._running = True

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
            if unit.inputs is not None:
                unit.inputs.close()
            try:
                unit.reader.source.close()
            except Exception:  # pragma: no cover - best effort
                log.exception("closing camera of lane %s", unit.name)
        for bus in self._buses.values():
            with contextlib.suppress(OSError):
                bus.close()
        self.hub.close()
        self.journal.close()


def _free_mb(folder) -> int | None:
    import shutil

    try:
        return shutil.disk_usage(folder).free >> 20
    except OSError:
        return None


def _merge_keyring(keyring, roster_keys):
    merged = passes.Keyring.from_roster(list(roster_keys))
    for entry in keyring:
        if entry.kid not in merged:
            merged.add(entry.kid, entry.key, entry.use)
    return merged
