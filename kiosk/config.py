"""Configuration: one TOML file loaded into frozen dataclasses, the schema of every key.

Every section is a frozen dataclass whose field names are the TOML keys and whose defaults
are the documented defaults (``config/kiosk.toml`` shows each key with a comment); a choice is
a ``Literal``. :func:`load` reports every problem of a file at once, each naming the file and
the key, with a "did you mean" for an unknown key (the machinery is :mod:`kiosk.schema`).
Importing this module loads no hardware library.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from datetime import time, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from kiosk import schema
from kiosk.errors import ConfigError
from kiosk.policy import BODY_RANGE_C, parse_clock_time, parse_hours
from kiosk.schema import check

#: The configuration shipped for simulated hardware: what `kiosk demo` uses by default.
DEMO_CONFIG = Path(__file__).resolve().parent.parent / "config" / "demo.toml"
#: Where a real kiosk keeps its configuration.
SYSTEM_CONFIG = Path("/etc/kiosk/kiosk.toml")
#: What each command's ``--config`` option says.
CONFIG_HELP = "Configuration file (default: /etc/kiosk/kiosk.toml; demo: config/demo.toml)."
#: A person counts as gone only when object - ambient falls this far below the presence
#: margin (°C), so a reading hovering at the margin does not flicker.
PRESENCE_HYSTERESIS_C = 0.5
_PIN = "is not a BCM GPIO number (0..27)"


def _pin_ok(pin: int | None) -> bool:
    return pin is None or 0 <= pin <= 27


@dataclass(frozen=True)
class GateSettings:
    """``[gate]``: who this kiosk is and where it keeps its data."""

    #: Gate id as the committee server knows it (``/gates/{gate_id}/...``).
    gate_id: str = "demo-gate-1"
    #: Site (compound) id; passes of another site are refused.
    site: str = "demo-compound"
    #: The compound's name as people know it (金外滩小区): printed on passes and temporary
    #: passes and shown on the guard screen; the site id when empty.
    site_name: str = ""
    #: Folder for the journal database, keys and calibration; relative to the config file.
    data_dir: str = "/var/lib/kiosk"
    #: ``"sim"`` (gpiozero mock pins, emulated MLX90614, rendered camera) or ``"pi"``.
    hardware: Literal["sim", "pi"] = "pi"
    #: Folder with public keys (``*.pub``) and the gate's own private key; relative to data_dir.
    keys_dir: str = "keys"

    def __post_init__(self) -> None:
        check(
            self,
            "gate",
            (bool(self.gate_id.strip()), "gate_id", "must not be empty"),
            (bool(self.site.strip()), "site", "must not be empty"),
        )


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
        check(
            self,
            "screening",
            (35.0 <= self.threshold_c <= 40.0, "threshold_c", "must be between 35.0 and 40.0 °C"),
            (self.measure_timeout_s > 0, "measure_timeout_s", "must be positive"),
            (self.reading_max_age_s > 0, "reading_max_age_s", "must be positive"),
        )


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
        check(
            self,
            "relay",
            (_pin_ok(self.pin), "pin", f"{self.pin} {_PIN}"),
            (0 < self.open_s <= self.max_open_s, "open_s", "must be > 0 and <= max_open_s"),
            (self.max_open_s <= 60, "max_open_s", "at most 60 s"),
        )


@dataclass(frozen=True)
class ThermometerSettings:
    """Settings of one lane's thermometer; the ``[lanes.<name>.thermometer]`` config table.

    :param bus: I2C bus number (``/dev/i2c-<bus>``); 1 on a Raspberry Pi.
    :param address: 7-bit SMBus address of the MLX90614; 0x5A from the factory.
    :param sample_hz: samples per second. 10 Hz gives a reading in about half a second
        with the default window and is far below what a 100 kHz bus allows (two word reads
        take under 1 ms).
    :param presence_margin_c: a person is present when the object reads at least this many
        °C above the sensor's ambient. 2.0 °C: forehead skin is 32-36 °C, so even at a warm
        30 °C ambient a face clears it, while the sensor noise (about 0.05 °C) and a shaded
        backdrop at ambient never do. Above about 33 °C ambient the sensor cannot tell a
        face from the background; the lane's presence input must do it then.
    :param window: how many consecutive samples must agree before a reading is taken. 5
        samples at 10 Hz is 0.5 s: long enough that a head moving in or out of the field of
        view is caught by the spread test, short enough for a 2 s pass-through.
    :param spread_c: the window agrees when its highest and lowest samples differ by at most
        this, in °C. 0.3 °C is six times the sensor's noise and below the 0.5 °C that
        separates a normal reading from the 37.3 °C threshold's neighbours.
    :param stable_timeout_s: seconds of presence without agreement before the reading is
        ``"unstable"`` (the resident is asked to hold still). 3.0 s: six windows' worth.
    :param skin_offset_c: °C added to the calibrated forehead temperature to estimate body
        (core) temperature. 1.0 °C: at 20-25 °C ambient, non-contact forehead readings sit
        about 1 °C below axillary and oral temperature (Chen et al., Int. J. Environ. Res.
        Public Health 2022, 19(23):15883, 14-32 °C ambient); the gap widens in the cold
        (see *ambient_low_c*). A fixed offset is a first approximation only (Foster et al.,
        Temperature 2021, 8(4):306); the daily-median drift watch in
        :mod:`kiosk.sensors.calibration` shows when it is off.
    :param plausible_min_c: body temperatures below this (°C) are ``"implausible"``: the
        sensor saw hair, a hat, a cold face or not a face.
    :param plausible_max_c: body temperatures above this (°C) are ``"implausible"``: a hot
        drink, a phone, sunlit skin, not a fever.
    :param ambient_low_c: below this sensor ambient (°C) the forehead is cooled by the air and
        reads low; the snapshot warns "ambient low: measure the wrist". 10.0 °C: the bottom
        of the operating range typical of clinical non-contact thermometers.
    :param fault_after: consecutive failed samples (each already retried by the driver)
        before a sensor fault is raised. 5, i.e. half a second at 10 Hz: one bad sample is
        noise, five are a fault the guard must see.
    :param max_correction_c: a calibration that moves a 36.5 °C reading by more than this (°C)
        is refused: the sensor, its window or the reference is faulty. 3.0 °C.
    :param check_days: days after the last calibration when maintenance is reminded to
        check the thermometer against the reference. 30: monthly, as for a clinical
        non-contact thermometer in daily use.
    :param drift_low_c: the day's median screened body temperature (°C) below which
        maintenance is told "calibration check due". 36.0 °C.
    :param drift_high_c: ... and above which. 37.2 °C. A healthy population's median sits
        around 36.5-36.9 °C; a whole population does not run a fever.
    :param drift_min_count: fewer readings in a day than this say nothing about drift. 20.
    """

    bus: int = 1
    address: int = 0x5A
    sample_hz: float = 10.0
    presence_margin_c: float = 2.0
    window: int = 5
    spread_c: float = 0.3
    stable_timeout_s: float = 3.0
    skin_offset_c: float = 1.0
    plausible_min_c: float = BODY_RANGE_C[0]
    plausible_max_c: float = BODY_RANGE_C[1]
    ambient_low_c: float = 10.0
    fault_after: int = 5
    max_correction_c: float = 3.0
    check_days: float = 30.0
    drift_low_c: float = 36.0
    drift_high_c: float = 37.2
    drift_min_count: int = 20

    def __post_init__(self) -> None:
        numbers = [
            (f.name, getattr(self, f.name))
            for f in dataclasses.fields(self)
            if isinstance(getattr(self, f.name), bool)
            or not isinstance(getattr(self, f.name), int | float)
            or not math.isfinite(getattr(self, f.name))
        ]
        if numbers:  # the checks below compare numbers
            check(
                self,
                "thermometer",
                *((False, k, f"a finite number, not {v!r}") for k, v in numbers),
            )
        check(
            self,
            "thermometer",
            (isinstance(self.bus, int) and self.bus >= 0, "bus", "a bus number >= 0"),
            (
                isinstance(self.address, int) and 0x01 <= self.address <= 0x7F,
                "address",
                "a 7-bit address (0x01..0x7F)",
            ),
            (0 < self.sample_hz <= 50, "sample_hz", "in (0, 50]"),
            (self.presence_margin_c > PRESENCE_HYSTERESIS_C, "presence_margin_c", "> 0.5"),
            (isinstance(self.window, int) and self.window >= 2, "window", "an integer >= 2"),
            (self.spread_c > 0, "spread_c", "> 0"),
            (
                self.stable_timeout_s * self.sample_hz >= self.window,
                "stable_timeout_s",
                "at least window / sample_hz seconds",
            ),
            (-1.0 <= self.skin_offset_c <= 5.0, "skin_offset_c", "in -1.0..5.0"),
            (self.plausible_min_c < self.plausible_max_c, "plausible_min_c", "< plausible_max_c"),
            (
                isinstance(self.fault_after, int) and self.fault_after >= 1,
                "fault_after",
                "an integer >= 1",
            ),
            (0 < self.max_correction_c <= 5.0, "max_correction_c", "in (0, 5]"),
            (self.check_days > 0, "check_days", "> 0"),
            (self.drift_low_c < self.drift_high_c, "drift_low_c", "< drift_high_c"),
            (
                isinstance(self.drift_min_count, int) and self.drift_min_count >= 1,
                "drift_min_count",
                "an integer >= 1",
            ),
        )


@dataclass(frozen=True)
class CameraSettings:
    """The camera of one lane: config table ``[lanes.<name>.camera]``.

    :param source: a V4L2 device index (``"0"``) or path (``"/dev/video0"``,
        ``"/dev/v4l/by-id/..."``), ``"picamera2"`` (a Raspberry Pi camera module through the
        picamera2 library), the path of a video file or a folder of images (maintenance and
        benchmarks), or ``"sim"`` (the simulated camera, on simulated hardware only).
        Required on a Pi (``[gate] hardware = "pi"``); unset on simulated hardware is
        ``"sim"``.
    :param width: frame width in pixels requested from the camera.
    :param height: frame height in pixels requested from the camera.
    :param fps: frames per second requested from the camera.
    :param fourcc: V4L2 pixel format as four characters (``"MJPG"`` lets most USB cameras
        deliver 1280x720 at full rate; ``"YUYV"`` is uncompressed); empty keeps the camera's
        default.
    :param debounce_s: the same pass text is reported at most once per this many seconds.
    :param backend: QR decoder, ``"zxing"`` (default: reads more, faster, and dark-mode
        codes) or ``"pyzbar"``.
    :param no_frame_fault_s: raise a camera fault after this many seconds without a frame,
        in seconds; at most 5.
    :param reconnect_max_s: longest wait between attempts to reopen a failed camera, in
        seconds; attempts start at 0.5 s and double up to this.
    """

    source: str = "sim"
    width: int = 640
    height: int = 480
    fps: float = 15.0
    fourcc: str = ""
    debounce_s: float = 3.0
    backend: Literal["zxing", "pyzbar"] = "zxing"
    no_frame_fault_s: float = 3.0
    reconnect_max_s: float = 5.0

    def __post_init__(self) -> None:
        check(
            self,
            "camera",
            (bool(self.source), "source", "must not be empty"),
            (self.width > 0 and self.height > 0, "width/height", "must be positive"),
            (self.fps > 0, "fps", "must be positive"),
            (not self.fourcc or len(self.fourcc) == 4, "fourcc", "must be four characters"),
            (self.debounce_s >= 0, "debounce_s", "must not be negative"),
            (
                0 < self.no_frame_fault_s <= 5,
                "no_frame_fault_s",
                "must be more than 0 and at most 5 seconds",
            ),
            (self.reconnect_max_s >= 0.5, "reconnect_max_s", "must be at least 0.5 seconds"),
        )


@dataclass(frozen=True)
class DoorSettings:
    """``[lanes.<name>.door]``: the door contact and the exit button (pins unset = not fitted)."""

    #: BCM GPIO of the door contact (closed while the door is shut); unset = no contact.
    contact_pin: int | None = None
    #: BCM GPIO of the exit button (request to exit); unset = no button.
    exit_pin: int | None = None
    #: Seconds the door may stay open before ``door.held_open`` alarms.
    held_open_s: float = 30.0
    #: Seconds after a grant (or the relay closing) during which an opening is not forced.
    grant_grace_s: float = 5.0
    #: Debounce of both inputs, seconds.
    bounce_s: float = 0.05

    def __post_init__(self) -> None:
        check(
            self,
            "door",
            *((_pin_ok(getattr(self, k)), k, _PIN) for k in ("contact_pin", "exit_pin")),
            (
                self.contact_pin is None or self.contact_pin != self.exit_pin,
                "exit_pin",
                "must differ from contact_pin",
            ),
            (1.0 <= self.held_open_s <= 3600, "held_open_s", "from 1 to 3600 seconds"),
            (0 <= self.grant_grace_s <= 60, "grant_grace_s", "from 0 to 60 seconds"),
            (0 <= self.bounce_s <= 1, "bounce_s", "from 0 to 1 second"),
        )


@dataclass(frozen=True)
class LaneSettings:
    """``[lanes.<name>]``: one lane: a camera, a thermometer and a relay."""

    #: ``"in"`` (entering the compound) or ``"out"`` (leaving).
    direction: Literal["in", "out"] = "in"
    #: How long (s) the result stays on screen before the lane is idle again.
    result_hold_s: float = 3.0
    #: BCM GPIO of a buzzer that sounds while a fever alarm is not acknowledged (none: unset).
    buzzer_pin: int | None = None
    relay: RelaySettings = field(default_factory=RelaySettings)
    thermometer: ThermometerSettings = field(default_factory=ThermometerSettings)
    camera: CameraSettings = field(default_factory=CameraSettings)
    door: DoorSettings = field(default_factory=DoorSettings)

    def __post_init__(self) -> None:
        check(self, "lane", (_pin_ok(self.buzzer_pin), "buzzer_pin", f"{self.buzzer_pin} {_PIN}"))


@dataclass(frozen=True)
class UISettings:
    """``[ui]``: the guard screen."""

    #: Address to listen on: 127.0.0.1 for the kiosk's own screen, 0.0.0.0 for the LAN.
    host: str = "127.0.0.1"
    port: int = 8080
    #: File holding the session-signing secret; created (0600) when missing. Relative to data_dir.
    secret_file: str = "ui-secret"
    #: Idle minutes before a guard session ends (at least 1).
    session_idle_min: int = 30
    #: Serve the screen over HTTPS with this certificate (PEM, the chain included) and its
    #: key; both or neither. Relative to the config file. Needed on the LAN (host 0.0.0.0).
    tls_cert_file: str = ""
    tls_key_file: str = ""
    #: Demo only: a guard account created at start with this name/password ("" = none).
    demo_user: str = ""
    demo_password: str = ""
    #: Demo only: a maintenance account created at start ("" = none).
    demo_maintenance_user: str = ""
    demo_maintenance_password: str = ""
    #: Where the camera is as the person in front of the resident screen sees it:
    #: ``"below"``, ``"above"``, ``"left"`` or ``"right"`` (the idle screen points there).
    resident_camera: Literal["below", "above", "left", "right"] = "below"

    def __post_init__(self) -> None:
        check(
            self,
            "ui",
            (1 <= self.port <= 65535, "port", f"{self.port} is not a TCP port"),
            (
                self.session_idle_min >= 1,
                "session_idle_min",
                f"{self.session_idle_min}: sessions must last at least 1 idle minute",
            ),
            (
                bool(self.tls_cert_file) == bool(self.tls_key_file),
                "tls_key_file" if self.tls_cert_file else "tls_cert_file",
                "HTTPS needs both tls_cert_file and tls_key_file",
            ),
        )

    @property
    def https(self) -> bool:
        """True when the screen is served over HTTPS."""
        return bool(self.tls_cert_file)


@dataclass(frozen=True)
class VoiceSettings:
    """``[voice]``: spoken prompts for the person at the gate (kiosk/voice/)."""

    #: ``"auto"``: the ALSA output on a Pi, the simulated speaker (records only) on simulated
    #: hardware; ``"alsa"``: the ALSA output (simulated hardware records and plays); ``"sim"``:
    #: record only; ``"off"``: no voice.
    output: Literal["auto", "alsa", "sim", "off"] = "auto"
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
        try:
            parse_hours(self.quiet_hours)
            hours = ""
        except ValueError as exc:
            hours = str(exc)
        check(
            self,
            "voice",
            (bool(self.device.strip()), "device", "an ALSA device name, e.g. 'default'"),
            (0.0 <= self.volume <= 1.0, "volume", "from 0 to 1"),
            (0.0 <= self.quiet_volume <= 1.0, "quiet_volume", "from 0 to 1"),
            (not hours, "quiet_hours", hours),
        )

    @cached_property
    def quiet_window(self) -> tuple[time, time] | None:
        """``quiet_hours`` as ``(start, end)`` local time, ``None`` for none; parsed once."""
        return parse_hours(self.quiet_hours)


@dataclass(frozen=True)
class ParcelSettings:
    """``[parcels]``: the pickup point (取件处) at the gate."""

    #: Parcels uncollected after this many days are listed for the guard.
    overdue_days: int = 3
    #: Takeaway waiting longer than this (minutes) is shown in red.
    takeaway_late_min: int = 30
    #: A second camera at the pickup shelf, in a lane camera's ``source`` syntax
    #: (``"/dev/video2"``, ``"/dev/v4l/by-id/..."``, ``"picamera2"``, ``"sim"`` on simulated
    #: hardware): a household's pass shown to it marks that household's parcels collected.
    #: ``""``: no shelf camera (the guard marks parcels collected).
    shelf_camera: str = ""

    def __post_init__(self) -> None:
        check(
            self,
            "parcels",
            (1 <= self.overdue_days <= 60, "overdue_days", "from 1 to 60"),
            (1 <= self.takeaway_late_min <= 24 * 60, "takeaway_late_min", "from 1 to 1440"),
            (
                self.shelf_camera == self.shelf_camera.strip(),
                "shelf_camera",
                'a camera source without spaces around it, or "" for none',
            ),
        )

    @property
    def shelf(self) -> CameraSettings | None:
        """The shelf camera's settings (a lane camera's defaults, this source), or ``None``
        when there is no shelf camera."""
        return CameraSettings(source=self.shelf_camera) if self.shelf_camera else None


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
    when_unwritable: Literal["decide", "deny"] = "decide"

    def __post_init__(self) -> None:
        check(
            self,
            "journal",
            (self.retention_days >= 1, "retention_days", "at least 1"),
            (self.max_size_mb >= 16, "max_size_mb", "at least 16"),
            (self.min_free_mb >= 0, "min_free_mb", "at least 0"),
            (100 <= self.buffer_events <= 1_000_000, "buffer_events", "from 100 to 1000000"),
        )


@dataclass(frozen=True)
class HoursSettings:
    """``[rules.hours]``: when each kind of pass opens the gate, local time, ``"HH:MM-HH:MM"``
    (``"22:00-06:00"`` spans midnight, ``"24:00"`` is the end of the day); ``""`` = all day."""

    resident: str = ""
    temporary: str = "06:00-22:00"
    worker: str = ""

    def __post_init__(self) -> None:
        problems = []
        for name in ("resident", "temporary", "worker"):
            try:
                parse_hours(getattr(self, name))
            except ValueError as exc:
                problems.append((False, name, str(exc)))
        check(self, "hours", *problems)

    @cached_property
    def windows(self) -> dict[str, tuple[time, time] | None]:
        """Pass kind -> ``(start, end)`` local time, ``None`` all day; parsed once."""
        return {
            name: parse_hours(getattr(self, name)) for name in ("resident", "temporary", "worker")
        }


@dataclass(frozen=True)
class RulesSettings:
    """``[rules]``: the compound's gate rules beyond the pass and the temperature."""

    #: ``"deny"``: a household under home observation cannot pass out (amber alert with the
    #: end date); ``"warn"``: let them out and warn the guard; ``"off"``.
    home_observation: Literal["deny", "warn", "off"] = "deny"
    #: ``"off"``; ``"soft"``: a pass used twice the same way is let through and the guard is
    #: warned; ``"hard"``: it is denied (ANTI_PASSBACK).
    anti_passback: Literal["off", "soft", "hard"] = "soft"
    #: ``"direction"``: a pass that went in cannot go in again until it went out (and the
    #: other way round); ``"window"``: not the same way twice within ``anti_passback_window_s``;
    #: ``"auto"``: direction when the gate has an ``out`` lane, else window.
    anti_passback_by: Literal["auto", "direction", "window"] = "auto"
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
    clock_check: Literal["adjtimex", "timedatectl", "off"] = "adjtimex"
    #: Seconds between clock checks.
    clock_check_s: float = 60.0
    #: With an unsynchronised clock: ``"warn"`` (trust it, warn the guard, record it in each
    #: decision); ``"ignore_validity"`` (also let expired / not-yet-valid passes through as a
    #: warning); ``"deny"`` (deny every pass: the guard opens by hand).
    untrusted_clock: Literal["warn", "ignore_validity", "deny"] = "warn"
    hours: HoursSettings = field(default_factory=HoursSettings)

    def __post_init__(self) -> None:
        try:
            parse_clock_time(self.temporary_until)
            until = ""
        except ValueError as exc:
            until = str(exc)
        check(
            self,
            "rules",
            (self.anti_passback_window_s > 0, "anti_passback_window_s", "must be positive"),
            (self.anti_passback_reset_h > 0, "anti_passback_reset_h", "must be positive"),
            (0 <= self.exit_quota <= 100, "exit_quota", "0 (no quota) to 100 outings"),
            (1 <= self.exit_quota_days <= 14, "exit_quota_days", "1 to 14 days"),
            (
                0 < self.temporary_max_h <= 24 * 14,
                "temporary_max_h",
                "more than 0, at most 336 hours",
            ),
            (self.clock_check_s > 0, "clock_check_s", "must be positive"),
            (not until, "temporary_until", until),
        )

    @property
    def keep(self) -> timedelta:
        """How long the rules need to remember passages."""
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


def load_or_default(path: str | Path | None, *, demo: bool = False) -> Config:
    """:func:`load` *path*, or when ``None`` the system's (*demo*: the demo's) file."""
    return load(path if path is not None else DEMO_CONFIG if demo else SYSTEM_CONFIG)


def load(path: str | Path) -> Config:
    """Load and check *path*.

    :raises ConfigError: the file is missing or not TOML, or keys or values are wrong; the
        message has one line per problem, each naming the file and the key.
    """
    path = Path(path)
    return from_dict(schema.read_toml(path, ConfigError, "configuration"), path)


def from_dict(raw: dict[str, Any], path: Path | None = None) -> Config:
    """Build a :class:`Config` from parsed TOML; *path* is used in messages and paths.

    :raises ConfigError: every problem at once, one line each.
    """
    where = str(path) if path else "<config>"
    problems: list[str] = []
    raw = dict(raw)
    lanes_raw = raw.pop("lanes", None)
    cfg = schema.build(Config, raw, "", where, problems, skip={"lanes", "path"})
    lanes = {}
    if lanes_raw is not None:
        if not isinstance(lanes_raw, dict) or not lanes_raw:
            problems.append(f"{where}: [lanes] must have at least one [lanes.<name>] table")
            lanes_raw = {}
        for name, table in lanes_raw.items():
            if not name.isidentifier() or len(name) > 32:
                problems.append(f"{where}: [lanes.{name}]: a lane name is a short identifier")
                continue
            lanes[name] = schema.build(LaneSettings, table, f"lanes.{name}", where, problems)
    if cfg is not schema.FAILED and schema.FAILED not in lanes.values():
        if lanes_raw is not None:
            cfg = dataclasses.replace(cfg, lanes=lanes)
        problems += _lane_problems(cfg, lanes_raw or {}, where)
        problems += _shelf_problems(cfg, where)
    if problems:
        raise ConfigError("\n".join(problems))
    return dataclasses.replace(cfg, path=path.resolve() if path else None)


def _lane_problems(cfg: Config, lanes_raw: dict, where: str) -> list[str]:
    """What no single table can see: a Pi lane without its camera named, and two lanes on
    one thermometer."""
    problems, taken = [], {}
    for name, lane in cfg.lanes.items():
        given = (lanes_raw.get(name) or {}).get("camera") or {}
        if cfg.gate.hardware == "pi" and "source" not in given:
            problems.append(
                f"{where}: [lanes.{name}.camera] source: required on a Pi (hardware = 'pi'), "
                'e.g. "/dev/video0" or "picamera2"'
            )
        t = lane.thermometer
        other = taken.setdefault((t.bus, t.address), name)
        if other != name:
            problems.append(
                f"{where}: [lanes.{name}.thermometer] address: bus {t.bus} address "
                f"{t.address:#04x} is already used by lane {other!r}"
            )
    return problems


def _shelf_problems(cfg: Config, where: str) -> list[str]:
    """The shelf camera: the simulated one only on simulated hardware, and never a device a
    lane reads already (two readers cannot share one camera)."""
    source = cfg.parcels.shelf_camera
    if not source:
        return []
    if source == "sim" and cfg.gate.hardware != "sim":
        return [
            f"{where}: [parcels] shelf_camera: 'sim' needs [gate] hardware = 'sim'; on a Pi "
            'name the camera, e.g. "/dev/video2"'
        ]
    for name, lane in cfg.lanes.items():
        if source != "sim" and lane.camera.source.strip() == source:
            return [
                f"{where}: [parcels] shelf_camera: {source!r} is already the camera of lane "
                f"{name!r}; the shelf needs a camera of its own"
            ]
    return []
