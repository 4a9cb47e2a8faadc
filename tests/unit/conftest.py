"""Fixtures of the unit tests: for the uplink a journal, the fake committee server on loopback,
and a factory of uplinks to it (stopped at the end of the test); for the guard screen a demo
kiosk (not started, on the fake clock) with a guard and a maintenance account, its app and a
client (tests/unit/guard_app.py has the helpers)."""

from __future__ import annotations

import random

import pytest

from kiosk.accounts import Accounts
from kiosk.journal import Journal
from kiosk.sim.committee import CommitteeServer
from kiosk.sim.hardware import simulated_kiosk
from kiosk.ui import create_app
from kiosk.uplink import Uplink

TOKEN = "gate-token-7Hq2mX9vLp"
GATE = "xdm-jinwaitan-1"


@pytest.fixture
def journal(tmp_path, clock):
    j = Journal(tmp_path / "journal.db", clock)
    yield j
    j.close()


@pytest.fixture
def server():
    with CommitteeServer(gate_id=GATE, token=TOKEN) as s:
        yield s


@pytest.fixture
def alerts():
    return []


@pytest.fixture
def make_uplink(journal, clock, server, alerts):
    made = []

    def make(**kwargs) -> Uplink:
        options = {
            "gate_id": GATE,
            "url": server.url,
            "token": TOKEN,
            "timeout_s": 2.0,
            "on_alert": lambda code, detail: alerts.append((code, detail)),
            "rng": random.Random(7),
        }
        options.update(kwargs)
        uplink = Uplink(journal, clock, **options)
        made.append(uplink)
        return uplink

    yield make
    for uplink in made:
        uplink.stop(5)


def run_until_idle(uplink, clock, limit=200):
    """Step, advancing the clock by each returned wait, until nothing is left to send."""
    for _ in range(limit):
        wait = uplink.step()
        if uplink.journal.acked_seq >= uplink.journal.last_seq() and wait > 0:
            return
        clock.advance(wait)
    raise AssertionError(f"not idle after {limit} steps: {uplink.status()}")


@pytest.fixture
def ui_kiosk(tmp_path, clock):
    from tests.unit.guard_app import PASSWORD, ui_config

    k = simulated_kiosk(ui_config(tmp_path), clock)
    accounts = Accounts(k.journal)
    accounts.add("guard", PASSWORD, "guard")
    accounts.add("fixer", PASSWORD, "maintenance")
    yield k
    k.close()


@pytest.fixture
def ui_app(ui_kiosk):
    return create_app(
        ui_kiosk.facade, secret_key=b"k" * 32, session_idle_min=30, maintenance_idle_min=10
    )


@pytest.fixture
def ui(ui_app):
    """A test client of the guard-screen app."""
    return ui_app.test_client()
