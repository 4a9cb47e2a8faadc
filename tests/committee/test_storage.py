"""Migrations, the register import, keys, passes and the export, on both engines."""

from __future__ import annotations

import os
import stat
from datetime import datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from sqlalchemy import inspect, select

from committee import households, keys, passes, sites
from committee.db import current_revision, make_engine, upgrade
from committee.errors import ImportRefused, NotFound, Refused
from committee.export import export_events
from committee.models import Household, Pass, metadata
from kiosk.passes import parse_token
from tests.committee.helpers import SITE, add_gate, batch, push

#: The newest migration: every engine's schema is built up to it.
HEAD = "0002"


def test_migrations_build_the_schema_from_empty(template):
    """The template was an empty database when ``alembic upgrade head`` ran on it."""
    engine = make_engine(template.url)
    try:
        with engine.connect() as connection:
            assert current_revision(connection) == HEAD
            diff = compare_metadata(MigrationContext.configure(connection), metadata)
            assert diff == []
            tables = set(inspect(connection).get_table_names())
        assert {t.name for t in metadata.sorted_tables} <= tables
    finally:
        engine.dispose()


def test_migrations_run_again_change_nothing(engine):
    with engine.begin() as connection:
        upgrade(connection)
        assert current_revision(connection) == HEAD


def _site(db, clock):
    add_gate(db, clock)
    with db.transaction() as session:
        return sites.get_site(session, SITE).id


def _write_csv(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def test_register_csv_with_chinese_headings_and_extra_columns(tmp_path):
    path = _write_csv(
        tmp_path / "r.csv", "户号,姓名,人数,每日外出次数\n7-1201,张三,3,1\n\n7-1202,李四,2,\n"
    )
    register = households.read_register(path)
    assert [(r.line, r.household, r.members, r.exit_quota_per_day) for r in register.rows] == [
        (2, "7-1201", 3, 1),
        (4, "7-1202", 2, None),
    ]
    assert register.ignored_columns == ["姓名"]


def test_register_csv_saved_by_excel_in_gb18030(tmp_path):
    path = _write_csv(tmp_path / "r.csv", "户号,人数\r\n8-0301,4\r\n", "gb18030")
    assert households.read_register(path).rows[0].household == "8-0301"


def test_register_bad_rows_are_named_by_line_and_nothing_is_read(tmp_path):
    path = _write_csv(
        tmp_path / "r.csv",
        "household,members,exit_quota_per_day\n7-1201,3,\n7-1202,many,\n7/1203,2,\n"
        "7-1201,2,\n9-0101,2,99\n,3,\n",
    )
    with pytest.raises(ImportRefused) as caught:
        households.read_register(path)
    problems = caught.value.problems
    assert len(problems) == 5
    assert problems[0].startswith("r.csv line 3: members 'many'")
    assert "line 4: household '7/1203'" in problems[1]
    assert "line 5: household 7-1201 is already on line 2" in problems[2]
    assert "line 6: exit_quota_per_day '99'" in problems[3]
    assert "line 7: household is empty" in problems[4]
    assert "nothing was imported" in str(caught.value)


def test_register_header_must_name_the_columns(tmp_path):
    with pytest.raises(ImportRefused, match="lacks members"):
        households.read_register(_write_csv(tmp_path / "r.csv", "户号,姓名\n7-1201,张三\n"))
    with pytest.raises(ImportRefused, match="empty"):
        households.read_register(_write_csv(tmp_path / "e.csv", "\n\n"))
    with pytest.raises(ImportRefused, match=r"\.csv or \.xlsx"):
        households.read_register(_write_csv(tmp_path / "r.txt", "x"))
    with pytest.raises(ImportRefused, match="not a readable XLSX"):
        households.read_register(_write_csv(tmp_path / "r.xlsx", "not a zip"))


def _xlsx(path, rows):
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def test_register_xlsx_numbers_and_a_household_excel_made_a_date(tmp_path):
    path = _xlsx(tmp_path / "r.xlsx", [["房号", "户内人数"], ["7-1201", 3.0], ["12-0101", 1]])
    assert [(r.household, r.members) for r in households.read_register(path).rows] == [
        ("7-1201", 3),
        ("12-0101", 1),
    ]
    path = _xlsx(tmp_path / "d.xlsx", [["户号", "人数"], [datetime(2020, 7, 12), 3]])
    with pytest.raises(ImportRefused) as caught:
        households.read_register(path)
    assert "d.xlsx line 2: household became a date" in caught.value.problems[0]


def test_register_plan_and_apply_preview_then_change(db, clock, tmp_path):
    site_id = _site(db, clock)
    first = households.read_register(
        _write_csv(tmp_path / "a.csv", "户号,人数\n7-1201,3\n7-1202,2\n9-0502,1\n")
    )
    with db.transaction() as session:
        site = sites.get_site(session, SITE)
        change = households.plan(session, site, first)
        assert [r.household for r in change.added] == ["7-1201", "7-1202", "9-0502"]
        households.apply(session, site, change, clock())
    with db.transaction() as session:
        key, _ = keys.init(session, tmp_path / "keys", clock())
        passes.issue(session, key, SITE, clock(), household="9-0502")
    second = households.read_register(
        _write_csv(tmp_path / "b.csv", "户号,人数,外出限额\n7-1201,3,\n7-1202,4,2\n8-0301,4,\n")
    )
    with db.transaction() as session:
        site = sites.get_site(session, SITE)
        change = households.plan(session, site, second)
        assert [r.household for r in change.added] == ["8-0301"]
        assert [(h.code, r.members) for h, r in change.changed] == [("7-1202", 4)]
        assert change.unchanged == 1
        assert [h.code for h in change.missing] == ["9-0502"]
        households.apply(session, site, change, clock(), remove_missing=True)
    with db.transaction() as session:
        present = session.scalars(
            select(Household.code)
            .where(Household.site_id == site_id, Household.removed_at.is_(None))
            .order_by(Household.code)
        ).all()
        assert present == ["7-1201", "7-1202", "8-0301"]
        assert session.scalars(select(Pass.status)).all() == ["revoked"]


def test_keys_init_makes_a_0600_key_once(db, clock, tmp_path):
    with db.transaction() as session:
        key, created = keys.init(session, tmp_path / "keys", clock())
    assert created
    mode = stat.S_IMODE(os.stat(key.path).st_mode)
    assert mode == 0o600
    with db.transaction() as session:
        again, created = keys.init(session, tmp_path / "keys", clock())
    assert not created and again.key.public_key().public_bytes_raw() == (
        key.key.public_key().public_bytes_raw()
    )
    os.chmod(key.path, 0o644)
    with pytest.raises(Refused, match="chmod 600"):
        keys.load(tmp_path / "keys")
    with pytest.raises(NotFound, match="keys init"):
        keys.load(tmp_path / "none")


def test_pass_issue_for_every_household_then_status_changes(db, clock, tmp_path):
    _site(db, clock)
    with db.transaction() as session:
        site = sites.get_site(session, SITE)
        rows = [households.Row(2, "7-1201", 3, None), households.Row(3, "GUARDHOUSE", 1, None)]
        households.apply(
            session, site, households.plan(session, site, households.Register(rows)), clock()
        )
        key, _ = keys.init(session, tmp_path / "keys", clock())
        issued = passes.issue(session, key, SITE, clock(), days=30)
        issued += passes.issue(session, key, SITE, clock(), household="7-1201")
    assert issued[0].pass_id == "P0007120101"
    assert issued[1].pass_id.startswith("H") and len(issued[1].pass_id) == 11
    assert issued[2].pass_id == "P0007120102"
    claims = parse_token(issued[0].token).claims
    assert (claims.household, claims.pass_id) == ("7-1201", "P0007120101")
    sheet = passes.print_sheet(issued, tmp_path / "out")
    assert sheet.read_bytes().startswith(b"%PDF")
    with db.transaction() as session:
        with pytest.raises(Refused, match="is active; cannot resume"):
            passes.change(session, "P0007120101", "resume", clock())
        passes.change(session, "P0007120101", "revoke", clock())
        with pytest.raises(Refused, match="revoked; cannot suspend"):
            passes.change(session, "P0007120101", "suspend", clock())
        with pytest.raises(NotFound):
            passes.change(session, "P9999999999", "revoke", clock())
        with pytest.raises(NotFound):
            passes.issue(session, key, SITE, clock(), household="1-0101")


def test_export_gives_the_contract_shape_in_seq_order(client, db, clock):
    token = add_gate(db, clock)
    sent = batch(1, 5)
    assert push(client, token, sent).status_code == 200
    assert list(export_events(db, "xdm-jinwaitan-1")) == sent["events"]
    assert list(export_events(db, "xdm-jinwaitan-1", 3)) == sent["events"][3:]
    with pytest.raises(NotFound):
        list(export_events(db, "no-such-gate"))


@settings(max_examples=150, deadline=None)
@given(
    raw=st.one_of(
        st.binary(max_size=400),
        st.lists(
            st.lists(st.one_of(st.text(max_size=12), st.integers().map(str)), max_size=5),
            max_size=6,
        ).map(lambda rows: "\n".join(",".join(r) for r in rows).encode("utf-8")),
    ),
    header=st.sampled_from(
        [b"", "户号,人数\n".encode(), b"household,members,exit_quota_per_day\n"]
    ),
    suffix=st.sampled_from([".csv", ".xlsx"]),
)
def test_register_reader_gives_rows_or_named_problems_for_any_bytes(raw, header, suffix):
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"register{suffix}"
        path.write_bytes(header + raw)
        try:
            register = households.read_register(path)
        except ImportRefused as exc:
            assert str(exc).startswith(str(path))
            assert all(p.startswith(f"register{suffix} line ") for p in exc.problems)
        else:
            for row in register.rows:
                assert 0 <= row.members <= households.MAX_MEMBERS and row.household


def test_migration_0002_makes_alarms_of_the_alarm_events_stored_before(template):
    """A database at 0001 with alarm events (one acknowledged at the gate): after the
    upgrade each is an alarm, the acknowledged one with its outcome."""
    import json
    import uuid
    from datetime import UTC, datetime

    from sqlalchemy import text

    url, name = template.clone()
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            for table in ("alerts", "events", "heartbeats", "gates", "sites"):
                connection.execute(text(f"DELETE FROM {table}"))
        with engine.begin() as connection:
            upgrade_to_0001(connection, template.kind)
            now = datetime(2020, 2, 4, tzinfo=UTC)
            connection.execute(
                text(
                    "INSERT INTO sites (id, code, name, created_at, roster_seq, roster_changed_at) "
                    "VALUES (1, 's1', 'S', :t, 1, :t)"
                ),
                {"t": now},
            )
            connection.execute(
                text(
                    "INSERT INTO gates (id, code, site_id, token_hash, token_changed_at, "
                    "acked_seq, created_at) VALUES (1, 'g1', 1, 'x', :t, 4, :t)"
                ),
                {"t": now},
            )
            fever = uuid.uuid4()
            rows = [
                (1, fever, "alert.fever", {"temperature_c": 38.0}),
                (
                    2,
                    uuid.uuid4(),
                    "alert.fever_ack",
                    {"fever_id": str(fever), "outcome": "clinic", "by": "guard"},
                ),
                (3, uuid.uuid4(), "alert.sensor_fault", {"state": "recovered"}),
                (4, uuid.uuid4(), "door.forced", {}),
            ]
            for seq, event_id, kind, data in rows:
                connection.execute(
                    text(
                        "INSERT INTO events (gate_id, seq, event_id, ts, occurred_at, lane, type, "
                        "data, received_at) VALUES (1, :seq, :id, 'ts', :t, 'main', :type, "
                        ":data, :t)"
                    ),
                    {
                        "seq": seq,
                        "id": event_id if template.kind == "postgresql" else event_id.hex,
                        "t": now,
                        "type": kind,
                        "data": json.dumps(data),
                    },
                )
            upgrade(connection)
            alarms_after = connection.execute(
                text("SELECT kind, outcome, ack_by FROM alerts ORDER BY event_id")
            ).all()
        assert [tuple(r) for r in alarms_after] == [
            ("alert.fever", "clinic", "gate:guard"),
            ("door.forced", None, None),
        ]
    finally:
        engine.dispose()
        template.drop(name)


def upgrade_to_0001(connection, kind: str) -> None:
    """Bring a cleared copy of the template back to revision 0001 (the schema of then)."""
    from alembic import command
    from alembic.config import Config as AlembicConfig

    from committee.db import MIGRATIONS

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.downgrade(config, "0001")
