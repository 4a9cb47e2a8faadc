"""Fixtures of the committee server's tests, after Warehouse's ``tests/conftest.py``.

Every test that takes ``db`` runs twice: on SQLite (the embedded default) and on a real
PostgreSQL that the session starts itself (:class:`committee.devdb.TempPostgres`: initdb
into a temporary folder, a Unix socket, stopped at the end whatever happened). The schema is
built once per engine with ``alembic upgrade head`` into a template; each test then works
inside a transaction that is rolled back (sessions join it with
``join_transaction_mode="create_savepoint"``). Tests that need a real server in another
thread take ``fresh_db`` instead: a copy of the template of their own.
"""

from __future__ import annotations

import itertools
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from committee.app import Server, create_app
from committee.config import Config, from_dict
from committee.db import Database, make_engine, upgrade
from committee.devdb import TempPostgres

ENGINES = ("sqlite", "postgresql")
START = datetime(2020, 2, 4, 0, 15, tzinfo=UTC)  # 08:15 in Shanghai
_names = itertools.count(1)


@pytest.fixture(scope="session")
def postgresql():
    server = TempPostgres().start()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class Template:
    """A migrated, empty database of one engine, and how to copy it."""

    kind: str
    url: str
    folder: Path
    pg: TempPostgres | None = None

    def clone(self) -> tuple[str, str]:
        """(url, name) of a new copy."""
        name = f"committee_{next(_names)}"
        if self.pg is not None:
            return self.pg.create_database(name, template="committee_template"), name
        path = self.folder / f"{name}.db"
        shutil.copyfile(self.folder / "template.db", path)
        return f"sqlite:///{path}", name

    def drop(self, name: str) -> None:
        if self.pg is not None:
            self.pg.drop_database(name)
        else:
            for suffix in ("", "-wal", "-shm"):
                (self.folder / f"{name}.db{suffix}").unlink(missing_ok=True)


@pytest.fixture(scope="session", params=ENGINES)
def template(request, tmp_path_factory) -> Template:
    """``alembic upgrade head`` on an empty database, once per engine and session."""
    folder = tmp_path_factory.mktemp(request.param)
    pg = None
    if request.param == "postgresql":
        pg = request.getfixturevalue("postgresql")
        # pytest may set a parametrized session fixture up again when the order of the
        # tests switches engines (as under pytest-xdist): start from no template
        pg.drop_database("committee_template")
        url = pg.create_database("committee_template")
    else:
        url = f"sqlite:///{folder / 'template.db'}"
    engine = make_engine(url)
    with engine.begin() as connection:
        upgrade(connection)
    engine.dispose()
    return Template(request.param, url, folder, pg)


@pytest.fixture(scope="session")
def engine(template):
    url, name = template.clone()
    engine = make_engine(url)
    yield engine
    engine.dispose()
    template.drop(name)


@pytest.fixture
def db(engine):
    """A :class:`Database` whose every transaction is rolled back at the end of the test."""
    connection = engine.connect()
    outer = connection.begin()
    try:
        yield Database(engine, bind=connection)
    finally:
        outer.rollback()
        connection.close()


@pytest.fixture
def fresh_db(template):
    """A database of its own (a copy of the template), for servers in other threads."""
    url, name = template.clone()
    database = Database(make_engine(url))
    try:
        yield database
    finally:
        database.dispose()
        template.drop(name)


class Clock:
    """The server's clock in tests: it moves only when told."""

    def __init__(self, start: datetime = START) -> None:
        self.moment = start

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, **delta) -> None:
        self.moment += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def config(tmp_path) -> Config:
    return from_dict(
        {"storage": {"data_dir": str(tmp_path / "data")}, "sites": {"timezone": "Asia/Shanghai"}},
        None,
    )


@pytest.fixture
def server(config, db, clock) -> Server:
    return Server(config, db, clock)


@pytest.fixture
def client(server):
    return create_app(server).test_client()
