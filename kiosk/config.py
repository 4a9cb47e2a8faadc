"""Configuration: one TOML file loaded into frozen dataclasses.

Every section is a frozen dataclass whose field names are the TOML keys and whose defaults
are the documented defaults (``config/kiosk.toml`` shows each key with a comment). Errors
name the file and the key, and an unknown key gets a "did you mean" suggestion.
"""

from __future__ import annotations

import dataclasses
import difflib
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk.camera.capture import CameraSettings
from kiosk.errors import ConfigError
from kiosk.sensors.inputs import DoorSettings
from kiosk.sensors.thermometer import ThermometerSettings

#: The configuration shipped for simulated hardware: what `kiosk demo` uses by default.
DEMO_CONFIG = Path(__file__).resolve().parent.parent / "config" / "demo.toml"
#: Where a real kiosk keeps its configuration.
SYSTEM_CONFIG = Path("/etc/kiosk/kiosk.toml")


@dataclass(frozen=True)
class GateSettings:
    """``[gate]``: who this kiosk is and where it keeps its data."""

    #: Gate id as the committee server knows it (``/gates/{gate_id}/...``).
    gate_id: str = "demo-gate-1"
    #: Site (compound) id; passes of another site are refused.
    site: str = "demo-compound"
    #: Folder for the journal database, keys and calibration; relative to the config file.
    data_dir: str = "/var/lib/kiosk"
    #: ``"sim"`` (gpiozero mock pins, emulated MLX90614, rendered camera) or ``"pi"``.
    hardware: str = "pi"
    #: Folder with public keys (``*.pub``) and the gate's own private key; relative to data_dir.
    keys_dir: str = "keys"

    def __post_init__(self) -> None:
        if self.hardware not in ("sim", "pi"):
            raise ValueError(f"hardware: must be 'sim' or 'pi', not {self.hardware!r}")
        if not self.gate_id.strip():
            raise ValueError("gate_id: must not be empty")
        if not self.site.strip():
            raise ValueError("site: must not be empty")


@dataclass(frozen=True)
class ScreeningSettings:
    """``[screening]``: the temperature rule and how a reading is matched to a pass."""

    #: Body temperature (°C) at or above which a person is stopped (the 37.3 °C rule).
    threshold_c: float = 37.3
    #: A reading older than this (s) when the pass is shown no longer counts.
    reading_max_age_s: float = 15.0
    #: After a good pass, how long (s) to wait for a temperature before NO_TEMPERATURE.
    measure_timeout_s: float = 8.0
    #: When the roster is empty (never received), accept any validly signed resident pass.
    accept_without_roster: bool = True

    def __post_init__(self) -> None:
        if not 35.0 <= self.threshold_c <= 40.0:
            raise ValueError("threshold_c: must be between 35.0 and 40.0 °C")
        if self.measure_timeout_s <= 0 or self.reading_max_age_s <= 0:
            raise ValueError("measure_timeout_s and reading_max_age_s must be positive")


@dataclass(frozen=True)
class RelaySettings:
    """``[lanes.<name>.relay]``: the gate's lock or turnstile relay."""

    #: BCM GPIO number driving the relay input (fit a pull-down: a released pin floats).
    pin: int = 17
    #: True when the relay closes on a high level.
    active_high: bool = True
    #: How long (s) one grant keeps the relay energised.
    open_s: float = 3.0
    #: Hard ceiling (s) enforced outside the lane thread, whatever asks for longer.
    max_open_s: float = 10.0

    def __post_init__(self) -> None:
        if not 0 <= self.pin <= 27:
            raise ValueError(f"pin: {self.pin} is not a BCM GPIO number (0..27)")
        if not 0 < self.open_s <= self.max_open_s:
            raise ValueError("open_s: must be > 0 and <= max_open_s")
        if self.max_open_s > 60:
            raise ValueError("max_open_s: at most 60 s")


@dataclass(frozen=True)
class LaneSettings:
    """``[lanes.<name>]``: one lane: a camera, a thermometer and a relay."""

    #: ``"in"`` (entering the compound) or ``"out"`` (leaving).
    direction: str = "in"
    #: How long (s) the result stays on screen before the lane is idle again.
    result_hold_s: float = 3.0
    #: BCM GPIO of a buzzer that sounds while a fever alarm is not acknowledged (none: unset).
    buzzer_pin: int | None = None
    relay: RelaySettings = field(default_factory=RelaySettings)
    thermometer: ThermometerSettings = field(default_factory=ThermometerSettings)
    camera: CameraSettings = field(default_factory=CameraSettings)
    door: DoorSettings = field(default_factory=DoorSettings)

    def __post_init__(self) -> None:
        if self.direction not in ("in", "out"):
            raise ValueError(f"direction: must be 'in' or 'out', not {self.direction!r}")
        if self.buzzer_pin is not None and not 0 <= self.buzzer_pin <= 27:
            raise ValueError(f"buzzer_pin: {self.buzzer_pin} is not a BCM GPIO number (0..27)")


@dataclass(frozen=True)
class UISettings:
    """``[ui]``: the guard screen."""

    #: Address to listen on: 127.0.0.1 for the kiosk's own screen, 0.0.0.0 for the LAN.
    host: str = "127.0.0.1"
    port: int = 8080
    #: File holding the session-signing secret; created (0600) when missing. Relative to data_dir.
    secret_file: str = "ui-secret"
    #: Idle minutes before a guard session ends.
    session_idle_min: int = 30
    #: Demo only: a guard account created at start with this name/password ("" = none).
    demo_user: str = ""
    demo_password: str = ""
    #: Where the camera is as the person in front of the resident screen sees it:
    #: ``"below"``, ``"above"``, ``"left"`` or ``"right"`` (the idle screen points there).
    resident_camera: str = "below"

    def __post_init__(self) -> None:
        if not 1 <= self.port <= 65535:
            raise ValueError(f"port: {self.port} is not a TCP port")
        if self.resident_camera not in ("below", "above", "left", "right"):
            raise ValueError(
                "resident_camera: one of 'below', 'above', 'left', 'right', "
                f"not {self.resident_camera!r}"
            )


@dataclass(frozen=True)
class VoiceSettings:
    """``[voice]``: spoken prompts for the person at the gate (kiosk/voice/)."""

    #: ``"auto"``: the ALSA output on a Pi, the simulated speaker (records only) on simulated
    #: hardware; ``"alsa"``: the ALSA output (simulated hardware records and plays); ``"sim"``:
    #: record only; ``"off"``: no voice.
    output: str = "auto"
    #: ALSA PCM device the prompts play on (``aplay -L`` lists them).
    device: str = "default"
    #: Volume from 0 to 1 outside the quiet hours.
    volume: float = 0.8
    #: Local hours ``"HH:MM-HH:MM"`` at ``quiet_volume`` (``""``: none).
    quiet_hours: str = "22:00-06:00"
    #: Volume from 0 to 1 during the quiet hours (0: silent).
    quiet_volume: float = 0.3
    #: Say every prompt in English too, after the Mandarin.
    english: bool = False
    #: Folder of the prompt audio, relative to data_dir: recorded ``<name>.wav`` files here
    #: win over the defaults made into its ``default/`` folder by ``kiosk voice build``.
    folder: str = "voice"

    def __post_init__(self) -> None:
        from kiosk.policy import parse_hours

        if self.output not in ("auto", "alsa", "sim", "off"):
            raise ValueError(f"output: one of 'auto', 'alsa', 'sim', 'off', not {self.output!r}")
        if not self.device.strip():
            raise ValueError("device: an ALSA device name, e.g. 'default'")
        for name in ("volume", "quiet_volume"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name}: from 0 to 1")
        try:
            parse_hours(self.quiet_hours)
        except ValueError as exc:
            raise ValueError(f"quiet_hours: {exc}") from None


@dataclass(frozen=True)
class ParcelSettings:
    """``[parcels]``: the pickup point (取件处) at the gate."""

    #: Parcels uncollected after this many days are listed for the guard.
    overdue_days: int = 3
    #: Takeaway waiting longer than this (minutes) is shown in red.
    takeaway_late_min: int = 30

    def __post_init__(self) -> None:
        if not 1 <= self.overdue_days <= 60:
            raise ValueError("overdue_days: from 1 to 60")
        if not 1 <= self.takeaway_late_min <= 24 * 60:
            raise ValueError("takeaway_late_min: from 1 to 1440")


@dataclass(frozen=True)
class UplinkSettings:
    """``[uplink]``: the committee server (see committee-api.md)."""

    #: Base URL, e.g. ``https://committee.example.org/api/v1``; "" disables the uplink.
    url: str = ""
    #: File with the gate's bearer token (must be 0600). Relative to the config file.
    token_file: str = ""
    #: CA bundle to verify the server's certificate ("" = the system's).
    ca_file: str = ""
    #: Seconds between pushes of ordinary events (alerts go at once).
    interval_s: float = 10.0
    #: Seconds between heartbeats.
    heartbeat_s: float = 60.0
    #: Seconds between roster pulls.
    roster_s: float = 300.0
    #: Total deadline of one request (connecting, sending and the whole reply), seconds.
    timeout_s: float = 15.0


@dataclass(frozen=True)
class JournalSettings:
    """``[journal]``: the event store."""

    #: Days personal data (registrations) is kept once uploaded.
    retention_days: int = 28
    #: Size (MiB) of the journal files at which the guard is alerted and uploaded events
    #: older than retention_days are deleted to make room.
    max_size_mb: int = 2048
    #: Free space (MiB) on the data folder's file system below which the guard is alerted.
    min_free_mb: int = 200
    #: Events held in memory while the disk cannot be written (full, read-only).
    buffer_events: int = 20000
    #: While nothing can be written: "decide" (the gate keeps deciding by the rules; events
    #: wait in memory) or "deny" (the gate refuses every grant; the guard opens by hand).
    when_unwritable: str = "decide"

    def __post_init__(self) -> None:
        if self.retention_days < 1:
            raise ValueError("retention_days: at least 1")
        if self.max_size_mb < 16 or self.min_free_mb < 0:
            raise ValueError("max_size_mb: at least 16; min_free_mb: at least 0")
        if not 100 <= self.buffer_events <= 1_000_000:
            raise ValueError("buffer_events: from 100 to 1000000")
        if self.when_unwritable not in ("decide", "deny"):
            raise ValueError(
                f"when_unwritable: must be 'decide' or 'deny', not {self.when_unwritable!r}"
            )


@dataclass(frozen=True)
class HoursSettings:
    """``[rules.hours]``: when each kind of pass opens the gate, local time, ``"HH:MM-HH:MM"``
    (``"22:00-06:00"`` spans midnight, ``"24:00"`` is the end of the day); ``""`` = all day."""

    resident: str = ""
    temporary: str = "06:00-22:00"
    worker: str = ""

    def __post_init__(self) -> None:
        from kiosk.policy import parse_hours

        for name in ("resident", "temporary", "worker"):
            try:
                parse_hours(getattr(self, name))
            except ValueError as exc:
                raise ValueError(f"{name}: {exc}") from None


@dataclass(frozen=True)
class RulesSettings:
    """``[rules]``: the compound's gate rules beyond the pass and the temperature."""

    #: ``"deny"``: a household under home observation cannot pass out (amber alert with the
    #: end date); ``"warn"``: let them out and warn the guard; ``"off"``.
    home_observation: str = "deny"
    #: ``"off"``; ``"soft"``: a pass used twice the same way is let through and the guard is
    #: warned; ``"hard"``: it is denied (ANTI_PASSBACK).
    anti_passback: str = "soft"
    #: ``"direction"``: a pass that went in cannot go in again until it went out (and the
    #: other way round); ``"window"``: not the same way twice within ``anti_passback_window_s``;
    #: ``"auto"``: direction when the gate has an ``out`` lane, else window.
    anti_passback_by: str = "auto"
    #: Window mode: seconds within which the same pass cannot pass the same way again.
    anti_passback_window_s: float = 300.0
    #: Direction mode: hours after which a passage no longer counts (someone let out by hand
    #: can come back in the next day without the guard).
    anti_passback_reset_h: float = 24.0
    #: Outings per household every ``exit_quota_days`` calendar days, counted on ``out``
    #: lanes; 0 = no quota. A roster's ``exit_quota_per_day`` for a household wins.
    exit_quota: int = 0
    #: Calendar days of the quota window (2: today and yesterday).
    exit_quota_days: int = 2
    #: Default end of a temporary pass, local time ``"HH:MM"`` (``"24:00"`` = end of day);
    #: when that time has passed today, the same time tomorrow.
    temporary_until: str = "24:00"
    #: Longest validity (hours) a guard may give a temporary pass.
    temporary_max_h: float = 24.0
    #: How the clock's synchronisation is checked: ``"adjtimex"`` (the kernel's flag, as
    #: ``timedatectl`` shows it), ``"timedatectl"``, or ``"off"`` (always trusted).
    clock_check: str = "adjtimex"
    #: Seconds between clock checks.
    clock_check_s: float = 60.0
    #: With an unsynchronised clock: ``"warn"`` (trust it, warn the guard, record it in each
    #: decision); ``"ignore_validity"`` (also let expired / not-yet-valid passes through as a
    #: warning); ``"deny"`` (deny every pass: the guard opens by hand).
    untrusted_clock: str = "warn"
    hours: HoursSettings = field(default_factory=HoursSettings)

    def __post_init__(self) -> None:
        from kiosk.policy import parse_clock_time

        choices = {
            "home_observation": ("deny", "warn", "off"),
            "anti_passback": ("off", "soft", "hard"),
            "anti_passback_by": ("auto", "direction", "window"),
            "clock_check": ("adjtimex", "timedatectl", "off"),
            "untrusted_clock": ("warn", "ignore_validity", "deny"),
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                options = ", ".join(repr(a) for a in allowed)
                raise ValueError(f"{name}: one of {options}, not {getattr(self, name)!r}")
        if self.anti_passback_window_s <= 0 or self.anti_passback_reset_h <= 0:
            raise ValueError("anti_passback_window_s and anti_passback_reset_h must be positive")
        if not 0 <= self.exit_quota <= 100:
            raise ValueError("exit_quota: 0 (no quota) to 100 outings")
        if not 1 <= self.exit_quota_days <= 14:
            raise ValueError("exit_quota_days: 1 to 14 days")
        if not 0 < self.temporary_max_h <= 24 * 14:
            raise ValueError("temporary_max_h: more than 0, at most 336 hours")
        if self.clock_check_s <= 0:
            raise ValueError("clock_check_s: must be positive")
        try:
            parse_clock_time(self.temporary_until)
        except ValueError as exc:
            raise ValueError(f"temporary_until: {exc}") from None

    @property
    def keep(self):
        """How long the rules need to remember passages (a timedelta)."""
        from datetime import timedelta

        return timedelta(
            days=max(self.exit_quota_days, 1) + 1,
            hours=max(self.anti_passback_reset_h, self.temporary_max_h),
        )


@dataclass(frozen=True)
class Config:
    """The whole configuration. ``path`` is the file it came from (not a TOML key)."""

    gate: GateSettings = field(default_factory=GateSettings)
    screening: ScreeningSettings = field(default_factory=ScreeningSettings)
    lanes: dict[str, LaneSettings] = field(default_factory=lambda: {"main": LaneSettings()})
    ui: UISettings = field(default_factory=UISettings)
    uplink: UplinkSettings = field(default_factory=UplinkSettings)
    journal: JournalSettings = field(default_factory=JournalSettings)
    rules: RulesSettings = field(default_factory=RulesSettings)
    voice: VoiceSettings = field(default_factory=VoiceSettings)
    parcels: ParcelSettings = field(default_factory=ParcelSettings)
    path: Path | None = None

    def resolve(self, value: str, base: Path | None = None) -> Path:
        """Resolve *value* relative to *base*, or to the config file's folder."""
        p = Path(value).expanduser()
        if p.is_absolute():
            return p
        if base is None:
            base = self.path.parent if self.path else Path.cwd()
        return (base / p).resolve()

    @property
    def data_dir(self) -> Path:
        return self.resolve(self.gate.data_dir)

    @property
    def keys_dir(self) -> Path:
        return self.resolve(self.gate.keys_dir, self.data_dir)

    @property
    def voice_dir(self) -> Path:
        return self.resolve(self.voice.folder, self.data_dir)


def load(path: str | Path) -> Config:
    """Load and check *path*.

    :raises ConfigError: the file is missing, not TOML, or a key or value is wrong; the
        message names the file and the key.
    """
    path = Path(path)
    return from_dict(read_toml(path, ConfigError, "configuration"), path)


def read_toml(path: Path, error: type[Exception], what: str) -> dict[str, Any]:
    """Parse the TOML file *path*; any problem raises *error* naming the file."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise error(f"{path}: no such {what} file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{path}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{path}: not valid TOML: {exc}") from None


def did_you_mean(key: str, names) -> str:
    """``"; did you mean 'x'?"`` for the known name closest to *key*, or ``""``."""
    hint = difflib.get_close_matches(key, list(names), n=1)
    return f"; did you mean {hint[0]!r}?" if hint else ""


def from_dict(raw: dict[str, Any], path: Path | None = None) -> Config:
    """Build a :class:`Config` from parsed TOML; *path* is used in messages and paths."""
    where = str(path) if path else "<config>"
    raw = dict(raw)
    lanes = raw.pop("lanes", None)
    cfg = _build(Config, raw, "", where, skip={"lanes", "path"})
    if lanes is not None:
        if not isinstance(lanes, dict) or not lanes:
            raise ConfigError(f"{where}: [lanes] must have at least one [lanes.<name>] table")
        built = {}
        for name, table in lanes.items():
            if not name.isidentifier() or len(name) > 32:
                raise ConfigError(f"{where}: [lanes.{name}]: a lane name is a short identifier")
            built[name] = _convert(LaneSettings, table, f"lanes.{name}", where)
        cfg = dataclasses.replace(cfg, lanes=built)
    return dataclasses.replace(cfg, path=path.resolve() if path else None)


def _build(cls: type, data: Any, key: str, where: str, skip: frozenset | set = frozenset()):
    section = f"[{key}]" if key else "top level"
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: {key}: expected a table, got {_kind(data)}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.name not in skip]
    for k in data:
        if k not in names:
            more = did_you_mean(k, names) or f"; known keys: {', '.join(names)}"
            raise ConfigError(f"{where}: {section}: unknown key {k!r}{more}")
    kwargs = {}
    for name in names:
        if name in data:
            full = f"{key}.{name}" if key else name
            kwargs[name] = _convert(hints[name], data[name], full, where)
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{where}: {section}: {exc}") from None


def _convert(tp: Any, value: Any, key: str, where: str):
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, key, where)
    if origin in (types.UnionType, typing.Union):
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None and len(options) < len(typing.get_args(tp)):
            return None
        errors = []
        for option in options:
            try:
                return _convert(option, value, key, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0])
    if origin is tuple:
        if not isinstance(value, list):
            raise ConfigError(f"{where}: {key}: expected a list, got {_kind(value)}")
        args = typing.get_args(tp)
        item = args[0] if args else Any
        return tuple(_convert(item, v, f"{key}[{i}]", where) for i, v in enumerate(value))
    if origin is typing.Literal:
        if value not in typing.get_args(tp):
            allowed = ", ".join(repr(a) for a in typing.get_args(tp))
            raise ConfigError(f"{where}: {key}: must be one of {allowed}, not {value!r}")
        return value
    if tp is Any:
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: {key}: expected true or false, got {_kind(value)}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: {key}: expected a whole number, got {_kind(value)}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}: {key}: expected a number, got {_kind(value)}")
        if value != value or value in (float("inf"), float("-inf")):
            raise ConfigError(f"{where}: {key}: expected a finite number")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: {key}: expected a string, got {_kind(value)}")
        return value
    raise ConfigError(f"{where}: {key}: unsupported setting type {tp!r}")


def _kind(value: Any) -> str:
    names = {
        bool: "true/false",
        int: "a whole number",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a table",
    }
    return f"{names.get(type(value), type(value).__name__)} ({value!r:.40})"
