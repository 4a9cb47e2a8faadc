"""sd_notify over a real unix datagram socket, and the watchdog that pings only when alive."""

from __future__ import annotations

import socket

import pytest

from kiosk.sdnotify import Notifier
from kiosk.service import JsonFormatter, Watchdog, redact


@pytest.fixture
def listener(tmp_path):
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(2.0)
    yield path, sock
    sock.close()


def received(sock) -> list[str]:
    out = []
    sock.setblocking(False)
    try:
        while True:
            out.append(sock.recv(4096).decode())
    except BlockingIOError:
        pass
    finally:
        sock.settimeout(2.0)
    return out


def test_sdnotify_sends_fields_in_one_datagram(listener):
    path, sock = listener
    assert Notifier(path).notify("READY=1", "STATUS=serving")
    assert sock.recv(4096) == b"READY=1\nSTATUS=serving"


def test_sdnotify_reads_the_environment(listener, monkeypatch):
    path, sock = listener
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    assert Notifier().enabled
    assert Notifier().notify("WATCHDOG=1")
    assert sock.recv(4096) == b"WATCHDOG=1"


def test_sdnotify_abstract_socket_name():
    name = f"kiosk-test-{id(object())}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(2.0)
    try:
        assert Notifier("@" + name).notify("READY=1")
        assert sock.recv(64) == b"READY=1"
    finally:
        sock.close()


def test_sdnotify_without_socket_does_nothing(monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert not Notifier().enabled
    assert Notifier().notify("READY=1") is False


def test_sdnotify_gone_socket_is_not_an_error(tmp_path):
    assert Notifier(str(tmp_path / "nobody-listens")).notify("READY=1") is False


def test_sdnotify_watchdog_interval_is_half_of_watchdog_usec(monkeypatch):
    monkeypatch.setenv("WATCHDOG_USEC", "20000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    assert Notifier("x").watchdog_interval() == 10.0
    monkeypatch.setenv("WATCHDOG_PID", "1")  # meant for another process
    assert Notifier("x").watchdog_interval() is None
    monkeypatch.delenv("WATCHDOG_USEC")
    assert Notifier("x").watchdog_interval() is None


class FakeKiosk:
    def __init__(self):
        self.problems: list[str] = []

    def alive(self):
        return not self.problems, list(self.problems)


def test_watchdog_pings_only_while_alive(listener):
    path, sock = listener
    kiosk = FakeKiosk()
    dog = Watchdog(kiosk, Notifier(path))
    assert dog.step()
    kiosk.problems = ["lane main: thread hung for 12 s"]
    assert not dog.step()
    assert not dog.step()
    kiosk.problems = []
    assert dog.step()
    got = received(sock)
    assert got == ["WATCHDOG=1", "STATUS=unhealthy: lane main: thread hung for 12 s", "WATCHDOG=1"]


def test_watchdog_failing_health_check_withholds_the_ping(listener):
    path, sock = listener

    class Broken:
        def alive(self):
            raise RuntimeError("boom")

    assert not Watchdog(Broken(), Notifier(path)).step()
    assert [m for m in received(sock) if m == "WATCHDOG=1"] == []


def test_logs_json_lines_without_pass_tokens():
    import json
    import logging

    record = logging.LogRecord(
        "kiosk.lane",
        logging.INFO,
        __file__,
        1,
        "scan %s",
        ("KP1:W62NA0D8D0+B0AE1CET6D72",),
        None,
    )
    line = json.loads(JsonFormatter().format(record))
    assert line["msg"] == "scan <pass>"
    assert line["level"] == "INFO" and line["logger"] == "kiosk.lane"
    assert redact("no token here") == "no token here"


def test_systemd_units_verify(tmp_path):
    """``systemd-analyze verify`` on the units, with their programs pointed at /bin/true."""
    import re
    import shutil
    import subprocess
    from pathlib import Path

    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze not installed (Debian package: systemd)")
    units = Path(__file__).resolve().parents[2] / "systemd"
    names = ["kiosk.service", "kiosk-screen.service", "kiosk-resident-screen.service"]
    for name in names:
        text = (units / name).read_text()
        text = re.sub(r"^(ExecStart\w*=)\S+", r"\1/bin/true", text, flags=re.M)
        (tmp_path / name).write_text(text)
    result = subprocess.run(
        [analyze, "verify", "--man=no", *(str(tmp_path / n) for n in names)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    output = (result.stdout + result.stderr).strip()
    assert result.returncode == 0 and not output, output
