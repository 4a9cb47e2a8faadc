"""The running daemon's mark in its data folder: a file the daemon holds locked while it runs,
naming its process and its guard screen's address.

Whatever port the daemon listens on, a command that must not work beside it (``kiosk
calibrate``, which would save a calibration the running daemon never reads) finds it here.
The lock, not the file, says the daemon runs: a daemon killed with SIGKILL leaves the file,
and the kernel releases the lock.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

from kiosk.errors import ConfigError

#: Name of the mark in the data folder.
MARK = "kiosk.running"


class RunningMark:
    """The mark of the daemon running on *data_dir* (held from :meth:`hold` to
    :meth:`release`)."""

    def __init__(self, data_dir: str | os.PathLike[str]) -> None:
        self.path = Path(data_dir) / MARK
        self._fd: int | None = None

    def hold(self, url: str) -> None:
        """Take the mark for this process, serving the guard screen at *url*.

        :raises ConfigError: another daemon runs on this data folder (it is named).
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            other = running(self.path.parent) or {}
            raise ConfigError(
                f"{self.path.parent}: another kiosk daemon runs on this data folder "
                f"(pid {other.get('pid', '?')}, {other.get('url', '?')}); stop it first"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "url": url}).encode())
        os.fsync(fd)
        self._fd = fd

    def release(self) -> None:
        """Give the mark up (safe to call twice)."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
        finally:
            os.close(fd)


def running(data_dir: str | os.PathLike[str]) -> dict | None:
    """``{"pid", "url"}`` of the daemon running on *data_dir*, or None when none holds the
    mark (none ever ran, or it stopped or was killed)."""
    path = Path(data_dir) / MARK
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                return json.loads(os.read(fd, 4096) or b"{}")
            except ValueError:
                return {}
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
