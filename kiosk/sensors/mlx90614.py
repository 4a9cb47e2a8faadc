"""Driver for the Melexis MLX90614 infrared thermometer on SMBus (I2C).

The driver never opens a bus: it takes an smbus2 :class:`~smbus2.SMBus` (or anything with
the same ``i2c_rdwr`` method, such as :class:`kiosk.sim.smbus.FakeSMBus`) so the daemon
can share one bus between devices and tests can run it against the emulated sensor.

Gotchas, all from the datasheet (Melexis 3901090614) unless noted:

* Do not run the MLX90614 bus above 100 kHz (``dtparam=i2c_arm_baudrate=100000`` on a
  Raspberry Pi). The device stretches the clock, which the Pi's I2C controller handles badly;
  that shows up as sporadic ``OSError: [Errno 121] Remote I/O error``. Reads are therefore
  retried a bounded number of times.
* Every read is a word read with a repeated start, followed by a PEC byte (SMBus Packet Error
  Code): CRC-8, polynomial x^8 + x^2 + x + 1 (0x07), initial value 0, over every byte on the
  wire: ``[addr<<1, command, addr<<1 | 1, LSB, MSB]``. The driver checks it on every read, so
  a bit flipped on a long cable is a retry, never a wrong temperature.
* Every EEPROM write must carry a PEC over ``[addr<<1, command, LSB, MSB]``; a cell must be
  erased (written with 0x0000) before a new value is written, and each erase or write takes
  5 ms, during which the cell cannot be read back.
* Bit 15 of a linearised temperature word is an error flag; a set flag is a fault, not a
  temperature.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from smbus2 import i2c_msg

from kiosk.errors import CalibrationError, SensorError

#: The factory default 7-bit SMBus address.
DEFAULT_ADDRESS = 0x5A

#: RAM access is command ``0x00 | address``.
RAM_ACCESS = 0x00
#: EEPROM access is command ``0x20 | address``.
EEPROM_ACCESS = 0x20

#: RAM: raw data, IR channel 1 (sign and magnitude).
RAM_RAW_IR1 = 0x04
#: RAM: raw data, IR channel 2 (dual-zone parts only).
RAM_RAW_IR2 = 0x05
#: RAM: ambient (sensor die) temperature, 0.02 K per LSB.
RAM_TA = 0x06
#: RAM: object temperature, zone 1, 0.02 K per LSB.
RAM_TOBJ1 = 0x07
#: RAM: object temperature, zone 2 (dual-zone parts only), 0.02 K per LSB.
RAM_TOBJ2 = 0x08

#: EEPROM: To_max (PWM range).
EEPROM_TO_MAX = 0x00
#: EEPROM: To_min (PWM range).
EEPROM_TO_MIN = 0x01
#: EEPROM: PWM control.
EEPROM_PWMCTRL = 0x02
#: EEPROM: Ta range (PWM).
EEPROM_TA_RANGE = 0x03
#: EEPROM: emissivity correction coefficient, ``round(65535 * e)``.
EEPROM_EMISSIVITY = 0x04
#: EEPROM: configuration register 1 (IIR and FIR filters, gain, sensor selection).
EEPROM_CONFIG1 = 0x05
#: EEPROM: SMBus address (low byte only; takes effect after a power cycle).
EEPROM_SMBUS_ADDRESS = 0x0E
#: EEPROM: the four words of the factory ID number.
EEPROM_ID = (0x1C, 0x1D, 0x1E, 0x1F)

#: Command: read the flags word (EEBUSY is bit 7).
CMD_READ_FLAGS = 0xF0
#: Command: enter sleep mode (not available on 5 V parts).
CMD_SLEEP = 0xFF

#: Commands ready to use.
CMD_TA = RAM_ACCESS | RAM_TA
CMD_TOBJ1 = RAM_ACCESS | RAM_TOBJ1
CMD_TOBJ2 = RAM_ACCESS | RAM_TOBJ2
CMD_EMISSIVITY = EEPROM_ACCESS | EEPROM_EMISSIVITY
CMD_CONFIG1 = EEPROM_ACCESS | EEPROM_CONFIG1
CMD_SMBUS_ADDRESS = EEPROM_ACCESS | EEPROM_SMBUS_ADDRESS

#: Kelvin per LSB of a linearised temperature word.
KELVIN_PER_LSB = 0.02
#: 0 °C in kelvin.
ZERO_CELSIUS_K = 273.15
#: Bit 15 of a linearised temperature word: the error flag (active high).
ERROR_FLAG = 0x8000
#: Valid object temperature words: 0x27AD (-70.01 °C) to 0x7FFF (+382.19 °C).
TOBJ_VALID = (0x27AD, 0x7FFF)
#: Valid ambient temperature words: 0x2DE4 (-38.2 °C) to 0x4DC4 (+125 °C).
TA_VALID = (0x2DE4, 0x4DC4)

#: Emissivity range the driver accepts (the datasheet's range for the coefficient).
EMISSIVITY_RANGE = (0.1, 1.0)
#: Seconds to wait after an EEPROM erase or write; the datasheet says 5 ms, this adds margin.
EEPROM_WRITE_S = 0.010

_REGISTER_NAMES = {
    CMD_TA: "Ta (RAM 0x06)",
    CMD_TOBJ1: "Tobj1 (RAM 0x07)",
    CMD_TOBJ2: "Tobj2 (RAM 0x08)",
    CMD_EMISSIVITY: "emissivity (EEPROM 0x04)",
    CMD_CONFIG1: "config 1 (EEPROM 0x05)",
    CMD_SMBUS_ADDRESS: "SMBus address (EEPROM 0x0E)",
}


def pec(data: bytes) -> int:
    """The SMBus Packet Error Code of *data*: CRC-8, polynomial 0x07, initial value 0.

    The datasheet's example read of Tobj1 from address 0x5A, ``B4 07 B5 D2 3A``, gives 0x30.

    :param data: every byte on the wire before the PEC, address bytes included.
    :return: the PEC byte, 0..255.
    """
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def word_to_celsius(word: int) -> float:
    """Convert a linearised temperature word (0.02 K per LSB) to °C.

    :param word: the 16-bit word, error flag clear.
    :return: temperature in °C.
    """
    return word * KELVIN_PER_LSB - ZERO_CELSIUS_K


def celsius_to_word(celsius: float) -> int:
    """Convert °C to the nearest linearised temperature word (0.02 K per LSB).

    :param celsius: temperature in °C.
    :return: the word, not range-checked.
    """
    return round((celsius + ZERO_CELSIUS_K) / KELVIN_PER_LSB)


def register_name(command: int) -> str:
    """A readable name for an SMBus *command*, for messages."""
    if command in _REGISTER_NAMES:
        return _REGISTER_NAMES[command]
    area = "EEPROM" if command & 0xE0 == EEPROM_ACCESS else "RAM"
    return f"{area} 0x{command & 0x1F:02X}"


@dataclass(frozen=True)
class Reading:
    """One pair of temperatures read from the sensor.

    :param object_c: object temperature (what the sensor is pointed at) in °C.
    :param ambient_c: ambient temperature (the sensor die) in °C.
    """

    object_c: float
    ambient_c: float


class _BadPec(Exception):
    """Internal: a word arrived with a PEC that does not match; retried."""


class MLX90614:
    """One MLX90614 on an SMBus.

    Methods are thread-safe. Devices on the same bus should share one *lock* so that their
    transactions never interleave; without one, each device has its own.

    :param bus: an open smbus2 ``SMBus`` or anything with its ``i2c_rdwr`` method. The caller
        owns it and closes it. Do not run the MLX90614 bus above 100 kHz.
    :param address: 7-bit SMBus address, 0x5A from the factory.
    :param retries: how many times a failed transaction (``OSError`` or bad PEC) is retried
        before :class:`~kiosk.errors.SensorError` is raised; 0 disables retrying.
    :param retry_pause_s: seconds to wait between attempts.
    :param sleep: ``time.sleep`` or a stand-in; used for retry pauses and EEPROM write waits.
    :param lock: a lock shared by every device on the same bus, or ``None``.
    """

    def __init__(
        self,
        bus: Any,
        address: int = DEFAULT_ADDRESS,
        *,
        retries: int = 3,
        retry_pause_s: float = 0.005,
        sleep: Callable[[float], None] = time.sleep,
        lock: threading.Lock | threading.RLock | None = None,
    ) -> None:
        if not 0x01 <= address <= 0x7F:
            raise ValueError(f"SMBus address 0x{address:02X} is not a 7-bit address")
        if retries < 0:
            raise ValueError("retries must be 0 or more")
        if retry_pause_s < 0:
            raise ValueError("retry_pause_s must be 0 or more")
        self._bus = bus
        self._address = address
        self._retries = retries
        self._retry_pause_s = retry_pause_s
        self._sleep = sleep
        self._lock = lock if lock is not None else threading.Lock()
        self._eeprom_lock = threading.Lock()

    @property
    def address(self) -> int:
        """The 7-bit SMBus address this driver talks to."""
        return self._address

    def __repr__(self) -> str:
        return f"<MLX90614 at 0x{self._address:02X}>"

    # -- temperatures -------------------------------------------------------------------

    def read(self) -> Reading:
        """Read the object (zone 1) and ambient temperatures.

        :return: a :class:`Reading` in °C.
        :raises SensorError: the sensor did not answer after the retries, or answered with an
            error flag or a word outside the valid range.
        """
        ambient_c = self.read_ambient_c()
        object_c = self.read_object_c()
        return Reading(object_c=object_c, ambient_c=ambient_c)

    def read_object_c(self) -> float:
        """Object temperature (zone 1, RAM 0x07) in °C.

        :raises SensorError: see :meth:`read`.
        """
        return self._read_temperature(CMD_TOBJ1, TOBJ_VALID)

    def read_ambient_c(self) -> float:
        """Ambient (sensor die) temperature (RAM 0x06) in °C.

        :raises SensorError: see :meth:`read`.
        """
        return self._read_temperature(CMD_TA, TA_VALID)

    def _read_temperature(self, command: int, valid: tuple[int, int]) -> float:
        word = self.read_word(command)
        if word & ERROR_FLAG:
            raise SensorError(
                f"{self!r}: {register_name(command)} has its error flag set "
                f"(word 0x{word:04X}); the sensor reports no valid temperature"
            )
        low, high = valid
        if not low <= word <= high:
            raise SensorError(
                f"{self!r}: {register_name(command)} word 0x{word:04X} "
                f"({word_to_celsius(word):.2f} °C) is outside the valid range "
                f"0x{low:04X}..0x{high:04X}"
            )
        return word_to_celsius(word)

    # -- emissivity ---------------------------------------------------------------------

    def read_emissivity(self) -> float:
        """The emissivity setting, 0.1..1.0 (1.0 from the factory).

        :raises SensorError: the sensor did not answer, or the cell holds a value below 0.1
            (an interrupted write leaves 0x0000 behind).
        """
        raw = self.read_word(CMD_EMISSIVITY)
        value = raw / 0xFFFF
        if value < EMISSIVITY_RANGE[0]:
            raise SensorError(
                f"{self!r}: {register_name(CMD_EMISSIVITY)} holds 0x{raw:04X} "
                f"(emissivity {value:.3f}), below {EMISSIVITY_RANGE[0]}; rewrite it"
            )
        return value

    def write_emissivity(self, emissivity: float) -> None:
        """Store a new emissivity in EEPROM, following the datasheet's procedure.

        Erase the cell (write 0x0000 with its PEC), wait :data:`EEPROM_WRITE_S`, write
        ``round(65535 * emissivity)`` with its PEC, wait again, read back and compare. Nothing
        is written when the cell already holds the value (EEPROM wears out). The new value is
        used by the sensor at once; the datasheet recommends a power cycle after writing.

        :param emissivity: 0.1..1.0; human skin is about 0.98.
        :raises CalibrationError: *emissivity* is not a number in 0.1..1.0.
        :raises SensorError: a transaction failed after the retries, or the value read back
            differs from the value written.
        """
        low, high = EMISSIVITY_RANGE
        if (
            isinstance(emissivity, bool)
            or not isinstance(emissivity, (int, float))
            or not math.isfinite(emissivity)
        ):
            raise CalibrationError(f"emissivity must be a number in {low}..{high}")
        if not low <= emissivity <= high:
            raise CalibrationError(f"emissivity {emissivity} is outside {low}..{high}")
        raw = round(emissivity * 0xFFFF)
        with self._eeprom_lock:
            if self.read_word(CMD_EMISSIVITY) == raw:
                return
            self.write_eeprom_word(CMD_EMISSIVITY, raw)

    def write_eeprom_word(self, command: int, value: int) -> None:
        """Erase an EEPROM cell, write *value*, wait, read back and verify.

        Only for the cells the datasheet lets an application write (To range, PWM, Ta range,
        emissivity, config 1, SMBus address); the others hold factory calibration.

        :param command: the EEPROM access command, ``0x20 | address``.
        :param value: 16-bit word.
        :raises SensorError: a transaction failed or the read-back differs.
        """
        if command & 0xE0 != EEPROM_ACCESS:
            raise ValueError(f"command 0x{command:02X} is not an EEPROM access command")
        if not 0 <= value <= 0xFFFF:
            raise ValueError(f"value {value} is not a 16-bit word")
        self._write_word(command, 0x0000)
        self._sleep(EEPROM_WRITE_S)
        self._write_word(command, value)
        self._sleep(EEPROM_WRITE_S)
        got = self.read_word(command)
        if got != value:
            raise SensorError(
                f"{self!r}: wrote 0x{value:04X} to {register_name(command)} "
                f"but read back 0x{got:04X}"
            )

    # -- words --------------------------------------------------------------------------

    def read_word(self, command: int) -> int:
        """Read one 16-bit word with its PEC, retrying bus errors and PEC mismatches.

        The transaction is a write of *command*, a repeated start, and a read of three bytes
        (LSB, MSB, PEC); the PEC is checked over ``[addr<<1, command, addr<<1|1, LSB, MSB]``.

        :param command: RAM (``0x00 | address``) or EEPROM (``0x20 | address``) access.
        :return: the word, 0..0xFFFF (no temperature checks here).
        :raises SensorError: every attempt failed; the message names the register and the
            last failure.
        """
        address = self._address
        head = bytes((address << 1, command, (address << 1) | 1))

        def attempt() -> int:
            write = i2c_msg.write(address, [command])
            read = i2c_msg.read(address, 3)
            with self._lock:
                self._bus.i2c_rdwr(write, read)
            lsb, msb, got = bytes(read)
            expected = pec(head + bytes((lsb, msb)))
            if got != expected:
                raise _BadPec(
                    f"PEC mismatch (got 0x{got:02X}, expected 0x{expected:02X} "
                    f"for LSB 0x{lsb:02X} MSB 0x{msb:02X})"
                )
            return lsb | (msb << 8)

        return self._with_retries(f"reading {register_name(command)}", attempt)

    def _write_word(self, command: int, value: int) -> None:
        address = self._address
        lsb, msb = value & 0xFF, value >> 8
        code = pec(bytes((address << 1, command, lsb, msb)))

        def attempt() -> None:
            with self._lock:
                self._bus.i2c_rdwr(i2c_msg.write(address, [command, lsb, msb, code]))

        self._with_retries(f"writing 0x{value:04X} to {register_name(command)}", attempt)

    def _with_retries(self, what: str, attempt: Callable[[], Any]) -> Any:
        attempts = self._retries + 1
        last = ""
        for n in range(attempts):
            if n:
                self._sleep(self._retry_pause_s)
            try:
                return attempt()
            except OSError as exc:
                last = f"bus error: {exc}"
            except _BadPec as exc:
                last = str(exc)
        raise SensorError(f"{self!r}: {what} failed after {attempts} attempts; last: {last}")
