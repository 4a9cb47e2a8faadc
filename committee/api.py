"""The gate-facing API of ``committee-api.md`` (version 1), mounted at ``/api/v1``.

Every body is parsed by :mod:`kiosk.contract`, the one definition of the shapes that the
gates use too. Each request is answered by the contract, whatever it carries: 401/403 for a
token that is missing, unknown or another gate's; 413 over 1 MiB (the body is not read when
its length says so, and a gzip body is inflated only up to the limit); 400 with ``bad_seq``
for a malformed event, 400 without it for a body that is not a batch at all; 409 with the
stored cursor for a batch that does not start right after it; 503 with ``Retry-After`` while
the database is unreachable or busy. A 500 is a bug, never an answer to bad input.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, request
from sqlalchemy.exc import SQLAlchemyError

from committee import heartbeats, ingest, roster
from committee.sites import authenticate
from kiosk import contract
from kiosk.errors import ContractError

log = logging.getLogger(__name__)

bp = Blueprint("gate_api", __name__)

#: Bytes of a request body read at most (compressed or not): the contract's 1 MiB and a margin
#: for a gzip stream of incompressible JSON.
MAX_BODY_BYTES = contract.MAX_BATCH_BYTES + (64 << 10)


def reply(status: int, body=None, headers: dict | None = None) -> Response:
    """A JSON reply (*body* plain data or a contract struct; None: no body)."""
    data = b"" if body is None else contract.encode(body)
    response = Response(data, status=status, headers=headers or {})
    if body is not None:
        response.content_type = "application/json"
    return response


def _server():
    return current_app.extensions["committee"]


def _token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _auth(session, gate_id: str, *, lock: bool = False):
    status, gate = authenticate(session, gate_id, _token(), lock=lock)
    if status == 401:
        return None, reply(401, {"error": "token refused"})
    if status == 403:
        return None, reply(403, {"error": f"this token is not valid for gate {gate_id}"})
    return gate, None


def _body() -> bytes:
    """The request's JSON bytes, inflated when gzip.

    :raises contract.BatchTooLarge: over the limit (413).
    :raises ContractError: not gzip when it says so, or an encoding we do not speak (400).
    """
    raw = request.stream.read(MAX_BODY_BYTES + 1)
    if len(raw) > MAX_BODY_BYTES:
        raise contract.BatchTooLarge(f"more than {contract.MAX_BATCH_BYTES} bytes")
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding == "gzip":
        return contract.inflate(raw, contract.MAX_BATCH_BYTES)
    if encoding not in ("", "identity"):
        raise ContractError(f"Content-Encoding {encoding!r} is not supported; use gzip or none")
    if len(raw) > contract.MAX_BATCH_BYTES:
        raise contract.BatchTooLarge(f"more than {contract.MAX_BATCH_BYTES} bytes of JSON")
    return raw


def _refusal(exc: ContractError) -> Response:
    if isinstance(exc, contract.BatchTooLarge):
        return reply(413, {"error": str(exc)})
    body = {"error": str(exc)}
    if exc.seq is not None:
        body["bad_seq"] = exc.seq
    return reply(400, body)


def _parsed(parse, gate_id: str):
    """(parsed body, None) or (None, the refusal): parsed before the one transaction that
    checks the token (a refused token still wins) and stores, so that no lock is held
    while JSON is parsed."""
    try:
        return parse(_body(), gate_id=gate_id), None
    except ContractError as exc:
        return None, _refusal(exc)


@bp.post("/gates/<gate_id>/events")
def push_events(gate_id: str) -> Response:
    server = _server()
    batch, problem = _parsed(contract.parse_batch, gate_id)
    try:
        with server.db.transaction() as session:
            gate, refused = _auth(session, gate_id, lock=True)
            if refused is not None or problem is not None:
                return refused or problem
            outcome = ingest.store(session, gate, batch.events, server.now())
    except ingest.Rejected as exc:
        outcome = exc.outcome
    if outcome.status == 200:
        server.stored(gate_id, outcome.body["acked_seq"])
    return reply(outcome.status, outcome.body)


@bp.post("/gates/<gate_id>/heartbeat")
def heartbeat(gate_id: str) -> Response:
    server = _server()
    beat, problem = _parsed(contract.parse_heartbeat, gate_id)
    with server.db.transaction() as session:
        gate, refused = _auth(session, gate_id)
        if refused is not None or problem is not None:
            return refused or problem
        if "\x00" in beat.version:
            return reply(400, {"error": "version holds a NUL character"})
        fields = {
            "ts": beat.ts,
            "version": beat.version,
            "uptime_s": beat.uptime_s,
            "last_seq": beat.last_seq,
            "unsent": beat.unsent,
            "lanes": beat.lanes,
        }
        heartbeats.record(session, gate.id, fields, server.now())
    return reply(200, {})


@bp.get("/gates/<gate_id>/roster")
def get_roster(gate_id: str) -> Response:
    server = _server()
    with server.db.transaction() as session:
        gate, refused = _auth(session, gate_id)
        if refused is not None:
            return refused
        body = roster.build(session, gate.site, server.today(), server.now())
        unchanged = request.if_none_match.contains(body.version)
        # the version the gate now holds: sent to it, or shown by it to be the current one
        gate.roster_version, gate.roster_pulled_at = body.version, server.now()
    etag = f'"{body.version}"'
    if unchanged:
        return reply(304, None, {"ETag": etag})
    return reply(200, body, {"ETag": etag, "Cache-Control": "no-cache"})


def database_unavailable(exc: SQLAlchemyError) -> Response:
    """The database refused or could not be reached: busy, by the contract (the gate waits)."""
    log.error("database: %s", exc)
    return reply(503, {"error": "the database is unavailable; try again"}, {"Retry-After": "5"})
