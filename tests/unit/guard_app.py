"""Helpers of the guard-screen app's tests (tests/unit/test_ui.py, test_guard_ui.py): the
demo configuration in a folder, signing in, posting with the CSRF token; the fixtures built on
them are in conftest.py (``ui_kiosk``, ``ui_app``, ``ui``)."""

from __future__ import annotations

import dataclasses
import re

from kiosk import config as config_mod

PASSWORD = "long enough 1"

REGISTRATION = {
    "kind": "returning",
    "name": "李四",
    "phone": "13800138000",
    "household": "7-1201",
    "from_province": "湖北",
    "arrival_date": "2020-02-04",
    "key_area": "yes",
    "contact": "no",
    "temperature_c": "36.6",
    "outcome": "observation",
    "lane": "main",
}


def ui_config(tmp_path, **lane_changes):
    """The demo's configuration with its data in *tmp_path* (each lane changed as asked)."""
    cfg = config_mod.load(config_mod.DEMO_CONFIG)
    lanes = {n: dataclasses.replace(s, **lane_changes) for n, s in cfg.lanes.items()}
    return dataclasses.replace(
        cfg, gate=dataclasses.replace(cfg.gate, data_dir=str(tmp_path)), lanes=lanes
    )


def token(client, path="/login") -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)


def login(client, user="guard", password=PASSWORD, **kwargs):
    return client.post(
        "/login",
        data={"user": user, "password": password, "csrf_token": token(client)},
        **kwargs,
    )


def api(client, path, body=None):
    return client.post(path, json=body or {}, headers={"X-CSRFToken": token(client, "/")})


def types(kiosk):
    return [e.type for e in kiosk.journal.recent(500)]
