"""The uplink against the strict fake committee server, over real HTTP on loopback.

Time is a FakeClock: every back-off and timer is crossed by advancing it, never by sleeping.
"""

from __future__ import annotations

import datetime as dt
import gzip
import http.client
import ipaddress
import json
import logging
import random
import ssl

import pytest

from kiosk import __version__, config, contract
from kiosk.clock import FakeClock
from kiosk.errors import ConfigError, UplinkError
from kiosk.journal import Journal
from kiosk.sim.committee import CommitteeServer, sample_roster
from kiosk.uplink import (
    AUTH_RETRY_S,
    BACKOFF_MAX_S,
    MAX_BATCH_BYTES,
    QUARANTINE_RETRY_S,
    STATE_QUARANTINED,
    STATE_SENT,
    Uplink,
    check_url,
    read_token_file,
)
from tests.unit.conftest import GATE, TOKEN, run_until_idle


def append(journal, n, type="pass.scanned", size=0):
    """Append *n* events in one transaction (one fsync instead of n, to keep tests fast)."""
    pad = "x" * size
    conn = journal._conn()  # the test thread's own connection
    conn.execute("BEGIN IMMEDIATE")
    try:
        events = [journal.append(type, {"n": i, "pad": pad}, lane="main") for i in range(n)]
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return events


def pushes(server):
    return [r for r in server.requests_to("events") if r.status is not None or r.fault]


# -- pushing -----------------------------------------------------------------------------------


def test_uplink_push_sends_batches_in_order_and_advances_the_cursor(make_uplink, journal, server):
    append(journal, 1200)
    uplink = make_uplink()
    assert uplink.step() == 0  # more to send
    assert journal.acked_seq == 500
    assert uplink.step() == 0
    assert uplink.step() > 0
    assert journal.acked_seq == 1200
    assert server.stored_seqs() == list(range(1, 1201))
    sent = pushes(server)
    assert [(r.first_seq, r.last_seq, r.status) for r in sent] == [
        (1, 500, 200),
        (501, 1000, 200),
        (1001, 1200, 200),
    ]
    request = sent[0]
    assert request.auth == "ok"
    assert request.headers["User-Agent"] == f"kiosk/{__version__}"
    assert request.headers["Content-Encoding"] == "gzip"
    assert request.raw_bytes < request.json_bytes  # compressed


def test_uplink_push_keeps_every_batch_within_one_mib_of_json(make_uplink, journal, server):
    append(journal, 300, size=8000)  # about 2.4 MB in all
    uplink = make_uplink()
    run_until_idle(uplink, uplink.clock)
    sent = pushes(server)
    assert len(sent) >= 3
    assert all(0 < r.json_bytes <= MAX_BATCH_BYTES for r in sent)
    assert server.stored_seqs() == list(range(1, 301))


def test_uplink_reads_one_batch_of_the_journal_at_a_time(tmp_path, clock, server):
    class CountingJournal(Journal):
        largest = 0

        def events_after(self, seq, limit=500):
            events = super().events_after(seq, limit)
            CountingJournal.largest = max(CountingJournal.largest, limit, len(events))
            return events

    journal = CountingJournal(tmp_path / "j.db", clock)
    append(journal, 1600)
    uplink = Uplink(journal, clock, gate_id=GATE, url=server.url, token=TOKEN)
    run_until_idle(uplink, clock)
    uplink.close()
    assert journal.acked_seq == 1600
    assert CountingJournal.largest == 500
    journal.close()


def test_uplink_non_alert_events_wait_for_the_interval(make_uplink, journal, server, clock):
    uplink = make_uplink(interval_s=10)
    uplink.step()
    append(journal, 3)
    wait = uplink.step()
    assert 0 < wait <= 10
    assert pushes(server) == []
    clock.advance(wait)
    uplink.step()
    assert server.stored_seqs() == [1, 2, 3]


def test_uplink_alert_nudge_pushes_at_once(make_uplink, journal, server, clock):
    uplink = make_uplink(interval_s=10)
    journal.add_listener(uplink.journal_listener)
    uplink.step()
    clock.advance(1)
    append(journal, 2)
    assert uplink.step() > 0
    assert pushes(server) == []
    journal.append("alert.fever", {"temperature_c": 38.2}, lane="main")
    assert uplink.step() > 0  # no clock advance: pushed in this very step
    assert server.stored_seqs() == [1, 2, 3]
    assert server.events[-1]["type"] == "alert.fever"


def test_uplink_409_moves_the_cursor_back_when_the_server_lost_acks(
    make_uplink, journal, server, clock
):
    append(journal, 100)
    uplink = make_uplink()
    uplink.step()
    server.lose_acks(30)  # restored from an old backup: 71..100 are gone
    append(journal, 10)
    uplink.nudge()
    uplink.step()
    assert pushes(server)[-1].status == 409
    assert journal.acked_seq == 70
    run_until_idle(uplink, clock)
    assert server.stored_seqs() == list(range(1, 111))
    assert journal.acked_seq == 110


def test_uplink_resent_events_the_server_kept_are_stored_once(make_uplink, journal, server, clock):
    append(journal, 50)
    uplink = make_uplink()
    uplink.step()
    server.lose_acks(20, keep_events=True)  # acks lost, events kept: the id check absorbs them
    append(journal, 5)
    uplink.nudge()
    run_until_idle(uplink, clock)
    assert server.stored_seqs() == list(range(1, 56))
    assert server.stored_ids() == [e.id for e in journal.events_after(0, 100)]


def test_uplink_lost_reply_is_resent_and_the_409_moves_the_cursor_forward(
    make_uplink, journal, server, clock
):
    append(journal, 50)
    server.inject("drop", endpoint="events")  # stored, then the reply is lost
    uplink = make_uplink()
    wait = uplink.step()
    assert wait >= 1
    assert journal.acked_seq == 0
    assert uplink.status()["state"] == "backing_off"
    assert "without a reply" in uplink.status()["last_error"]
    assert server.stored_seqs() == list(range(1, 51))
    assert journal.get_state(STATE_SENT) == "50"  # recorded before the request went out
    clock.advance(wait)
    uplink.step()  # 409 acked_seq 50
    assert journal.acked_seq == 50
    run_until_idle(uplink, clock)
    assert server.stored_seqs() == list(range(1, 51))


def test_uplink_413_halves_the_batch_until_it_fits(journal, clock, alerts):
    append(journal, 700)
    with CommitteeServer(gate_id=GATE, token=TOKEN, max_events=100) as server:
        uplink = Uplink(journal, clock, gate_id=GATE, url=server.url, token=TOKEN)
        run_until_idle(uplink, clock)
        sizes = [(r.n_events, r.status) for r in server.requests_to("events")]
        assert sizes[:4] == [(500, 413), (250, 413), (125, 413), (62, 200)]
        assert all(status == 200 for _, status in sizes[4:])
        assert server.stored_seqs() == list(range(1, 701))
        uplink.stop()


def test_uplink_413_at_one_event_holds_that_event(journal, clock, alerts):
    append(journal, 3)
    journal.append("registration.created", {"form": "y" * 3000})
    append(journal, 2)
    with CommitteeServer(gate_id=GATE, token=TOKEN, max_bytes=2500) as server:
        uplink = Uplink(
            journal,
            clock,
            gate_id=GATE,
            url=server.url,
            token=TOKEN,
            on_alert=lambda c, d: alerts.append((c, d)),
        )
        for _ in range(12):
            uplink.step()
        assert server.stored_seqs() == [1, 2, 3]
        assert uplink.status()["quarantined_seq"] == 4
        assert "too large" in uplink.status()["quarantine_reason"]
        assert [code for code, _ in alerts] == ["quarantined"]
        uplink.stop()


def test_uplink_event_over_one_mib_is_held_without_sending_it(make_uplink, journal, server):
    append(journal, 2)
    journal.append("registration.created", {"form": "z" * (MAX_BATCH_BYTES + 10)})
    uplink = make_uplink()
    for _ in range(4):
        uplink.step()
    assert server.stored_seqs() == [1, 2]
    assert all(r.json_bytes <= MAX_BATCH_BYTES for r in pushes(server))
    assert uplink.status()["quarantined_seq"] == 3


def test_uplink_400_bad_seq_holds_the_event_and_pushes_up_to_it(
    make_uplink, journal, server, clock, alerts
):
    append(journal, 10)
    server.reject_seq(7)
    uplink = make_uplink()
    journal.add_listener(uplink.journal_listener)
    uplink.step()
    assert pushes(server)[0].status == 400
    assert journal.get_state(STATE_QUARANTINED) == "7"
    assert alerts == [("quarantined", alerts[0][1])]
    assert alerts[0][1]["seq"] == 7
    uplink.step()
    assert server.stored_seqs() == [1, 2, 3, 4, 5, 6]
    # held: no batch with seq 7 again, however often it runs or is nudged (below an hour)
    before = len(pushes(server))
    for _ in range(30):
        journal.append("alert.sensor_fault", {"sensor": "thermometer"})
        clock.advance(60)
        uplink.step()
    assert len(pushes(server)) == before
    status = uplink.status()
    assert status["state"] == "quarantined"
    assert status["quarantined_seq"] == 7
    assert status["unsent"] == 34
    assert len(alerts) == 1  # alerted once
    # maintenance fixes the committee side and releases the event
    server.accept_seq(7)
    assert uplink.release_quarantine() == 7
    run_until_idle(uplink, clock)
    assert server.stored_seqs() == list(range(1, 41))
    assert uplink.status()["state"] == "ok"
    assert journal.get_state(STATE_QUARANTINED) == "0"


def test_uplink_held_event_is_offered_again_alone_once_an_hour(
    make_uplink, journal, server, clock, alerts
):
    append(journal, 5)
    server.reject_seq(3)
    uplink = make_uplink(heartbeat_s=1e6, roster_s=1e6)
    uplink.step()
    uplink.step()
    before = len(pushes(server))
    clock.advance(QUARANTINE_RETRY_S)
    uplink.step()
    probe = pushes(server)[before]
    assert (probe.first_seq, probe.last_seq, probe.status) == (3, 3, 400)
    assert len(alerts) == 1  # the same event refused again: no new alert
    server.accept_seq(3)
    clock.advance(QUARANTINE_RETRY_S)
    run_until_idle(uplink, clock)
    assert server.stored_seqs() == [1, 2, 3, 4, 5]
    assert uplink.status()["quarantined_seq"] is None


def test_uplink_hold_survives_a_restart(make_uplink, journal, server, clock):
    append(journal, 5)
    server.reject_seq(4)
    first = make_uplink()
    first.step()
    first.step()
    second = make_uplink()
    for _ in range(5):
        clock.advance(60)
        second.step()
    assert second.status()["quarantined_seq"] == 4
    assert server.stored_seqs() == [1, 2, 3]


def test_uplink_401_stops_everything_for_ten_minutes(make_uplink, journal, server, clock, alerts):
    append(journal, 5)
    server.set_token("rotated-by-the-committee")
    uplink = make_uplink()
    wait = uplink.step()
    assert uplink.status()["state"] == "auth_refused"
    assert [code for code, _ in alerts] == ["auth_refused"]
    asked = len(server.requests)
    assert asked == 1
    elapsed = 0.0
    while elapsed + wait < AUTH_RETRY_S:
        clock.advance(wait)
        elapsed += wait
        wait = uplink.step()
    assert len(server.requests) == asked
    clock.advance(AUTH_RETRY_S - elapsed)
    uplink.step()
    assert len(server.requests) == asked + 1  # one retry after 10 minutes, refused again
    assert len(alerts) == 1
    server.set_token(TOKEN)
    clock.advance(AUTH_RETRY_S)
    run_until_idle(uplink, clock)
    assert server.stored_seqs() == [1, 2, 3, 4, 5]
    assert uplink.status()["state"] == "ok"


def test_uplink_403_retries_at_once_when_the_token_file_changes(
    make_uplink, journal, server, clock, tmp_path
):
    token_file = tmp_path / "token"
    token_file.write_text("old-token\n")
    token_file.chmod(0o600)
    append(journal, 3)
    server.set_token("old-token")
    server.inject("refuse", status=403)
    uplink = make_uplink(token=None, token_file=token_file)
    uplink.step()
    assert uplink.status()["state"] == "auth_refused"
    server.set_token("new-token")
    token_file.write_text("new-token\n")
    clock.advance(uplink.interval_s)
    uplink.step()
    assert server.stored_seqs() == [1, 2, 3]
    assert uplink.status()["state"] == "ok"


def test_uplink_set_token_lifts_a_refusal(make_uplink, journal, server):
    append(journal, 2)
    server.inject("refuse", status=401)
    uplink = make_uplink()
    uplink.step()
    uplink.set_token(TOKEN)
    uplink.step()
    assert server.stored_seqs() == [1, 2]


@pytest.mark.parametrize("status", [429, 503])
def test_uplink_busy_waits_at_least_retry_after(make_uplink, journal, server, clock, status):
    append(journal, 3)
    server.inject("busy", endpoint="events", status=status, retry_after=120)
    uplink = make_uplink()
    assert uplink.step() == 120
    assert uplink.status()["state"] == "backing_off"
    clock.advance(119)
    assert uplink.step() == pytest.approx(1)
    assert len(server.requests) == 1
    clock.advance(1)
    uplink.step()
    assert server.stored_seqs() == [1, 2, 3]


@pytest.mark.parametrize("retry_after", [None, "Wed, 21 Oct 2015 07:28:00 GMT"])
def test_uplink_busy_without_usable_retry_after_backs_off(
    make_uplink, journal, server, retry_after
):
    append(journal, 1)
    server.inject("busy", endpoint="events", status=503, retry_after=retry_after)
    uplink = make_uplink()
    assert uplink.step() == 1.0  # the first back-off step
    assert uplink.status()["state"] == "backing_off"


def test_uplink_5xx_backs_off_exponentially_with_full_jitter(make_uplink, journal, server, clock):
    append(journal, 1)
    server.inject("error", 14, status=502)
    uplink = make_uplink(rng=random.Random(3))
    waits = []
    for _ in range(14):
        wait = uplink.step()
        waits.append(wait)
        clock.advance(wait)
    for attempt, wait in enumerate(waits):
        assert 1.0 <= wait <= min(BACKOFF_MAX_S, 2.0**attempt)
    assert max(waits) > 60  # it does grow
    assert len(set(waits)) > 8  # and it is jittered
    uplink.step()
    assert server.stored_seqs() == [1]
    assert uplink.status()["state"] == "ok"


def test_uplink_slow_reply_is_a_timeout_and_the_batch_is_not_lost(
    make_uplink, journal, server, clock
):
    append(journal, 20)
    server.inject("slow", endpoint="events", delay_s=0.5)
    uplink = make_uplink(timeout_s=0.1)
    wait = uplink.step()
    assert "no reply within 0.1 s" in uplink.status()["last_error"]
    assert journal.acked_seq == 0
    clock.advance(wait)
    run_until_idle(uplink, clock)
    assert server.stored_seqs() == list(range(1, 21))


def test_uplink_unreachable_backs_off_and_alerts_after_five_minutes(journal, clock, alerts):
    server = CommitteeServer(gate_id=GATE, token=TOKEN).start()
    url = server.url
    server.stop()  # nothing listens on that port now
    append(journal, 1)
    uplink = Uplink(
        journal,
        clock,
        gate_id=GATE,
        url=url,
        token=TOKEN,
        on_alert=lambda c, d: alerts.append((c, d)),
        rng=random.Random(1),
    )
    wait = uplink.step()
    assert uplink.status()["last_error"].endswith("connection refused")
    assert uplink.status()["next_attempt_s"] == wait
    assert alerts == []
    for _ in range(12):
        clock.advance(wait)
        wait = uplink.step()
    assert [code for code, _ in alerts] == ["unreachable"]
    uplink.close()


def test_uplink_garbage_reply_is_a_server_fault(make_uplink, journal, server, clock, alerts):
    append(journal, 5)
    server.inject("garbage", endpoint="events")
    uplink = make_uplink()
    wait = uplink.step()
    assert journal.acked_seq == 0
    assert uplink.status()["state"] == "backing_off"
    assert [code for code, _ in alerts] == ["server_fault"]
    clock.advance(wait)
    run_until_idle(uplink, clock)
    assert server.stored_seqs() == [1, 2, 3, 4, 5]


def test_uplink_200_acking_more_than_was_sent_is_a_conflict_that_loses_nothing(
    make_uplink, journal, server, clock, alerts
):
    append(journal, 5)
    server.inject("overack", endpoint="events")  # stores 1..5, answers acked_seq 12
    uplink = make_uplink()
    uplink.step()
    assert journal.acked_seq == 0  # never beyond what was sent
    status = uplink.status()
    assert status["state"] == "conflict"
    assert "acked_seq 12" in status["last_error"]
    assert status["conflict"] == {"server_acked": 12, "sent_seq": 5}
    assert [(code, d["server_acked"], d["sent_seq"]) for code, d in alerts] == [("conflict", 12, 5)]
    # pushing stops: no batch for the next half hour, however often it runs or is nudged
    before = len(pushes(server))
    append(journal, 3)
    for _ in range(30):
        uplink.nudge()
        clock.advance(60)
        uplink.step()
    assert len(pushes(server)) == before
    assert uplink.status()["unsent"] == 8
    # maintenance asks the server again: it says 5 now (409), which this gate did send
    assert uplink.release_quarantine() == 12
    run_until_idle(uplink, clock)
    assert journal.acked_seq == 8
    assert server.stored_seqs() == list(range(1, 9))
    assert uplink.status()["state"] == "ok" and uplink.status()["conflict"] is None


def test_uplink_409_acking_more_than_was_sent_stops_pushing_and_keeps_everything(
    make_uplink, journal, server, clock, alerts, tmp_path
):
    # two gates configured with one gate_id: the server holds 700 of the other one's
    append(journal, 700)
    server.inject("overclaim", endpoint="events", n=200)  # batch 1..500 -> 409 acked 700
    uplink = make_uplink(heartbeat_s=1e6, roster_s=1e6)
    uplink.step()
    assert pushes(server)[0].status == 409
    assert journal.acked_seq == 0
    status = uplink.status()
    assert (status["sent_seq"], status["unsent"]) == (500, 700)
    assert status["conflict"] == {"server_acked": 700, "sent_seq": 500}
    assert alerts[-1][0] == "conflict"
    assert "700" in alerts[-1][1]["message"] and "500" in alerts[-1][1]["message"]
    # the conflict survives a restart (state in the journal) and retention keeps the events
    again = make_uplink(heartbeat_s=1e6, roster_s=1e6)
    assert again.status()["state"] == "conflict"
    assert len(journal.events_after(0, 1000)) == 700
    # an hour later the gate asks again with one event; the server is sane again now
    clock.advance(QUARANTINE_RETRY_S)
    run_until_idle(again, clock)
    assert journal.acked_seq == 700
    assert server.stored_seqs() == list(range(1, 701))


def test_uplink_409_within_what_was_sent_moves_the_cursor_forward(
    make_uplink, journal, server, clock
):
    append(journal, 10)
    server.inject("drop", endpoint="events")
    uplink = make_uplink()
    clock.advance(uplink.step())
    uplink.step()  # 409 acked 10: all of it was sent before the reply was lost
    assert journal.acked_seq == 10
    assert uplink.status()["conflict"] is None


def test_uplink_400_without_bad_seq_backs_off_instead_of_looping(
    make_uplink, journal, server, clock, alerts
):
    append(journal, 2)
    server.inject("bad_request", endpoint="events")
    uplink = make_uplink()
    wait = uplink.step()
    assert wait >= 1
    assert uplink.status()["state"] == "backing_off"
    assert "400 without a bad_seq" in uplink.status()["last_error"]
    assert [code for code, _ in alerts] == ["server_fault"]
    assert uplink.step() == wait  # no request while backing off
    assert len(pushes(server)) == 1
    clock.advance(wait)
    uplink.step()
    assert server.stored_seqs() == [1, 2]


# -- heartbeat -------------------------------------------------------------------------------


def test_uplink_heartbeat_carries_the_contract_fields(make_uplink, journal, server, clock):
    lanes = {"main": {"state": "idle", "thermometer": "ok", "camera": "ok", "relay": "ok"}}
    append(journal, 4)
    uplink = make_uplink(heartbeat_info=lambda: lanes, heartbeat_s=60)
    uplink.step()
    assert len(server.heartbeats) == 1
    clock.advance(30)
    append(journal, 2)
    uplink.step()
    assert len(server.heartbeats) == 1
    clock.advance(30)
    uplink.step()
    beat = server.heartbeats[1]
    assert beat == {
        "gate_id": GATE,
        "ts": "2020-02-04T07:31:00.000+08:00",
        "version": __version__,
        "uptime_s": 60,
        "last_seq": 6,
        "unsent": 0,
        "lanes": lanes,
    }


def test_uplink_heartbeat_failure_backs_off_like_events(make_uplink, server, clock):
    server.inject("error", endpoint="heartbeat", status=500)
    uplink = make_uplink()
    wait = uplink.step()
    assert wait >= 1
    assert uplink.status()["state"] == "backing_off"
    clock.advance(wait)
    uplink.step()
    assert len(server.heartbeats) == 1


def test_uplink_refused_heartbeat_alerts_once_and_does_not_hold_events_back(
    make_uplink, journal, server, clock, alerts
):
    server.inject("bad_request", 3, endpoint="heartbeat")
    uplink = make_uplink(heartbeat_s=60, interval_s=10)
    for _ in range(3):
        append(journal, 2)
        uplink.step()
        clock.advance(60)
    assert server.stored_seqs() == [1, 2, 3, 4, 5, 6]
    assert [code for code, _ in alerts] == ["heartbeat_refused"]
    uplink.step()
    assert len(server.heartbeats) == 1


def test_uplink_heartbeat_survives_a_failing_heartbeat_info(make_uplink, server):
    def broken():
        raise RuntimeError("lane table busy")

    uplink = make_uplink(heartbeat_info=broken)
    uplink.step()
    assert server.heartbeats[0]["lanes"] == {}


# -- roster ----------------------------------------------------------------------------------


def test_uplink_roster_is_stored_then_not_modified(make_uplink, journal, server, clock):
    rosters = []
    uplink = make_uplink(on_roster=rosters.append, roster_s=300)
    uplink.step()
    stored, received = journal.load_roster()
    assert stored == sample_roster()
    assert received is not None
    assert [json.loads(contract.encode(r)) for r in rosters] == [sample_roster()]
    clock.advance(300)
    uplink.step()
    request = server.requests_to("roster")[-1]
    assert request.headers["If-None-Match"] == f'"{sample_roster()["version"]}"'
    assert request.status == 304
    assert len(rosters) == 1
    newer = sample_roster(version="2020-02-05T08:00:00+08:00#18")
    newer["revoked"].append("P0007120101")
    server.set_roster(newer)
    clock.advance(300)
    uplink.step()
    assert journal.load_roster()[0] == newer
    assert json.loads(contract.encode(rosters[-1])) == newer


@pytest.mark.parametrize("kind", ["bad_roster", "garbage"])
def test_uplink_garbage_roster_never_replaces_the_good_one(
    make_uplink, journal, server, clock, alerts, kind
):
    rosters = []
    uplink = make_uplink(on_roster=rosters.append)
    uplink.step()
    good = journal.load_roster()[0]
    server.set_roster(sample_roster(version="v-next"))
    server.inject(kind, endpoint="roster")
    clock.advance(uplink.roster_s)
    uplink.step()
    assert journal.load_roster()[0] == good
    assert len(rosters) == 1
    assert [code for code, _ in alerts] == ["roster_rejected"]
    assert "roster refused" in uplink.status()["last_error"]


def test_uplink_roster_with_a_wrong_field_is_refused(make_uplink, journal, server, alerts):
    bad = sample_roster()
    bad["home_observation"] = [{"household": "7-1202", "until": "next week"}]
    server.set_roster(bad)
    uplink = make_uplink()
    uplink.step()
    assert journal.load_roster() == (None, None)
    assert "home_observation[0]" in alerts[0][1]["message"]


def test_uplink_roster_for_another_site_is_refused(make_uplink, journal, server, alerts):
    uplink = make_uplink(site="another-compound")
    uplink.step()
    assert journal.load_roster() == (None, None)
    assert alerts[0][0] == "roster_rejected"


def test_uplink_keeps_the_roster_when_the_server_is_unreachable(
    make_uplink, journal, server, clock
):
    uplink = make_uplink()
    uplink.step()
    good = journal.load_roster()
    server.inject("error", 50, status=503)
    for _ in range(10):
        clock.advance(uplink.roster_s)
        uplink.step()
    assert journal.load_roster() == good


# -- configuration and secrets ---------------------------------------------------------------


def test_uplink_token_file_open_to_group_is_refused_with_an_alert(
    make_uplink, journal, server, clock, tmp_path, alerts
):
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    token_file.chmod(0o640)
    append(journal, 2)
    uplink = make_uplink(token=None, token_file=token_file)
    uplink.step()
    status = uplink.status()
    assert status["state"] == "disabled"
    assert "chmod 600" in status["last_error"]
    assert [code for code, _ in alerts] == ["token_file"]
    assert server.requests == []
    token_file.chmod(0o600)
    clock.advance(uplink.interval_s)
    uplink.step()
    assert server.stored_seqs() == [1, 2]


def test_read_token_file_refuses_world_readable_and_empty_files(tmp_path):
    path = tmp_path / "token"
    path.write_text(TOKEN)
    path.chmod(0o604)
    with pytest.raises(UplinkError, match="group or others"):
        read_token_file(path)
    path.chmod(0o600)
    assert read_token_file(path) == TOKEN
    path.write_text("\n")
    with pytest.raises(UplinkError, match="one token"):
        read_token_file(path)
    with pytest.raises(UplinkError, match="cannot be read"):
        read_token_file(tmp_path / "missing")


def test_uplink_never_shows_the_token(make_uplink, journal, server, clock, alerts, caplog):
    caplog.set_level(logging.DEBUG)
    append(journal, 5)
    server.inject("refuse", status=401)
    uplink = make_uplink()
    uplink.step()
    uplink.set_token(TOKEN)
    server.inject("error", 2, status=500)
    server.inject("garbage", endpoint="roster")
    for _ in range(6):
        clock.advance(uplink.step())
    texts = [caplog.text, repr(uplink), str(uplink.status()), str(alerts), str(server.requests)]
    assert all(TOKEN not in text for text in texts)
    assert "401" in caplog.text  # the log did say what happened
    with pytest.raises(UplinkError) as info:
        Uplink(journal, clock, gate_id=GATE, url="http://192.0.2.1/api", token=TOKEN)
    assert TOKEN not in str(info.value)


@pytest.mark.parametrize(
    "url",
    [
        "http://committee.example.org/api/v1",
        "http://192.0.2.10/api/v1",
        "ftp://127.0.0.1/api",
        "https://user:pw@committee.example.org/api/v1",
    ],
)
def test_uplink_refuses_unsafe_urls(journal, clock, url):
    with pytest.raises(UplinkError):
        Uplink(journal, clock, gate_id=GATE, url=url, token=TOKEN)


@pytest.mark.parametrize(
    "url",
    ["https://committee.example.org/api/v1", "http://127.0.0.1:8080/api", "http://[::1]:80/a"],
)
def test_uplink_accepts_https_and_loopback_http(url):
    assert check_url(url).hostname


def test_uplink_http_refusal_says_why():
    with pytest.raises(UplinkError, match=r"plain http is refused for committee\.example\.org"):
        check_url("http://committee.example.org/api/v1")


def gate_config(tmp_path, **uplink):
    (tmp_path / "token").write_text(TOKEN)
    (tmp_path / "token").chmod(0o600)
    raw = {
        "gate": {
            "gate_id": GATE,
            "site": "xdm-jinwaitan",
            "data_dir": str(tmp_path / "data"),
            "hardware": "sim",
        },  # no camera to name: a Pi config needs one
        "uplink": {"token_file": "token", **uplink},
    }
    return config.from_dict(raw, tmp_path / "kiosk.toml")


def test_uplink_from_config_reads_the_config_section(journal, clock, server, tmp_path):
    cfg = gate_config(
        tmp_path, url=server.url, interval_s=5, heartbeat_s=30, roster_s=120, timeout_s=3
    )
    uplink = Uplink.from_config(cfg, journal, clock)
    assert (uplink.interval_s, uplink.heartbeat_s, uplink.roster_s) == (5, 30, 120)
    assert (uplink.gate_id, uplink.site, uplink.timeout_s) == (GATE, "xdm-jinwaitan", 3)
    append(journal, 1)
    uplink.step()
    uplink.close()
    assert server.stored_seqs() == [1]


def test_uplink_from_config_resolves_the_ca_file_and_names_the_section(
    journal, clock, tls_server, tls_files, tmp_path
):
    (tmp_path / "ca.pem").write_bytes((tls_files / "ca.pem").read_bytes())
    cfg = gate_config(tmp_path, url=tls_server.url, ca_file="ca.pem")  # relative to the file
    uplink = Uplink.from_config(cfg, journal, clock)
    append(journal, 2)
    uplink.step()
    uplink.close()
    assert tls_server.stored_seqs() == [1, 2]
    with pytest.raises(ConfigError, match=r"kiosk\.toml: \[uplink\] uplink ca_file"):
        Uplink.from_config(
            gate_config(tmp_path, url=tls_server.url, ca_file="no.pem"), journal, clock
        )


def test_uplink_status_tells_maintenance_what_is_going_on(make_uplink, journal, server, clock):
    append(journal, 4)
    uplink = make_uplink(interval_s=10)
    assert uplink.status()["last_success"] is None
    uplink.step()
    clock.advance(4)
    append(journal, 2)
    status = uplink.status()
    assert status["state"] == "ok"
    assert status["unsent"] == 2
    assert status["last_success"] == "2020-02-04T07:30:00.000+08:00"
    assert status["last_success_age_s"] == 4
    assert status["next_attempt_s"] == 6
    assert status["last_error"] is None
    assert status["quarantined_seq"] is None


def test_uplink_without_url_is_disabled(journal, clock):
    append(journal, 3)
    uplink = Uplink(journal, clock, gate_id=GATE, url="")
    assert uplink.step() == 60
    assert uplink.status()["state"] == "disabled"
    assert uplink.status()["unsent"] == 3
    assert uplink.upload_once()["ok"] is False


# -- upload --once, the thread ---------------------------------------------------------------


def test_uplink_upload_once_drains_everything_ignoring_timers(make_uplink, journal, server):
    append(journal, 1234)
    server.inject("error", endpoint="events", status=500)
    uplink = make_uplink()
    uplink.step()
    assert uplink.status()["state"] == "backing_off"
    summary = uplink.upload_once()
    assert summary == {
        "ok": True,
        "sent": 1234,
        "requests": 3,
        "acked_seq": 1234,
        "last_seq": 1234,
        "unsent": 0,
        "state": "ok",
        "error": None,
        "quarantined_seq": None,
        "conflict": None,
    }
    assert server.stored_seqs() == list(range(1, 1235))


def test_uplink_upload_once_reports_failure_and_hold(make_uplink, journal, server):
    append(journal, 10)
    server.reject_seq(8)
    uplink = make_uplink()
    summary = uplink.upload_once()
    assert summary["ok"] is False
    assert summary["quarantined_seq"] == 8
    assert summary["acked_seq"] == 7
    server.inject("error", 5, status=500)
    uplink.release_quarantine()
    summary = uplink.upload_once()
    assert summary["ok"] is False
    assert "500" in summary["error"]


def test_uplink_thread_wakes_on_nudge_and_stops_in_time(tmp_path, server):
    clock = FakeClock()  # frozen: only a nudge can make the thread push again
    journal = Journal(tmp_path / "j.db", clock)
    uplink = Uplink(journal, clock, gate_id=GATE, url=server.url, token=TOKEN, interval_s=3600)
    journal.add_listener(uplink.journal_listener)
    uplink.start()
    try:
        assert server.wait_for(lambda s: len(s.heartbeats) >= 1)
        journal.append("alert.fever", {"temperature_c": 38.5}, lane="main")
        assert server.wait_for(lambda s: s.stored_seqs() == [1])
    finally:
        uplink.stop(2)  # raises StopTimeout if a thread outlives 2 s
        journal.close()
    assert not any(thread.alive for thread in uplink._threads)


# -- TLS -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder = tmp_path_factory.mktemp("tls")
    now = dt.datetime.now(dt.UTC)

    def cert(subject, key, issuer, issuer_key, ca):
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if ca:
            usage = x509.KeyUsage(False, False, False, False, False, True, True, False, False)
            builder = builder.add_extension(usage, critical=True)
            builder = builder.add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
        else:
            san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
            builder = builder.add_extension(san, critical=False)
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                critical=False,
            )
        return builder.sign(issuer_key, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = cert("committee test CA", ca_key, "committee test CA", ca_key, True)
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = cert("127.0.0.1", key, "committee test CA", ca_key, False)
    pem = serialization.Encoding.PEM
    (folder / "ca.pem").write_bytes(ca.public_bytes(pem))
    (folder / "server.pem").write_bytes(leaf.public_bytes(pem) + ca.public_bytes(pem))
    (folder / "server.key").write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return folder


@pytest.fixture
def tls_server(tls_files):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls_files / "server.pem", tls_files / "server.key")
    with CommitteeServer(gate_id=GATE, token=TOKEN, ssl_context=context) as s:
        yield s


def test_uplink_https_verifies_the_server_against_ca_file(journal, clock, tls_server, tls_files):
    append(journal, 3)
    uplink = Uplink(
        journal,
        clock,
        gate_id=GATE,
        url=tls_server.url,
        token=TOKEN,
        ca_file=str(tls_files / "ca.pem"),
    )
    uplink.step()
    assert tls_server.stored_seqs() == [1, 2, 3]
    uplink.stop()


def test_uplink_https_refuses_an_unknown_certificate(journal, clock, tls_server):
    append(journal, 3)
    uplink = Uplink(journal, clock, gate_id=GATE, url=tls_server.url, token=TOKEN)
    uplink.step()
    assert "certificate verification failed" in uplink.status()["last_error"]
    assert tls_server.stored_seqs() == []
    assert journal.acked_seq == 0
    uplink.close()


# -- the fake server is strict (else the tests above would prove little) ----------------------


def post(server, body, *, token=TOKEN, gate=GATE, encoding=None, agent="kiosk/test"):
    raw = json.dumps(body).encode()
    headers = {"Content-Type": "application/json", "User-Agent": agent}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if encoding == "gzip":
        raw, headers["Content-Encoding"] = gzip.compress(raw), "gzip"
    elif encoding == "broken-gzip":
        headers["Content-Encoding"] = "gzip"
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        conn.request("POST", f"/api/v1/gates/{gate}/events", raw, headers)
        reply = conn.getresponse()
        data = reply.read()
        return reply.status, json.loads(data) if data else None
    finally:
        conn.close()


def api_events(journal, n):
    return [e.to_api() for e in append(journal, n)]


def test_committee_fake_refuses_what_the_contract_forbids(journal, server):
    events = api_events(journal, 3)
    batch = {"gate_id": GATE, "events": events}
    assert post(server, batch, token=None)[0] == 401
    assert post(server, batch, token="wrong")[0] == 401
    assert post(server, {"gate_id": "other", "events": events}, gate="other")[0] == 403
    assert post(server, batch, agent="curl/8")[0] == 400
    assert post(server, batch, encoding="broken-gzip")[0] == 400
    assert post(server, {"gate_id": GATE, "events": events[1:]}) == (409, {"acked_seq": 0})
    gap = {"gate_id": GATE, "events": [events[0], events[2]]}
    status, body = post(server, gap)
    assert (status, body["bad_seq"]) == (400, 3)
    assert "events[1].seq: 3 does not follow 1" in body["error"]
    bad = dict(events[0], ts="yesterday")
    assert post(server, {"gate_id": GATE, "events": [bad]})[1]["bad_seq"] == 1
    assert server.stored_seqs() == []
    assert post(server, batch, encoding="gzip") == (200, {"acked_seq": 3})
    assert server.stored_seqs() == [1, 2, 3]


def test_committee_fake_enforces_the_batch_limits(journal, server):
    events = api_events(journal, 501)
    assert post(server, {"gate_id": GATE, "events": events})[0] == 413
    big = [dict(e, data={"pad": "x" * 3000}) for e in events[:400]]
    assert post(server, {"gate_id": GATE, "events": big}, encoding="gzip")[0] == 413
    assert server.stored_seqs() == []


def test_committee_fake_ignores_an_event_it_already_has(journal, server):
    events = api_events(journal, 4)
    assert post(server, {"gate_id": GATE, "events": events})[0] == 200
    server.lose_acks(2, keep_events=True)
    assert post(server, {"gate_id": GATE, "events": events[2:]}) == (200, {"acked_seq": 4})
    assert server.stored_seqs() == [1, 2, 3, 4]
