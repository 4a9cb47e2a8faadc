"""systemd's notify protocol over ``$NOTIFY_SOCKET``, with the standard library only.

``READY=1`` when the daemon serves, ``WATCHDOG=1`` while it is healthy, ``STOPPING=1`` on the
way out. Without ``$NOTIFY_SOCKET`` (not started by systemd) every call does nothing.
"""

from __future__ import annotations

import os
import socket


class Notifier:
    """Sends datagrams to the socket named in ``$NOTIFY_SOCKET`` (or *address*).

    :param address: a path, or ``@name`` for an abstract socket; default from the environment.
    """

    def __init__(self, address: str | None = None) -> None:
        address = address if address is not None else os.environ.get("NOTIFY_SOCKET", "")
        if address.startswith("@"):
            address = "\0" + address[1:]
        self.address = address

    @property
    def enabled(self) -> bool:
        return bool(self.address)

    def notify(self, *fields: str) -> bool:
        """Send ``KEY=value`` *fields* in one datagram; False when not sent (never raises)."""
        if not self.address:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.sendto("\n".join(fields).encode(), self.address)
        except OSError:
            return False
        return True

    def watchdog_interval(self) -> float | None:
        """Half the ``$WATCHDOG_USEC`` interval in seconds, when it is meant for this process."""
        usec, pid = os.environ.get("WATCHDOG_USEC"), os.environ.get("WATCHDOG_PID")
        if not usec or (pid and pid != str(os.getpid())):
            return None
        try:
            return max(0.05, int(usec) / 2e6)
        except ValueError:
            return None
