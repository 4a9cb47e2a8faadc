"""An emulated MLX90614 for the fake SMBus (:mod:`kiosk.sim.smbus`), so the real driver runs
without hardware.

:class:`EmulatedMLX90614` behaves like the datasheet (Melexis 3901090614) says the sensor
does: RAM and EEPROM maps, PEC on every read, PEC required on every write, EEPROM cells that
must be erased before writing and that are busy for 5 ms afterwards, the bit-15 error flag,
and an object output that follows the scene through the sensor's filter. Faults can be
switched on and off while it runs, and everything it did is recorded.

Example::

    bus = FakeSMBus()               # kiosk.sim.smbus
    sensor = EmulatedMLX90614(clock=clock, seed=1)
    bus.attach(sensor)
    sensor.object_c = 35.6          # someone steps in front of it
    sensor.oserror_rate = 0.05      # and the cable is long
"""

from __future__ import annotations

import errno
import math
import random
import threading
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any

from kiosk.clock import SystemClock
from kiosk.sensors.mlx90614 import (
    CMD_READ_FLAGS,
    DEFAULT_ADDRESS,
    EEPROM_ACCESS,
    EEPROM_CONFIG1,
    EEPROM_EMISSIVITY,
    EEPROM_ID,
    EEPROM_PWMCTRL,
    EEPROM_SMBUS_ADDRESS,
    EEPROM_TA_RANGE,
    EEPROM_TO_MAX,
    EEPROM_TO_MIN,
    ERROR_FLAG,
    RAM_RAW_IR1,
    RAM_RAW_IR2,
    RAM_TA,
    RAM_TOBJ1,
    RAM_TOBJ2,
    TA_VALID,
    TOBJ_VALID,
    ZERO_CELSIUS_K,
    celsius_to_word,
    pec,
    word_to_celsius,
)
from kiosk.sim.smbus import bus_error

#: Seconds an EEPROM erase or write keeps the cell busy (datasheet: 5 ms).
EEPROM_BUSY_S = 0.005

#: EEPROM cells the emulator lets an application write (the app note: in application mode
#: only a few cells are writable, "an attempt to write not accessible EEPROM cell results in
#: no change"); the rest hold factory calibration.
WRITABLE_EEPROM = frozenset(
    {
        EEPROM_TO_MAX,
        EEPROM_TO_MIN,
        EEPROM_PWMCTRL,
        EEPROM_TA_RANGE,
        EEPROM_EMISSIVITY,
        EEPROM_CONFIG1,
        EEPROM_SMBUS_ADDRESS,
    }
)

#: Config register 1 as read from MLX90614xAA parts: IIR bits 2:0 = 100 (IIR bypassed,
#: a1 = 1), FIR bits 10:8 = 111 (N = 1024).
DEFAULT_CONFIG1 = 0x9FB4

#: -3 dB frequency of the object filter in Hz for each value of config bits 2:0 (the IIR
#: setting) with the FIR at 1024, as tabulated from the datasheet in the Linux IIO driver
#: ``drivers/iio/temperature/mlx90614.c``.
IIR_3DB_HZ = (0.77, 0.31, 0.20, 0.15, 7.23, 1.53, 1.10, 0.86)


@dataclass(frozen=True)
class Record:
    """One thing the emulated sensor did.

    :param t: monotonic time from its clock, in seconds.
    :param kind: ``"read"``, ``"write"``, ``"erase"``, or what went wrong (``"fault"``,
        ``"write_bad_pec"``, ``"write_no_pec"``, ``"write_while_busy"``,
        ``"write_protected"``, ``"write_ram"``, ``"read_busy"``, ``"read_no_command"``).
    :param command: the SMBus command, or ``None``.
    :param value: the word read or written, or ``None``.
    :param fault: the injected fault that was served, or ``None``.
    """

    t: float
    kind: str
    command: int | None = None
    value: int | None = None
    fault: str | None = None


def _time_constant_s(config1: int) -> float:
    """The object filter's time constant in seconds for config register 1's IIR bits."""
    return 1.0 / (2.0 * math.pi * IIR_3DB_HZ[config1 & 0x7])


class _Scene:
    """A scene value of the emulated sensor (a float attribute): setting it first brings the
    IR filter up to the clock's time, so the filter settles from the old value."""

    def __set_name__(self, owner, name: str) -> None:
        self.attr = "_" + name

    def __get__(self, sensor, owner=None):
        return self if sensor is None else getattr(sensor, self.attr)

    def __set__(self, sensor, value: float) -> None:
        with sensor._lock:
            sensor._update_signal()
            setattr(sensor, self.attr, float(value))


class EmulatedMLX90614:
    """A behavioural MLX90614: registers, PEC, EEPROM timing, settling, noise and faults.

    **The scene.** :attr:`object_c` is what the sensor is pointed at, in °C, as a black body
    would read with the factory emissivity 1.0; :attr:`object_emissivity` is the target's own
    emissivity (1.0 by default, so a reading with the factory setting equals
    :attr:`object_c`); :attr:`ambient_c` is the sensor's own (die) temperature.

    **Emissivity, to first order.** The thermopile sees ``e_obj * (To^4 - Ta^4)`` (kelvin);
    the sensor divides by its emissivity setting ``e`` and reports ``(Ta^4 + e_obj/e *
    (To^4 - Ta^4)) ** 0.25``. A setting below the target's emissivity reads high.

    **Settling.** The object output follows the scene as a first-order low pass with time
    constant ``tau = 1 / (2 pi f)``, where ``f`` is the -3 dB frequency of the filter set in
    config register 1 (:data:`IIR_3DB_HZ`). With the factory config (:data:`DEFAULT_CONFIG1`,
    IIR bypassed, FIR 1024, f = 7.23 Hz) tau is 22 ms, so a step settles to 1 % in about
    0.1 s. It is driven by the clock's ``monotonic()``, so a :class:`~kiosk.clock.FakeClock`
    controls it. The ambient output follows the scene at once.

    **Noise.** Each object read adds Gaussian noise with standard deviation :attr:`noise_c`
    (°C) from a generator seeded with *seed*, then rounds to the 0.02 K resolution.

    **EEPROM.** Only the writable cells change; every write needs its PEC (over
    ``[addr<<1, command, LSB, MSB]``) or it is ignored; writing 0x0000 erases; writing over a
    cell that was not erased stores the bitwise OR of old and new (programming can only set
    bits; only an erase clears them), which is the wrong value the datasheet warns about.
    After an erase or write the EEPROM is busy for :data:`EEPROM_BUSY_S`: the flags word
    shows EEBUSY, a further write is ignored, and the cell being written reads 0x0000 (with
    a valid PEC). The datasheet only says the cell needs 5 ms; reading 0x0000 during the
    cycle is what has been reported on the bench, and the EEBUSY flag implies the device
    keeps answering rather than NACKing. The SMBus address cell takes effect at
    :meth:`power_cycle`.

    **Faults**, plain attributes to switch at run time (:meth:`clear_faults` resets all):

    * ``error_flag``: temperature words come with bit 15 set.
    * ``bad_pec``: every PEC byte sent is wrong.
    * ``oserror_once``: the next transaction fails with ``OSError(EREMOTEIO)``, then clears.
    * ``oserror_always``: every transaction fails with ``OSError(EREMOTEIO)``.
    * ``oserror_rate``: each transaction fails with this probability (seeded).
    * ``stuck``: temperature words freeze at the values they had when first read stuck.
    * ``unplugged``: the address stops answering (``OSError(EREMOTEIO)``).

    :param address: 7-bit SMBus address; also stored in EEPROM 0x0E.
    :param clock: gives ``monotonic()``; a :class:`~kiosk.clock.SystemClock` if ``None``.
    :param seed: seeds noise, fault draws and the ID number; ``None`` for fresh randomness.
    :param noise_c: standard deviation of the object noise in °C.
    :param object_c: the initial scene object temperature in °C.
    :param ambient_c: the initial ambient temperature in °C.
    :param log_size: how many :class:`Record` entries :attr:`log` keeps.
    """

    FAULTS = (
        "error_flag",
        "bad_pec",
        "oserror_once",
        "oserror_always",
        "oserror_rate",
        "stuck",
        "unplugged",
    )

    def __init__(
        self,
        address: int = DEFAULT_ADDRESS,
        *,
        clock: Any = None,
        seed: int | None = None,
        noise_c: float = 0.05,
        object_c: float = 22.0,
        ambient_c: float = 22.0,
        log_size: int = 1000,
    ) -> None:
        self._clock = clock if clock is not None else SystemClock()
        self._lock = threading.RLock()
        self._noise_rng = random.Random(seed)
        self._fault_rng = random.Random(None if seed is None else f"{seed}:faults")
        id_rng = random.Random(None if seed is None else f"{seed}:id")
        self._address = address
        self._eeprom = [0] * 32
        self._eeprom[EEPROM_TO_MAX] = 0x9993
        self._eeprom[EEPROM_TO_MIN] = 0x62E3
        self._eeprom[EEPROM_PWMCTRL] = 0x0201
        self._eeprom[EEPROM_TA_RANGE] = 0xF71C
        self._eeprom[EEPROM_EMISSIVITY] = 0xFFFF
        self._eeprom[EEPROM_CONFIG1] = DEFAULT_CONFIG1
        self._eeprom[EEPROM_SMBUS_ADDRESS] = address
        for cell in EEPROM_ID:
            self._eeprom[cell] = id_rng.randrange(0x10000)
        self._busy_until = -math.inf
        self._busy_cell: int | None = None
        self._pending: int | None = None
        self._object_c = object_c
        self._ambient_c = ambient_c
        self._object_emissivity = 1.0
        self._signal: float | None = None  # filtered IR signal, K^4
        self._signal_t = 0.0
        self._frozen: dict[int, int] = {}
        self.noise_c = noise_c
        self.log: deque[Record] = deque(maxlen=log_size)
        self.counts: Counter[str] = Counter()
        self.clear_faults()

    # -- the scene ----------------------------------------------------------------------

    @property
    def address(self) -> int:
        """The 7-bit address the sensor answers at."""
        return self._address

    #: Scene: the object temperature in °C (as a black body would read).
    object_c = _Scene()
    #: Scene: the sensor's ambient (die) temperature in °C.
    ambient_c = _Scene()
    #: Scene: the target's own emissivity (human skin is about 0.98).
    object_emissivity = _Scene()

    @property
    def time_constant_s(self) -> float:
        """The object filter's time constant in seconds, from config register 1."""
        with self._lock:
            return _time_constant_s(self._committed(EEPROM_CONFIG1))

    def clear_faults(self) -> None:
        """Switch every injected fault off."""
        self.error_flag = False
        self.bad_pec = False
        self.oserror_once = False
        self.oserror_always = False
        self.oserror_rate = 0.0
        self.stuck = False
        self.unplugged = False

    def power_cycle(self) -> None:
        """Power off and on: finish any EEPROM write, take the address from EEPROM 0x0E,
        and restart the filter from the scene."""
        with self._lock:
            self._settle_eeprom(math.inf)
            self._address = self._eeprom[EEPROM_SMBUS_ADDRESS] & 0x7F
            self._signal = None
            self._frozen.clear()

    def eeprom_word(self, cell: int) -> int:
        """The committed content of EEPROM *cell* (0..31), for tests; no side effects."""
        with self._lock:
            return self._committed(cell)

    def expected_object_c(self) -> float:
        """The noise-free object output now, rounded to the 0.02 K resolution, in °C."""
        with self._lock:
            self._update_signal()
            return word_to_celsius(celsius_to_word(self._object_output_c()))

    # -- SMBus side ---------------------------------------------------------------------

    def smbus_read(self, command: int | None, length: int) -> bytes:
        """A read with a repeated start: LSB, MSB, PEC, then 0xFF (the idle bus)."""
        with self._lock:
            now = self._clock.monotonic()
            self._serve_bus_faults(now, command)
            if command is None:
                self._record(now, "read_no_command")
                raise bus_error(errno.EREMOTEIO)
            word = self._word(command, now)
            lsb, msb = word & 0xFF, word >> 8
            addr = self._address
            code = pec(bytes((addr << 1, command, (addr << 1) | 1, lsb, msb)))
            fault = None
            if self.bad_pec:
                code ^= 0xA5
                fault = "bad_pec"
                self.counts["fault:bad_pec"] += 1
            self.counts["read"] += 1
            self._record(now, "read", command, word, fault)
            data = bytes((lsb, msb, code)) + b"\xff" * max(0, length - 3)
            return data[:length]

    def smbus_write(self, data: bytes) -> None:
        """A write transaction: command, LSB, MSB, PEC."""
        with self._lock:
            now = self._clock.monotonic()
            command = data[0] if data else None
            self._serve_bus_faults(now, command)
            self._settle_eeprom(now)
            if command is None or command & 0xE0 != EEPROM_ACCESS:
                self._record(now, "write_ram", command)
                return
            if len(data) != 4:
                self._record(now, "write_no_pec", command)
                return
            _, lsb, msb, code = data
            value = lsb | (msb << 8)
            if pec(bytes((self._address << 1, command, lsb, msb))) != code:
                self._record(now, "write_bad_pec", command, value)
                return
            cell = command & 0x1F
            if now < self._busy_until:
                self._record(now, "write_while_busy", command, value)
                return
            if cell not in WRITABLE_EEPROM:
                self._record(now, "write_protected", command, value)
                return
            self._busy_cell = cell
            self._busy_until = now + EEPROM_BUSY_S
            self._pending = 0 if value == 0 else self._eeprom[cell] | value
            kind = "erase" if value == 0 else "write"
            self.counts[kind] += 1
            self._record(now, kind, command, value)

    # -- inside -------------------------------------------------------------------------

    def _record(self, t: float, kind: str, command=None, value=None, fault=None) -> None:
        self.log.append(Record(t, kind, command, value, fault))

    def _serve_bus_faults(self, now: float, command: int | None) -> None:
        fault = None
        if self.unplugged:
            fault = "unplugged"
        elif self.oserror_always:
            fault = "oserror_always"
        elif self.oserror_once:
            self.oserror_once = False
            fault = "oserror_once"
        elif self.oserror_rate and self._fault_rng.random() < self.oserror_rate:
            fault = "oserror_rate"
        if fault is not None:
            self.counts[f"fault:{fault}"] += 1
            self._record(now, "fault", command, None, fault)
            raise bus_error(errno.EREMOTEIO)

    def _settle_eeprom(self, now: float) -> None:
        if self._busy_cell is not None and now >= self._busy_until:
            self._eeprom[self._busy_cell] = self._pending
            self._busy_cell = None
            self._pending = None

    def _committed(self, cell: int) -> int:
        self._settle_eeprom(self._clock.monotonic())
        return self._eeprom[cell]

    def _word(self, command: int, now: float) -> int:
        if command == CMD_READ_FLAGS:
            self._settle_eeprom(now)
            eebusy = 0x80 if now < self._busy_until else 0
            return eebusy | 0x10  # INIT high: power-on initialisation finished
        cell = command & 0x1F
        if command & 0xE0 == EEPROM_ACCESS:
            self._settle_eeprom(now)
            if cell == self._busy_cell:
                self._record(now, "read_busy", command, 0)
                return 0x0000
            return self._eeprom[cell]
        if command & 0xE0 != 0:
            return 0xFFFF  # an opcode the sensor does not know: SDA stays high
        if cell in (RAM_TA, RAM_TOBJ1, RAM_TOBJ2):
            if self.stuck:
                word = self._frozen.setdefault(cell, self._temperature_word(cell))
            else:
                self._frozen.clear()
                word = self._temperature_word(cell)
            return word | ERROR_FLAG if self.error_flag else word
        if cell in (RAM_RAW_IR1, RAM_RAW_IR2):
            # Sign and magnitude, growing with the IR signal; the scale is made up (the real
            # one depends on factory calibration), only its sign and trend are meaningful.
            self._update_signal()
            signal = self._signal_now()
            magnitude = min(0x7FFF, round(abs(signal) / 1e5))
            return magnitude | (0x8000 if signal < 0 else 0)
        return 0x0000

    def _temperature_word(self, cell: int) -> int:
        if cell == RAM_TA:
            low, high = TA_VALID
            return max(low, min(high, celsius_to_word(self._ambient_c)))
        self._update_signal()
        celsius = self._object_output_c()
        if self.noise_c:
            celsius += self._noise_rng.gauss(0.0, self.noise_c)
        word = celsius_to_word(celsius)
        low, high = TOBJ_VALID
        if not low <= word <= high:
            return ERROR_FLAG | max(0, min(0x7FFF, word))  # outside linearisation
        return word

    def _target_signal(self) -> float:
        to = self._object_c + ZERO_CELSIUS_K
        ta = self._ambient_c + ZERO_CELSIUS_K
        return self._object_emissivity * (to**4 - ta**4)

    def _signal_now(self) -> float:
        return self._signal if self._signal is not None else self._target_signal()

    def _update_signal(self) -> None:
        """Advance the first-order filter of the IR signal to the clock's time."""
        now = self._clock.monotonic()
        target = self._target_signal()
        if self._signal is None:
            self._signal = target
        else:
            dt = max(0.0, now - self._signal_t)
            tau = _time_constant_s(self._eeprom[EEPROM_CONFIG1])
            self._signal = target + (self._signal - target) * math.exp(-dt / tau)
        self._signal_t = now

    def _object_output_c(self) -> float:
        emissivity = self._eeprom[EEPROM_EMISSIVITY] / 0xFFFF
        ta = self._ambient_c + ZERO_CELSIUS_K
        k4 = ta**4 + self._signal_now() / max(emissivity, 1e-6)
        return math.copysign(abs(k4) ** 0.25, k4) - ZERO_CELSIUS_K
