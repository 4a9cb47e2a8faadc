"""The one narrow object the screens talk to: everything the guard screen (and any other page
served by the kiosk) may see and do, as plain data and commands.

:func:`kiosk.ui.create_app` receives a :class:`Facade` and nothing else: no view touches the
journal, the configuration, the registrations, the hardware or the simulated world. Commands
that move the gate (:meth:`Facade.open_gate`, :meth:`Facade.manual_temperature`) go through the
lane's queue, so the lane thread alone actuates. The running :class:`kiosk.daemon.Kiosk`
builds one over its parts.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta, tzinfo

from kiosk import __version__, resident, schema, temporary
from kiosk.accounts import Accounts, Standing
from kiosk.errors import KioskError, UplinkError
from kiosk.events import ManualOpen, TemperatureRead
from kiosk.hardware import TIMESYNC_FLAG
from kiosk.retention import PERSONAL_FIELDS

#: How old (s) a lane's reading may be for the registration form to offer it (5 minutes).
READING_MAX_AGE_S = 300.0


class Facade:
    """What the screens may see and do at one gate.

    :param kiosk: the running :class:`kiosk.daemon.Kiosk` whose parts this object fronts.
    :param health: ``() -> dict``, the liveness of threads and parts (``/healthz``).
    """

    def __init__(self, kiosk, health: Callable[[], dict]) -> None:
        self._kiosk = kiosk
        self._config = kiosk.config
        self._health = health
        #: The injected clock (sessions and sign-in throttling count on it).
        self.clock = kiosk.clock

    # -- who and what this gate is ---------------------------------------------------------

    @property
    def gate_id(self) -> str:
        return self._config.gate.gate_id

    @property
    def site_name(self) -> str:
        """The compound's name as people know it (its site id when none is configured)."""
        gate = self._config.gate
        return gate.site_name.strip() or gate.site

    @property
    def threshold_c(self) -> float:
        """The screening threshold in °C (the 37.3 °C rule)."""
        return self._config.screening.threshold_c

    @property
    def simulated(self) -> bool:
        """True on the simulated world (the demo's simulate panel is offered)."""
        return self._kiosk.hardware.simulated

    def lanes(self) -> list[str]:
        """The lanes' names, in configuration order."""
        return list(self._config.lanes)

    def entry_lanes(self) -> list[str]:
        """The lanes' names, the ``in`` lanes first (where people register on arrival)."""
        lanes = self._config.lanes
        return sorted(lanes, key=lambda name: lanes[name].direction != "in")

    def now(self) -> datetime:
        return self.clock.now()

    @property
    def tz(self) -> tzinfo | None:
        """The gate's local time zone: its clock's offset (the records show times in it)."""
        return self.clock.now().tzinfo

    def today(self) -> date:
        """The gate's local date."""
        return self.clock.now().date()

    # -- the guard screen ------------------------------------------------------------------

    def state(self) -> dict:
        """Everything the guard screen shows, as plain data."""
        k = self._kiosk
        return {
            "gate_id": self.gate_id,
            "site": self._config.gate.site,
            "site_name": self.site_name,
            "version": __version__,
            "simulated": self.simulated,
            "uptime_s": round(self.clock.monotonic() - k.started_mono, 1),
            "lanes": {n: u.lane.snapshot().to_dict() for n, u in k.units.items()},
            "roster": k.rosters.current().summary(self.clock.now()),
            "clock": {"synchronised": k.time_sync.synchronised()},
            "last_seq": k.journal.last_seq(),
            "threshold_c": self.threshold_c,
            "counts": self.today_counts(),
            "badges": self.badges(),
            "fevers": self.fevers(),
        }

    def today_counts(self) -> dict[str, int]:
        """Today's in, out, denied, fevers and registrations (gate's local date), and the
        items waiting at the pickup point now (``parcels``)."""
        return {**self._kiosk.counts.today(), "parcels": self._kiosk.parcels.waiting_items()}

    def subscribe(self):
        """Live updates: a :class:`kiosk.hub.Subscription` of ``lane``, ``event``, ``fevers``,
        ``roster`` and ``alert`` messages."""
        return self._kiosk.hub.subscribe()

    def listen(self, callback) -> Callable[[], None]:
        """Live updates as calls ``callback(kind, payload)`` in the publisher's thread (it
        must not block; :meth:`kiosk.hub.Hub.listen`); ``bye`` when the kiosk stops. Returns
        the function that stops them."""
        return self._kiosk.hub.listen(callback)

    def health(self) -> dict:
        """Liveness of threads and parts, for ``/healthz``."""
        return self._health()

    def badges(self) -> dict[str, str]:
        """Health of thermometer, camera, relay, uplink, clock, voice and (with a shelf
        camera) the pickup shelf's camera for the guard screen: ``ok``, ``warn``, ``fault``
        or ``off`` (not fitted / not configured)."""
        lanes = self._health()["lanes"].values()
        badges = {
            part: "fault" if any(v[part] == "fault" for v in lanes) else "ok"
            for part in ("thermometer", "camera")
        }
        badges["relay"] = "fault" if any(v["lane_thread"] is False for v in lanes) else "ok"
        uplink = self._kiosk.uplink
        if uplink is None or not getattr(uplink, "enabled", False):
            badges["uplink"] = "off"
        else:
            state = uplink.status().get("state")
            badges["uplink"] = {"ok": "ok", "backing_off": "warn"}.get(state, "fault")
        badges["clock"] = self._clock_badge()
        badges["audio"] = self._audio_badge()
        shelf = self._health().get("shelf")
        if shelf is not None:  # only at a gate with a shelf camera: its fault is no lane's
            badges["shelf"] = "fault" if shelf["camera"] == "fault" else "ok"
        return badges

    def _audio_badge(self) -> str:
        """The spoken prompts' output: a fault here is a badge, never a lane's fault."""
        voice = self._kiosk.voice
        if voice is None:
            return "off"
        return {"ok": "ok", "warn": "warn", "unknown": "warn"}.get(voice.status()["state"], "fault")

    def voice_status(self) -> dict:
        """The spoken prompts for maintenance: ``state``, ``problem``, ``missing`` prompts,
        ``played`` (``{"state": "off"}`` without a voice)."""
        voice = self._kiosk.voice
        return {"state": "off"} if voice is None else voice.status()

    def _clock_badge(self) -> str:
        import os

        if self.clock.now().year < 2020:
            return "fault"  # no RTC and no time server yet: the records' times are wrong
        if self._kiosk.hardware.clock_trusted or os.path.exists(TIMESYNC_FLAG):
            return "ok"
        return "warn"

    def uplink_status(self) -> dict:
        """The committee uplink's state for the guard and maintenance screens, with the
        event held because the server refused it (personal fields masked), if any."""
        uplink = self._kiosk.uplink
        if uplink is None:
            return {"state": "disabled"}
        status = uplink.status()
        held = uplink.held_event()
        if held is not None and held["event"] is not None:
            held["event"] = {**held["event"], "data": _masked(held["event"]["data"])}
        status["held_event"] = held
        return status

    def uplink_send_refused(self, seq: int, by: str) -> dict:
        """Maintenance: send a ``kiosk.event_refused`` in place of held event *seq*.

        :raises UplinkError: no uplink, or *seq* is not held because the server refused it.
        """
        if self._kiosk.uplink is None:
            raise UplinkError("no committee server is configured")
        return self._kiosk.uplink.send_refused(seq, by)

    def uplink_push_now(self) -> dict:
        """Maintenance: push every unsent event now, not at the next interval or after the
        back-off (a refused token, a held event or a conflict still hold it back). Returns
        the uplink's status (:meth:`uplink_status`).

        :raises UplinkError: no committee server is configured.
        """
        uplink = self._kiosk.uplink
        if uplink is None or not getattr(uplink, "enabled", False):
            raise UplinkError("no committee server is configured")
        uplink.push_now()
        return self.uplink_status()

    def uplink_retry(self) -> int | None:
        """Maintenance: offer a held event again, or ask the server again after a conflict."""
        uplink = self._kiosk.uplink
        return None if uplink is None else uplink.release_quarantine()

    def _unit(self, lane: str):
        try:
            return self._kiosk.units[lane]
        except KeyError:
            raise KioskError(f"no lane named {lane!r}") from None

    def open_gate(self, lane: str, reason: str, guard: str) -> None:
        """Queue a manual opening by *guard* with *reason* (journaled as gate.manual_open).

        :raises KioskError: no such lane.
        """
        unit = self._unit(lane)
        unit.runner.put(ManualOpen(lane, self.clock.monotonic(), reason, guard))

    def manual_temperature(self, lane: str, body_c: float, guard: str) -> None:
        """Queue a body temperature (°C) measured by hand with a clinical thermometer."""
        unit = self._unit(lane)
        unit.runner.put(
            TemperatureRead(lane, self.clock.monotonic(), "manual", float(body_c), by=guard)
        )

    def fevers(self) -> list[dict]:
        """Fever alarms the guard has not acknowledged yet, oldest first."""
        return self._kiosk.fevers.open()

    def acknowledge_fever(self, seq: int, outcome: str, by: str, **details):
        """Close the fever alarm *seq* with *outcome*; *details*: ``temperature_c``, ``note``
        (:meth:`kiosk.fevers.FeverAlarms.acknowledge`)."""
        return self._kiosk.fevers.acknowledge(seq, outcome, by, **details)

    def release_after_remeasure(
        self, seq: int, temperature_c: float, by: str, *, note: str = ""
    ) -> str | None:
        """Close fever alarm *seq* as re-measured by hand at *temperature_c* (°C, below the
        threshold: the caller checks) and open its lane for the person: ``alert.fever_ack``
        then ``gate.manual_open`` with reason ``remeasured: <value> °C``. Returns the lane.

        :raises KioskError: no open alarm *seq*.
        """
        lane = next((f["lane"] for f in self.fevers() if f["seq"] == seq), None)
        self.acknowledge_fever(seq, "remeasured", by, temperature_c=temperature_c, note=note)
        if lane in self._kiosk.units:
            self.open_gate(lane, f"remeasured: {temperature_c:.1f} °C", by)
        return lane

    # -- registrations and temporary passes ------------------------------------------------

    def households(self) -> set[str]:
        """The households on the roster (empty when no roster was received)."""
        return set(self._kiosk.rosters.current().households)

    def recent_readings(self, max_age_s: float = READING_MAX_AGE_S, limit: int = 6) -> list[dict]:
        """Body temperatures (°C) the lanes measured in the last *max_age_s* seconds, newest
        first, for the guard to pick the one of the person being registered: ``seq``, ``ts``,
        ``lane``, ``temperature_c``, ``age_s``. Readings a registration already used are
        left out."""
        now = self.clock.now()
        since = (now - timedelta(seconds=max_age_s)).isoformat(timespec="milliseconds")
        journal = self._kiosk.journal
        used = {
            e.data.get("reading_seq")
            for e in journal.recent(50, types=("registration.created",), since=since)
        }
        out = []
        for event in journal.recent(60, types=("temperature.measured",), since=since):
            reading = self._reading(event, now, max_age_s)
            if reading is not None and reading["seq"] not in used:
                out.append(reading)
            if len(out) == limit:
                break
        return out

    def reading(self, seq: int, max_age_s: float = READING_MAX_AGE_S) -> dict | None:
        """The body temperature journaled as *seq* (as :meth:`recent_readings` gives it), if
        it is one and is younger than *max_age_s*; else None."""
        found = self._kiosk.journal.events_after(seq - 1, limit=1)
        if not found or found[0].seq != seq:
            return None
        return self._reading(found[0], self.clock.now(), max_age_s)

    @staticmethod
    def _reading(event, now: datetime, max_age_s: float) -> dict | None:
        value = event.data.get("temperature_c")
        if event.type != "temperature.measured" or not isinstance(value, int | float):
            return None
        age = (now - datetime.fromisoformat(event.ts)).total_seconds()
        if not 0 <= age <= max_age_s:
            return None
        return {
            "seq": event.seq,
            "ts": event.ts,
            "lane": event.lane,
            "temperature_c": round(float(value), 1),
            "age_s": round(age, 1),
        }

    def register(self, registration, by: str, lane: str | None = None):
        """Record a health information form (``registration.created``); flag home observation
        when that is its outcome. Returns the event, whose data carries the
        ``registration_id``."""
        event = self._kiosk.registrations.add(registration, by=by, lane=lane)
        if registration.outcome == "observation" and registration.observation_until:
            self.flag_home_observation(registration.household, registration.observation_until, by)
        return event

    def flag_home_observation(self, household: str, until: date, by: str) -> date:
        """Keep *household* in until *until*; returns the date in force."""
        return self._kiosk.rosters.flag_home_observation(household, until, by, self.clock.now())

    def recent_registrations(self, limit: int = 100) -> list[dict]:
        """The latest registrations, newest first, ID number masked."""
        return self._kiosk.registrations.recent(limit)

    def issue_temporary_pass(self, registration_id: str, household: str, **options) -> dict:
        """A temporary pass for a registered person; *options*: ``hours``, ``until``,
        ``single_reentry``, ``guard`` (:func:`kiosk.temporary.issue_temporary_pass`)."""
        cfg = self._config
        return temporary.issue_temporary_pass(
            self._kiosk.journal,
            keys_dir=cfg.keys_dir,
            rules=cfg.rules,
            site=cfg.gate.site,
            now=self.clock.now(),
            registration_id=registration_id,
            household=household,
            **options,
        )

    # -- records ---------------------------------------------------------------------------

    def records(self, limit: int, **filters) -> list:
        """Journal events, newest first, filtered (:meth:`kiosk.journal.Journal.recent`:
        *before*, *types*, *lane*, *household*, *since*, *until*)."""
        return self._kiosk.journal.recent(limit, **filters)

    # -- the pickup point (取件处) ----------------------------------------------------------

    def parcels_state(self) -> dict:
        """The pickup point for the guard: ``waiting`` parcels (takeaway first, each with how
        long it waited and ``late`` for takeaway past ``takeaway_late_min``), ``overdue``
        ones (uncollected after ``overdue_days``), how many ``items`` wait, the parcels
        ``collected`` today (newest first, each with ``how``: ``guard`` or ``shelf``), and
        whether the gate has a ``shelf`` camera."""
        settings = self._config.parcels
        store = self._kiosk.parcels
        now = self.clock.now()
        late_s = settings.takeaway_late_min * 60.0
        waiting = store.waiting()
        return {
            "waiting": [
                {**p.view(now), "late": p.urgent and p.waited_s(now) > late_s} for p in waiting
            ],
            "overdue": [p.view(now) for p in store.overdue(settings.overdue_days)],
            "collected": store.collected(since=now.date().isoformat()),
            "shelf": self._kiosk.shelf is not None,
            "items": sum(p.count for p in waiting),
            "overdue_days": settings.overdue_days,
            "takeaway_late_min": settings.takeaway_late_min,
        }

    def receive_parcel(self, form, by: str) -> dict:
        """Record a :class:`kiosk.parcels.ParcelForm` at the pickup point
        (``parcel.received``); returns the parcel as the guard screen lists it."""
        return self._kiosk.parcels.receive(form, by=by).view(self.clock.now())

    def collect_parcels(
        self, by: str, *, household: str | None = None, parcel_id: str | None = None
    ) -> int:
        """Mark one parcel, or every parcel of *household*, collected (``parcel.collected``);
        returns how many records were closed.

        :raises KioskError: *parcel_id* is not waiting.
        """
        store = self._kiosk.parcels
        if parcel_id:
            store.collect(parcel_id, by=by)
            return 1
        return len(store.collect_household(household or "", by=by))

    # -- the resident screen -------------------------------------------------------------

    def resident_view(self, lane: str, snapshot: dict | None = None) -> dict:
        """What the resident screen of *lane* shows, with no personal data of anyone
        (:func:`kiosk.resident.view`): from *snapshot* (a lane message of the live stream)
        or the lane as it is now.

        :raises KioskError: no such lane.
        """
        unit = self._unit(lane)
        snap = snapshot if snapshot is not None else unit.lane.snapshot().to_dict()
        return resident.view(snap, camera_at=self._config.ui.resident_camera)

    # -- accounts and sign-in --------------------------------------------------------------

    def sign_in(self, name: str, password: str) -> Standing | None:
        """The account's role and password generation if *password* is right, else None."""
        return Accounts(self._kiosk.journal).sign_in(name, password)

    def account(self, name: str) -> Standing | None:
        """The account *name* as it is stored now (another process may have changed it):
        every request of a session compares it with what the session signed in as."""
        return Accounts(self._kiosk.journal).standing(name)

    def record(self, type_: str, data: dict) -> None:
        """Journal a sign-in event (``auth.login``, ``auth.login_failed``)."""
        if not type_.startswith("auth."):
            raise KioskError(f"{type_}: the screens record only auth.* events")
        self._kiosk.journal.append(type_, data)

    def accounts(self) -> list[tuple[str, str]]:
        """``(name, role)`` of every account."""
        return self._kiosk.journal.list_users()

    def config_lines(self) -> list[str]:
        """The effective configuration as TOML-like lines, secrets hidden."""
        return schema.lines(self._config)

    @property
    def config_path(self) -> str:
        return str(self._config.path or "")

    # -- maintenance -----------------------------------------------------------------------

    def thermometer_state(self, lane: str) -> dict:
        return self._kiosk.maintenance.thermometer_state(lane)

    def calibrate(self, lane: str, *, points: list[tuple[float, float]], by: str) -> dict:
        return self._kiosk.maintenance.calibrate(lane, points=points, by=by)

    def calibration_preview(self, lane: str, points: list[tuple[float, float]]) -> dict:
        """What :meth:`calibrate` would do with *points*, nothing saved (the confirm step)."""
        return self._kiosk.maintenance.calibration_preview(lane, points)

    def restore_calibration(self, lane: str, by: str) -> dict:
        """Undo *lane*'s last calibration (the one before it back in force, at once)."""
        return self._kiosk.maintenance.restore_calibration(lane, by)

    def relay_state(self, lane: str) -> dict:
        """*lane*'s relay pin: level now and its last changes (the test pulse's proof)."""
        return self._kiosk.maintenance.relay_state(lane)

    def set_emissivity(self, lane: str, value: float, by: str) -> dict:
        return self._kiosk.maintenance.set_emissivity(lane, value, by)

    def camera_state(self, lane: str) -> dict:
        return self._kiosk.maintenance.camera_state(lane)

    def camera_jpeg(self, lane: str) -> bytes | None:
        return self._kiosk.maintenance.camera_jpeg(lane)

    def test_pulse(self, lane: str, by: str) -> None:
        """Pulse *lane*'s relay for its ``open_s`` to test it. The gate really opens, so it
        goes through the lane like any manual opening: journaled as ``gate.manual_open``
        with reason ``"test"`` and *by* as the guard."""
        self.open_gate(lane, "test", by)

    # -- the simulated world (demo only) ---------------------------------------------------

    def _scene(self, lane: str):
        world = self._kiosk.hardware.world
        if world is None or lane not in world.lanes:
            raise KioskError(f"no simulated lane named {lane!r}")
        return world.lane(lane)

    def simulate(self, lane: str, *, object_c: float | None = None, text: str | None = None):
        """Someone steps in front of *lane* (forehead *object_c* °C, showing *text*), or with
        ``object_c=None`` walks away; returns what the lane's surroundings are now.

        :raises KioskError: not simulated hardware, or no such lane.
        """
        scene = self._scene(lane)
        if object_c is None:
            scene.leave()
        else:
            scene.step_in(object_c, text)
        return scene.state()

    def simulate_part(self, lane: str, part: str, *, plugged: bool) -> dict:
        """Unplug (or plug back) *lane*'s simulated ``thermometer`` or ``camera``: the lane
        sees what a pulled cable does (a sensor fault, then the guard's manual steps).

        :raises KioskError: not simulated hardware, no such lane, or no such part.
        """
        scene = self._scene(lane)
        if part == "thermometer":
            scene.sensor.unplugged = not plugged
        elif part == "camera":
            (scene.camera.replug if plugged else scene.camera.unplug)()
        else:
            raise KioskError(f"no simulated part named {part!r}")
        return scene.state()

    def simulate_shelf(self, text: str | None) -> dict:
        """Someone holds *text* (a pass) up to the pickup shelf's camera, or with ``None``
        takes it away; returns what the shelf camera sees now.

        :raises KioskError: not simulated hardware, or no simulated shelf camera.
        """
        world = self._kiosk.hardware.world
        shelf = self._config.parcels.shelf
        if world is None or shelf is None or shelf.source != "sim":
            raise KioskError("no simulated pickup shelf camera")
        world.shelf.show(text)
        return world.shelf.state()


def _masked(data: dict) -> dict:
    """*data* with its personal fields shown as ``***`` (a maintenance page shows it)."""
    return {k: "***" if k in PERSONAL_FIELDS else v for k, v in data.items()}
