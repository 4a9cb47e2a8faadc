"""One lane's state machine: inputs in, decisions and actions out.

The lane alone decides and actuates. It is driven by :meth:`Lane.handle` (one input event)
and :meth:`Lane.tick` (time passing); :class:`LaneThread` runs both from a queue in the daemon,
and the simulator calls them directly on a fake clock.

States: ``idle`` -> ``measuring`` (a good pass waits for a temperature) -> ``granted`` (relay
pulsed) | ``denied`` -> ``idle``, with a timeout at each step. While idle, a camera that keeps
seeing a code it cannot read (:class:`~kiosk.events.CodeUnread`) raises the snapshot's
``closer`` guidance until a pass is read, the person leaves or :data:`CLOSER_FORGET_S` passes.
"""

from __future__ import annotations

import hashlib
import logging
import queue
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace

from kiosk import policy
from kiosk.errors import JournalError
from kiosk.events import (
    CodeUnread,
    DoorClosed,
    DoorOpened,
    ExitRequested,
    ManualOpen,
    PassPresented,
    PersonLeft,
    PersonPresent,
    SensorStatus,
    TemperatureRead,
)
from kiosk.reasons import Reason, message
from kiosk.roster import Roster
from kiosk.threads import Worker

log = logging.getLogger(__name__)

IDLE, MEASURING, GRANTED, DENIED = "idle", "measuring", "granted", "denied"
#: How long a lane whose thermometer is faulty waits for the guard to type a temperature.
MANUAL_TEMPERATURE_TIMEOUT_S = 90.0
#: How long a pass denial waits for the person's temperature, so that the record carries it.
DENIAL_WAIT_S = 1.5
#: The "hold your pass closer" hint ends this long (s) after the camera last reported a code
#: it could not read; until then it stays up, so one person is asked once.
CLOSER_FORGET_S = 8.0


@dataclass(frozen=True)
class LaneSnapshot:
    """What the guard screen shows for one lane."""

    name: str
    direction: str
    state: str = IDLE
    reason: str | None = None
    message_zh: str = ""
    message_en: str = ""
    household: str | None = None
    pass_id: str | None = None
    temperature_c: float | None = None
    ambient_c: float | None = None
    #: The last reading was taken below the thermometer's ``ambient_low_c``: the forehead
    #: reads low in the cold, so the guard measures the wrist.
    ambient_low: bool = False
    present: bool = False
    relay_open: bool = False
    hold_s: float = 0.0
    faults: dict[str, str] = field(default_factory=dict)
    manual_temperature: bool = False
    #: Reason codes the guard is warned about (soft anti-passback, unsynchronised clock, ...).
    warnings: tuple[str, ...] = ()
    #: End date (ISO) of a household's home observation, for the amber alert.
    observation_until: str | None = None
    #: How many results (granted or denied) the lane has shown: a new number is a new
    #: decision, even when two people in a row get the same one.
    result_no: int = 0
    #: The household's parcels waiting at the pickup point (``kiosk.parcels.Notice`` as a
    #: dict), for the guard's tile; the resident is only told that there are some.
    parcels: dict | None = None
    #: Nobody's pass is read yet, but the camera keeps seeing a code it cannot read (held
    #: too far away): the person is asked to hold the pass closer.
    closer: bool = False
    version: int = 0

    def to_dict(self) -> dict:
        """The snapshot as plain data (the guard screen's JSON), ``hold_s`` to 0.1 s."""
        return {**asdict(self), "hold_s": round(self.hold_s, 1), "warnings": list(self.warnings)}


class Lane:
    """One lane.

    :param name: lane name (``main``).
    :param settings: :class:`kiosk.config.LaneSettings`.
    :param screening: :class:`kiosk.config.ScreeningSettings`.
    :param clock: the injected clock.
    :param journal: where every event is recorded (``append(type, data, lane)``).
    :param relay: :class:`kiosk.actuators.Relay`.
    :param verify_pass: ``(text, now) -> passes.PassCheck``; never raises.
    :param roster: ``() -> Roster``, the current roster.
    :param on_change: called with a :class:`LaneSnapshot` whenever the lane changes; must not
        block.
    :param rules: :class:`kiosk.config.RulesSettings`; None checks only pass and roster.
    :param history: the gate's :class:`policy.History`, shared by its lanes; every grant is
        recorded in it.
    :param has_out_lane: the gate has an ``out`` lane (anti-passback by direction).
    :param clock_synchronised: ``() -> bool | None``, e.g. :meth:`TimeSync.synchronised`.
    :param parcels: ``(household) -> notice or None``: the household's parcels waiting at the
        pickup point (:meth:`kiosk.parcels.ParcelStore.notice`); must not block.
    """

    def __init__(
        self,
        name: str,
        settings,
        screening,
        *,
        clock,
        journal,
        relay,
        verify_pass: Callable,
        roster: Callable[[], Roster],
        on_change: Callable[[LaneSnapshot], None] = lambda s: None,
        rules=None,
        history: policy.History | None = None,
        has_out_lane: bool = False,
        clock_synchronised: Callable[[], bool | None] = lambda: None,
        parcels: Callable[[str | None], object | None] = lambda household: None,
    ) -> None:
        self.name = name
        self.settings = settings
        self.screening = screening
        self.clock = clock
        self.journal = journal
        self.relay = relay
        self.verify_pass = verify_pass
        self.roster = roster
        self.on_change = on_change
        self.rules = rules
        self.history = history
        self.has_out_lane = has_out_lane
        self.clock_synchronised = clock_synchronised
        self.parcels = parcels
        self.state = IDLE
        self._deadline: float | None = None
        self._check = None  # the PassCheck waiting for a temperature
        self._denial: policy.Decision | None = None  # a pass denial waiting for a temperature
        self._last_text: str | None = None
        self._reading: TemperatureRead | None = None
        self._unstable: TemperatureRead | None = None
        self._present = False
        self._faults: dict[str, str] = {}
        self._door_open_since: float | None = None  # door contact open since (monotonic)
        self._door_alarm: str | None = None  # "door.forced" / "door.held_open" while raised
        self._closer_t = 0.0  # when the camera last reported a code it could not read
        self._snapshot = LaneSnapshot(name, settings.direction)

    # -- inputs ----------------------------------------------------------------------------

    def handle(self, event) -> None:
        """Process one input event."""
        if isinstance(event, PassPresented):
            self._on_pass(event)
        elif isinstance(event, TemperatureRead):
            self._on_temperature(event)
        elif isinstance(event, PersonPresent):
            self._present = True
            self._publish()
        elif isinstance(event, PersonLeft):
            self._present = False
            self._reading = None
            self._unstable = None
            if self.state == IDLE:
                self._snapshot = replace(self._snapshot, temperature_c=None)
            self._snapshot = replace(self._snapshot, closer=False)
            self._publish()
        elif isinstance(event, CodeUnread):
            self._on_code_unread(event)
        elif isinstance(event, SensorStatus):
            self._on_sensor_status(event)
        elif isinstance(event, ManualOpen):
            self._on_manual_open(event)
        elif isinstance(event, DoorOpened | DoorClosed | ExitRequested):
            self._on_door(event)
        else:
            log.warning("lane %s: ignoring unknown input %r", self.name, event)

    def tick(self) -> None:
        """Let time pass: end timeouts and result displays."""
        now = self.clock.monotonic()
        self._tick_door(now)
        if self._snapshot.closer and now - self._closer_t >= CLOSER_FORGET_S:
            self._snapshot = replace(self._snapshot, closer=False)
            self._publish()
        if self._deadline is None or now < self._deadline:
            return
        if self.state == MEASURING and self._denial is not None:
            self._finish(self._denial)
        elif self.state == MEASURING:
            reading = self._unstable
            self._finish(
                self._decide(reading)
                if reading is not None or "thermometer" not in self._faults
                else self._fault_decision()
            )
        elif self.state in (GRANTED, DENIED):
            self.state = IDLE
            self._deadline = None
            self._last_text = None
            self._snapshot = replace(
                self._snapshot,
                state=IDLE,
                reason=None,
                message_zh="",
                message_en="",
                household=None,
                pass_id=None,
                temperature_c=None,
                warnings=(),
                observation_until=None,
                parcels=None,
            )
            self._publish()

    # -- handlers --------------------------------------------------------------------------

    def _on_code_unread(self, event: CodeUnread) -> None:
        """A code in view that the camera cannot read: ask for the pass closer, while
        nobody's pass is being handled (never over a measurement or a result)."""
        if self.state != IDLE:
            return
        self._closer_t = event.t
        if not self._snapshot.closer:
            self._snapshot = replace(self._snapshot, closer=True)
            self._publish()

    def _on_pass(self, event: PassPresented) -> None:
        if event.text == self._last_text and self.state != IDLE:
            return  # the same code still in view
        self._snapshot = replace(self._snapshot, closer=False)  # read: no need to come closer
        now = self.clock.now()
        check = self.verify_pass(event.text, now)
        claims = check.claims
        self._record(
            "pass.scanned",
            {
                "pass_id": getattr(claims, "pass_id", None),
                "household": getattr(claims, "household", None),
                "kind": policy.kind_name(getattr(claims, "kind", None)),
                "check": str(check.reason),
                "token_sha256": hashlib.sha256(event.text.encode("utf-8", "replace")).hexdigest()[
                    :16
                ],
                "direction": self.settings.direction,
            },
        )
        self._last_text = event.text
        denial = policy.check_pass(check, self.roster(), now=now, **self._rule_inputs())
        reading = self._fresh_reading()
        manual = "thermometer" in self._faults
        if denial is not None:
            if reading is not None or manual:
                self._finish(replace(denial, temperature_c=reading.body_c if reading else None))
                return
            # Measure everyone: hold the denial briefly so its record carries the temperature.
            self._denial = denial
            timeout = DENIAL_WAIT_S
        else:
            self._check = check
            if reading is not None:
                self._finish(self._decide(reading))
                return
            timeout = MANUAL_TEMPERATURE_TIMEOUT_S if manual else self.screening.measure_timeout_s
        self.state = MEASURING
        self._deadline = self.clock.monotonic() + timeout
        self._snapshot = replace(
            self._snapshot,
            state=MEASURING,
            reason=None,
            message_zh="请手动测温（门卫）" if manual else "请看向测温仪",
            message_en="Guard: measure by hand" if manual else "Look at the thermometer",
            household=getattr(claims, "household", None),
            pass_id=getattr(claims, "pass_id", None),
            temperature_c=None,
            parcels=self._parcels(getattr(claims, "household", None)),
        )
        self._publish()

    def _on_temperature(self, event: TemperatureRead) -> None:
        data = {
            "status": event.status,
            "temperature_c": event.body_c,
            "forehead_c": event.forehead_c,
            "raw_object_c": event.raw_object_c,
            "ambient_c": event.ambient_c,
            "samples": event.samples,
        }
        if event.by:
            data["by"] = event.by
        if self.state == MEASURING:
            data["pass_id"] = self._snapshot.pass_id
        self._record("temperature.measured", data)
        if policy.is_fever(event, self.screening.threshold_c):
            self._record(
                "alert.fever",
                {
                    "temperature_c": event.body_c,
                    "threshold_c": self.screening.threshold_c,
                    "ambient_c": event.ambient_c,
                    "pass_id": data.get("pass_id"),
                    "household": self._snapshot.household if self.state == MEASURING else None,
                },
            )
        if event.status == "unstable":
            self._unstable = event
            self._reading = None
        else:
            self._reading = event
            self._unstable = None
        if self.state == IDLE:
            # someone measured with no pass shown yet: the guard sees the temperature
            self._snapshot = replace(self._snapshot, temperature_c=event.body_c)
        if event.ambient_c is not None:
            limit = getattr(getattr(self.settings, "thermometer", None), "ambient_low_c", None)
            self._snapshot = replace(
                self._snapshot,
                ambient_c=event.ambient_c,
                ambient_low=limit is not None and event.ambient_c < limit,
            )
        if self.state == MEASURING and self._denial is not None and event.status != "unstable":
            self._finish(replace(self._denial, temperature_c=event.body_c))
        elif self.state == MEASURING and self._check is not None and self._reading is not None:
            self._finish(self._decide(self._reading))
        else:
            self._publish()

    def _on_sensor_status(self, event: SensorStatus) -> None:
        was = event.source in self._faults
        if event.ok and was:
            del self._faults[event.source]
            self._record(
                "alert.sensor_fault",
                {"source": event.source, "state": "recovered", "message": event.message},
            )
        elif not event.ok and not was:
            self._faults[event.source] = event.message or "fault"
            self._record(
                "alert.sensor_fault",
                {"source": event.source, "state": "fault", "message": event.message},
            )
        self._publish()

    def _on_manual_open(self, event: ManualOpen) -> None:
        seconds = self.relay.pulse(self.settings.relay.open_s)
        self._record(
            "gate.manual_open",
            {"reason": event.reason, "guard": event.guard, "open_s": round(seconds, 3)},
        )
        self._show(GRANTED, Reason.GRANTED_MANUAL, None, None, None, seconds)

    # -- door contact and exit button ------------------------------------------------------

    def _on_door(self, event) -> None:
        door = self.settings.door
        if isinstance(event, ExitRequested):
            seconds = self.relay.pulse(self.settings.relay.open_s)
            self._record("gate.exit_request", {"open_s": round(seconds, 3)})
            self._publish()
        elif isinstance(event, DoorOpened):
            if self._door_open_since is not None:
                return
            self._door_open_since = event.t
            if not self.relay.opened_within(door.grant_grace_s):
                self._door_raise("door.forced")
        elif self._door_open_since is not None:  # DoorClosed
            open_s = max(0.0, event.t - self._door_open_since)
            self._door_open_since = None
            if self._door_alarm is not None:
                self._record("door.closed", {"alarm": self._door_alarm, "open_s": round(open_s, 1)})
                self._door_alarm = None
                self._faults.pop("door", None)
                self._publish()

    def _tick_door(self, now: float) -> None:
        since = self._door_open_since
        if since is None or self._door_alarm is not None:
            return
        if now - since >= self.settings.door.held_open_s:
            self._door_raise("door.held_open")

    def _door_raise(self, type_: str) -> None:
        self._door_alarm = type_
        self._faults["door"] = type_  # the screen words it as the event it raised
        self._record(type_, {"held_open_s": self.settings.door.held_open_s})
        self._publish()

    # -- decisions -------------------------------------------------------------------------

    def _fresh_reading(self) -> TemperatureRead | None:
        reading = self._reading
        if reading is None:
            return None
        if self.clock.monotonic() - reading.t > self.screening.reading_max_age_s:
            return None
        return reading

    def _rule_inputs(self) -> dict:
        return {
            "direction": self.settings.direction,
            "accept_without_roster": self.screening.accept_without_roster,
            "rules": self.rules,
            "history": self.history,
            "has_out_lane": self.has_out_lane,
            "clock_synchronised": self.clock_synchronised(),
        }

    def _decide(self, reading: TemperatureRead | None) -> policy.Decision:
        return policy.decide(
            self._check,
            reading,
            self.roster(),
            now=self.clock.now(),
            threshold_c=self.screening.threshold_c,
            **self._rule_inputs(),
        )

    def _fault_decision(self) -> policy.Decision:
        claims = self._check.claims
        return policy.Decision(
            False,
            Reason.SENSOR_FAULT,
            claims.pass_id,
            claims.household,
            policy.kind_name(claims.kind),
            None,
            self._faults.get("thermometer", ""),
        )

    def _finish(self, decision: policy.Decision) -> None:
        self._check = None
        self._denial = None
        if decision.temperature_c is not None or decision.reason in (
            Reason.TEMP_UNSTABLE,
            Reason.TEMP_IMPLAUSIBLE,
        ):
            self._reading = None  # one reading admits one person
            self._unstable = None
        if decision.granted and getattr(self.journal, "refuse_grants", False):
            # [journal] when_unwritable = "deny": nothing can be recorded, so nobody passes
            decision = replace(
                decision, granted=False, reason=Reason.JOURNAL_UNWRITABLE, detail="journal"
            )
        data = decision.data(self.settings.direction)
        if decision.granted:
            seconds = self.relay.pulse(self.settings.relay.open_s)
            data["open_s"] = round(seconds, 3)
            self._record("access.granted", data)
            self._remember(decision)
            hold = max(seconds, self.settings.result_hold_s)
            self._show(
                GRANTED, decision.reason, decision, decision.household, decision.pass_id, hold
            )
        else:
            self._record("access.denied", data)
            self._show(
                DENIED,
                decision.reason,
                decision,
                decision.household,
                decision.pass_id,
                self.settings.result_hold_s,
            )
        self._rule_alerts(decision)

    def _remember(self, decision: policy.Decision) -> None:
        if self.history is None:
            return
        passage = decision.passage(self.settings.direction, self.clock.now())
        if passage is not None:
            self.history.record(passage)

    def _rule_alerts(self, decision: policy.Decision) -> None:
        """Amber alerts for the guard that the rules raise (after the access record)."""
        base = {
            "pass_id": decision.pass_id,
            "household": decision.household,
            "direction": self.settings.direction,
        }
        if decision.reason == Reason.HOME_OBSERVATION:
            until = decision.detail.removeprefix("until ").strip() or None
            self._record("alert.home_observation", {**base, "until": until})
        if decision.granted and str(Reason.ANTI_PASSBACK) in decision.warnings:
            self._record("alert.anti_passback", {**base, "mode": "soft"})

    def _show(self, state, reason, decision, household, pass_id, hold_s: float) -> None:
        self.state = state
        self._deadline = self.clock.monotonic() + hold_s
        zh, en = message(reason, self.settings.direction)
        until = None
        if reason == Reason.HOME_OBSERVATION and decision is not None and decision.detail:
            until = decision.detail.removeprefix("until ").strip()
            zh, en = f"{zh}（至 {until}）", f"{en} (until {until})"
        elif decision is not None and str(Reason.HOME_OBSERVATION) in decision.warnings:
            end = self.roster().observation_until(household or "", self.clock.now().date())
            until = end.isoformat() if end else None
        self._snapshot = replace(
            self._snapshot,
            state=state,
            reason=str(reason),
            message_zh=zh,
            message_en=en,
            household=household,
            pass_id=pass_id,
            temperature_c=decision.temperature_c if decision else None,
            warnings=decision.warnings if decision else (),
            observation_until=until,
            result_no=self._snapshot.result_no + 1,
            parcels=self._parcels(household),
        )
        self._publish()

    def _parcels(self, household: str | None) -> dict | None:
        """The household's parcels waiting at the pickup point, for the tile; never raises."""
        if not household:
            return None
        try:
            notice = self.parcels(household)
        except Exception:  # the pickup point never stops the gate
            log.exception("lane %s: parcel lookup failed", self.name)
            return None
        return notice.to_dict() if notice is not None else None

    # -- output ----------------------------------------------------------------------------

    def _record(self, type_: str, data: dict) -> None:
        try:
            self.journal.append(type_, data, lane=self.name)
        except JournalError:
            log.exception("lane %s: could not journal %s", self.name, type_)

    def snapshot(self) -> LaneSnapshot:
        """The lane as the guard screen shows it now."""
        hold = 0.0
        if self._deadline is not None:
            hold = max(0.0, self._deadline - self.clock.monotonic())
        return replace(
            self._snapshot,
            present=self._present,
            faults=dict(self._faults),
            manual_temperature="thermometer" in self._faults,
            relay_open=self.relay.is_open,
            hold_s=hold,
        )

    def _publish(self) -> None:
        self._snapshot = replace(self._snapshot, version=self._snapshot.version + 1)
        try:
            self.on_change(self.snapshot())
        except Exception:  # a listener never breaks the lane
            log.exception("lane %s: change listener failed", self.name)

    def fail_shut(self) -> None:
        """Turn the relay off after an unexpected error and return to idle."""
        self.relay.off()
        self.state = IDLE
        self._deadline = None
        self._check = None
        self._denial = None


def load_history(journal, now, keep) -> policy.History:
    """Rebuild the rules' :class:`policy.History` from the journal's ``access.granted``
    events of the last *keep* (a timedelta), so counters survive a restart.

    The journal is the one record of what happened, so there is no second store to keep in
    step with it; reading goes newest first through the ``(type, seq)`` index and stops at
    the first event older than *keep*.
    """
    since = now - keep
    passages: list[policy.Passage] = []
    before = None
    while True:
        chunk = journal.recent(1000, before=before, types=("access.granted",))
        if not chunk:
            break
        done = False
        for event in chunk:
            passage = policy.Passage.from_event(event.ts, event.data)
            if passage is None:
                continue
            if passage.at < since:
                done = True
                break
            passages.append(passage)
        if done:
            break
        before = chunk[-1].seq
    passages.reverse()
    return policy.History.of(passages, keep)


class LaneThread(Worker):
    """Runs one :class:`Lane` from its input queue, in the project's thread shape: each turn
    waits for an input (at most *interval* seconds), hands it to the lane, and lets time pass
    (:meth:`Lane.tick`).

    Any error in the lane turns the relay off, is journaled as ``alert.lane_error``, and the
    loop goes on with the next input. :attr:`heartbeat` is the monotonic time of the last
    turn, for the watchdog.
    """

    def __init__(self, lane: Lane, *, interval: float = 0.02) -> None:
        super().__init__(f"lane-{lane.name}", interval)
        self.lane = lane
        self.inputs: queue.SimpleQueue = queue.SimpleQueue()
        self.heartbeat = 0.0
        self._event = None

    def put(self, event) -> None:
        """Queue an input for the lane (thread-safe, never blocks)."""
        self.inputs.put(event)

    def start(self) -> None:
        self.heartbeat = self.lane.clock.monotonic()
        super().start()

    def wait(self) -> bool:
        """Wait for the next input, at most one interval; True when stopping."""
        try:
            self._event = self.inputs.get(timeout=self.interval)
        except queue.Empty:
            self._event = None
        return self.stopping.is_set()

    def step(self) -> None:
        event, self._event = self._event, None
        try:
            if event is not None:
                self.lane.handle(event)
            self.lane.tick()
        finally:
            self.heartbeat = self.lane.clock.monotonic()

    def failed(self, exc: Exception) -> None:
        log.error("lane %s: error; relay turned off", self.lane.name, exc_info=exc)
        self.lane.fail_shut()
        self.lane._record("alert.lane_error", {"error": f"{type(exc).__name__}: {exc}"})
