"""The live pages' event streams: one publisher feeding every open stream, none of them
holding a request thread.

A page opens ``/live/stream`` (server-sent events). The view checks the session in a
waitress worker thread like any request and answers with the stream's first bytes; then,
instead of iterating a generator for as long as the page stays open (which would hold that
thread, so that a few dozen open pages would stop the API the gates push to), the request's
task hands its connection to the :class:`Publisher` and the thread goes back to the pool.
From then on the stream is only a waitress channel: the publisher's one thread looks at the
database every ``[web] poll_s`` (and at once when this process stored a batch), builds each
message once per scope (the sites an account sees), and hands the bytes to waitress's own
loop thread (its trigger), which writes them as it writes every other response.

What the database says is the truth, so several ``committee serve`` processes each feed
their own streams: the publisher follows every gate's ``acked_seq`` (committed in the same
transaction as the events), so no event is published twice or skipped, whichever process
stored it.

At most ``[web] max_streams`` are open at once; the next is answered 503 with Retry-After
(the page then polls ``/now/state``). A stream whose client stops reading (more than
:data:`MAX_BACKLOG` bytes waiting) is closed; the browser reconnects. Each keep-alive
checks the sessions behind the streams: a stream of a session that ended is closed.

Without waitress (a test client, another WSGI server) the hand-over never happens and a
stream ends after its first bytes; the browser reconnects after ``retry``.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select, true
from sqlalchemy.exc import SQLAlchemyError
from waitress.channel import HTTPChannel
from waitress.task import WSGITask

from committee import accounts, alarms
from committee.models import Event, Gate, Heartbeat, Site

log = logging.getLogger(__name__)

#: The WSGI environ key under which a view leaves what takes its connection over.
HANDOFF = "committee.live.handoff"
#: Set in the environ by :class:`LiveTask`: this server can hand a stream over.
CAPABLE = "committee.live.capable"
#: Bytes waiting to be sent to one stream beyond which the stream is closed.
MAX_BACKLOG = 1 << 20
#: The event types the live pages show (a scan and its temperature are in the decision).
SHOWN = (
    "access.granted",
    "access.denied",
    "alert.fever",
    "alert.fever_ack",
    "alert.sensor_fault",
    "alert.home_observation",
    "alert.anti_passback",
    "door.forced",
    "door.held_open",
    "door.closed",
    "gate.manual_open",
    "registration.created",
    "pass.temporary_issued",
    "kiosk.started",
    "kiosk.stopped",
    "kiosk.event_refused",
    "parcel.received",
)
#: Events in a snapshot, and at most per gate and look.
RECENT = 50
#: Cycles between looks at the gates' health when nothing else changed.
HEALTH_EVERY = 5


# -- waitress: a task whose connection can be handed over -----------------------------------


class LiveTask(WSGITask):
    """A waitress task that, when the view left a :data:`HANDOFF` in the environ, writes the
    response's headers and first bytes and then gives the open connection to it instead of
    ending the response."""

    def get_environment(self):
        environ = super().get_environment()
        environ[CAPABLE] = True
        return environ

    def finish(self):
        handoff = (self.environ or {}).get(HANDOFF)
        if handoff is None or not self.status.startswith("200"):
            return super().finish()
        if not self.wrote_header:
            self.write(b"")
        # the response goes on: the channel stays open after this task, and the stream
        # ends it (a last chunk, then the connection closes) when it is done
        self.close_on_finish = False
        handoff(Sink(self.channel, self.chunked_response))


class LiveChannel(HTTPChannel):
    task_class = LiveTask


def install(wsgi_server) -> None:
    """Make a waitress server made by ``create_server`` hand streams over (before it
    accepts its first connection)."""
    from waitress.server import BaseWSGIServer

    servers = [wsgi_server] + [
        s for s in getattr(wsgi_server, "map", {}).values() if isinstance(s, BaseWSGIServer)
    ]
    for server in servers:
        server.channel_class = LiveChannel


class Sink:
    """The open connection of one stream. :meth:`write` and :meth:`close` run in waitress's
    loop thread only (through :attr:`call_soon`), as every write to a channel does there."""

    def __init__(self, channel: HTTPChannel, chunked: bool) -> None:
        self.channel = channel
        self.chunked = chunked
        self.closed = False

    def call_soon(self, thunk: Callable[[], None]) -> None:
        """Run *thunk* in waitress's loop thread."""
        self.channel.server.trigger.pull_trigger(thunk)

    @property
    def alive(self) -> bool:
        ch = self.channel
        return not self.closed and ch.connected and not ch.will_close

    def write(self, data: bytes) -> bool:
        """Queue *data*; False when the stream is gone or its client stopped reading."""
        if not self.alive:
            self.closed = True
            return False
        if self.channel.total_outbufs_len > MAX_BACKLOG:
            self.close()
            return False
        if self.chunked:
            data = b"%X\r\n%s\r\n" % (len(data), data)
        try:
            self.channel.write_soon(data)
        except Exception:  # ClientDisconnected, or a socket error while flushing
            self.closed = True
            return False
        return True

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        ch = self.channel
        if ch.connected and not ch.will_close:
            try:
                if self.chunked:
                    ch.write_soon(b"0\r\n\r\n")
            except Exception:
                pass
            ch.close_when_flushed = True
            ch.server.pull_trigger()


# -- messages ---------------------------------------------------------------------------------


def message(kind: str, payload: Any) -> bytes:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=str)
    return f"event: {kind}\ndata: {body}\n\n".encode()


KEEPALIVE = b": keep-alive\n\n"
RETRY = b"retry: 3000\n\n"


def event_view(row: Event, gate: Gate, site: Site) -> dict[str, Any]:
    """An event as the live pages show it: no more than the household of personal data."""
    data = row.data if isinstance(row.data, dict) else {}
    out = {
        "id": row.id,
        "gate": gate.code,
        "site": site.code,
        "site_name": site.name,
        "lane": row.lane,
        "type": row.type,
        "ts": row.ts,
        "at": row.occurred_at.isoformat(timespec="seconds"),
    }
    for key in (
        "reason",
        "household",
        "pass_id",
        "temperature_c",
        "direction",
        "kind",
        "outcome",
        "source",
        "state",
    ):
        value = data.get(key)
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            out[key] = value if not isinstance(value, str) else value[:40]
    return out


def health_view(gate: Gate, beat: Heartbeat | None, site: Site, now: datetime) -> dict[str, Any]:
    """A gate's health: heartbeat age, unsent backlog, each lane's parts, roster versions."""
    from committee.sites import roster_version

    lanes = {}
    if beat is not None and isinstance(beat.lanes, dict):
        for name, lane in list(beat.lanes.items())[:8]:
            if isinstance(lane, dict):
                lanes[str(name)[:20]] = {
                    k: str(lane.get(k))[:20]
                    for k in ("state", "thermometer", "camera", "relay")
                    if lane.get(k) is not None
                }
    current = roster_version(site)
    return {
        "gate": gate.code,
        "site": site.code,
        "site_name": site.name,
        "last_seen": beat.received_at.isoformat(timespec="seconds") if beat else None,
        "age_s": round((now - beat.received_at).total_seconds()) if beat else None,
        "version": beat.version[:20] if beat else None,
        "unsent": beat.unsent if beat else None,
        "acked_seq": gate.acked_seq,
        "lanes": lanes,
        "roster_held": gate.roster_version,
        "roster_current": current,
        "roster_ok": gate.roster_version == current,
    }


def gate_health(session, site_ids, now: datetime) -> list[dict[str, Any]]:
    stmt = (
        select(Gate, Heartbeat, Site)
        .join(Site, Gate.site_id == Site.id)
        .outerjoin(Heartbeat, Heartbeat.gate_id == Gate.id)
        .order_by(Site.code, Gate.code)
    )
    if site_ids is not None:
        stmt = stmt.where(Gate.site_id.in_(sorted(site_ids)))
    return [health_view(g, b, s, now) for g, b, s in session.execute(stmt)]


def recent_events(session, site_ids, limit: int = RECENT) -> list[dict[str, Any]]:
    """The newest shown events of the sites *site_ids* (None: all), newest first.

    On PostgreSQL each gate's newest come from its own ``(gate, seq)`` index, backwards (a
    lateral join), so the answer costs the same whatever the table holds and however few
    of its gates the viewer sees; SQLite (one compound) reads the newest rows directly.
    """
    if session.bind.dialect.name == "postgresql":
        newest = (
            select(Event.id)
            .where(Event.gate_id == Gate.id, Event.type.in_(SHOWN))
            .order_by(Event.seq.desc())
            .limit(limit)
            .lateral()
        )
        ids = select(newest.c.id).select_from(Gate).join(newest, true())
        if site_ids is not None:
            ids = ids.where(Gate.site_id.in_(sorted(site_ids)))
        chosen, order = Event.id.in_(ids.scalar_subquery()), Event.occurred_at.desc()
    else:  # the newest rows stored, backwards along the primary key
        chosen, order = Event.type.in_(SHOWN), Event.id.desc()
    stmt = (
        select(Event, Gate, Site)
        .join(Gate, Event.gate_id == Gate.id)
        .join(Site, Gate.site_id == Site.id)
        .where(chosen)
        .order_by(order, Event.id.desc())
        .limit(limit)
    )
    if site_ids is not None:
        stmt = stmt.where(Gate.site_id.in_(sorted(site_ids)))
    return [event_view(e, g, s) for e, g, s in session.execute(stmt)]


def snapshot(session, site_ids, now: datetime) -> dict[str, Any]:
    """Everything the Now page shows, as of *now*."""
    return {
        "now": now.isoformat(timespec="seconds"),
        "events": recent_events(session, site_ids),
        "alarms": [alarms.view(a) for a in alarms.open_alarms(session, site_ids)],
        "gates": gate_health(session, site_ids, now),
    }


# -- the publisher ----------------------------------------------------------------------------


@dataclass
class Stream:
    sink: Sink
    scope: frozenset[int] | None
    session_digest: str


@dataclass
class _Scoped:
    """One look's messages, built once per scope."""

    events: list[tuple[int, bytes]] = field(default_factory=list)  # (site_id, message)
    alarms: dict[frozenset[int] | None, bytes] = field(default_factory=dict)
    gates: dict[frozenset[int] | None, bytes] = field(default_factory=dict)


class Publisher:
    """One thread that watches the database and feeds every stream.

    :param server: the :class:`committee.app.Server` (its database, clock, configuration).
    """

    def __init__(self, server) -> None:
        self.server = server
        settings = server.config.web
        self.max_streams = settings.max_streams
        self.poll_s = settings.poll_s
        self.keepalive_s = settings.keepalive_s
        self.idle_s = settings.session_idle_min * 60.0
        self.stopping = threading.Event()
        self.wake = threading.Event()
        self._lock = threading.Lock()
        self._streams: list[Stream] = []
        self._pending: list[Stream] = []
        self._cursor: dict[int, int] | None = None  # gate id -> last seq published
        self._last_alarms: dict[frozenset[int] | None, bytes] = {}
        self._last_gates: dict[frozenset[int] | None, str] = {}
        self._cycles = 0
        self._last_keepalive: datetime | None = None
        self._thread = threading.Thread(target=self._run, name="live", daemon=True)
        self.started = False
        server.listeners.append(self._stored)

    # -- streams ---------------------------------------------------------------------------

    def admit(self) -> bool:
        """Whether one more stream may open now."""
        with self._lock:
            return len(self._streams) + len(self._pending) < self.max_streams

    @property
    def open_streams(self) -> int:
        with self._lock:
            return len(self._streams) + len(self._pending)

    def handoff(self, scope, session_digest: str) -> Callable[[Sink], None]:
        """What a stream view leaves in the environ (:data:`HANDOFF`)."""

        def attach(sink: Sink) -> None:
            with self._lock:
                self._pending.append(Stream(sink, scope, session_digest))
            self.wake.set()

        return attach

    def _stored(self, gate_id: str, acked_seq: int) -> None:
        self.wake.set()  # never blocks the request that stored

    # -- the thread ------------------------------------------------------------------------

    def start(self) -> Publisher:
        if not self.started:
            self.started = True
            self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self.stopping.set()
        self.wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.error("the live publisher did not stop within %.0f s", timeout)
        with self._lock:
            streams, self._streams, self._pending = self._streams + self._pending, [], []
        self._deliver([(s, None) for s in streams])

    def _run(self) -> None:
        while not self.stopping.is_set():
            try:
                self.step()
            except SQLAlchemyError as exc:
                log.error("live publisher: database: %s", exc)
            except Exception:
                log.exception("live publisher failed")
            self.wake.wait(self.poll_s)
            self.wake.clear()

    def step(self) -> None:
        """One look at the database: publish what changed, start new streams, keep alive."""
        now = self.server.now()
        with self._lock:
            new, self._pending = self._pending, []
            streams = [s for s in self._streams if s.sink.alive]
            self._streams = streams + new
        self._cycles += 1
        out: list[tuple[Stream, bytes | None]] = []
        with self.server.db.transaction() as session:
            look = self._look(session, now, {s.scope for s in streams})
            snapshots: dict[frozenset[int] | None, bytes] = {}
            for stream in new:
                if stream.scope not in snapshots:
                    snapshots[stream.scope] = message(
                        "snapshot", snapshot(session, stream.scope, now)
                    )
                out.append((stream, snapshots[stream.scope]))
            ended = set()
            if self._last_keepalive is None:
                self._last_keepalive = now
            keepalive = (now - self._last_keepalive).total_seconds() >= self.keepalive_s
            if keepalive:
                self._last_keepalive = now
            if keepalive and streams:
                digests = sorted({s.session_digest for s in streams})
                live = accounts.live_sessions(session, digests, now, self.idle_s)
                ended = {d for d in digests if d not in live}
        for stream in streams:
            if stream.session_digest in ended:
                out.append((stream, None))
                continue
            parts = [m for site, m in look.events if stream.scope is None or site in stream.scope]
            for table in (look.alarms, look.gates):
                if stream.scope in table:
                    parts.append(table[stream.scope])
            if not parts and keepalive:
                parts.append(KEEPALIVE)
            if parts:
                out.append((stream, b"".join(parts)))
        if ended:
            with self._lock:
                self._streams = [s for s in self._streams if s.session_digest not in ended]
        self._deliver(out)

    def _look(self, session, now: datetime, scopes) -> _Scoped:
        look = _Scoped()
        gates = session.execute(select(Gate.id, Gate.acked_seq)).all()
        if self._cursor is None:  # from now on; a page starts from its snapshot
            self._cursor = {gid: seq for gid, seq in gates}
        moved = [(gid, self._cursor.get(gid, 0), seq) for gid, seq in gates]
        moved = [(gid, old, seq) for gid, old, seq in moved if seq > old]
        if moved:
            for gid, _, seq in moved:
                self._cursor[gid] = seq
            if scopes:
                look.events = self._new_events(session, moved)
        if not scopes:
            return look
        alarms_changed = bool(moved) or self._cycles % 2 == 0
        health_due = bool(moved) or self._cycles % HEALTH_EVERY == 0
        if alarms_changed:
            open_now = alarms.open_alarms(session)
            for scope in scopes:
                views = [
                    alarms.view(a) for a in open_now if scope is None or a.gate.site_id in scope
                ]
                body = message("alarms", views)
                if self._last_alarms.get(scope) != body:
                    self._last_alarms[scope] = look.alarms[scope] = body
        if health_due:
            for scope in scopes:
                health = gate_health(session, scope, now)
                key = json.dumps([{k: v for k, v in g.items() if k != "age_s"} for g in health])
                if self._last_gates.get(scope) != key:
                    self._last_gates[scope] = key
                    look.gates[scope] = message(
                        "gates", {"now": now.isoformat(timespec="seconds"), "gates": health}
                    )
        return look

    def _new_events(self, session, moved) -> list[tuple[int, bytes]]:
        conditions = [
            and_(Event.gate_id == gid, Event.seq > max(old, seq - RECENT), Event.seq <= seq)
            for gid, old, seq in moved
        ]
        rows = []
        for start in range(0, len(conditions), 50):
            stmt = (
                select(Event, Gate, Site)
                .join(Gate, Event.gate_id == Gate.id)
                .join(Site, Gate.site_id == Site.id)
                .where(or_(*conditions[start : start + 50]), Event.type.in_(SHOWN))
            )
            rows.extend(session.execute(stmt).all())
        rows.sort(key=lambda r: (r[0].occurred_at, r[0].id))
        return [(g.site_id, message("event", event_view(e, g, s))) for e, g, s in rows]

    def _deliver(self, out: list[tuple[Stream, bytes | None]]) -> None:
        """Hand the writes to waitress's loop thread: one thunk per server."""
        by_trigger: dict[int, tuple[Sink, list]] = {}
        for stream, data in out:
            key = id(stream.sink.channel.server.trigger)
            by_trigger.setdefault(key, (stream.sink, []))[1].append((stream, data))
        for first, items in by_trigger.values():

            def run(items=items) -> None:
                for stream, data in items:
                    if data is None:
                        stream.sink.close()
                    else:
                        stream.sink.write(data)

            try:
                first.call_soon(run)
            except Exception:  # the server is closing
                log.debug("live: server gone while delivering", exc_info=True)
