"""Accounts, sign-in, sessions, roles, CSRF and CSP of the committee's pages, on both
engines, through Flask's test client."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from committee import accounts
from committee.errors import NotFound, Refused
from kiosk.reasons import Reason
from kiosk.registrations import KINDS, OUTCOMES
from tests.committee.helpers import (
    PASSWORD,
    SITE,
    add_account,
    add_gate,
    csrf_token,
    post_form,
    sign_in,
)

TEMPLATES = Path(__file__).resolve().parents[2] / "committee" / "web" / "templates"


@pytest.fixture
def site(db, clock):
    add_gate(db, clock)
    add_gate(db, clock, gate="other-1", site="other-site")
    return SITE


def test_accounts_roles_and_their_sites(db, clock, site):
    with db.transaction() as session:
        with pytest.raises(Refused, match="needs its sites"):
            accounts.add(session, "ann", "committee", PASSWORD, [], clock())
        with pytest.raises(Refused, match="sees every site"):
            accounts.add(session, "bo", "street", PASSWORD, [SITE], clock())
        with pytest.raises(Refused, match="at least 8"):
            accounts.add(session, "cy", "admin", "short", [], clock())
        with pytest.raises(Refused, match="role must be"):
            accounts.add(session, "cy", "guard", PASSWORD, [], clock())
        with pytest.raises(NotFound):
            accounts.add(session, "cy", "committee", PASSWORD, ["nowhere"], clock())
        ann = accounts.add(session, "ann", "committee", PASSWORD, [SITE], clock())
        seen = accounts.viewer(ann)
        assert seen.can_change and not seen.is_admin and seen.site_ids == {ann.sites[0].id}
        street = accounts.viewer(accounts.add(session, "bo", "street", PASSWORD, [], clock()))
        assert street.site_ids is None and not street.can_change
        with pytest.raises(Refused, match="already exists"):
            accounts.add(session, "ann", "admin", PASSWORD, [], clock())
        assert [a.name for a in accounts.list_accounts(session)] == ["ann", "bo"]


def test_sign_in_makes_a_server_side_session_that_sign_out_ends(client, db, clock, site):
    add_account(db, clock, "ann", "committee", [SITE])
    assert client.get("/now").status_code == 302
    reply = sign_in(client, "ann")
    assert reply.status_code == 302 and reply.headers["Location"] == "/"
    assert client.get("/now").status_code == 200
    copied = client.get_cookie("committee_session").value
    token = csrf_token(client, "/now")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/now").status_code == 302
    # the cookie copied before signing out signs nobody in: the session is gone
    client.set_cookie("committee_session", copied)
    assert client.get("/now").status_code == 302
    assert client.get("/now/state").status_code == 401


@pytest.mark.parametrize(
    "target", ["/%09/evil.example/phish", "/%5Cevil.example", "//evil.example", "https://x.example"]
)
def test_sign_in_never_sends_the_browser_to_another_site(client, db, clock, site, target):
    add_account(db, clock, "ann", "committee", [SITE])
    token = csrf_token(client)
    data = {"user": "ann", "password": PASSWORD, "csrf_token": token}
    reply = client.post(f"/login?next={target}", data=data)
    assert reply.status_code == 302 and reply.headers["Location"] == "/"


def test_sign_in_comes_back_to_the_page_asked_for(client, db, clock, site):
    add_account(db, clock, "ann", "committee", [SITE])
    token = csrf_token(client)
    data = {"user": "ann", "password": PASSWORD, "csrf_token": token}
    reply = client.post("/login?next=/report?day=2020-02-04", data=data)
    assert reply.headers["Location"] == "/report?day=2020-02-04"


def test_wrong_passwords_throttle_the_account_not_the_others(client, db, clock, site):
    add_account(db, clock, "ann", "committee", [SITE])
    add_account(db, clock, "bo", "street")
    for _ in range(5):
        assert sign_in(client, "ann", "wrong-password").status_code == 401
    refused = sign_in(client, "ann")  # the right password, but the account waits
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) == 60
    assert "秒后可再试" in refused.get_data(as_text=True)
    assert sign_in(client, "bo").status_code == 302  # another account is not held back
    clock.advance(seconds=61)
    assert sign_in(client, "ann").status_code == 302
    with db.transaction() as session:
        assert accounts.get(session, "ann").failed_logins == 0


def test_an_idle_session_ends_and_a_new_password_ends_every_session(client, db, clock, site):
    add_account(db, clock, "ann", "committee", [SITE])
    sign_in(client, "ann")
    clock.advance(minutes=29)
    assert client.get("/now").status_code == 200
    clock.advance(minutes=31)
    assert client.get("/now").status_code == 302
    sign_in(client, "ann")
    with db.transaction() as session:
        accounts.passwd(session, "ann", "another-password", clock())
    assert client.get("/now").status_code == 302


def test_every_change_needs_the_csrf_token(client, db, clock, site):
    add_account(db, clock, "ann", "committee", [SITE])
    sign_in(client, "ann")
    reply = client.post("/observation/set", data={"site": SITE, "household": "7-1201"})
    assert reply.status_code == 400
    assert "页面已过期" in reply.get_data(as_text=True)
    assert client.post("/login", data={"user": "ann", "password": PASSWORD}).status_code == 400


def test_pages_carry_a_csp_without_inline_script(client, db, clock, site):
    add_account(db, clock, "ann", "admin")
    sign_in(client, "ann")
    for path in ("/login", "/now", "/households", "/registrations", "/report", "/out"):
        reply = client.get(path)
        csp = reply.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp, path
        assert reply.headers["X-Frame-Options"] == "DENY"
    for template in TEMPLATES.glob("*.html"):
        for tag in re.findall(r"<script[^>]*>", template.read_text(encoding="utf-8")):
            assert "src=" in tag or 'type="application/json"' in tag, (template.name, tag)
        assert not re.search(r"\son[a-z]+=", template.read_text(encoding="utf-8")), template.name


def test_roles_street_reads_only_and_a_committee_sees_its_sites(client, db, clock, site):
    add_account(db, clock, "ann", "committee", [SITE])
    add_account(db, clock, "bo", "street")
    sign_in(client, "bo")
    assert client.get("/households?site=other-site").status_code == 200
    refused = post_form(client, "/observation/set", {"site": SITE, "household": "7-1201"})
    assert refused.status_code == 403
    assert client.get("/audit").status_code == 403
    client.delete_cookie("committee_session")
    sign_in(client, "ann")
    page = client.get("/households?site=other-site").get_data(as_text=True)
    assert "other-site" not in page  # shown its own site instead
    foreign = post_form(client, "/observation/set", {"site": "other-site", "household": "1"})
    assert foreign.status_code == 404
    state = client.get("/now/state").get_json()
    assert {g["site"] for g in state["gates"]} == {SITE}


def test_the_language_switches_and_stays(client, db, clock, site):
    add_account(db, clock, "ann", "committee", [SITE])
    sign_in(client, "ann")
    assert "实时" in client.get("/now").get_data(as_text=True)
    token = csrf_token(client, "/now")
    client.post("/lang", data={"csrf_token": token}, headers={"Referer": "http://localhost/now"})
    page = client.get("/now").get_data(as_text=True)
    assert "Now" in page and 'lang="en"' in page


def test_every_word_the_templates_use_is_in_the_catalogue():
    from committee.web import i18n

    used = set()
    for template in TEMPLATES.glob("*.html"):
        used |= set(re.findall(r"t\('([a-z_.]+)'", template.read_text(encoding="utf-8")))
    script = (TEMPLATES.parent / "static" / "now.js").read_text(encoding="utf-8")
    used |= set(re.findall(r'w\("([a-z_.]+)"\)', script))
    missing = sorted(k for k in used if not k.endswith(".") and k not in i18n.CATALOGUE)
    assert missing == []
    # the words built from a prefix: every alarm kind, outcome, event type and reason shown
    from committee import alarms, live, report

    built = [f"alarm.{k}" for k in alarms.KINDS] + [f"event.{t}" for t in live.SHOWN]
    built += [alarms.what(alarms.SENSOR, s) for s in alarms.SENSOR_SOURCES]
    built += [f"outcome.{o}" for o in (*alarms.FEVER_OUTCOMES, *alarms.OTHER_OUTCOMES)]
    built += [f"outcome.{s}" for s in report.FEVER_STATES]
    built += [f"reg.kind.{k}" for k in KINDS] + [f"reg.outcome.{o}" for o in OUTCOMES]
    built += ["role.committee", "role.street", "role.admin", "direction.in", "direction.out"]
    built += [f"part.{p}" for p in ("thermometer", "camera", "relay")]
    built += [f"pass.status.{s}" for s in ("active", "suspended", "revoked")]
    built += [f"obs.source.{s}" for s in ("gate", "hand")]
    assert sorted(k for k in built if k not in i18n.CATALOGUE) == []
    assert all(
        code in i18n.REASONS for code in Reason.__members__ if not code.startswith("GRANTED")
    )
    for key, (zh, en) in i18n.CATALOGUE.items():
        assert (zh and en and zh != en) or key == "lang.switch", key
