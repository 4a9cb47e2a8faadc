"""Fixtures of the unit tests of the uplink: a journal, the fake committee server on loopback,
and a factory of uplinks to it (stopped at the end of the test)."""

from __future__ import annotations

import random

import pytest

from kiosk.journal import Journal
from kiosk.sim.committee import CommitteeServer
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
