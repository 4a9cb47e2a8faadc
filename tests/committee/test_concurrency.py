"""The same batch pushed at once over several connections (a gate retrying while its first
request is still being served) is stored once: the gate's row lock and the unique keys."""

from __future__ import annotations

import gzip
import http.client
import json
import threading
from collections import Counter
from urllib.parse import urlsplit

from sqlalchemy import func, select

from committee.app import Server
from committee.models import Event
from committee.serve import Background
from tests.committee.helpers import GATE, add_gate, batch


def test_the_same_batch_pushed_at_once_is_stored_once(fresh_db, config, clock):
    token = add_gate(fresh_db, clock)
    results: list[tuple[int, dict]] = []
    lock = threading.Lock()
    with Background(Server(config, fresh_db, clock), sweep=False) as committee:
        parts = urlsplit(committee.url)
        for first in (1, 201, 401):
            body = gzip.compress(json.dumps(batch(first, 200)).encode())
            start = threading.Barrier(6)

            def push(body=body, start=start):
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
                start.wait()
                conn.request(
                    "POST",
                    f"{parts.path}/gates/{GATE}/events",
                    body=body,
                    headers={
                        "Authorization": f"Bearer {token}",
                        "Content-Type": "application/json",
                        "Content-Encoding": "gzip",
                    },
                )
                reply = conn.getresponse()
                with lock:
                    results.append((reply.status, json.loads(reply.read())))
                conn.close()

            threads = [threading.Thread(target=push) for _ in range(6)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(30)
    statuses = Counter(status for status, _ in results)
    assert statuses == {200: 3, 409: 15}, results
    assert {body["acked_seq"] for status, body in results if status == 200} == {200, 400, 600}
    with fresh_db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Event)) == 600
        assert session.scalar(select(func.count(func.distinct(Event.seq)))) == 600
