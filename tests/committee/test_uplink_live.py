"""The real gate uplink (kiosk/uplink.py, through its public API) against the real committee
server on waitress, through a proxy that loses replies after storing, delays and refuses:
every event stored once, in order, with a contiguous seq per gate; heartbeats kept; the
roster pulled."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from sqlalchemy import func, select

from committee import sites
from committee.app import Server
from committee.config import Config
from committee.models import Event, Gate, Heartbeat
from committee.serve import Background
from kiosk.clock import FakeClock
from kiosk.journal import Journal
from kiosk.uplink import Uplink
from tests.committee.proxy import Proxy

SITE = "xdm-jinwaitan"
TYPES = ("pass.scanned", "temperature.measured", "access.granted", "access.denied")


def _stored(db, gate: str):
    with db.transaction() as session:
        rows = session.execute(
            select(Event.seq, Event.event_id)
            .join(Gate, Event.gate_id == Gate.id)
            .where(Gate.code == gate)
            .order_by(Event.seq)
        ).all()
        total = session.scalar(select(func.count()).select_from(Event))
    return [seq for seq, _ in rows], [str(event_id) for _, event_id in rows], total


@pytest.mark.slow
def test_real_uplink_through_a_lossy_proxy_stores_every_event_once_in_order(fresh_db, tmp_path):
    now = FakeClock()
    with fresh_db.transaction() as session:
        sites.add_site(session, SITE, "金外滩花园", now.now())
        tokens = {
            gate: sites.add_gate(session, gate, SITE, now.now())[1]
            for gate in ("xdm-jinwaitan-1", "xdm-jinwaitan-2")
        }
    rng = random.Random(20200204)
    with Background(Server(Config(), fresh_db), sweep=False) as committee:
        proxy = Proxy(committee.url, rate=0.35, delay_s=0.35, seed=5).start()
        gates = {}
        for index, (gate, token) in enumerate(tokens.items()):
            journal = Journal(tmp_path / f"{gate}.db", now)
            uplink = Uplink(
                journal,
                now,
                gate_id=gate,
                url=proxy.url,
                token=token,
                timeout_s=0.25,
                site=SITE,
                rng=random.Random(index),
            )
            journal.add_listener(uplink.journal_listener)
            gates[gate] = (journal, uplink)
        target = 300
        steps = 0
        while any(j.last_seq() < target for j, _ in gates.values()):
            for journal, uplink in gates.values():
                for _ in range(min(rng.randint(1, 12), max(0, target - journal.last_seq()))):
                    kind = "alert.fever" if rng.random() < 0.03 else rng.choice(TYPES)
                    journal.append(
                        kind, {"temperature_c": round(rng.uniform(35.5, 38.5), 1)}, "main"
                    )
                wait = uplink.step()
                steps += 1
                if steps == 40:
                    proxy.pause()  # the network is down for a while
                if steps == 70:
                    proxy.resume()
                now.advance(min(wait, rng.uniform(0, 15)))
        proxy.rate = 0  # the network heals; everything still unsent goes
        for _ in range(500):
            done = True
            for journal, uplink in gates.values():
                wait = uplink.step()
                done = done and journal.acked_seq == journal.last_seq()
            if done:
                break
            now.advance(wait)
        for _, uplink in gates.values():
            summary = uplink.upload_once()
            assert summary["ok"] and summary["unsent"] == 0, summary
        proxy.stop()

    total_stored = 0
    written = sum(j.last_seq() for j, _ in gates.values())
    for gate, (journal, uplink) in gates.items():
        seqs, ids, total_stored = _stored(fresh_db, gate)
        assert seqs == list(range(1, journal.last_seq() + 1))
        assert ids == [e.id for e in journal.iter_events()]
        assert journal.acked_seq == journal.last_seq()
        uplink.stop()
        journal.close()
    assert total_stored == written  # no duplicates
    # the faults did happen: replies lost after storing were answered 409 on the resend
    assert {"drop", "delay", "refuse"} <= set(proxy.faults)
    statuses = Counter()
    for (what, status, _), n in proxy.statuses.items():
        statuses[what, status] += n
    assert statuses[("events", 200)] > 10 and statuses[("events", 409)] >= 1, statuses
    assert ("events", 200, "drop") in proxy.statuses
    with fresh_db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Heartbeat)) == 2
    assert statuses[("roster", 200)] >= 2
