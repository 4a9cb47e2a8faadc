"""Small builders shared by the committee tests."""

from __future__ import annotations

import gzip
import json
import uuid
from typing import Any

from committee import sites

SITE = "xdm-jinwaitan"
GATE = "xdm-jinwaitan-1"
TS = "2020-02-04T08:15:02.123+08:00"


def add_gate(db, clock, gate: str = GATE, site: str = SITE) -> str:
    """Make *site* (when missing) and *gate*; returns the gate's token."""
    with db.transaction() as session:
        if site not in {s.code for s in sites.list_sites(session)}:
            sites.add_site(session, site, "金外滩花园", clock())
        _, token = sites.add_gate(session, gate, site, clock())
    return token


def event(seq: int, type: str = "access.granted", **data: Any) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "seq": seq,
        "ts": TS,
        "lane": "main",
        "type": type,
        "data": data or {"pass_id": "P0007120101", "household": "7-1201", "direction": "in"},
    }


def batch(first: int, n: int, gate: str = GATE) -> dict[str, Any]:
    return {"gate_id": gate, "events": [event(s) for s in range(first, first + n)]}


def headers(token: str | None, **extra: str) -> dict[str, str]:
    out = {"Content-Type": "application/json", "User-Agent": "kiosk/0.1.0", **extra}
    if token is not None:
        out["Authorization"] = f"Bearer {token}"
    return out


def push(client, token, body, gate: str = GATE, *, compress: bool = True):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
    extra = {}
    if compress:
        raw = gzip.compress(raw)
        extra["Content-Encoding"] = "gzip"
    return client.post(f"/api/v1/gates/{gate}/events", data=raw, headers=headers(token, **extra))


def heartbeat_body(gate: str = GATE, **over: Any) -> dict[str, Any]:
    body = {
        "gate_id": gate,
        "ts": TS,
        "version": "0.1.0",
        "uptime_s": 8123,
        "last_seq": 10,
        "unsent": 0,
        "lanes": {"main": {"state": "idle", "thermometer": "ok", "camera": "ok", "relay": "ok"}},
    }
    body.update(over)
    return body


PASSWORD = "password-2020"


def csrf_token(client, path: str = "/login") -> str:
    """The CSRF token of this client's session (from a page's form)."""
    import re

    page = client.get(path)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    assert found, f"{path} has no form with a CSRF token"
    return found.group(1)


def add_account(db, clock, name: str, role: str, site_codes=()) -> None:
    from committee import accounts

    with db.transaction() as session:
        accounts.add(session, name, role, PASSWORD, list(site_codes), clock())


def sign_in(client, name: str, password: str = PASSWORD):
    """Sign *client* in; returns the sign-in reply."""
    token = csrf_token(client)
    return client.post("/login", data={"user": name, "password": password, "csrf_token": token})


def post_form(client, path: str, data: dict, *, page: str = "/now", **kwargs):
    """A form POST with this session's CSRF token."""
    return client.post(path, data={**data, "csrf_token": csrf_token(client, page)}, **kwargs)
