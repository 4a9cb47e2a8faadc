"""Configuration: one TOML file loaded into frozen dataclasses, with the gate's rules.

Every section is a frozen dataclass whose field names are the TOML keys and whose defaults
are the documented defaults (``config/committee.toml`` shows each key with a comment). The
gate's schema reader loads it: a wrong type or value names the file and the key, an unknown
key gets a "did you mean", and every problem of a file is reported at once.

Without a file (no ``--config``) the embedded default applies: everything under
``var/committee/`` of the current folder, a SQLite database created on first use.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from committee.errors import ConfigError
from kiosk import schema

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
        schema.check(
            self,
            "server",
            (1 <= self.port <= 65535, "port", f"{self.port} is not a TCP port"),
            (1 <= self.threads <= 256, "threads", "from 1 to 256"),
            (10 <= self.connection_limit <= 100_000, "connection_limit", "from 10 to 100000"),
        )


@dataclass(frozen=True)
class DatabaseSettings:
    """``[database]``: where everything is stored."""

    #: SQLAlchemy URL: "" is the embedded SQLite file ``committee.db`` in ``data_dir``;
    #: ``postgresql+psycopg://user@host/dbname`` at street or district scale.
    url: str = ""
    #: Connections kept open to PostgreSQL (at least ``[server] threads``).
    pool_size: int = 10

    def __post_init__(self) -> None:
        scheme = self.url.split(":", 1)[0]
        schema.check(
            self,
            "database",
            (
                not self.url or self.url.startswith(("sqlite:", "postgresql+psycopg:")),
                "url",
                f"{scheme!r} is not supported; use sqlite:///FILE or "
                "postgresql+psycopg://user@host/dbname",
            ),
            (1 <= self.pool_size <= 500, "pool_size", "from 1 to 500"),
        )


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
        schema.check(
            self,
            "gates",
            (
                self.silent_after_s >= 60,
                "silent_after_s",
                "at least 60 (a gate sends a heartbeat every 60 s)",
            ),
            (1 <= self.sweep_s <= 3600, "sweep_s", "from 1 to 3600"),
        )


def _zone_known(name: str) -> bool:
    if not name:
        return True
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


@dataclass(frozen=True)
class SiteSettings:
    """``[sites]``: rules of the compounds."""

    #: Time zone of the compounds (IANA name, e.g. ``Asia/Shanghai``); "" is this machine's.
    #: Home observation ends after its last day in this zone.
    timezone: str = ""
    #: Days a pass issued by ``committee pass issue`` is valid unless ``--days`` says.
    pass_days: int = 365

    def __post_init__(self) -> None:
        schema.check(
            self,
            "sites",
            (_zone_known(self.timezone), "timezone", f"{self.timezone!r} is not a known time zone"),
            (1 <= self.pass_days <= 3660, "pass_days", "from 1 to 3660"),
        )


@dataclass(frozen=True)
class WebSettings:
    """``[web]``: the committee's pages."""

    #: Idle minutes after which a session ends.
    session_idle_min: float = 30.0
    #: Live pages (event streams) open at once; more are told to retry later, so that no
    #: number of open pages can hold the server (streams use no request thread anyway).
    max_streams: int = 200
    #: Seconds between the live publisher's looks at the database (new events, alarms, gate
    #: health); a batch stored by this process wakes it at once.
    poll_s: float = 1.0
    #: Seconds between keep-alive comments on a stream; each also checks the session.
    keepalive_s: float = 15.0
    #: The screening threshold (°C): a fever re-measured by hand must be below it.
    fever_threshold_c: float = 37.3

    def __post_init__(self) -> None:
        schema.check(
            self,
            "web",
            (1 <= self.session_idle_min <= 24 * 60, "session_idle_min", "from 1 to 1440"),
            (1 <= self.max_streams <= 100_000, "max_streams", "from 1 to 100000"),
            (0.1 <= self.poll_s <= 60, "poll_s", "from 0.1 to 60"),
            (1 <= self.keepalive_s <= 300, "keepalive_s", "from 1 to 300"),
            (35.0 <= self.fever_threshold_c <= 40.0, "fever_threshold_c", "from 35 to 40"),
        )


@dataclass(frozen=True)
class RetentionSettings:
    """``[retention]``: personal data kept no longer than needed."""

    #: Days after which a registration's personal fields (name, phone, ID number, plate,
    #: where from) are removed; what the report counts (kind, outcome, household) stays.
    registration_days: int = 28

    def __post_init__(self) -> None:
        schema.check(
            self,
            "retention",
            (1 <= self.registration_days <= 3660, "registration_days", "from 1 to 3660"),
        )


@dataclass(frozen=True)
class OutingsSettings:
    """``[outings]``: the "who is out" page."""

    #: Hours after which someone out is overdue (the "back within two hours" rule); 0: none.
    return_within_h: float = 2.0
    #: Days looked back for each pass's last passage.
    lookback_days: int = 14

    def __post_init__(self) -> None:
        schema.check(
            self,
            "outings",
            (0 <= self.return_within_h <= 24 * 14, "return_within_h", "from 0 to 336"),
            (1 <= self.lookback_days <= 90, "lookback_days", "from 1 to 90"),
        )


@dataclass(frozen=True)
class AnomalySettings:
    """``[anomalies]``: what the anomalies page calls unusual."""

    #: Minutes within which one pass entering at two gates is suspect (a shared screenshot).
    shared_pass_min: float = 5.0
    #: A household's exits of a day above this many times its daily average over
    #: ``baseline_days`` (and at least ``min_exits``) are unusual.
    exit_factor: float = 3.0
    baseline_days: int = 14
    min_exits: int = 4

    def __post_init__(self) -> None:
        schema.check(
            self,
            "anomalies",
            (0.5 <= self.shared_pass_min <= 120, "shared_pass_min", "from 0.5 to 120"),
            (1.5 <= self.exit_factor <= 50, "exit_factor", "from 1.5 to 50"),
            (3 <= self.baseline_days <= 90, "baseline_days", "from 3 to 90"),
            (1 <= self.min_exits <= 100, "min_exits", "from 1 to 100"),
        )


@dataclass(frozen=True)
class Config:
    """The whole configuration. ``path`` is the file it came from (None: the embedded default)."""

    server: ServerSettings = field(default_factory=ServerSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    storage: StorageSettings = field(default_factory=StorageSettings)
    gates: GatesSettings = field(default_factory=GatesSettings)
    sites: SiteSettings = field(default_factory=SiteSettings)
    web: WebSettings = field(default_factory=WebSettings)
    retention: RetentionSettings = field(default_factory=RetentionSettings)
    outings: OutingsSettings = field(default_factory=OutingsSettings)
    anomalies: AnomalySettings = field(default_factory=AnomalySettings)
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

    :raises ConfigError: the file is missing, not TOML, or keys or values are wrong; the
        message names the file and each key, every problem of the file at once.
    """
    if path is None:
        return Config()
    path = Path(path)
    return from_dict(schema.read_toml(path, ConfigError, "configuration"), path)


def from_dict(raw: dict[str, Any], path: Path | None = None) -> Config:
    """Build a :class:`Config` from parsed TOML; *path* is used in messages and paths.

    The tables are read by the gate's own schema reader (:mod:`kiosk.schema`), so both
    configurations follow one set of rules.
    """
    where = str(path) if path else "<config>"
    problems: list[str] = []
    cfg = schema.build(Config, raw, "", where, problems, skip={"path", "base"})
    if problems:
        raise ConfigError("\n".join(problems))
    base = path.resolve().parent if path else Path.cwd()
    return dataclasses.replace(cfg, path=path.resolve() if path else None, base=base)
