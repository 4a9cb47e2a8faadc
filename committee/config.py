"""Configuration: one TOML file loaded into frozen dataclasses, with the gate's rules.

Every section is a frozen dataclass whose field names are the TOML keys and whose defaults
are the documented defaults (``config/committee.toml`` shows each key with a comment). A
wrong type or value names the file and the key; an unknown key gets a "did you mean".

Without a file (no ``--config``) the embedded default applies: everything under
``var/committee/`` of the current folder, a SQLite database created on first use.
"""

from __future__ import annotations

import dataclasses
import difflib
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from committee.errors import ConfigError

#: The data folder of the embedded default, relative to the current folder.
DEFAULT_DATA_DIR = Path("var") / "committee"


@dataclass(frozen=True)
class ServerSettings:
    """``[server]``: ``committee serve`` (waitress)."""

    #: Address to listen on; 127.0.0.1 behind a reverse proxy on the same machine.
    host: str = "127.0.0.1"
    port: int = 8300
    #: Worker threads of waitress (each holds at most one database connection).
    threads: int = 8
    #: Address of the reverse proxy whose X-Forwarded-* headers are believed ("" = none).
    trusted_proxy: str = ""
    #: Connections held open at once (each gate keeps one for a few seconds after a push);
    #: more wait until one closes. Raise it with the number of gates.
    connection_limit: int = 1000

    def __post_init__(self) -> None:
        if not 1 <= self.port <= 65535:
            raise ValueError(f"port: {self.port} is not a TCP port")
        if not 1 <= self.threads <= 256:
            raise ValueError("threads: from 1 to 256")
        if not 10 <= self.connection_limit <= 100_000:
            raise ValueError("connection_limit: from 10 to 100000")


@dataclass(frozen=True)
class DatabaseSettings:
    """``[database]``: where everything is stored."""

    #: SQLAlchemy URL: "" is the embedded SQLite file ``committee.db`` in ``data_dir``;
    #: ``postgresql+psycopg://user@host/dbname`` at street or district scale.
    url: str = ""
    #: Connections kept open to PostgreSQL (at least ``[server] threads``).
    pool_size: int = 10

    def __post_init__(self) -> None:
        if self.url and not self.url.startswith(("sqlite:", "postgresql+psycopg:")):
            raise ValueError(
                f"url: {self.url.split(':', 1)[0]!r} is not supported; use sqlite:///FILE "
                "or postgresql+psycopg://user@host/dbname"
            )
        if not 1 <= self.pool_size <= 500:
            raise ValueError("pool_size: from 1 to 500")


@dataclass(frozen=True)
class StorageSettings:
    """``[storage]``: files beside the database."""

    #: Folder for the SQLite file and the signing key; relative to the config file's folder.
    data_dir: str = str(DEFAULT_DATA_DIR)
    #: Folder of the committee's signing key (``committee keys init``); relative to data_dir.
    keys_dir: str = "keys"


@dataclass(frozen=True)
class GatesSettings:
    """``[gates]``: watching the gates."""

    #: Seconds without a heartbeat after which a gate raises ``gate.silent`` (gates send one
    #: every 60 s).
    silent_after_s: float = 180.0
    #: Seconds between the server's checks for silent gates and ended home observations.
    sweep_s: float = 30.0

    def __post_init__(self) -> None:
        if self.silent_after_s < 60:
            raise ValueError("silent_after_s: at least 60 (a gate sends a heartbeat every 60 s)")
        if not 1 <= self.sweep_s <= 3600:
            raise ValueError("sweep_s: from 1 to 3600")


@dataclass(frozen=True)
class SiteSettings:
    """``[sites]``: rules of the compounds."""

    #: Time zone of the compounds (IANA name, e.g. ``Asia/Shanghai``); "" is this machine's.
    #: Home observation ends after its last day in this zone.
    timezone: str = ""
    #: Days a pass issued by ``committee pass issue`` is valid unless ``--days`` says.
    pass_days: int = 365

    def __post_init__(self) -> None:
        if self.timezone:
            try:
                ZoneInfo(self.timezone)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"timezone: {self.timezone!r} is not a known time zone") from None
        if not 1 <= self.pass_days <= 3660:
            raise ValueError("pass_days: from 1 to 3660")


@dataclass(frozen=True)
class Config:
    """The whole configuration. ``path`` is the file it came from (None: the embedded default)."""

    server: ServerSettings = field(default_factory=ServerSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    storage: StorageSettings = field(default_factory=StorageSettings)
    gates: GatesSettings = field(default_factory=GatesSettings)
    sites: SiteSettings = field(default_factory=SiteSettings)
    path: Path | None = None
    #: The folder relative paths start from (the config file's, else the current one).
    base: Path = field(default_factory=Path.cwd)

    @property
    def data_dir(self) -> Path:
        return (self.base / Path(self.storage.data_dir).expanduser()).resolve()

    @property
    def keys_dir(self) -> Path:
        return (self.data_dir / Path(self.storage.keys_dir).expanduser()).resolve()

    @property
    def database_url(self) -> str:
        """The SQLAlchemy URL; the embedded default is ``committee.db`` in :attr:`data_dir`."""
        return self.database.url or f"sqlite:///{self.data_dir / 'committee.db'}"

    @property
    def tz(self):
        """The compounds' time zone (a tzinfo); None is this machine's local zone."""
        return ZoneInfo(self.sites.timezone) if self.sites.timezone else None


def load(path: str | Path | None) -> Config:
    """Load *path*, or the embedded default when it is None.

    :raises ConfigError: the file is missing, not TOML, or a key or value is wrong; the
        message names the file and the key.
    """
    if path is None:
        return Config()
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such configuration file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return from_dict(raw, path)


def from_dict(raw: dict[str, Any], path: Path | None = None) -> Config:
    """Build a :class:`Config` from parsed TOML; *path* is used in messages and paths."""
    where = str(path) if path else "<config>"
    sections = {f.name: f for f in dataclasses.fields(Config) if f.name not in ("path", "base")}
    hints = typing.get_type_hints(Config)
    built: dict[str, Any] = {}
    for name, value in raw.items():
        if name not in sections:
            raise ConfigError(f"{where}: unknown section [{name}]{_hint(name, sections)}")
        built[name] = _section(hints[name], value, name, where)
    base = path.resolve().parent if path else Path.cwd()
    return Config(**built, path=path.resolve() if path else None, base=base)


def _hint(key: str, names) -> str:
    close = difflib.get_close_matches(key, list(names), n=1)
    return f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(names)}"


def _section(cls: type, data: Any, name: str, where: str):
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: {name}: expected a table [{name}], got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for key, value in data.items():
        if key not in hints:
            raise ConfigError(f"{where}: [{name}]: unknown key {key!r}{_hint(key, hints)}")
        kwargs[key] = _value(hints[key], value, f"{name}.{key}", where)
    try:
        return cls(**kwargs)
    except ValueError as exc:
        raise ConfigError(f"{where}: [{name}] {exc}") from None


_WORDS = {bool: "true or false", int: "a whole number", float: "a number", str: "a string"}


def _value(tp: type, value: Any, key: str, where: str):
    ok = isinstance(value, tp) and not (tp is not bool and isinstance(value, bool))
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        value, ok = float(value), True
    if not ok:
        raise ConfigError(f"{where}: {key}: expected {_WORDS[tp]}, got {value!r:.40}")
    return value
