"""The kiosk daemon: builds everything from the configuration, starts it, stops it.

Startup reads like a list (:meth:`Kiosk.__init__` runs ``_setup_hardware``,
``_setup_journal``, ``_setup_roster``, ``_setup_alarms``, ``_setup_rules``, ``_setup_lanes``,
``_setup_shelf``, ``_setup_voice``, ``_setup_drift``, ``_setup_uplink``, ``_setup_facade`` in
order); each step registers what it opened, and closing turns every relay off, then closes in
reverse. The hardware comes from a provider the caller chose once (:mod:`kiosk.hardware`).
There are no module-level globals: everything hangs off one :class:`Kiosk`.

The rooms it builds: the journal and registrations, the roster holder
(:mod:`kiosk.roster_holder`), fever alarms (:mod:`kiosk.fevers`), today's counts
(:mod:`kiosk.counts`), the pickup point's parcels (:mod:`kiosk.parcels`), each lane's parts
(:class:`LaneUnit`), the pickup shelf's camera (:mod:`kiosk.shelf`), the voice
(:mod:`kiosk.voice`), maintenance (:mod:`kiosk.maintenance`), housekeeping
(:mod:`kiosk.housekeeping`), the uplink, and the one object the screens talk to,
:attr:`Kiosk.facade` (:mod:`kiosk.facade`).
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from datetime import timedelta

from kiosk import __version__, passes
from kiosk.actuators import Indicator, Relay
from kiosk.camera.reader import PassReader
from kiosk.camera.scanner import Scanner
from kiosk.clock import SystemClock
from kiosk.counts import TodayCounts
from kiosk.errors import CameraError, ConfigError, KioskError, StopTimeout
from kiosk.events import SensorStatus
from kiosk.facade import Facade
from kiosk.fevers import FeverAlarms
from kiosk.housekeeping import Housekeeping
from kiosk.hub import Hub
from kiosk.journal import Journal
from kiosk.keys import load_public_keys
from kiosk.lane import Lane, LaneSnapshot, LaneThread, load_history
from kiosk.maintenance import Maintenance
from kiosk.parcels import ParcelStore
from kiosk.registrations import RegistrationStore
from kiosk.roster_holder import RosterHolder
from kiosk.sensors.calibration import CalibrationStore, DriftSettings, DriftWatch
from kiosk.sensors.inputs import DoorInputs
from kiosk.sensors.mlx90614 import MLX90614
from kiosk.sensors.thermometer import Thermometer
from kiosk.shelf import PickupShelf
from kiosk.threads import PollThread
from kiosk.timesync import TimeSync

log = logging.getLogger(__name__)

#: A lane thread whose loop has not turned for this long (seconds) is hung: the watchdog
#: stops pinging systemd.
LANE_STALL_S = 10.0


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
    sensor: MLX90614 | None = None
    store: CalibrationStore | None = None
    drift: DriftWatch = field(default_factory=DriftWatch)
    inputs: DoorInputs | None = None
    buzzer: Indicator | None = None


class Kiosk:
    """The running kiosk, built from *config* on the hardware *hardware* provides.

    :param config: a :class:`kiosk.config.Config`.
    :param hardware: the hardware provider (:class:`kiosk.hardware.PiHardware`, or the
        simulated world's :class:`kiosk.sim.hardware.SimHardware`), chosen once by the caller;
        the kiosk owns it from then on and closes it.
    :param clock: the clock (a ``FakeClock`` in simulations).
    """

    def __init__(self, config, hardware, *, clock=None) -> None:
        self.config = config
        self.clock = clock or SystemClock()
        self.started_mono = self.clock.monotonic()
        self.hardware = hardware
        self.hub = Hub()
        self.units: dict[str, LaneUnit] = {}
        self.uplink = None
        self.voice = None
        self.shelf: PickupShelf | None = None
        self.shelf_reader: PassReader | None = None
        self.shelf_thread: PollThread | None = None
        self._running = False
        self._closed = False
        self._closers = contextlib.ExitStack()  # what setup opened, closed in reverse
        try:
            for setup in (
                self._setup_hardware,
                self._setup_journal,
                self._setup_roster,
                self._setup_alarms,
                self._setup_rules,
                self._setup_lanes,
                self._setup_shelf,
                self._setup_voice,
                self._setup_drift,
                self._setup_uplink,
                self._setup_facade,
            ):
                setup()
        except BaseException:
            self.close()
            raise

    @property
    def simulated(self) -> bool:
        """True on the simulated world's hardware."""
        return self.hardware.simulated

    @property
    def world(self):
        """The simulated world (its lanes' people, sensors and cameras), or ``None`` on a Pi."""
        return self.hardware.world

    # -- setup, in order; each step registers what it opened with the closers ---------------

    def _setup_hardware(self) -> None:
        if self.hardware.simulated != (self.config.gate.hardware == "sim"):
            self.hardware.close()
            raise ConfigError(
                f"{self.config.path}: [gate] hardware = {self.config.gate.hardware!r}, but "
                f"{type(self.hardware).__name__} was handed in"
            )
        self._closers.callback(self.hardware.close)

    def _setup_journal(self) -> None:
        self.config.data_dir.mkdir(parents=True, exist_ok=True)
        jcfg = self.config.journal
        self.journal = Journal(
            self.config.data_dir / "journal.db",
            self.clock,
            buffer_events=jcfg.buffer_events,
            when_unwritable=jcfg.when_unwritable,
        )
        self._closers.callback(self.journal.close)
        self._closers.callback(self.hub.close)
        self.registrations = RegistrationStore(self.journal)
        self.parcels = ParcelStore(self.journal, self.clock)

    def _setup_roster(self) -> None:
        keys_dir = self.config.keys_dir
        keyring = load_public_keys(keys_dir) if keys_dir.exists() else passes.Keyring()
        self.rosters = RosterHolder(
            self.journal,
            self.registrations,
            keyring,
            site=self.config.gate.site,
            on_change=lambda version, received: self.hub.publish(
                "roster", {"version": version, "received_at": received}
            ),
        )

    def _setup_alarms(self) -> None:
        """Fever alarms and today's counts, from the journal and then from every event."""
        self.fevers = FeverAlarms(self.journal)
        directions = {name: lane.direction for name, lane in self.config.lanes.items()}
        self.counts = TodayCounts(self.journal, self.clock, directions)
        self.journal.add_listener(self._on_event)

    def _setup_rules(self) -> None:
        rules = self.config.rules
        self.time_sync = TimeSync.from_settings(rules, self.clock)
        if self.hardware.clock_trusted:
            self.time_sync.set(True)
        self.history = load_history(self.journal, self.clock.now(), rules.keep)

    def _setup_lanes(self) -> None:
        for name, settings in self.config.lanes.items():
            self.units[name] = self._build_unit(name, settings)

    def _setup_shelf(self) -> None:
        """The pickup shelf's camera, when ``[parcels] shelf_camera`` names one: read by the
        lanes' reader and scanner on a thread of its own; it touches no relay."""
        settings = self.config.parcels.shelf
        if settings is None:
            return
        try:
            source = self.hardware.shelf_camera(settings)
        except CameraError as exc:
            where = self.config.path or "<config>"
            raise ConfigError(f"{where}: [parcels] shelf_camera: {exc}") from None
        self._closers.callback(_close_camera, source, "shelf")
        reader = PassReader(
            source, Scanner(backend=settings.backend), self.clock, "shelf", settings
        )
        self.shelf = PickupShelf(
            self.parcels,
            self.journal,
            self.clock,
            verify_pass=self.rosters.verify,
            roster=self.rosters.current,
            accept_without_roster=self.config.screening.accept_without_roster,
            rules=self.config.rules,
            clock_synchronised=self.time_sync.synchronised,
            fault=lambda: reader.fault,
        )
        self.shelf_reader = reader
        self.shelf_thread = PollThread(
            "shelf-camera", reader.poll, self.shelf.handle, self.hardware.camera_interval(settings)
        )

    def _setup_uplink(self) -> None:
        if not self.config.uplink.url:
            return
        from kiosk.uplink import Uplink

        self.uplink = Uplink.from_config(
            self.config,
            self.journal,
            self.clock,
            heartbeat_info=self._heartbeat_lanes,
            on_roster=lambda body: self.rosters.use_stored(),
            on_alert=self._on_uplink_alert,
        )
        self._closers.callback(self.uplink.close)
        self.journal.add_listener(self.uplink.journal_listener)

    def _build_unit(self, name, settings) -> LaneUnit:
        hardware, closers = self.hardware, self._closers
        relay = Relay(
            settings.relay.pin,
            active_high=settings.relay.active_high,
            max_open_s=settings.relay.max_open_s,
            clock=self.clock,
            pin_factory=hardware.pin_factory,
        )
        closers.callback(relay.close)
        buzzer = None
        if settings.buzzer_pin is not None:
            buzzer = Indicator(settings.buzzer_pin, pin_factory=hardware.pin_factory)
            closers.callback(buzzer.close)
        tcfg = settings.thermometer
        bus, lock = hardware.i2c(tcfg.bus)
        sensor = MLX90614(bus, tcfg.address, sleep=hardware.sleep, lock=lock)
        store = CalibrationStore(self.config.data_dir / f"calibration-{name}.json")
        thermometer = Thermometer(sensor, self.clock, tcfg, name, store.load())
        source = hardware.camera(name, settings.camera)
        closers.callback(_close_camera, source, name)
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
            verify_pass=self.rosters.verify,
            roster=self.rosters.current,
            on_change=self._on_lane_change,
            rules=self.config.rules,
            history=self.history,
            has_out_lane=any(s.direction == "out" for s in self.config.lanes.values()),
            clock_synchronised=self.time_sync.synchronised,
            parcels=self.parcels.notice,
        )
        runner = LaneThread(lane)
        threads = [
            PollThread(f"thermo-{name}", thermometer.poll, runner.put, 1.0 / tcfg.sample_hz),
            PollThread(
                f"camera-{name}",
                reader.poll,
                runner.put,
                hardware.camera_interval(settings.camera),
            ),
        ]
        drift = DriftWatch(
            DriftSettings(
                band=(tcfg.drift_low_c, tcfg.drift_high_c),
                min_count=tcfg.drift_min_count,
                check_days=tcfg.check_days,
            )
        )
        try:
            inputs = DoorInputs(
                name,
                settings.door,
                clock=self.clock,
                sink=runner.put,
                pin_factory=hardware.pin_factory,
            )
        except Exception as exc:  # gpiozero's errors: a pin in use, no such pin, ...
            raise KioskError(f"lanes.{name}.door: cannot claim the input pins: {exc}") from None
        closers.callback(inputs.close)
        hardware.inputs_claimed(name)
        return LaneUnit(
            name,
            lane,
            relay,
            thermometer,
            reader,
            runner,
            threads,
            sensor,
            store,
            drift,
            inputs,
            buzzer,
        )

    def _setup_voice(self) -> None:
        """The spoken prompts, on the audio output the hardware provides (the kiosk's ALSA
        output; the simulated world's loudspeaker), on a thread of their own."""
        settings = self.config.voice
        folder = self.config.voice_dir
        output = self.hardware.audio(settings, folder / "default" / "at-volume")
        if output is None:
            return
        from kiosk.voice.clips import Library
        from kiosk.voice.speaker import Voice, VoiceThread, volume_at

        self.voice = Voice(
            output,
            Library(folder, english=settings.english),
            self.clock,
            volume=lambda moment: volume_at(settings, moment),
            on_status=self._on_voice_status,
        )
        self.voice_thread = VoiceThread(self.voice)
        self._closers.callback(self.voice.silence)

    def _on_voice_status(self, status: dict) -> None:
        """The audio output broke or came back: an alert for the guard's health badge."""
        data = {"state": status["state"], "message": str(status.get("problem") or "")[:300]}
        try:
            self.journal.append("alert.audio", data)
        except KioskError:
            log.exception("could not journal alert.audio")

    def _setup_drift(self) -> None:
        """Give the drift watch today's and yesterday's readings from the journal."""
        today = self.clock.now().date()
        days = {today.isoformat(), (today - timedelta(days=1)).isoformat()}
        recent = self.journal.recent(20000, types=("temperature.measured",))
        for event in reversed(recent):
            if event.ts[:10] in days:
                self._watch_drift(event)

    def _setup_facade(self) -> None:
        """Maintenance, housekeeping and the screens' facade, over everything above."""
        self.maintenance = Maintenance(self.units, self.journal, self.clock)
        self.housekeeping = Housekeeping(
            self.journal,
            self.config.journal,
            self.config.data_dir,
            self.clock,
            self.rosters,
            self._storage_alert,
        )
        self.facade = Facade(self, self.health)

    # -- events from the journal, the lanes and the uplink ----------------------------------

    def _on_event(self, event) -> None:
        self._watch_drift(event)
        self.counts.on_event(event)
        fevers_changed = self.fevers.on_event(event)
        self.hub.publish("event", event.to_api())
        if fevers_changed:
            self._fevers_changed()

    def _watch_drift(self, event) -> None:
        if event.type != "temperature.measured" or event.lane not in self.units:
            return
        if event.data.get("status") != "ok":
            return
        value = event.data.get("temperature_c")
        if isinstance(value, int | float) and not isinstance(value, bool):
            self.units[event.lane].drift.add(event.ts[:10], float(value))

    def _fevers_changed(self) -> None:
        """Sound the buzzers of the lanes with an open fever alarm; tell the screens."""
        sounding = self.fevers.lanes()
        for name, unit in self.units.items():
            if unit.buzzer is not None:
                unit.buzzer.set(name in sounding)
        self.hub.publish("fevers", self.fevers.open())

    def _on_lane_change(self, snapshot: LaneSnapshot) -> None:
        self.hub.publish("lane", snapshot.to_dict())
        if self.voice is not None:
            self.voice.tell(snapshot)

    def _storage_alert(self, source: str, problem: str) -> None:
        """Raise (non-empty *problem*) or clear a gate-wide storage alert on every lane."""
        self.hub.publish("alert", {"source": source, "ok": not problem, "message": problem})
        for unit in self.units.values():
            unit.runner.put(
                SensorStatus(unit.name, self.clock.monotonic(), source, not problem, problem)
            )

    def _on_uplink_alert(self, code: str, detail: dict) -> None:
        data = {"code": code, "message": str(detail.get("message", ""))[:500]}
        try:
            self.journal.append("alert.uplink", data)
        except KioskError:
            log.exception("could not journal alert.uplink")

    def _heartbeat_lanes(self) -> dict:
        return {
            name: {k: v for k, v in lane.items() if k != "lane_thread"}
            for name, lane in self.health()["lanes"].items()
        }

    # -- health ----------------------------------------------------------------------------

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
        health = {
            "ok": alive,
            "problems": problems,
            "lanes": lanes,
            "journal": self.journal.status(),
        }
        if self.shelf is not None:
            thread = self.shelf_thread.alive if self._running else None
            health["shelf"] = {**self.shelf.status(), "thread": thread}
        return health

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
        """Housekeeping from the main loop (about once a second); never raises."""
        self.housekeeping.step()

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
        if self.uplink is not None:
            self.uplink.start()
        if self.voice is not None:
            self.voice_thread.start()
        if self.shelf_thread is not None:
            self.shelf_thread.start()
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
            if self.uplink is not None:
                try:
                    self.uplink.stop(timeout=5)
                except RuntimeError as exc:  # StopTimeout is one
                    log.error("%s", exc)
            workers = [w for u in self.units.values() for w in (*u.threads, u.runner)]
            if self.voice is not None:
                workers.append(self.voice_thread)
            if self.shelf_thread is not None:
                workers.append(self.shelf_thread)
            for worker in workers:
                try:
                    worker.stop()
                except StopTimeout as exc:  # it holds no pin: stopping goes on
                    log.error("%s", exc)
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
        """Release every resource, in the reverse order of setup; safe to call twice. Relays
        end off: they are turned off first.

        :raises StopTimeout: a relay timer did not stop (everything is closed all the
            same).
        """
        if self._closed:
            return
        self._closed = True
        self.relays_off()
        self._closers.close()


def _close_camera(source, lane: str) -> None:
    try:
        source.close()
    except Exception:  # pragma: no cover - best effort
        log.exception("closing camera of lane %s", lane)
