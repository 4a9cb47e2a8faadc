"""Helpers for tests that run the real daemon in a child process on simulated hardware."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(folder: Path, port: int, *, max_open_s: float = 60.0) -> Path:
    """A one-lane simulated kiosk whose data lives in *folder*."""
    path = folder / "kiosk.toml"
    path.write_text(
        f"""
[gate]
data_dir = "{folder / "data"}"
hardware = "sim"

[ui]
port = {port}

[lanes.main.camera]
source = "sim"
fps = 2.0

[lanes.main.relay]
open_s = 3.0
max_open_s = {max_open_s}
""",
        encoding="utf-8",
    )
    return path


def spawn(code: str, *, env: dict | None = None) -> subprocess.Popen:
    """Run *code* in a child Python with the tree under test first on the path."""
    full = dict(os.environ, PYTHONPATH=str(ROOT), **(env or {}))
    return subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=full,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@contextlib.contextmanager
def ready_daemon(folder: Path, *args: str, ready_s: float = 60.0):
    """``kiosk ARGS`` (``run --config F``, ``demo ...``) in a child process, yielded once it
    said READY=1 on its systemd notify socket (bounded by *ready_s*); stopped with SIGTERM
    (then killed) at the end. Its output goes to ``folder / "daemon.log"``."""
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(folder / "notify.sock"))
    notify.settimeout(ready_s)
    env = dict(os.environ, PYTHONPATH=str(ROOT), NOTIFY_SOCKET=str(folder / "notify.sock"))
    log = (folder / "daemon.log").open("w")  # a file, never a pipe that could fill up
    proc = subprocess.Popen(
        [sys.executable, "-m", "kiosk.cli", *args],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        while not notify.recv(4096).decode().startswith("READY=1"):
            pass
        yield proc
    finally:
        notify.close()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        log.close()
