"""The database: engines for SQLite (embedded default) and PostgreSQL, sessions, migrations.

SQLite runs in WAL mode with ``synchronous=FULL`` (an acknowledged event survives a power
cut), foreign keys on, and every transaction opened with ``BEGIN IMMEDIATE`` so that two
writers queue instead of failing half-way (the pysqlite driver's own transaction handling is
switched off, as SQLAlchemy documents, which also makes SAVEPOINT work for the tests).
PostgreSQL runs on psycopg 3 with a connection pool.

:func:`open_database` builds the engine, creates the SQLite file's folder, and runs
``alembic upgrade head`` (a no-op when the schema is current), so the embedded default is
created on first use.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from committee.errors import DatabaseError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
log = logging.getLogger(__name__)


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    """An engine for *url* (``sqlite:///FILE`` or ``postgresql+psycopg://...``)."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise DatabaseError(f"database url is not a URL: {exc}") from None
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"timeout": 30, "check_same_thread": False})
        _sqlite_setup(engine)
        return engine
    return create_engine(
        parsed, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True, pool_timeout=30
    )


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def upgrade(connection: Connection, revision: str = "head") -> None:
    """Run the Alembic migrations on *connection* up to *revision*."""
    from alembic import command
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    chatty = logging.getLogger("alembic")
    level = chatty.level
    chatty.setLevel(logging.WARNING)  # one line per plugin at every start otherwise
    try:
        before = current_revision(connection)
        command.upgrade(config, revision)
        after = current_revision(connection)
    finally:
        chatty.setLevel(level)
    if after != before:
        log.info("database schema migrated from %s to %s", before or "empty", after)


def current_revision(connection: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


class Database:
    """Where the server's code gets its sessions.

    :param engine: the engine.
    :param bind: a connection to bind sessions to instead (tests: a connection inside a
        transaction that is rolled back; every session then works in a SAVEPOINT).
    """

    def __init__(self, engine: Engine, *, bind: Connection | None = None) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        # SQLite admits one writer; a thread that finds the file locked sleeps in SQLite's
        # busy handler for up to 100 ms at a time even when the lock frees after one. The
        # threads of this process therefore queue on a lock of their own instead (other
        # processes, such as a command run beside the server, still meet busy_timeout).
        self._writer = threading.RLock() if self.dialect == "sqlite" else nullcontext()
        options = {"join_transaction_mode": "create_savepoint"} if bind is not None else {}
        self._sessions = sessionmaker(bind=bind or engine, expire_on_commit=False, **options)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session in one transaction: committed when the block ends, rolled back on error."""
        with self._writer, self._sessions() as session, session.begin():
            yield session

    def session(self) -> Session:
        """A session the caller manages (``with db.session() as s: ...``)."""
        return self._sessions()

    def dispose(self) -> None:
        self.engine.dispose()


def open_database(url: str, *, pool_size: int = 10, migrate: bool = True) -> Database:
    """Open the database at *url* and bring its schema to the current version.

    :raises DatabaseError: it cannot be reached or migrated (the message says why).
    """
    engine = make_engine(url, pool_size=pool_size)
    if migrate:
        try:
            with engine.begin() as connection:
                upgrade(connection)
        except OperationalError as exc:
            engine.dispose()
            raise DatabaseError(f"database {_safe(url)}: {exc.orig}") from None
    return Database(engine)


def _safe(url: str) -> str:
    """*url* without its password, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(unreadable url)"
