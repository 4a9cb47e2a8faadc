"""The demo's committee server is the real one: the gate's roster and keys come from it, and a
pass scanned at the gate is in the committee's store within seconds."""

from __future__ import annotations

import dataclasses
import threading

from sqlalchemy import select

from committee import roster, sites
from committee.models import Event
from kiosk.daemon import Kiosk
from kiosk.sim import demo
from tests.integration.conftest import sim_config, wait_for


def test_demo_gate_uploads_a_scanned_pass_to_the_committee_within_seconds(tmp_path):
    cfg = sim_config(tmp_path / "data")
    committee, cfg = demo.start_committee(cfg)
    try:
        assert committee.description.startswith("committee server, SQLite")
        cfg = dataclasses.replace(cfg, uplink=dataclasses.replace(cfg.uplink, interval_s=0.5))
        server = committee.server
        granted = threading.Event()

        def listener(gate, acked_seq):
            with server.db.transaction() as session:
                kinds = session.scalars(select(Event.type).where(Event.type == "access.granted"))
                if kinds.first() is not None:
                    granted.set()

        server.listeners.append(listener)
        kiosk = Kiosk(cfg)
        try:
            passes, _ = demo.seed(kiosk, user="", password="")
            kiosk.start()
            # the roster is the committee's: its version, its key, its statuses
            with server.db.transaction() as session:
                site = sites.get_site(session, cfg.gate.site)
                served = roster.build(session, site, server.today(), server.now())
            assert wait_for(lambda: kiosk.roster().version == served.version)
            assert kiosk.roster().pass_status("P0007120103") == "revoked"
            assert kiosk.roster().pass_status("P0009050201") == "suspended"
            assert [k.kid for k in served.keys] == [1]
            good = next(p for p in passes if p.pass_id == "P0007120101" and p.expect == "GRANTED")
            kiosk.world.lanes["main"].step_in(35.5, good.token)
            assert granted.wait(10), "the granted passage did not reach the committee"
        finally:
            kiosk.stop()
        with server.db.transaction() as session:
            rows = session.scalars(select(Event).where(Event.type == "access.granted")).all()
        assert [r.data["pass_id"] for r in rows] == ["P0007120101"]
    finally:
        committee.stop()
