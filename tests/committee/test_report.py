"""The daily report against a known day: every cell of the page, the XLSX and the PDF is
the count of the stored events that were pushed through the gate API; on both engines."""

from __future__ import annotations

import io
import uuid
from datetime import date

import pytest
from openpyxl import load_workbook

from committee import alarms, households, observation, report, report_files, sites
from committee.web import i18n
from tests.committee.helpers import SITE, add_account, add_gate, push, sign_in

DAY = date(2020, 2, 4)  # in Asia/Shanghai, the test configuration's zone
OTHER = "yy-nearby"  # after SITE in code order, as the report lists them


def ev(seq, ts, type_, lane="main", **data):
    return {
        "id": str(uuid.uuid4()),
        "seq": seq,
        "ts": ts,
        "lane": lane,
        "type": type_,
        "data": data,
    }


def _in(seq, ts, household="7-1201", **extra):
    return ev(
        seq,
        ts,
        "access.granted",
        pass_id="P0007120101",
        household=household,
        direction="in",
        reason="GRANTED",
        **extra,
    )


def _out(seq, ts, household="7-1201"):
    return ev(
        seq,
        ts,
        "access.granted",
        "exit",
        pass_id="P0007120101",
        household=household,
        direction="out",
        reason="GRANTED",
    )


def _denied(seq, ts, reason):
    return ev(seq, ts, "access.denied", reason=reason, pass_id="P0007120102", direction="in")


def _registration(seq, ts, kind, outcome, household="", **extra):
    return ev(
        seq,
        ts,
        "registration.created",
        kind=kind,
        outcome=outcome,
        household=household,
        name="张三",
        phone="13800138000",
        id_number="***1234",
        **extra,
    )


def T(clock_time: str, day: str = "2020-02-04") -> str:
    return f"{day}T{clock_time}+08:00"


@pytest.fixture
def known_day(client, db, clock, tmp_path):
    """Two gates at the compound, one at another; the day's events pushed through the API."""
    tokens = {
        "g1": add_gate(db, clock, gate="g1"),
        "g2": add_gate(db, clock, gate="g2"),
        "o1": add_gate(db, clock, gate="o1", site=OTHER),
    }
    register = tmp_path / "register.csv"
    register.write_text("户号,人数\n7-1201,3\n7-1202,2\n8-0301,4\n9-0502,1\n", encoding="utf-8")
    with db.transaction() as session:
        site = sites.get_site(session, SITE)
        change = households.plan(session, site, households.read_register(register))
        households.apply(session, site, change, clock())
        observation.set_by_hand(
            session, SITE, "8-0301", date(2020, 2, 3), date(2020, 1, 21), clock()
        )
        observation.set_by_hand(
            session, SITE, "9-0502", date(2020, 2, 10), date(2020, 1, 25), clock()
        )
    fever_acked = ev(13, T("11:00:00"), "alert.fever", temperature_c=38.1, household="7-1201")
    g1 = [
        _in(1, T("23:59:59", "2020-02-03")),  # the day before: not counted
        _in(2, T("00:30:00")),  # 16:30 UTC the day before: hour 0 of the day
        _in(3, T("07:10:00")),
        _in(4, T("07:20:00")),
        _in(5, T("08:05:00")),
        _out(6, T("07:30:00")),
        _out(7, T("18:45:00")),
        ev(8, T("09:00:00"), "access.granted", pass_id="P0007120101", household="7-1201"),
        _denied(9, T("10:00:00"), "PASS_EXPIRED"),
        _denied(10, T("10:05:00"), "PASS_EXPIRED"),
        _denied(11, T("11:00:00"), "FEVER"),
        ev(12, T("10:59:59"), "temperature.measured", temperature_c=38.1),  # not a figure
        fever_acked,
        ev(
            14,
            T("11:10:00"),
            "alert.fever_ack",
            fever_id=fever_acked["id"],
            outcome="clinic",
            by="guard",
        ),
        _registration(15, T("12:00:00"), "visitor", "admitted", "7-1201"),
        ev(16, T("12:05:00"), "pass.temporary_issued", pass_id="T0204ABC", household="7-1201"),
        _registration(17, T("12:30:00"), "courier", "courier"),
        _registration(18, T("12:40:00"), "courier", "refused"),
        _registration(
            19,
            T("13:00:00"),
            "returning",
            "observation",
            "7-1202",
            arrival_date="2020-02-04",
            observation_until="2020-02-17",
        ),
        ev(20, T("14:00:00"), "alert.fever", temperature_c=37.9),  # left open
        _in(21, T("00:00:00", "2020-02-05")),  # the day after: not counted
    ]
    g2 = [
        _in(1, T("23:59:58")),
        ev(2, T("20:00:00"), "alert.fever", temperature_c=37.6),  # handled on the pages
    ]
    o1 = [_out(1, T("06:00:00"), "1-0101"), _denied(2, T("06:10:00"), "PASS_WRONG_SITE")]
    for gate, events in (("g1", g1), ("g2", g2), ("o1", o1)):
        reply = push(client, tokens[gate], {"gate_id": gate, "events": events}, gate=gate)
        assert reply.status_code == 200, reply.get_json()
    with db.transaction() as session:
        for alarm in alarms.open_alarms(session):
            if alarm.gate.code == "g2":
                alarms.acknowledge(
                    session, alarm.id, "remeasured", by="ann", now=clock(), value_c=36.9
                )
    return db


def _build(db, codes):
    with db.transaction() as session:
        chosen = [sites.get_site(session, c) for c in codes]
        return report.build(session, chosen, DAY, _tz(), _now())


def _tz():
    from zoneinfo import ZoneInfo

    return ZoneInfo("Asia/Shanghai")


def _now():
    from datetime import UTC, datetime

    return datetime(2020, 2, 5, 1, 0, tzinfo=UTC)


def test_report_of_a_known_day_counts_every_figure_from_the_events(known_day):
    result = _build(known_day, [SITE, OTHER])
    (site, a), (other, b) = result.sites
    assert (site.code, other.code) == (SITE, OTHER)
    assert (a.entries, a.exits, a.unknown) == (5, 2, 1)
    assert (a.refusals, dict(a.refusals_by_reason)) == (3, {"PASS_EXPIRED": 2, "FEVER": 1})
    assert a.fevers == 3
    assert dict(a.fever_outcomes) == {"clinic": 1, "remeasured": 1, "open": 1}
    assert a.registrations == 4
    assert dict(a.registrations_by_kind) == {"visitor": 1, "courier": 2, "returning": 1}
    assert (a.couriers_turned_away, a.temporary_passes) == (2, 1)
    assert (a.observation_new, a.observation_ended, a.observation_current) == (1, 1, 2)
    hours_in = {h: n for h, n in enumerate(a.entries_by_hour) if n}
    hours_out = {h: n for h, n in enumerate(a.exits_by_hour) if n}
    assert (hours_in, hours_out) == ({0: 1, 7: 2, 8: 1, 23: 1}, {7: 1, 18: 1})
    assert (b.entries, b.exits, b.unknown, b.refusals) == (0, 1, 0, 1)
    assert dict(b.refusals_by_reason) == {"PASS_WRONG_SITE": 1}
    assert (b.fevers, b.registrations, b.temporary_passes) == (0, 0, 0)
    assert (b.observation_new, b.observation_ended, b.observation_current) == (0, 0, 0)
    assert {h: n for h, n in enumerate(b.exits_by_hour) if n} == {6: 1}
    t = result.total
    assert (t.entries, t.exits, t.unknown, t.refusals, t.fevers, t.registrations) == (
        5,
        3,
        1,
        4,
        3,
        4,
    )
    assert dict(t.refusals_by_reason) == {"PASS_EXPIRED": 2, "FEVER": 1, "PASS_WRONG_SITE": 1}
    # the day before and the day after
    with known_day.transaction() as session:
        site_rows = [sites.get_site(session, SITE)]
        before = report.build(session, site_rows, date(2020, 2, 3), _tz(), _now()).total
        after = report.build(session, site_rows, date(2020, 2, 5), _tz(), _now()).total
    assert (before.entries, after.entries) == (1, 1)
    assert (before.observation_current, after.observation_current) == (2, 2)


EXPECTED_CELLS = {
    "report.entries": [5, 0, 5],
    "report.exits": [2, 1, 3],
    "report.unknown": [1, 0, 1],
    "report.refusals": [3, 1, 4],
    "report.fevers": [3, 0, 3],
    "report.registrations": [4, 0, 4],
    "report.couriers": [2, 0, 2],
    "report.temporary": [1, 0, 1],
    "report.observation.new": [1, 0, 1],
    "report.observation.ended": [1, 0, 1],
    "report.observation.current": [2, 0, 2],
}


def _words(key, **kw):
    return i18n.translate(key, "en", **kw)


def test_report_cells_xlsx_and_pdf_show_the_same_numbers(known_day):
    result = _build(known_day, [SITE, OTHER])
    sections = dict(report.cells(result, _words))
    main = {row[0]: row[1:] for row in sections["report.title"]}
    for key, values in EXPECTED_CELLS.items():
        label = _words(key)
        label = (
            label
            if not key.startswith("report.observation.")
            else (f"{_words('report.observation')}: {label}")
        )
        assert main[label] == values, key
    reasons = {row[0]: row[1:] for row in sections["report.refusals_by_reason"]}
    assert reasons == {"Fever": [1, 0, 1], "Expired": [2, 0, 2], "Another compound's": [0, 1, 1]}
    fevers = {row[0]: row[1:] for row in sections["report.fever_outcomes"]}
    assert fevers[_words("outcome.clinic")] == [1, 0, 1]
    assert fevers[_words("outcome.open")] == [1, 0, 1]
    hours = sections["report.by_hour"]
    assert hours[7] == ["07:00", 2, 1] and hours[6] == ["06:00", 0, 1]
    assert sum(row[1] for row in hours) == 5 and sum(row[2] for row in hours) == 3

    book = load_workbook(io.BytesIO(report_files.xlsx(result, _words, "Report")))
    sheet = book.worksheets[0]
    found = {r[0]: list(r[1:4]) for r in sheet.iter_rows(values_only=True) if r and r[0]}
    for row in sections["report.title"] + sections["report.refusals_by_reason"]:
        assert found[row[0]] == row[1:], row[0]
    hour_rows = list(book.worksheets[1].iter_rows(values_only=True))[1:]
    assert [list(r) for r in hour_rows] == hours

    import pypdfium2

    document = pypdfium2.PdfDocument(report_files.pdf(result, _words, "Report 2020-02-04"))
    assert len(document) == 1  # one page
    text = document[0].get_textpage().get_text_range()
    assert "Report 2020-02-04" in text and "Entries" in text


def test_report_page_and_downloads_for_a_compound_and_the_street(client, known_day, clock):
    add_account(known_day, clock, "bo", "street")
    sign_in(client, "bo")
    page = client.get(f"/report?site={SITE}&day=2020-02-04").get_data(as_text=True)
    assert 'data-figure="report.entries">进入<b>5</b>' in page
    assert 'data-hour="7" data-entries="2"' in page  # the chart's bar
    street = client.get("/report?site=all&day=2020-02-04").get_data(as_text=True)
    assert "全街道" in street and '<td class="num">3</td>' in street
    pdf = client.get("/report.pdf?site=all&day=2020-02-04")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    xlsx = client.get(f"/report.xlsx?site={SITE}&day=2020-02-04")
    sheet = load_workbook(io.BytesIO(xlsx.data)).worksheets[0]
    values = {r[0]: r[1] for r in sheet.iter_rows(values_only=True) if r and r[0]}
    assert values["进入"] == 5 and values["外出"] == 2
