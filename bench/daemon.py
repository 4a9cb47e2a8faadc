"""Start the real daemon (``kiosk run``) on simulated hardware in a child process."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(folder: Path, port: int, lanes: int = 1, fps: float = 15.0) -> Path:
    lines = [
        "[gate]",
        'gate_id = "bench"',
        'site = "demo-compound"',
        f'data_dir = "{folder / "data"}"',
        'hardware = "sim"',
        "[ui]",
        f"port = {port}",
    ]
    for i in range(lanes):
        name = "main" if i == 0 else f"lane{i}"
        lines += [
            f"[lanes.{name}]",
            f"[lanes.{name}.relay]",
            f"pin = {17 + i}",
            f"[lanes.{name}.thermometer]",
            f"address = {0x5A + i}",
            f"[lanes.{name}.camera]",
            'source = "sim"',
            f"fps = {fps}",
        ]
    path = folder / "kiosk.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


class Daemon:
    """``kiosk run --config CONFIG`` as a child process, until :meth:`stop`."""

    def __init__(self, config: Path, port: int) -> None:
        self.port = port
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kiosk.cli", "run", "--config", str(config)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._wait_healthy()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _wait_healthy(self, timeout: float = 60.0) -> None:
        end = time.monotonic() + timeout
        pause = threading.Event()
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the daemon exited: {self.proc.stderr.read()}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1) as reply:
                    if json.loads(reply.read())["ok"]:
                        return
            except OSError:
                pass
            pause.wait(0.2)
        raise TimeoutError("the daemon did not become healthy")

    def cpu_seconds(self) -> float:
        """User + system CPU seconds the daemon has used."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
