"""The demo's committee server is the real one: the gate's roster and keys come from it, and a
pass scanned at the gate is in the committee's store within seconds.

The kiosk runs on the fake clock, its lane and uplink driven step by step as their threads
would drive them; the committee server is real (waitress on loopback, SQLite)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from committee import roster, sites
from committee.models import AuditEntry, Event, Pass
from kiosk.clock import FakeClock
from kiosk.sim import demo
from kiosk.sim.hardware import simulated_kiosk
from tests.integration.conftest import Driver, sim_config
from tests.integration.test_daemon_uplink import upload


def _now_clock() -> FakeClock:
    """The fake clock, started now: the committee issued the demo's passes at this moment."""
    return FakeClock(datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1))


def _granted(server) -> list[str]:
    with server.db.transaction() as session:
        rows = session.scalars(select(Event).where(Event.type == "access.granted")).all()
        return [row.data["pass_id"] for row in rows]


def test_demo_gate_uploads_a_scanned_pass_to_the_committee_within_seconds(tmp_path):
    cfg = sim_config(tmp_path / "data")
    committee, cfg = demo.start_committee(cfg)
    try:
        assert committee.description.startswith("committee server, SQLite")
        server = committee.server
        with server.db.transaction() as session:
            site = sites.get_site(session, cfg.gate.site)
            served = roster.build(session, site, server.today(), server.now())
        clock = _now_clock()
        kiosk = simulated_kiosk(cfg, clock)
        try:
            passes, _ = demo.seed(kiosk, user="", password="", passes=committee.passes)
            # the roster is the committee's: its version, its key, its statuses
            assert upload(kiosk, clock, lambda: kiosk.rosters.current().version == served.version)
            current = kiosk.rosters.current()
            assert current.pass_status("P0007120103") == "revoked"
            assert current.pass_status("P0009050201") == "suspended"
            assert [k.kid for k in served.keys] == [1]
            good = next(p for p in passes if p.pass_id == "P0007120101" and p.expect == "GRANTED")
            kiosk.world.lanes["main"].step_in(35.5, good.token)
            Driver(kiosk, clock).step(
                5.0, until=lambda: bool(kiosk.journal.recent(1, types=("access.granted",)))
            )
            granted_at = clock.monotonic()
            for _ in range(20):  # the uplink's steps, as its thread takes them
                wait = kiosk.uplink.step()
                if _granted(server):
                    break
                clock.advance(wait)
            assert _granted(server) == ["P0007120101"]
            # stored at the next push: within the push interval (10 s) of the decision
            assert clock.monotonic() - granted_at <= cfg.uplink.interval_s
        finally:
            kiosk.close()
    finally:
        committee.stop()


def test_demo_passes_come_from_the_committee_and_each_gets_its_decision(tmp_path):
    """The nine demo passes are the committee's own (issued by its pass issuing, revoked and
    suspended there, recorded in its audit list); at the gate each gets the decision it is
    there to show, as the passes the gate's demo minted did."""
    cfg = sim_config(tmp_path / "data")
    committee, cfg = demo.start_committee(cfg)
    try:
        minted = demo.demo_passes(cfg.keys_dir, cfg.gate.site, _now_clock().now())
        issued = committee.passes
        assert [(p.label, p.pass_id, p.household, p.expect) for p in issued] == [
            (p.label, p.pass_id, p.household, p.expect) for p in minted
        ]
        with committee.server.db.transaction() as session:
            stored = {row.code: row.status for row in session.scalars(select(Pass))}
            issuers = set(
                session.scalars(select(AuditEntry.actor).where(AuditEntry.action == "pass.issue"))
            )
        assert stored == {
            "P0007120101": "active",
            "P0007120102": "active",  # expired by its dates
            "P0007120103": "revoked",
            "P0007120201": "active",
            "P0008030101": "active",
            "P0009050201": "suspended",
            "P0001010101": "active",  # of the other compound
        }
        assert issuers == {"demo"}
        clock = _now_clock()
        kiosk = simulated_kiosk(cfg, clock)
        try:
            passes, folder = demo.seed(kiosk, user="", password="", passes=issued)
            assert len(list(folder.glob("*.png"))) == 9
            assert upload(kiosk, clock, lambda: kiosk.rosters.current().loaded)
            driver = Driver(kiosk, clock)
            lane = kiosk.world.lanes["main"]
            for p in passes:
                seen = len(kiosk.journal.recent(500, types=("access.granted", "access.denied")))
                lane.step_in(35.5, p.token)

                def decided(seen=seen):
                    types = ("access.granted", "access.denied")
                    return len(kiosk.journal.recent(500, types=types)) > seen

                driver.step(10.0, until=decided)
                decision = kiosk.journal.recent(1, types=("access.granted", "access.denied"))[0]
                assert decision.data["reason"] == p.expect.split()[0], p.label
                lane.leave()
                driver.step(6.0)
        finally:
            kiosk.close()
    finally:
        committee.stop()
