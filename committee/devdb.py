"""A throwaway PostgreSQL server for the tests, the benchmark and trying things out.

It uses the system's PostgreSQL binaries (Debian's ``postgresql`` package: ``initdb`` and
``pg_ctl`` under ``/usr/lib/postgresql/<version>/bin``), ``initdb`` into a temporary folder
(as the ``postgres`` user when running as root, since PostgreSQL refuses to run as root;
otherwise as the current user), and listens only on a Unix socket inside that folder, so it
never collides with another server or port on the machine. :meth:`TempPostgres.stop` stops
it and removes the folder; it also runs at interpreter exit, and a SIGTERM to a process that
had no handler for it becomes an ordinary exit so that it does.
"""

from __future__ import annotations

import atexit
import glob
import os
import shutil
import signal
import subprocess
import tempfile
import threading
from pathlib import Path

#: The major version preferred when several are installed.
PREFERRED = "15"


def find_bindir() -> Path:
    """The folder holding ``initdb`` and ``pg_ctl``.

    :raises RuntimeError: PostgreSQL is not installed (with the command that installs it).
    """
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    preferred = [p for p in found if f"/{PREFERRED}/" in p]
    for candidate in preferred + found[::-1]:
        return Path(candidate).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise RuntimeError(
        "PostgreSQL is not installed: run 'bash scripts/system-packages.sh test' as root "
        "(apt-get install postgresql)"
    )


def _exit_on_sigterm() -> None:
    """Turn a SIGTERM into SystemExit (so atexit runs) where nothing else handles it."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:

        def _exit(signum, frame):
            raise SystemExit(128 + signum)

        signal.signal(signal.SIGTERM, _exit)


class TempPostgres:
    """A PostgreSQL server in a temporary folder.

    :param durable: keep ``fsync`` and synchronous commits on (the benchmark); the tests turn
        both off, since their data dies with the folder anyway.
    """

    def __init__(self, *, durable: bool = False, max_connections: int = 200) -> None:
        self.durable = durable
        self.max_connections = max_connections
        self.bindir = find_bindir()
        self.root: Path | None = None
        self._user = "postgres" if os.geteuid() == 0 else None

    @property
    def socket_dir(self) -> Path:
        assert self.root is not None
        return self.root / "sock"

    def _run(self, *args: str) -> None:
        result = subprocess.run(
            [str(self.bindir / args[0]), *args[1:]],
            user=self._user,
            cwd=self.root,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            log = self.root / "server.log" if self.root else None
            tail = log.read_text()[-2000:] if log and log.exists() else ""
            raise RuntimeError(f"{args[0]} failed: {result.stderr.strip()}\n{tail}")

    def start(self) -> TempPostgres:
        self.root = Path(tempfile.mkdtemp(prefix="committee-pg-"))
        self.socket_dir.mkdir()
        if self._user:
            shutil.chown(self.root, self._user)
            shutil.chown(self.socket_dir, self._user)
        atexit.register(self.stop)
        _exit_on_sigterm()
        data = self.root / "data"
        self._run(
            "initdb",
            "-D",
            str(data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-locale",
            "--no-sync",
        )
        options = [
            f"-k {self.socket_dir}",
            "-c listen_addresses=''",
            f"-c max_connections={self.max_connections}",
        ]
        if not self.durable:
            options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        self._run(
            "pg_ctl",
            "-D",
            str(data),
            "-l",
            str(self.root / "server.log"),
            "-w",
            "-o",
            " ".join(options),
            "start",
        )
        return self

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of *database* on this server."""
        return f"postgresql+psycopg://postgres@/{database}?host={self.socket_dir}"

    def create_database(self, name: str, *, template: str | None = None) -> str:
        """Create database *name* (optionally a copy of *template*) and return its URL."""
        import psycopg

        with psycopg.connect(
            host=str(self.socket_dir), user="postgres", dbname="postgres", autocommit=True
        ) as conn:
            suffix = f" TEMPLATE {template}" if template else ""
            conn.execute(f'CREATE DATABASE "{name}"{suffix}')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(
            host=str(self.socket_dir), user="postgres", dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        """Stop the server and remove its folder (safe to call twice)."""
        root, self.root = self.root, None
        if root is None:
            return
        atexit.unregister(self.stop)
        data = root / "data"
        if (data / "postmaster.pid").exists():
            subprocess.run(
                [str(self.bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                user=self._user,
                cwd=root,
                capture_output=True,
                check=False,
            )
        shutil.rmtree(root, ignore_errors=True)

    def __enter__(self) -> TempPostgres:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
