"""Temporary passes (临时通行证) handed out at the gate after a registration.

Signed with the gate's own key (``keys_dir/gate.key``, made by ``kiosk keys init``), valid from
now to the end of the day by default (``[rules] temporary_until``), never longer than
``[rules] temporary_max_h``, and journaled as ``pass.temporary_issued`` (the token itself is
not journaled: the record is enough to trace the pass).
"""

from __future__ import annotations

import io
from datetime import datetime, timedelta

from kiosk import passes
from kiosk.errors import PassError
from kiosk.keys import load_private_key, sign_pass
from kiosk.policy import parse_clock_time


def temporary_pass_end(
    rules, now: datetime, *, hours: float | None = None, until: datetime | None = None
) -> datetime:
    """When a temporary pass issued at *now* ends: *until*, *now* + *hours*, or the next
    ``rules.temporary_until`` local time; at most ``rules.temporary_max_h`` hours.

    :raises PassError: both or a bad one given, the end is not after now, or too far.
    """
    if hours is not None and until is not None:
        raise PassError("give hours or until, not both")
    if hours is not None:
        if isinstance(hours, bool) or not isinstance(hours, int | float) or not hours > 0:
            raise PassError(f"hours must be a positive number, not {hours!r}")
        if hours > rules.temporary_max_h:
            raise PassError(f"hours: at most {rules.temporary_max_h:g}")
        end = now + timedelta(hours=hours)
    elif until is not None:
        if not isinstance(until, datetime) or until.tzinfo is None:
            raise PassError("until must be a time with an offset, e.g. 2020-02-04T20:00+08:00")
        end = until
    else:
        end = datetime.combine(now.date(), parse_clock_time(rules.temporary_until), now.tzinfo)
        if end <= now:
            end += timedelta(days=1)
    end = end.replace(microsecond=0)
    if end <= now:
        raise PassError(f"the pass would end at {end.isoformat()}, which is not after now")
    if end - now > timedelta(hours=rules.temporary_max_h):
        raise PassError(f"a temporary pass lasts at most {rules.temporary_max_h:g} hours")
    return end


def issue_temporary_pass(
    journal,
    *,
    keys_dir,
    rules,
    site: str,
    now: datetime,
    registration_id: str,
    household: str,
    hours: float | None = None,
    until: datetime | None = None,
    single_reentry: bool = True,
    guard: str,
) -> dict:
    """Issue a temporary pass for a registered person and journal ``pass.temporary_issued``.

    :return: ``token``, ``pass_id``, ``household``, ``registration_id``, ``valid_from`` and
        ``valid_until`` (RFC 3339), ``single_reentry``, ``qr_version`` and ``png`` (the QR
        code as PNG bytes).
    :raises PassError: a field is refused (the message says which); :raises KeyFileError:
        the gate has no key (run ``kiosk keys init``).
    """
    key = load_private_key(keys_dir / "gate.key")
    now = now.replace(microsecond=0)
    end = temporary_pass_end(rules, now, hours=hours, until=until)
    pass_id = passes.short_id("T", now)
    token, _ = sign_pass(
        key,
        kind=passes.PassKind.TEMPORARY,
        valid_from=now,
        valid_until=end,
        pass_id=pass_id,
        household=household,
        site=site,
        single_reentry=bool(single_reentry),
        registration_id=registration_id,
    )
    buffer = io.BytesIO()
    passes.qr_for(token).save(buffer, kind="png", scale=8, border=4)
    issued = {
        "pass_id": pass_id,
        "household": household,
        "registration_id": registration_id,
        "valid_from": now.isoformat(),
        "valid_until": end.isoformat(),
        "single_reentry": bool(single_reentry),
    }
    journal.append("pass.temporary_issued", {**issued, "kid": key.kid, "guard": guard})
    return {
        **issued,
        "token": token,
        "qr_version": passes.qr_version(token),
        "png": buffer.getvalue(),
    }
