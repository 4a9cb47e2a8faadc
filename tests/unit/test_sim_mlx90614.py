"""The emulated MLX90614 and the fake SMBus, seen from the bus side."""

from __future__ import annotations

import errno
import math
import statistics

import pytest
from smbus2 import i2c_msg

from kiosk.sensors.mlx90614 import (
    CMD_CONFIG1,
    CMD_EMISSIVITY,
    CMD_READ_FLAGS,
    CMD_SMBUS_ADDRESS,
    CMD_TA,
    CMD_TOBJ1,
    EEPROM_CONFIG1,
    EEPROM_EMISSIVITY,
    EEPROM_ID,
    ERROR_FLAG,
    celsius_to_word,
    pec,
    word_to_celsius,
)
from kiosk.sim.mlx90614 import DEFAULT_CONFIG1, EEPROM_BUSY_S, EmulatedMLX90614
from kiosk.sim.smbus import FakeSMBus


@pytest.fixture
def bus():
    with FakeSMBus() as bus:
        yield bus


@pytest.fixture
def emu(bus, clock):
    return bus.attach(
        EmulatedMLX90614(clock=clock, seed=5, noise_c=0.0, object_c=22.0, ambient_c=22.0)
    )


def write(bus, command, value, *, address=0x5A, good_pec=True):
    lsb, msb = value & 0xFF, value >> 8
    code = pec(bytes([address << 1, command, lsb, msb]))
    if not good_pec:
        code ^= 1
    bus.i2c_rdwr(i2c_msg.write(address, [command, lsb, msb, code]))


def read(bus, command, address=0x5A):
    w, r = i2c_msg.write(address, [command]), i2c_msg.read(address, 3)
    bus.i2c_rdwr(w, r)
    lsb, msb, code = bytes(r)
    assert pec(bytes([address << 1, command, (address << 1) | 1, lsb, msb])) == code
    return lsb | (msb << 8)


def test_fake_smbus_unknown_address_is_remote_io_error(bus):
    with pytest.raises(OSError) as info:
        bus.read_word_data(0x33, 0x07)
    assert info.value.errno == errno.EREMOTEIO
    assert bus.log[-1].error is not None


def test_fake_smbus_closed_bus_fails(emu):
    bus = FakeSMBus()
    bus.attach(EmulatedMLX90614(seed=1))
    bus.close()
    bus.close()
    with pytest.raises(OSError) as info:
        bus.read_word_data(0x5A, CMD_TA)
    assert info.value.errno == errno.EBADF


def test_fake_smbus_refuses_two_devices_at_one_address(bus, emu):
    with pytest.raises(ValueError):
        bus.attach(EmulatedMLX90614(seed=1))


def test_fake_smbus_detach_stops_answering(bus, emu):
    bus.detach(emu)
    with pytest.raises(OSError):
        bus.read_word_data(0x5A, CMD_TA)


def test_fake_smbus_read_word_data_is_lsb_first(bus, emu):
    assert bus.read_word_data(0x5A, CMD_TA) == celsius_to_word(22.0)


def test_fake_smbus_read_i2c_block_data_has_pec_then_idle_bus(bus, emu):
    lsb, msb, code, idle = bus.read_i2c_block_data(0x5A, CMD_TA, 4)
    assert pec(bytes([0xB4, CMD_TA, 0xB5, lsb, msb])) == code
    assert idle == 0xFF


def test_fake_smbus_write_i2c_block_data_writes_eeprom(bus, emu, clock):
    code = pec(bytes([0xB4, CMD_EMISSIVITY, 0, 0]))
    bus.write_i2c_block_data(0x5A, CMD_EMISSIVITY, [0, 0, code])
    clock.advance(EEPROM_BUSY_S)
    assert emu.eeprom_word(EEPROM_EMISSIVITY) == 0


def test_fake_smbus_write_word_data_without_pec_is_ignored(bus, emu, clock):
    bus.write_word_data(0x5A, CMD_EMISSIVITY, 0)
    clock.advance(EEPROM_BUSY_S)
    assert emu.eeprom_word(EEPROM_EMISSIVITY) == 0xFFFF
    assert emu.log[-1].kind == "write_no_pec"


def test_fake_smbus_log_is_bounded(clock):
    bus = FakeSMBus(log_size=3)
    bus.attach(EmulatedMLX90614(clock=clock, seed=1))
    for _ in range(10):
        bus.read_word_data(0x5A, CMD_TA)
    assert len(bus.log) == 3


def test_fake_smbus_i2c_rdwr_respects_addresses(bus, emu, clock):
    other = bus.attach(EmulatedMLX90614(0x5B, clock=clock, seed=2, ambient_c=30.0))
    assert read(bus, CMD_TA, 0x5B) == celsius_to_word(30.0)
    assert read(bus, CMD_TA, 0x5A) == celsius_to_word(22.0)
    assert other.counts["read"] == 1 and emu.counts["read"] == 1


def test_emulator_factory_registers(bus, emu):
    assert read(bus, CMD_EMISSIVITY) == 0xFFFF
    assert read(bus, CMD_CONFIG1) == DEFAULT_CONFIG1
    assert read(bus, CMD_SMBUS_ADDRESS) & 0xFF == 0x5A
    ids = [read(bus, 0x20 | cell) for cell in EEPROM_ID]
    assert ids == [emu.eeprom_word(cell) for cell in EEPROM_ID]


def test_emulator_same_seed_same_id_and_noise(clock):
    a = EmulatedMLX90614(clock=clock, seed=9, object_c=36.0)
    b = EmulatedMLX90614(clock=clock, seed=9, object_c=36.0)
    assert [a.eeprom_word(c) for c in EEPROM_ID] == [b.eeprom_word(c) for c in EEPROM_ID]
    assert [a.smbus_read(CMD_TOBJ1, 2) for _ in range(20)] == [
        b.smbus_read(CMD_TOBJ1, 2) for _ in range(20)
    ]


def test_emulator_noise_has_the_configured_size(bus, clock):
    noisy = EmulatedMLX90614(0x5B, clock=clock, seed=3, noise_c=0.05, object_c=36.0)
    bus.attach(noisy)
    values = [word_to_celsius(read(bus, CMD_TOBJ1, 0x5B)) for _ in range(2000)]
    assert statistics.mean(values) == pytest.approx(36.0, abs=0.01)
    assert statistics.stdev(values) == pytest.approx(0.05, rel=0.15)


def test_emulator_settles_with_the_documented_time_constant(bus, emu, clock):
    tau = emu.time_constant_s
    assert tau == pytest.approx(1 / (2 * math.pi * 7.23))
    emu.object_c = 36.0
    start = word_to_celsius(read(bus, CMD_TOBJ1))
    assert start == pytest.approx(22.0, abs=0.02)  # no time has passed
    clock.advance(tau)
    one_tau = word_to_celsius(read(bus, CMD_TOBJ1))
    clock.advance(10 * tau)
    settled = word_to_celsius(read(bus, CMD_TOBJ1))
    # One time constant covers 63 % of the step in radiated power, which is a little less
    # than 63 % in temperature (power goes as T^4).
    assert 0.55 < (one_tau - 22.0) / (36.0 - 22.0) < 0.66
    assert settled == pytest.approx(36.0, abs=0.02)


def test_emulator_slower_filter_setting_settles_slower(bus, emu, clock):
    config = (DEFAULT_CONFIG1 & ~0x7) | 0x3  # IIR setting 3: -3 dB at 0.15 Hz
    write(bus, CMD_CONFIG1, 0)
    clock.advance(EEPROM_BUSY_S)
    write(bus, CMD_CONFIG1, config)
    clock.advance(EEPROM_BUSY_S)
    assert emu.time_constant_s == pytest.approx(1 / (2 * math.pi * 0.15))
    emu.object_c = 36.0
    clock.advance(0.1)
    assert word_to_celsius(read(bus, CMD_TOBJ1)) < 23.5


def test_emulator_eeprom_needs_erase_first(bus, emu, clock):
    write(bus, CMD_EMISSIVITY, 0x1234)  # over 0xFFFF, not erased
    clock.advance(EEPROM_BUSY_S)
    assert read(bus, CMD_EMISSIVITY) == 0xFFFF  # OR of old and new: still wrong
    write(bus, CMD_EMISSIVITY, 0)
    clock.advance(EEPROM_BUSY_S)
    write(bus, CMD_EMISSIVITY, 0x1234)
    clock.advance(EEPROM_BUSY_S)
    assert read(bus, CMD_EMISSIVITY) == 0x1234


def test_emulator_eeprom_cell_reads_zero_while_busy(bus, emu, clock):
    write(bus, CMD_EMISSIVITY, 0)
    clock.advance(EEPROM_BUSY_S)
    write(bus, CMD_EMISSIVITY, 0xF333)
    assert read(bus, CMD_READ_FLAGS) & 0x80  # EEBUSY
    assert read(bus, CMD_EMISSIVITY) == 0x0000
    assert read(bus, CMD_CONFIG1) == DEFAULT_CONFIG1  # other cells read normally
    clock.advance(EEPROM_BUSY_S - 0.001)
    assert read(bus, CMD_EMISSIVITY) == 0x0000
    clock.advance(0.001)
    assert not read(bus, CMD_READ_FLAGS) & 0x80
    assert read(bus, CMD_EMISSIVITY) == 0xF333


def test_emulator_write_while_busy_is_ignored(bus, emu, clock):
    write(bus, CMD_EMISSIVITY, 0)
    write(bus, CMD_CONFIG1, 0)
    clock.advance(EEPROM_BUSY_S)
    assert emu.eeprom_word(EEPROM_CONFIG1) == DEFAULT_CONFIG1
    assert [r.kind for r in emu.log] == ["erase", "write_while_busy"]


def test_emulator_write_with_bad_pec_is_ignored(bus, emu, clock):
    write(bus, CMD_EMISSIVITY, 0, good_pec=False)
    clock.advance(EEPROM_BUSY_S)
    assert emu.eeprom_word(EEPROM_EMISSIVITY) == 0xFFFF
    assert emu.log[-1].kind == "write_bad_pec"


def test_emulator_factory_cells_and_ram_are_not_writable(bus, emu, clock):
    before = emu.eeprom_word(EEPROM_ID[0])
    write(bus, 0x20 | EEPROM_ID[0], 0)
    write(bus, CMD_TOBJ1, 0)
    clock.advance(EEPROM_BUSY_S)
    assert emu.eeprom_word(EEPROM_ID[0]) == before
    assert [r.kind for r in list(emu.log)[-2:]] == ["write_protected", "write_ram"]


def test_emulator_new_address_takes_effect_at_power_cycle(bus, emu, clock):
    write(bus, CMD_SMBUS_ADDRESS, 0)
    clock.advance(EEPROM_BUSY_S)
    write(bus, CMD_SMBUS_ADDRESS, 0x5C)
    clock.advance(EEPROM_BUSY_S)
    assert read(bus, CMD_TA, 0x5A)
    emu.power_cycle()
    assert read(bus, CMD_TA, 0x5C) == celsius_to_word(22.0)
    with pytest.raises(OSError):
        read(bus, CMD_TA, 0x5A)


def test_emulator_faults_are_served_and_counted(bus, emu):
    emu.error_flag = True
    assert read(bus, CMD_TOBJ1) & ERROR_FLAG
    emu.clear_faults()
    emu.oserror_once = True
    with pytest.raises(OSError) as info:
        read(bus, CMD_TA)
    assert info.value.errno == errno.EREMOTEIO
    assert read(bus, CMD_TA) == celsius_to_word(22.0)
    emu.bad_pec = True
    with pytest.raises(AssertionError):
        read(bus, CMD_TA)  # the helper checks the PEC
    emu.clear_faults()
    emu.unplugged = True
    with pytest.raises(OSError):
        read(bus, CMD_TA)
    assert emu.counts["fault:oserror_once"] == 1
    assert emu.counts["fault:bad_pec"] == 1
    assert emu.counts["fault:unplugged"] == 1
    assert [r.fault for r in emu.log if r.kind == "fault"] == ["oserror_once", "unplugged"]


def test_emulator_oserror_rate_is_seeded(clock):
    def failures(seed):
        emu = EmulatedMLX90614(clock=clock, seed=seed)
        emu.oserror_rate = 0.3
        out = []
        for _ in range(50):
            try:
                emu.smbus_read(CMD_TA, 3)
                out.append(False)
            except OSError:
                out.append(True)
        return out

    assert failures(4) == failures(4)
    assert 5 < sum(failures(4)) < 25


def test_emulator_clear_faults_clears_everything(emu):
    for name in EmulatedMLX90614.FAULTS:
        setattr(emu, name, 0.5 if name == "oserror_rate" else True)
    emu.clear_faults()
    assert not any(getattr(emu, name) for name in EmulatedMLX90614.FAULTS)


def test_emulator_ambient_follows_scene(bus, emu):
    emu.ambient_c = 5.0
    assert word_to_celsius(read(bus, CMD_TA)) == pytest.approx(5.0, abs=0.011)
