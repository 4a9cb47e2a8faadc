"""A fake SMBus: the smbus2 ``SMBus`` methods the kiosk uses, routed to emulated devices.

Each transaction goes to the device attached at its address (:class:`SMBusDevice`, such as
:class:`kiosk.sim.mlx90614.EmulatedMLX90614`); an address nobody answers gives
``OSError(EREMOTEIO)``, as Linux i2c-dev does on a Raspberry Pi when a device does not
acknowledge. Every transaction is recorded (:class:`Transaction`).
"""

from __future__ import annotations

import errno
import os
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from smbus2 import i2c_msg

#: ``i2c_msg.flags`` bit for a read message (``I2C_M_RD`` in ``linux/i2c.h``).
I2C_M_RD = 0x0001


def bus_error(code: int) -> OSError:
    """The ``OSError`` Linux i2c-dev raises for *code* (``errno.EREMOTEIO``: no answer)."""
    return OSError(code, os.strerror(code))


class SMBusDevice(Protocol):
    """What :class:`FakeSMBus` needs from an attached device."""

    @property
    def address(self) -> int: ...

    def smbus_read(self, command: int | None, length: int) -> bytes:
        """Write *command*, repeated start, read *length* bytes; ``OSError`` on a NACK."""
        ...

    def smbus_write(self, data: bytes) -> None:
        """One write transaction of *data* (command first); ``OSError`` on a NACK."""
        ...


@dataclass(frozen=True)
class Transaction:
    """One transaction as the fake bus saw it.

    :param addr: 7-bit address.
    :param write: bytes the master wrote (the command first).
    :param read: bytes the master read, or ``None`` for a write-only transaction.
    :param error: the ``OSError`` text when the transaction failed, else ``None``.
    """

    addr: int
    write: bytes
    read: bytes | None
    error: str | None = None


class FakeSMBus:
    """A stand-in for ``smbus2.SMBus`` that routes transactions to emulated devices.

    Thread-safe: one transaction at a time, as on a real bus.

    :param bus: the bus number, for messages only.
    :param log_size: how many transactions :attr:`log` keeps.
    """

    def __init__(self, bus: int = 1, *, log_size: int = 1000) -> None:
        self.bus = bus
        self._devices: list[SMBusDevice] = []
        self._lock = threading.RLock()
        self._closed = False
        #: The last *log_size* transactions, oldest first.
        self.log: deque[Transaction] = deque(maxlen=log_size)

    # -- devices ------------------------------------------------------------------------

    def attach(self, device: SMBusDevice) -> SMBusDevice:
        """Connect *device*; it answers at its ``address``. Returns *device*."""
        with self._lock:
            if any(d.address == device.address for d in self._devices):
                raise ValueError(f"address 0x{device.address:02X} is already taken")
            self._devices.append(device)
        return device

    def detach(self, device: SMBusDevice) -> None:
        """Disconnect *device*; its address stops answering."""
        with self._lock:
            self._devices.remove(device)

    def _device(self, addr: int) -> SMBusDevice:
        if self._closed:
            raise bus_error(errno.EBADF)
        for device in self._devices:
            if device.address == addr:
                return device
        raise bus_error(errno.EREMOTEIO)

    # -- smbus2 methods -----------------------------------------------------------------

    def i2c_rdwr(self, *msgs: i2c_msg) -> None:
        """Run *msgs* as one combined transaction; read messages get their buffers filled.

        A write followed by a read of the same address is a read with a repeated start (the
        write carries the command); a write on its own is a write transaction.
        """
        with self._lock:
            pending: i2c_msg | None = None
            for msg in msgs:
                if msg.flags & I2C_M_RD:
                    command = None
                    written = b""
                    if pending is not None and pending.addr == msg.addr and len(pending):
                        written = bytes(pending)
                        command = written[0]
                    elif pending is not None:
                        self._write(pending.addr, bytes(pending))
                    pending = None
                    data = self._read(msg.addr, command, msg.len, written)
                    for i, value in enumerate(data):
                        msg.buf[i] = bytes([value])
                else:
                    if pending is not None:
                        self._write(pending.addr, bytes(pending))
                    pending = msg
            if pending is not None:
                self._write(pending.addr, bytes(pending))

    def read_word_data(self, i2c_addr: int, register: int, force: bool | None = None) -> int:
        """Read a word (LSB first) from *register*; the device's PEC byte is not read."""
        with self._lock:
            lsb, msb = self._read(i2c_addr, register, 2, bytes([register]))
        return lsb | (msb << 8)

    def read_i2c_block_data(
        self, i2c_addr: int, register: int, length: int, force: bool | None = None
    ) -> list[int]:
        """Read *length* bytes from *register* with a repeated start."""
        with self._lock:
            return list(self._read(i2c_addr, register, length, bytes([register])))

    def write_word_data(
        self, i2c_addr: int, register: int, value: int, force: bool | None = None
    ) -> None:
        """Write a word (LSB first) to *register*, without a PEC byte."""
        with self._lock:
            self._write(i2c_addr, bytes([register, value & 0xFF, (value >> 8) & 0xFF]))

    def write_i2c_block_data(
        self, i2c_addr: int, register: int, data: Iterable[int], force: bool | None = None
    ) -> None:
        """Write *register* then *data* in one transaction."""
        with self._lock:
            self._write(i2c_addr, bytes([register, *data]))

    def close(self) -> None:
        """Close the bus; later transactions fail with ``EBADF``. Closing twice is fine."""
        self._closed = True

    def __enter__(self) -> FakeSMBus:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing -----------------------------------------------------------------------

    def _read(self, addr: int, command: int | None, length: int, written: bytes) -> bytes:
        try:
            data = bytes(self._device(addr).smbus_read(command, length))
        except OSError as exc:
            self.log.append(Transaction(addr, written, None, str(exc)))
            raise
        self.log.append(Transaction(addr, written, data))
        return data

    def _write(self, addr: int, data: bytes) -> None:
        try:
            self._device(addr).smbus_write(data)
        except OSError as exc:
            self.log.append(Transaction(addr, data, None, str(exc)))
            raise
        self.log.append(Transaction(addr, data, None))
