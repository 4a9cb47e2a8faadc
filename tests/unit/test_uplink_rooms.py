"""The uplink's rooms one by one: back-off, held events sent as kiosk.event_refused, the total
deadline of a request, and the two threads (an alert never waits behind a roster pull).

Every case runs against the fake committee server over real HTTP on loopback; the uplink's
timers run on a FakeClock, only the network deadlines are real time.
"""

from __future__ import annotations

import json
import random

import pytest

from kiosk import contract
from kiosk.clock import FakeClock
from kiosk.errors import UplinkError
from kiosk.journal import Journal
from kiosk.sim.committee import sample_roster
from kiosk.uplink import Backoff, Uplink
from tests.unit.conftest import GATE, TOKEN, run_until_idle

# -- back-off ----------------------------------------------------------------------------------


def test_backoff_grows_with_full_jitter_and_is_reset_by_a_success():
    clock = FakeClock()
    backoff = Backoff(clock, random.Random(1))
    delays = [backoff.failed() for _ in range(12)]
    assert all(1.0 <= d <= min(300.0, 2.0**i) for i, d in enumerate(delays))
    assert backoff.wait() == delays[-1]
    clock.advance(30)
    assert backoff.down_for() == 30
    assert backoff.wait() == pytest.approx(max(0.0, delays[-1] - 30))
    assert backoff.succeeded() is True
    assert (backoff.wait(), backoff.down_for(), backoff.failures) == (0.0, 0.0, 0)
    assert backoff.succeeded() is False


def test_backoff_skip_wait_tries_at_once_but_never_before_retry_after(clock):
    backoff = Backoff(clock, random.Random(1))
    for _ in range(6):
        backoff.failed()
    assert backoff.wait() > 0
    backoff.skip_wait()  # upload now
    assert backoff.wait() == 0 and backoff.failures == 6
    backoff.failed(retry_after=120.0)  # the server asks for two minutes
    backoff.skip_wait()
    assert backoff.wait() == 120.0


def test_backoff_waits_at_least_retry_after_and_never_below_the_minimum():
    backoff = Backoff(FakeClock(), random.Random(1))
    assert backoff.failed(retry_after=120) == 120
    assert backoff.failed(retry_after=0) == 1.0


# -- a refused event sent as kiosk.event_refused ------------------------------------------------


def test_uplink_send_refused_sends_kiosk_event_refused_in_its_place_and_keeps_the_original(
    make_uplink, journal, server, clock, alerts
):
    # the real case: a server that refused "lane": null on kiosk.started, seq 1
    started = journal.append("kiosk.started", {"version": "0.1.0", "hardware": "pi"})
    for i in range(4):
        journal.append("pass.scanned", {"n": i}, lane="main")
    server.reject_seq(1)
    uplink = make_uplink()
    uplink.step()
    held = uplink.held_event()
    assert held["seq"] == 1 and held["replaceable"] is True
    assert held["event"]["type"] == "kiosk.started"
    assert held["reason"] == "rejected by the committee"
    assert server.stored_seqs() == []

    done = uplink.send_refused(1, "maint")
    assert done == {
        "seq": 1,
        "id": started.id,
        "type": "kiosk.started",
        "error": "rejected by the committee",
    }
    run_until_idle(uplink, clock)
    stored = server.events[0]
    assert (stored["seq"], stored["id"], stored["type"]) == (1, started.id, "kiosk.event_refused")
    assert json.loads(stored["data"]["original"]) == started.to_api()
    assert stored["data"]["error"] == "rejected by the committee"
    assert server.stored_seqs() == list(range(1, journal.last_seq() + 1))
    # the refused event is kept in the journal as it was; the step is journaled
    assert journal.events_after(0, 1)[0] == started
    replaced = [e for e in journal.iter_events() if e.type == "uplink.event_replaced"]
    assert replaced[0].data == {
        "seq": 1,
        "id": started.id,
        "type": "kiosk.started",
        "error": "rejected by the committee",
        "by": "maint",
    }
    assert uplink.status()["state"] == "ok"


def test_uplink_replaced_event_is_resent_as_replaced_after_the_server_lost_acks(
    make_uplink, journal, server, clock
):
    for i in range(6):
        journal.append("pass.scanned", {"n": i}, lane="main")
    server.reject_seq(3)
    uplink = make_uplink()
    uplink.step()
    uplink.step()
    uplink.send_refused(3, "maint")
    run_until_idle(uplink, clock)
    server.lose_acks(6)  # restored from an old backup: everything goes again
    journal.append("alert.fever", {"temperature_c": 38.0}, lane="main")
    again = make_uplink()  # and the gate restarted meanwhile
    run_until_idle(again, clock)
    assert [e["type"] for e in server.events][2] == "kiosk.event_refused"
    assert server.stored_seqs() == list(range(1, journal.last_seq() + 1))


def test_uplink_send_refused_only_for_the_event_held_for_a_refusal(
    make_uplink, journal, server, clock
):
    journal.append("pass.scanned", {}, lane="main")
    uplink = make_uplink()
    with pytest.raises(UplinkError, match="no event is held"):
        uplink.send_refused(1, "maint")
    journal.append("registration.created", {"form": "z" * (contract.MAX_BATCH_BYTES + 10)})
    for _ in range(3):
        uplink.step()
    assert uplink.status()["quarantined_seq"] == 2
    with pytest.raises(UplinkError, match="too large"):
        uplink.send_refused(2, "maint")
    with pytest.raises(UplinkError, match="event 2 is held"):
        uplink.send_refused(1, "maint")


# -- the total deadline of a request ------------------------------------------------------------


def test_uplink_byte_a_second_roster_reply_ends_at_the_deadline(make_uplink, journal, server):
    server.inject("trickle", endpoint="roster", interval_s=1.0)  # one byte a second
    uplink = make_uplink(timeout_s=1.5)
    uplink.step_side()  # heartbeat, then the roster pull that trickles
    assert "roster: no reply within 1.5 s" in uplink.status()["last_error"]
    assert server.wait_for(lambda s: s.requests_to("roster")[-1].done)
    sent = server.requests_to("roster")[-1].reply_bytes
    assert 0 < sent <= 3  # cut at the deadline, not a timeout per byte
    assert journal.load_roster() == (None, None)


def test_uplink_reply_that_never_ends_is_cut_at_the_size_cap(make_uplink, journal, server, alerts):
    journal.append("pass.scanned", {}, lane="main")
    server.inject("endless", endpoint="events")
    uplink = make_uplink(timeout_s=30)
    uplink.step_push()
    assert journal.acked_seq == 0
    assert uplink.status()["state"] == "backing_off"
    assert [code for code, _ in alerts] == ["server_fault"]
    assert server.wait_for(lambda s: s.requests_to("events")[-1].done)
    assert contract.MAX_REPLY_BYTES <= server.requests_to("events")[-1].reply_bytes < 8 << 20


def test_uplink_roster_over_the_cap_is_refused_and_the_old_one_kept(
    make_uplink, journal, server, clock, alerts
):
    uplink = make_uplink()
    uplink.step()
    good = journal.load_roster()
    big = sample_roster(version="huge")
    big["revoked"] = ["P" + "0" * 1000] * (17 * 1024)  # 17 MiB of JSON
    server.set_roster(big)
    clock.advance(uplink.roster_s)
    uplink.step()
    assert journal.load_roster() == good
    assert "more than 16 MiB" in alerts[-1][1]["message"]


# -- two threads: pushes apart from heartbeats and roster pulls --------------------------------


def test_uplink_alert_does_not_wait_behind_a_trickling_roster_pull_and_stop_is_prompt(
    tmp_path, server
):
    clock = FakeClock()
    journal = Journal(tmp_path / "j.db", clock)
    server.inject("trickle", endpoint="roster", interval_s=0.2)  # some 20 minutes of reply
    uplink = Uplink(journal, clock, gate_id=GATE, url=server.url, token=TOKEN, timeout_s=60)
    journal.add_listener(uplink.journal_listener)
    uplink.start()
    try:
        assert server.wait_for(lambda s: any(r.reply_bytes for r in s.requests_to("roster")))
        journal.append("alert.fever", {"temperature_c": 38.6}, lane="main")
        assert server.wait_for(lambda s: "alert.fever" in [e["type"] for e in s.events])
        assert not server.requests_to("roster")[-1].done  # the pull still trickles
    finally:
        uplink.stop(3)  # ends the trickling request: StopTimeout if it waited for it
        journal.close()
    assert server.wait_for(lambda s: s.requests_to("roster")[-1].done)
    assert not any(thread.alive for thread in uplink._threads)


# -- the thread shape ----------------------------------------------------------------------------


def test_step_thread_waits_as_asked_wakes_on_demand_and_complains_when_stuck():
    import threading

    from kiosk.errors import KioskError, StopTimeout
    from kiosk.threads import StepThread

    calls, stuck, release = [], threading.Event(), threading.Event()

    def step():
        calls.append(len(calls))
        if len(calls) == 2:
            stuck.set()
            release.wait(10)  # a step that hangs (a request that will not end)
        return 3600.0  # an hour: only wake() brings the next call

    thread = StepThread("t", step)
    thread.start()
    try:
        thread.wake()
        assert stuck.wait(5)
        with pytest.raises(StopTimeout, match=r"t thread did not stop within 0\.05 s") as info:
            thread.stop(0.05)
        assert isinstance(info.value, KioskError)
    finally:
        release.set()
    thread.stop(5)
    assert not thread.alive and calls == [0, 1]
