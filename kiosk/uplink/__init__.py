"""The committee server client: push the journal, send heartbeats, pull the roster.

The contract is ``shared/committee-api.md`` (its shapes are :mod:`kiosk.contract`); this
package follows it to the letter. Its rooms:

- :mod:`~kiosk.uplink.transport`: HTTP on httpx, one keep-alive pool, a total deadline per
  request, a size cap on replies, and the URL check;
- :mod:`~kiosk.uplink.backoff`: exponential back-off with jitter, pure, on the injected clock;
- :mod:`~kiosk.uplink.link`: what the rooms share: the token, alerts, one request path;
- :mod:`~kiosk.uplink.push`: batches, acknowledgements, conflicts, held events;
- :mod:`~kiosk.uplink.heartbeat` and :mod:`~kiosk.uplink.rosterpull`;
- :mod:`~kiosk.uplink.client`: :class:`Uplink`, which puts them together in two threads.
"""

from kiosk.contract import MAX_BATCH_BYTES, MAX_BATCH_EVENTS
from kiosk.uplink.backoff import BACKOFF_MAX_S, BACKOFF_MIN_S, Backoff
from kiosk.uplink.client import Uplink
from kiosk.uplink.link import AUTH_RETRY_S, UNREACHABLE_ALERT_S, USER_AGENT, read_token_file
from kiosk.uplink.push import (
    HOLD_RETRY_S,
    QUARANTINE_RETRY_S,
    STATE_CONFLICT,
    STATE_QUARANTINE_REASON,
    STATE_QUARANTINED,
    STATE_SENT,
)
from kiosk.uplink.transport import check_url

__all__ = [
    "AUTH_RETRY_S",
    "BACKOFF_MAX_S",
    "BACKOFF_MIN_S",
    "HOLD_RETRY_S",
    "MAX_BATCH_BYTES",
    "MAX_BATCH_EVENTS",
    "QUARANTINE_RETRY_S",
    "STATE_CONFLICT",
    "STATE_QUARANTINED",
    "STATE_QUARANTINE_REASON",
    "STATE_SENT",
    "UNREACHABLE_ALERT_S",
    "USER_AGENT",
    "Backoff",
    "Uplink",
    "check_url",
    "read_token_file",
]
