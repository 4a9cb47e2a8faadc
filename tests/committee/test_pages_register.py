"""Households and passes, registrations, who is out and anomalies, through the pages, on
both engines: each page's main job, with the audit entry of every change."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from committee import keys, registrations, sites
from committee.models import AuditEntry, Event, HomeObservation, Household, Pass
from tests.committee.helpers import SITE, add_account, add_gate, post_form, push, sign_in

REGISTER = "户号,人数,每日外出次数,姓名\n7-1201,3,2,王某\n7-1202,2,,李某\n8-0301,4,1,张某\n"


def _audit(db, action):
    with db.transaction() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def _upload(client, text: str, name: str = "居民名册.csv"):
    data = {"site": SITE, "file": (io.BytesIO(text.encode("utf-8")), name)}
    return post_form(
        client, "/households/import", data, page="/households", content_type="multipart/form-data"
    )


@pytest.fixture
def ann(client, db, clock, config):
    token = add_gate(db, clock)
    add_account(db, clock, "ann", "committee", [SITE])
    with db.transaction() as session:
        keys.init(session, config.keys_dir, clock())
    sign_in(client, "ann")
    return token


def test_import_from_the_browser_previews_then_applies(client, db, ann):
    preview = _upload(client, REGISTER)
    page = preview.get_data(as_text=True)
    assert preview.status_code == 200
    assert "新增 <b>3</b>" in page and "未导入的列: 姓名" in page
    with db.transaction() as session:
        assert session.scalar(select(Household)) is None  # a preview changes nothing
    token = page.split('name="token" value="')[1].split('"')[0]
    applied = post_form(client, "/households/import/apply", {"site": SITE, "token": token})
    assert applied.status_code == 302
    listing = client.get(f"/households?site={SITE}").get_data(as_text=True)
    assert "名册已导入" in listing and 'data-household="8-0301"' in listing
    (entry,) = _audit(db, "households.import")
    assert entry.actor == "ann" and entry.detail["added"] == ["7-1201", "7-1202", "8-0301"]
    # the same file again: nothing to change; the token was used up
    again = post_form(client, "/households/import/apply", {"site": SITE, "token": token})
    assert "预览已过期" in client.get(again.headers["Location"]).get_data(as_text=True)


def test_a_register_with_bad_rows_names_them_and_imports_nothing(client, db, ann):
    refused = _upload(client, "户号,人数\n7-1201,3\n7-1202,lots\n,2\n")
    page = refused.get_data(as_text=True)
    assert "未导入任何内容" in page
    assert "line 3: members &#39;lots&#39; is not a number" in page
    assert "line 4: household is empty" in page
    with db.transaction() as session:
        assert session.scalar(select(Household)) is None
    wrong = _upload(client, "not a sheet", "register.txt")
    assert "register.txt: .csv / .xlsx" in client.get(wrong.headers["Location"]).get_data(
        as_text=True
    )


def test_passes_issued_printed_suspended_and_revoked_on_the_page(client, db, ann, config):
    _apply(client)
    issued = post_form(
        client, "/passes/issue", {"site": SITE, "household": "7-1201"}, page="/households"
    )
    assert issued.status_code == 302
    listing = client.get(f"/households?site={SITE}").get_data(as_text=True)
    link = listing.split('id="cards-link" href="')[1].split('"')[0]
    sheet = client.get(link)
    assert sheet.status_code == 200 and sheet.data.startswith(b"%PDF")
    sheet.close()
    assert 'data-pass="P0007120101"' in listing
    for action, status in (("suspend", "suspended"), ("resume", "active"), ("revoke", "revoked")):
        reply = post_form(
            client, f"/passes/P0007120101/{action}", {"site": SITE}, page="/households"
        )
        assert reply.status_code == 302
        with db.transaction() as session:
            assert session.scalar(select(Pass.status)) == status
    again = post_form(client, "/passes/P0007120101/resume", {"site": SITE}, page="/households")
    assert "is revoked; cannot resume" in client.get(again.headers["Location"]).get_data(
        as_text=True
    )
    actions = [e.action for e in _audit(db, "pass.issue") + _audit(db, "pass.revoke")]
    assert actions == ["pass.issue", "pass.revoke"]
    # every household at once, and the sheet is only this session's
    post_form(client, "/passes/issue", {"site": SITE, "days": "30"}, page="/households")
    with db.transaction() as session:
        assert session.scalar(select(Pass).where(Pass.code == "P0008030101")) is not None
    client.delete_cookie("committee_session")
    sign_in(client, "ann")
    assert client.get(link).status_code == 404


def _apply(client):
    page = _upload(client, REGISTER).get_data(as_text=True)
    token = page.split('name="token" value="')[1].split('"')[0]
    post_form(client, "/households/import/apply", {"site": SITE, "token": token})


def test_quota_and_home_observation_by_hand_with_where_each_came_from(client, db, ann, clock):
    _apply(client)
    post_form(client, "/households/7-1202/quota", {"site": SITE, "quota": "1"}, page="/households")
    bad = post_form(
        client, "/households/7-1202/quota", {"site": SITE, "quota": "99"}, page="/households"
    )
    assert "外出次数为 0 到 20" in client.get(bad.headers["Location"]).get_data(as_text=True)
    with db.transaction() as session:
        quota = session.scalar(
            select(Household.exit_quota_per_day).where(Household.code == "7-1202")
        )
    assert quota == 1
    post_form(
        client,
        "/observation/set",
        {"site": SITE, "household": "8-0301", "start": "2020-02-04", "until": "2020-02-17"},
        page="/households",
    )
    # a gate's registration with 14-day home observation
    push(
        client,
        ann,
        {
            "gate_id": "xdm-jinwaitan-1",
            "events": [
                {
                    "id": str(uuid.uuid4()),
                    "seq": 1,
                    "ts": "2020-02-04T09:00:00+08:00",
                    "lane": "main",
                    "type": "registration.created",
                    "data": {
                        "kind": "returning",
                        "outcome": "observation",
                        "household": "7-1201",
                        "arrival_date": "2020-02-04",
                        "observation_until": "2020-02-17",
                    },
                }
            ],
        },
    )
    page = client.get(f"/households?site={SITE}").get_data(as_text=True)
    observed = page.split('id="observations"')[1]
    assert "门岗登记" in observed and "手动" in observed
    post_form(
        client, "/observation/clear", {"site": SITE, "household": "8-0301"}, page="/households"
    )
    with db.transaction() as session:
        rows = session.scalars(select(HomeObservation).order_by(HomeObservation.id)).all()
        assert [(r.source, r.ended_by) for r in rows] == [("hand", "hand"), ("gate", None)]
    assert [e.actor for e in _audit(db, "observation.set")] == ["ann", "gate:xdm-jinwaitan-1"]
    assert [e.detail for e in _audit(db, "household.quota")] == [{"from": None, "to": 1}]


def _registration(seq, at, kind, outcome, name="王小明", **extra):
    return {
        "id": str(uuid.uuid4()),
        "seq": seq,
        "ts": at,
        "lane": "main",
        "type": "registration.created",
        "data": {
            "kind": kind,
            "outcome": outcome,
            "name": name,
            "phone": "13912345678",
            "id_number": "110101199003074514",
            "household": "7-1201",
            "from_province": "湖北",
            "from_city": "武汉",
            "plate": "沪A12345",
            "temperature_c": 36.6,
            **extra,
        },
    }


def _table(reply) -> str:
    return reply.get_data(as_text=True).split('id="registrations"')[1].split("</table>")[0]


def test_registrations_filtered_masked_exported_and_purged(client, db, ann, clock, server):
    events = [
        _registration(1, "2020-02-04T08:00:00+08:00", "visitor", "admitted"),
        _registration(2, "2020-02-04T09:00:00+08:00", "courier", "courier", name="李四"),
        _registration(3, "2020-02-03T09:00:00+08:00", "tenant", "admitted"),
    ]
    assert push(client, ann, {"gate_id": "xdm-jinwaitan-1", "events": events}).status_code == 200
    page = _table(client.get("/registrations?from=2020-02-04&to=2020-02-04"))
    assert "王**" in page and "139****5678" in page and "**************4514" in page
    assert "王小明" not in page and "13912345678" not in page and "110101199003074514" not in page
    assert "李*" in page and "租户" not in page  # the 3rd is of the day before
    only = _table(client.get("/registrations?from=2020-02-03&to=2020-02-04&kind=tenant"))
    assert "租户" in only and "李*" not in only
    exported = client.get("/registrations/export.csv?from=2020-02-03&to=2020-02-04")
    rows = list(csv.reader(io.StringIO(exported.get_data(as_text=True).lstrip("\ufeff"))))
    assert len(rows) == 4 and rows[0][0] == "时间"
    assert rows[2][6:9] == ["王小明", "13912345678", "**************4514"]  # newest first
    (entry,) = _audit(db, "registrations.export")
    assert entry.actor == "ann" and entry.detail["format"] == "csv"
    # after the retention the personal fields go, what the report counts stays
    clock.advance(days=27, hours=23)
    with db.transaction() as session:
        assert registrations.purge(session, clock(), 28) == 1  # the one of the day before
    clock.advance(days=1)
    with db.transaction() as session:
        assert registrations.purge(session, clock(), 28) == 2
        assert registrations.purge(session, clock(), 28) == 0
        data = session.scalars(select(Event.data).order_by(Event.seq)).all()
    assert all(
        d["purged"] and "name" not in d and "phone" not in d and "plate" not in d for d in data
    )
    assert [d["kind"] for d in data] == ["visitor", "courier", "tenant"]
    sign_in(client, "ann")  # a month later
    table = _table(client.get("/registrations?from=2020-02-03&to=2020-02-04"))
    assert table.count("已按保留期限删除个人信息") == 3


def _grant(seq, at, direction, pass_id="P0007120101", household="7-1201", **extra):
    return {
        "id": str(uuid.uuid4()),
        "seq": seq,
        "ts": at,
        "lane": "main",
        "type": "access.granted",
        "data": {
            "pass_id": pass_id,
            "household": household,
            "direction": direction,
            "reason": "GRANTED",
            **extra,
        },
    }


def test_who_is_out_by_household_overdue_and_over_quota(client, db, ann, clock):
    _apply(client)  # 7-1201: 2 outings a day
    now = clock()  # 2020-02-04 08:15 in Shanghai
    at = lambda minutes: (now - timedelta(minutes=minutes)).isoformat()  # noqa: E731
    events = [
        _grant(1, at(300), "out"),  # P..01 out 5 h ago, back in, out again 3 h ago: overdue
        _grant(2, at(250), "in"),
        _grant(3, at(180), "out"),
        _grant(4, at(30), "out", "P0007120102"),  # out 30 min ago
        _grant(5, at(20), "out", "P0007120201", "7-1202"),
        _grant(6, at(10), "in", "P0007120201", "7-1202"),  # back
        _grant(7, at(5), "out", "P0008030101", "8-0301"),
        {**_grant(8, at(4), "in", "P0008030101", "8-0301"), "data": {"pass_id": "P0008030101"}},
    ]
    assert push(client, ann, {"gate_id": "xdm-jinwaitan-1", "events": events}).status_code == 200
    page = client.get("/out").get_data(as_text=True)
    table = page.split('id="out"')[1].split("</table>")[0]
    assert 'data-pass="P0007120101"' in table and 'data-pass="P0007120102"' in table
    assert "P0007120201" not in table  # it came back
    assert 'data-pass="P0008030101"' in table  # a grant without a direction is no passage
    assert table.index("P0007120101") < table.index("P0007120102")  # longest out first
    assert page.count('class="overdue"') == 1 and "超时未归 1</span>" in page
    over = page.split('id="over-quota"')[1]
    assert "<b>7-1201</b>" in over and '<td class="num bad">3</td>' in over


def test_anomalies_of_a_day(client, db, ann, clock, config):
    add_gate(db, clock, gate="xdm-jinwaitan-2")
    token2 = _token(db, clock)
    day = "2020-02-04T{}+08:00"
    gate1 = [
        _grant(1, day.format("08:00:00"), "in"),
        _grant(2, day.format("09:00:00"), "in", clock_synchronised=False),
        {
            "id": str(uuid.uuid4()),
            "seq": 3,
            "ts": day.format("09:30:00"),
            "lane": "main",
            "type": "access.denied",
            "data": {"reason": "PASS_WRONG_SITE", "pass_id": "P0001010101", "direction": "in"},
        },
    ] + [_grant(4 + i, day.format(f"1{i}:00:00"), "out", "P0008030101", "8-0301") for i in range(5)]
    history = [
        _grant(20 + i, f"2020-01-{25 + i:02d}T10:00:00+08:00", "out", "P0008030101", "8-0301")
        for i in range(2)
    ]
    assert push(client, ann, {"gate_id": "xdm-jinwaitan-1", "events": history}).status_code == 409
    first = push(client, ann, {"gate_id": "xdm-jinwaitan-1", "events": gate1})
    assert first.status_code == 200
    later = [dict(e, seq=9 + n) for n, e in enumerate(history)]
    push(client, ann, {"gate_id": "xdm-jinwaitan-1", "events": later})
    shared = [_grant(1, day.format("08:03:00"), "in")]
    assert (
        push(
            client, token2, {"gate_id": "xdm-jinwaitan-2", "events": shared}, gate="xdm-jinwaitan-2"
        ).status_code
        == 200
    )
    page = client.get("/anomalies?day=2020-02-04").get_data(as_text=True)
    shared_part = page.split('id="shared"')[1].split("</section>")[0]
    assert "P0007120101" in shared_part and "3.0" in shared_part
    assert "P0001010101" in page.split('id="foreign"')[1].split("</section>")[0]
    exits = page.split('id="exits"')[1].split("</section>")[0]
    assert "8-0301" in exits and "0.14" in exits  # 2 exits in 14 days: 0.14 a day, 5 today
    clock_part = page.split('id="clock"')[1].split("</section>")[0]
    assert "xdm-jinwaitan-1" in clock_part and '<td class="num">1</td>' in clock_part
    quiet = client.get("/anomalies?day=2020-02-03").get_data(as_text=True)
    assert quiet.count("<td colspan") == 4


def _token(db, clock):
    with db.transaction() as session:
        return sites.replace_token(session, "xdm-jinwaitan-2", clock())


def test_a_street_account_sees_every_compound_and_changes_none(client, db, clock):
    add_gate(db, clock)
    add_account(db, clock, "bo", "street")
    sign_in(client, "bo")
    page = client.get(f"/households?site={SITE}").get_data(as_text=True)
    assert "只读账户" in page and "/passes/issue" not in page and "import-form" not in page
    assert post_form(client, "/passes/issue", {"site": SITE}, page="/households").status_code == 403
