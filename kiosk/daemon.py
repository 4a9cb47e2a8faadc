"""The kiosk daemon: builds everything from the configuration, starts it, stops it.

Startup reads like a list (``_setup_journal``, ``_setup_keys``, ``_setup_hardware``,
``_setup_lanes``, ...); stopping runs in reverse and turns every relay off first. There are no
module-level globals: everything hangs off one :class:`Kiosk`.

The guard screen talks to the daemon only through :class:`Kiosk`'s narrow surface:
:meth:`Kiosk.state`, :meth:`Kiosk.subscribe`, :meth:`Kiosk.open_gate`,
:meth:`Kiosk.manual_temperature`, :meth:`Kiosk.fevers` / :meth:`Kiosk.acknowledge_fever`,
:meth:`Kiosk.register` / :meth:`Kiosk.flag_home_observation`, :meth:`Kiosk.last_temperature`,
:meth:`Kiosk.issue_temporary_pass`, :meth:`Kiosk.uplink_status`, and in demo mode
:attr:`Kiosk.world`. The maintenance pages add :meth:`Kiosk.thermometer_state`,
:meth:`Kiosk.calibrate`, :meth:`Kiosk.set_emissivity`, :meth:`Kiosk.camera_state`,
:meth:`Kiosk.camera_jpeg` and :meth:`Kiosk.test_pulse`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import logging
import math
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from kiosk import __version__, contract, passes, resident
from kiosk.actuators import Indicator, Relay
from kiosk.camera.capture import open_source
from kiosk.camera.reader import PassReader
from kiosk.camera.scanner import Scanner
from kiosk.clock import SystemClock
from kiosk.errors import (
    CalibrationError,
    KioskError,
    PassError,
    SensorError,
    UplinkError,
)
from kiosk.events import ManualOpen, SensorStatus, TemperatureRead
from kiosk.hub import Hub
from kiosk.journal import Journal
from kiosk.keys import load_public_keys
from kiosk.lane import Lane, LaneSnapshot, LaneThread, load_history
from kiosk.parcels import ParcelStore
from kiosk.registrations import RegistrationStore
from kiosk.roster import Roster
from kiosk.sensors import calibration as calibration_mod
from kiosk.sensors.calibration import CalibrationStore, DriftSettings, DriftWatch
from kiosk.sensors.inputs import DoorInputs
from kiosk.sensors.mlx90614 import MLX90614
from kiosk.sensors.thermometer import Thermometer
from kiosk.threads import PollThread
from kiosk.timesync import TimeSync

log = logging.getLogger(__name__)

#: A lane thread whose loop has not turned for this long (seconds) is hung: the watchdog
#: stops pinging systemd.
LANE_STALL_S = 10.0
#: Seconds between retention runs (personal data purge and the size cap).
RETENTION_EVERY_S = 3600.0
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
    sensor: MLX90614 | None = None
    store: CalibrationStore | None = None
    drift: DriftWatch = field(default_factory=DriftWatch)
    inputs: DoorInputs | None = None
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
        self._maintenance_lock = threading.Lock()
        self._storage: dict[str, str] = {}  # storage problems raised to the guard: source -> text
        self._next_retention = 0.0
        self._fevers: dict[int, dict] = {}  # seq of alert.fever -> what the screen shows
        self._counts: dict[str, int] = {}
        self._counts_day = ""
        self._status_lock = threading.Lock()
        self._setup_journal()
        self.uplink = None
        self.voice = None
        try:
            self._setup_keys()
            self._setup_roster()
            self._setup_rules()
            self._setup_hardware()
            self._setup_lanes()
            self._setup_voice()
            self._setup_drift()
            self._setup_uplink()
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
        self.registrations = RegistrationStore(self.journal)
        self.parcels = ParcelStore(self.journal, self.clock)
        self._load_fevers()
        self._recount(self.clock.now().date().isoformat())
        self.journal.add_listener(self._on_event)

    def _setup_keys(self) -> None:
        keys_dir = self.config.keys_dir
        self.keyring = load_public_keys(keys_dir) if keys_dir.exists() else passes.Keyring()

    def _setup_roster(self) -> None:
        self._roster = self._with_local_observation(self._stored_roster())

    def _stored_roster(self) -> Roster:
        text, received = self.journal.load_roster_json()
        roster = Roster.from_body(text, received)
        if roster.problem:
            log.error("the stored roster is not used: %s", roster.problem)
        return roster

    def _setup_rules(self) -> None:
        rules = self.config.rules
        self.time_sync = TimeSync.from_settings(rules, self.clock)
        if self.simulated:
            self.time_sync.set(True)  # a simulated gate's clock is the fake clock
        self.history = load_history(self.journal, self.clock.now(), rules.keep)

    def _setup_hardware(self) -> None:
        if self.simulated:
            from gpiozero.pins.mock import MockFactory

            from kiosk.sim.world import SimWorld

            if self.pin_factory is None:
                self.pin_factory = MockFactory()
            self.world = SimWorld(self.clock, self.config.lanes, pin_factory=self.pin_factory)

    def _setup_uplink(self) -> None:
        if not self.config.uplink.url:
            return
        from kiosk.uplink import Uplink

        self.uplink = Uplink.from_config(
            self.config,
            self.journal,
            self.clock,
            heartbeat_info=self._heartbeat_lanes,
            on_roster=self._on_roster,
            on_alert=self._on_uplink_alert,
        )
        self.journal.add_listener(self.uplink.journal_listener)

    def _setup_voice(self) -> None:
        """The spoken prompts: the ALSA output on a Pi, the simulated world's speaker (which
        also plays through ALSA with ``output = "alsa"``) on simulated hardware."""
        settings = self.config.voice
        if settings.output == "off":
            return
        from kiosk.voice.clips import Library
        from kiosk.voice.speaker import AlsaOutput, Voice, volume_at

        folder = self.config.voice_dir
        output = None
        if settings.output == "alsa" or (settings.output == "auto" and not self.simulated):
            output = AlsaOutput(settings.device, folder / "default" / "at-volume")
        if self.simulated:
            self.world.audio.forward = output
            output = self.world.audio
        self.voice = Voice(
            output,
            Library(folder, english=settings.english),
            self.clock,
            volume=lambda moment: volume_at(settings, moment),
            on_status=self._on_voice_status,
        )

    def _on_voice_status(self, status: dict) -> None:
        """The audio output broke or came back: an alert for the guard's health badge."""
        data = {"state": status["state"], "message": str(status.get("problem") or "")[:300]}
        try:
            self.journal.append("alert.audio", data)
        except KioskError:
            log.exception("could not journal alert.audio")

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
        sensor = MLX90614(self._bus(tcfg.bus), tcfg.address, sleep=self._sleeper())
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
                1.0 / settings.camera.fps if self.simulated else 0.0,
            ),
        ]
        drift = DriftWatch(
            DriftSettings(
                band=(tcfg.drift_low_c, tcfg.drift_high_c),
                min_count=tcfg.drift_min_count,
                check_days=tcfg.check_days,
            )
        )
        return LaneUnit(
            name, lane, relay, thermometer, reader, runner, threads, sensor, store, drift
        )

    def _sleeper(self):
        """How the thermometer driver waits (retry pauses, EEPROM writes): the real
        ``time.sleep``, except on simulated hardware under a fake clock, whose emulated
        sensor lives on that clock, so waiting moves it."""
        if self.simulated and hasattr(self.clock, "advance"):
            return self.clock.advance
        return time.sleep

    def _setup_drift(self) -> None:
        """Give the drift watch today's and yesterday's readings from the journal."""
        today = self.clock.now().date()
        days = {today.isoformat(), (today - timedelta(days=1)).isoformat()}
        recent = self.journal.recent(20000, types=("temperature.measured",))
        for event in reversed(recent):
            if event.ts[:10] in days:
                self._watch_drift(event)

    def _watch_drift(self, event) -> None:
        if event.type != "temperature.measured" or event.lane not in self.units:
            return
        if event.data.get("status") != "ok":
            return
        value = event.data.get("temperature_c")
        if isinstance(value, int | float) and not isinstance(value, bool):
            self.units[event.lane].drift.add(event.ts[:10], float(value))

    # -- what lanes and the UI call --------------------------------------------------------

    def verify_pass(self, text: str, now: datetime):
        """Check a scanned text against the keys and the site; never raises."""
        return passes.verify(text, self.keyring, site=self.config.gate.site, now=now)

    def roster(self) -> Roster:
        with self._roster_lock:
            return self._roster

    def replace_roster(self, body: dict) -> Roster:
        """Store a new roster (committee shape) atomically and use it from now on.

        :raises ContractError: *body* is not a roster for this gate's site.
        """
        parsed = contract.parse_roster(body, site=self.config.gate.site)
        self.journal.save_roster_json(parsed.version, contract.encode(parsed).decode("utf-8"))
        return self._use_stored_roster()

    def _on_roster(self, body) -> None:
        """The uplink stored a new roster from the committee: use it."""
        self._use_stored_roster()

    def _use_stored_roster(self) -> Roster:
        roster = self._with_local_observation(self._stored_roster())
        with self._roster_lock:
            self._roster = roster
        if roster.keys:
            self.keyring = _merge_keyring(self.keyring, roster.keys)
        self.hub.publish("roster", {"version": roster.version, "received_at": roster.received_at})
        return roster

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

    def uplink_status(self) -> dict:
        """The committee uplink's state for the guard and maintenance screens, with the
        event held because the server refused it (personal fields masked), if any."""
        if self.uplink is None:
            return {"state": "disabled"}
        status = self.uplink.status()
        held = self.uplink.held_event()
        if held is not None and held["event"] is not None:
            held["event"] = {**held["event"], "data": _masked(held["event"]["data"])}
        status["held_event"] = held
        return status

    def uplink_send_refused(self, seq: int, by: str) -> dict:
        """Maintenance: send a ``kiosk.event_refused`` in place of held event *seq*.

        :raises UplinkError: no uplink, or *seq* is not held because the server refused it.
        """
        if self.uplink is None:
            raise UplinkError("no committee server is configured")
        return self.uplink.send_refused(seq, by)

    def uplink_retry(self) -> int | None:
        """Maintenance: offer a held event again, or ask the server again after a conflict."""
        return None if self.uplink is None else self.uplink.release_quarantine()

    def issue_temporary_pass(
        self,
        registration_id: str,
        household: str,
        *,
        hours: float | None = None,
        until: datetime | None = None,
        single_reentry: bool = True,
        guard: str,
    ) -> dict:
        """Issue a temporary pass (临时通行证) signed with the gate's key (``keys_dir/gate.key``)
        for a registered person, and journal ``pass.temporary_issued``.

        Valid from now until *until*, or for *hours*, or by default until ``[rules]
        temporary_until`` (end of day); never longer than ``temporary_max_h``.

        :return: ``token``, ``pass_id``, ``household``, ``registration_id``, ``valid_from``
            and ``valid_until`` (RFC 3339), ``single_reentry``, ``qr_version`` and ``png``
            (the QR code as PNG bytes).
        :raises PassError: a field is refused (the message says which); :raises KeyFileError:
            the gate has no key (run ``kiosk keys init``).
        """
        from kiosk.keys import load_private_key
        from kiosk.passes import PassKind, issue_token, make_claims, qr_for, qr_version

        key = load_private_key(self.config.keys_dir / "gate.key")
        now = self.clock.now().replace(microsecond=0)
        end = temporary_pass_end(self.config.rules, now, hours=hours, until=until)
        pass_id = (
            "T" + now.strftime("%m%d") + "".join(secrets.choice(PASS_ID_ALPHABET) for _ in range(6))
        )
        claims = make_claims(
            kind=PassKind.TEMPORARY,
            kid=key.kid,
            pass_id=pass_id,
            household=household,
            site=self.config.gate.site,
            valid_from=now,
            valid_until=end,
            single_reentry=bool(single_reentry),
            registration_id=registration_id,
        )
        if key.use is not passes.KeyUse.TEMPORARY:
            raise PassError(f"{key.path}: not a gate key")
        token = issue_token(claims, key.key)
        buffer = io.BytesIO()
        qr_for(token).save(buffer, kind="png", scale=8, border=4)
        issued = {
            "pass_id": pass_id,
            "household": household,
            "registration_id": registration_id,
            "valid_from": now.isoformat(),
            "valid_until": end.isoformat(),
            "single_reentry": bool(single_reentry),
        }
        # the token itself is not journaled: the record is enough to trace the pass
        self.journal.append("pass.temporary_issued", {**issued, "kid": key.kid, "guard": guard})
        return {
            **issued,
            "token": token,
            "qr_version": qr_version(token),
            "png": buffer.getvalue(),
        }

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
        """Today's in, out, denied, fevers and registrations (gate's local date), and the
        items waiting at the pickup point now."""
        day = self.clock.now().date().isoformat()
        if day != self._counts_day:
            self._recount(day)
        with self._status_lock:
            counts = dict(self._counts)
        counts["parcels"] = self.parcels.waiting_items()
        return counts

    def _on_event(self, event) -> None:
        self._watch_drift(event)
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
        if self.voice is not None:
            self.voice.tell(snapshot)

    def subscribe(self):
        return self.hub.subscribe()

    # -- the pickup point (取件处) ----------------------------------------------------------

    def parcels_state(self) -> dict:
        """The pickup point for the guard: ``waiting`` parcels (takeaway first, each with how
        long it waited and ``late`` for takeaway past ``takeaway_late_min``), ``overdue``
        ones (uncollected after ``overdue_days``), and how many ``items`` wait."""
        settings = self.config.parcels
        now = self.clock.now()
        late_s = settings.takeaway_late_min * 60.0
        waiting = self.parcels.waiting()
        return {
            "waiting": [
                {**p.view(now), "late": p.urgent and p.waited_s(now) > late_s} for p in waiting
            ],
            "overdue": [p.view(now) for p in self.parcels.overdue(settings.overdue_days)],
            "items": sum(p.count for p in waiting),
            "overdue_days": settings.overdue_days,
            "takeaway_late_min": settings.takeaway_late_min,
        }

    def receive_parcel(self, form, by: str) -> dict:
        """Record a :class:`kiosk.parcels.ParcelForm` at the pickup point
        (``parcel.received``); returns the parcel as the guard screen lists it."""
        return self.parcels.receive(form, by=by).view(self.clock.now())

    def collect_parcels(
        self, by: str, *, household: str | None = None, parcel_id: str | None = None
    ) -> int:
        """Mark one parcel, or every parcel of *household*, collected (``parcel.collected``);
        returns how many records were closed.

        :raises KioskError: *parcel_id* is not waiting.
        """
        if parcel_id:
            self.parcels.collect(parcel_id, by=by)
            return 1
        return len(self.parcels.collect_household(household or "", by=by))

    # -- the resident screen -------------------------------------------------------------

    def resident_lanes(self) -> list[str]:
        """The lanes that have a resident screen (every lane), in configuration order."""
        return list(self.units)

    def resident_view(self, lane: str, snapshot: dict | None = None) -> dict:
        """What the resident screen of *lane* shows, with no personal data of anyone
        (:func:`kiosk.resident.view`): from *snapshot* (a lane message of the live stream)
        or the lane as it is now.

        :raises KioskError: no such lane.
        """
        unit = self._unit(lane)
        snap = snapshot if snapshot is not None else unit.lane.snapshot().to_dict()
        return resident.view(snap, camera_at=self.config.ui.resident_camera)

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
            "roster": roster.summary(self.clock.now()),
            "clock": {"synchronised": self.time_sync.synchronised()},
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
        badges["audio"] = self._audio_status()
        return badges

    def _audio_status(self) -> str:
        if self.voice is None:
            return "off"
        return {"ok": "ok", "warn": "warn", "unknown": "warn"}.get(
            self.voice.status()["state"], "fault"
        )

    def voice_status(self) -> dict:
        """The spoken prompts' state for the maintenance page: ``state``, ``problem``,
        ``missing`` prompts, ``played`` (``{"state": "off"}`` without a voice)."""
        return {"state": "off"} if self.voice is None else self.voice.status()

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
        self._reload_roster_if_changed()
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

    def _reload_roster_if_changed(self) -> None:
        """Take a roster stored by another process (``kiosk roster import``)."""
        stamp = self.journal.roster_stamp()
        current = self.roster()
        if stamp is not None and stamp != (current.version, current.received_at):
            log.info("roster %s stored by another process: using it", stamp[0])
            self._use_stored_roster()

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

    # -- maintenance ---------------------------------------------------------------------

    def thermometer_state(self, lane: str) -> dict:
        """The thermometer of *lane* for the maintenance page, as plain data.

        Raw and calibrated object temperature and ambient in °C, presence, fault, achieved
        samples per second, the calibration in use, the emissivity stored in the sensor
        (``None`` with ``emissivity_error`` when it cannot be read) and the drift watch.
        """
        unit = self._unit(lane)
        snap = unit.thermometer.snapshot()
        settings = unit.thermometer.settings
        cal = snap.calibration
        emissivity, emissivity_error = None, None
        try:
            emissivity = round(unit.sensor.read_emissivity(), 4)
        except SensorError as exc:
            emissivity_error = str(exc)
        age = None if snap.t is None else round(self.clock.monotonic() - snap.t, 2)
        return {
            "lane": lane,
            "raw_object_c": _round(snap.raw_object_c),
            "object_c": _round(snap.object_c),
            "ambient_c": _round(snap.ambient_c),
            "sample_age_s": age,
            "present": snap.present,
            "measuring": snap.measuring,
            "fault": snap.fault,
            "samples_per_s": round(snap.samples_per_s, 1),
            "ambient_low": snap.ambient_low,
            "warning": snap.warning,
            "calibration": _calibration_dict(cal),
            "max_correction_c": settings.max_correction_c,
            "skin_offset_c": settings.skin_offset_c,
            "emissivity": emissivity,
            "emissivity_error": emissivity_error,
            "drift": unit.drift.status(self.clock.now(), cal.at),
        }

    def calibrate(self, lane: str, *, points: list[tuple[float, float]], by: str) -> dict:
        """Fit, save and apply a new calibration for *lane* at once (no restart).

        One ``(raw_c, reference_c)`` point gives an offset, two a gain and an offset. The
        change is journaled as ``calibration.changed`` with the points, who, when, before
        and after.

        :raises CalibrationError: the correction is beyond the limit or the points are
            unusable; nothing changes then.
        """
        unit = self._unit(lane)
        with self._maintenance_lock:
            before, after = calibration_mod.change(
                unit.store,
                self.journal,
                lane,
                points,
                by=by,
                now=self.clock.now(),
                max_correction_c=unit.thermometer.settings.max_correction_c,
            )
            unit.thermometer.set_calibration(after)
        return {
            "lane": lane,
            "before": _calibration_dict(before),
            "after": _calibration_dict(after),
        }

    def set_emissivity(self, lane: str, value: float, by: str) -> dict:
        """Write the emissivity into the sensor's EEPROM (maintenance only), journaled as
        ``calibration.changed`` with kind ``"emissivity"``.

        :param value: 0.1..1.0; human skin is about 0.98.
        :raises CalibrationError: *value* is not a number in 0.1..1.0, or *by* is empty.
        :raises SensorError: the sensor did not answer or did not keep the value.
        """
        unit = self._unit(lane)
        by = (by or "").strip()
        if not by:
            raise CalibrationError("say who changes the emissivity (by)")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise CalibrationError("emissivity must be a number in 0.1..1.0")
        if not math.isfinite(value):
            raise CalibrationError("emissivity must be a number in 0.1..1.0")
        with self._maintenance_lock:
            try:
                before = unit.sensor.read_emissivity()
            except SensorError:
                before = None  # a half-written cell reads below 0.1; rewriting mends it
            unit.sensor.write_emissivity(float(value))
            after = unit.sensor.read_emissivity()
            self.journal.append(
                "calibration.changed",
                {
                    "kind": "emissivity",
                    "by": by,
                    "at": self.clock.now().isoformat(timespec="seconds"),
                    "before": None if before is None else round(before, 4),
                    "after": round(after, 4),
                },
                lane=lane,
            )
        return {"lane": lane, "before": before, "after": round(after, 4)}

    def camera_state(self, lane: str) -> dict:
        """The camera of *lane* for the maintenance page: achieved fps, last decode time in
        ms, focus figure (variance of the Laplacian, higher is sharper), fault."""
        snap = self._unit(lane).reader.snapshot()
        return {
            "lane": lane,
            "source": snap.source,
            "fps": snap.fps,
            "frames": snap.frames,
            "scans": snap.scans,
            "last_decode_ms": _round(snap.last_decode_ms),
            "last_step": snap.last_step,
            "focus": None if snap.focus is None else round(snap.focus, 1),
            "fault": snap.fault,
            "has_frame": snap.frame is not None,
        }

    def camera_jpeg(self, lane: str) -> bytes | None:
        """The last frame of *lane*'s camera as JPEG, the last decoded code outlined; ``None``
        before the first frame."""
        return self._unit(lane).reader.snapshot().jpeg()

    def test_pulse(self, lane: str, by: str) -> None:
        """Pulse *lane*'s relay for its ``open_s`` to test it. The gate really opens, so it
        goes through the lane like any manual opening: journaled as ``gate.manual_open``
        with reason ``"test"`` and *by* as the guard."""
        self.open_gate(lane, "test", by)

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
            self.voice.start()
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
                    self.uplink.stop()
                except RuntimeError:
                    log.exception("uplink did not stop")
            for unit in self.units.values():
                for thread in unit.threads:
                    thread.stop()
                unit.runner.stop()
            if self.voice is not None:
                self.voice.stop()
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
            if unit.buzzer is not None:
                unit.buzzer.close()
            try:
                unit.reader.source.close()
            except Exception:  # pragma: no cover - best effort
                log.exception("closing camera of lane %s", unit.name)
        for bus in self._buses.values():
            with contextlib.suppress(OSError):
                bus.close()
        if self.uplink is not None:
            self.uplink.close()
        self.hub.close()
        self.journal.close()


#: Characters of the random part of a temporary pass id (no 0/O, 1/I look-alikes).
PASS_ID_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"


def temporary_pass_end(
    rules, now: datetime, *, hours: float | None = None, until: datetime | None = None
) -> datetime:
    """When a temporary pass issued at *now* ends: *until*, *now* + *hours*, or the next
    ``rules.temporary_until`` local time; at most ``rules.temporary_max_h`` hours.

    :raises PassError: both or a bad one given, the end is not after now, or too far.
    """
    from datetime import timedelta

    from kiosk.policy import parse_clock_time

    if hours is not None and until is not None:
        raise PassError("give hours or until, not both")
    if hours is not None:
        if isinstance(hours, bool) or not isinstance(hours, int | float) or not hours > 0:
            raise PassError(f"hours must be a positive number, not {hours!r}")
        if hours > rules.temporary_max_h:
            raise PassError(f"hours: at most {rules.temporary_max_h:g}")
        end = now + timedelta(hours=hours)
    elif until is not None:
        if not isinstance(until, datetime) or until.tzinfo is None:
            raise PassError("until must be a time with an offset, e.g. 2020-02-04T20:00+08:00")
        end = until
    else:
        end = datetime.combine(now.date(), parse_clock_time(rules.temporary_until), now.tzinfo)
        if end <= now:
            end += timedelta(days=1)
    end = end.replace(microsecond=0)
    if end <= now:
        raise PassError(f"the pass would end at {end.isoformat()}, which is not after now")
    if end - now > timedelta(hours=rules.temporary_max_h):
        raise PassError(f"a temporary pass lasts at most {rules.temporary_max_h:g} hours")
    return end


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def _calibration_dict(cal) -> dict:
    return {
        "gain": round(cal.gain, 5),
        "offset_c": round(cal.offset_c, 3),
        "correction_at_36_5_c": round(cal.correction_at(), 3),
        "points": [list(p) for p in cal.points],
        "at": cal.at,
        "by": cal.by,
        "identity": cal.is_identity,
    }


def _free_mb(folder) -> int | None:
    import shutil

    try:
        return shutil.disk_usage(folder).free >> 20
    except OSError:
        return None


def _merge_keyring(keyring, roster_keys):
    """The gate's own keys plus the roster's; a roster key never replaces a local one."""
    merged = passes.Keyring(keyring)
    for entry in passes.Keyring.from_roster(list(roster_keys)):
        if entry.kid in merged:
            if merged.get(entry.kid).raw() != entry.raw():
                log.warning("roster key %d differs from the local key: local key kept", entry.kid)
            continue
        merged.add(entry.kid, entry.key, entry.use)
    return merged


def _masked(data: dict) -> dict:
    """*data* with its personal fields shown as ``***`` (a maintenance page shows it)."""
    from kiosk.journal import PERSONAL_FIELDS

    return {k: "***" if k in PERSONAL_FIELDS else v for k, v in data.items()}


def _fever_view(event) -> dict:
    return {
        "seq": event.seq,
        "id": event.id,
        "ts": event.ts,
        "lane": event.lane,
        "temperature_c": event.data.get("temperature_c"),
        "household": event.data.get("household"),
    }
